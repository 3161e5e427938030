-- stent.register_worker: records a starting worker process (upsert by id).
CREATE OR REPLACE FUNCTION stent.register_worker(
    p_worker_id text,
    p_hostname text,
    p_pid integer,
    p_queues text[],
    p_functions text[],
    p_tags text[],
    p_concurrency integer
)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := stent.current_time();
BEGIN
    IF coalesce(p_worker_id, '') = '' OR p_concurrency IS NULL OR p_concurrency < 1 THEN
        RAISE EXCEPTION 'stent.register_worker: worker id and a positive concurrency are required'
            USING ERRCODE = 'ST003';
    END IF;
    INSERT INTO stent.workers AS w
        (id, hostname, pid, queues, functions, tags, concurrency, state, started_at, heartbeat_at)
    VALUES (p_worker_id, p_hostname, p_pid, p_queues, p_functions, coalesce(p_tags, '{}'),
            p_concurrency, 'running', v_now, v_now)
    ON CONFLICT (id) DO UPDATE
        SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, queues = EXCLUDED.queues,
            functions = EXCLUDED.functions, tags = EXCLUDED.tags,
            concurrency = EXCLUDED.concurrency, state = 'running', heartbeat_at = v_now;
END;
$$;

-- stent.set_worker_state: marks a worker draining or stopped, or deletes its row when
-- p_state is 'stopped' (a stopped worker holds nothing worth keeping).
CREATE OR REPLACE FUNCTION stent.set_worker_state(p_worker_id text, p_state text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_state = 'stopped' THEN
        DELETE FROM stent.workers w WHERE w.id = p_worker_id;
        DELETE FROM stent.leader l WHERE l.leader_id = p_worker_id;
    ELSIF p_state IN ('running', 'draining') THEN
        UPDATE stent.workers w SET state = p_state, heartbeat_at = stent.current_time()
        WHERE w.id = p_worker_id;
    ELSE
        RAISE EXCEPTION 'stent.set_worker_state: unknown state %', p_state USING ERRCODE = 'ST003';
    END IF;
END;
$$;

-- stent.register_functions: upserts the defaults of the functions a worker serves (queue,
-- priority, tags, retry policy, timeout, concurrency key path), used by SQL dispatches that
-- leave them unset, and their limits (max_concurrent, key_max_concurrent, rate and
-- rate_period_ms, key_rate and key_rate_period_ms) unless stent.set_limits overrode them.
-- p_functions is a JSON array of objects with the keys of stent.dispatch_many's requests.
CREATE OR REPLACE FUNCTION stent.register_functions(p_functions jsonb)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := stent.current_time();
BEGIN
    INSERT INTO stent.functions AS f
        (name, kind, queue, priority, tags, max_attempts, retry_initial_delay,
         retry_backoff_factor, retry_max_delay, retry_jitter, retry_on, timeout, key_path, updated_at)
    SELECT r->>'name', r->>'kind', r->>'queue', (r->>'priority')::smallint,
           ARRAY(SELECT jsonb_array_elements_text(CASE jsonb_typeof(r->'tags') WHEN 'array' THEN r->'tags' ELSE '[]' END)),
           (r->>'max_attempts')::integer,
           make_interval(secs => (r->>'retry_initial_delay_ms')::double precision / 1000),
           (r->>'retry_backoff_factor')::double precision,
           make_interval(secs => (r->>'retry_max_delay_ms')::double precision / 1000),
           (r->>'retry_jitter')::double precision,
           ARRAY(SELECT jsonb_array_elements_text(CASE jsonb_typeof(r->'retry_on') WHEN 'array' THEN r->'retry_on' ELSE '[]' END)),
           make_interval(secs => (r->>'timeout_ms')::double precision / 1000),
           CASE jsonb_typeof(r->'key_path') WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(r->'key_path')) END,
           v_now
    FROM jsonb_array_elements(p_functions) AS r
    ON CONFLICT (name) DO UPDATE
        SET kind = EXCLUDED.kind, queue = EXCLUDED.queue, priority = EXCLUDED.priority,
            tags = EXCLUDED.tags, max_attempts = EXCLUDED.max_attempts,
            retry_initial_delay = EXCLUDED.retry_initial_delay,
            retry_backoff_factor = EXCLUDED.retry_backoff_factor,
            retry_max_delay = EXCLUDED.retry_max_delay, retry_jitter = EXCLUDED.retry_jitter,
            retry_on = EXCLUDED.retry_on, timeout = EXCLUDED.timeout, key_path = EXCLUDED.key_path,
            updated_at = v_now;

    -- Limits from code; a function without any is removed unless overridden at run time.
    INSERT INTO stent.limits AS l
        (name, max_concurrent, key_max_concurrent, rate, rate_period, key_rate, key_rate_period, updated_at)
    SELECT r->>'name', (r->>'max_concurrent')::integer, (r->>'key_max_concurrent')::integer,
           (r->>'rate')::integer, make_interval(secs => (r->>'rate_period_ms')::double precision / 1000),
           (r->>'key_rate')::integer, make_interval(secs => (r->>'key_rate_period_ms')::double precision / 1000),
           v_now
    FROM jsonb_array_elements(p_functions) AS r
    WHERE r->>'max_concurrent' IS NOT NULL OR r->>'key_max_concurrent' IS NOT NULL
       OR r->>'rate' IS NOT NULL OR r->>'key_rate' IS NOT NULL
    ON CONFLICT (name) DO UPDATE
        SET max_concurrent = EXCLUDED.max_concurrent, key_max_concurrent = EXCLUDED.key_max_concurrent,
            rate = EXCLUDED.rate, rate_period = EXCLUDED.rate_period, key_rate = EXCLUDED.key_rate,
            key_rate_period = EXCLUDED.key_rate_period, updated_at = v_now
        WHERE NOT l.overridden;
    DELETE FROM stent.limits l
    USING jsonb_array_elements(p_functions) AS r
    WHERE l.name = r->>'name' AND NOT l.overridden
      AND r->>'max_concurrent' IS NULL AND r->>'key_max_concurrent' IS NULL
      AND r->>'rate' IS NULL AND r->>'key_rate' IS NULL;
END;
$$;

-- stent.try_lead: takes or keeps the maintenance leadership for p_ttl. Succeeds when nobody
-- leads, the lease expired, or p_worker_id already leads (its lease is extended; its term,
-- elected_at, is kept). Returns whether p_worker_id leads now.
CREATE OR REPLACE FUNCTION stent.try_lead(p_worker_id text, p_ttl interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := stent.current_time();
BEGIN
    INSERT INTO stent.leader AS l (name, leader_id, elected_at, expires_at)
    VALUES ('default', p_worker_id, v_now, v_now + p_ttl)
    ON CONFLICT (name) DO UPDATE
        SET leader_id = EXCLUDED.leader_id,
            elected_at = CASE WHEN l.leader_id = EXCLUDED.leader_id THEN l.elected_at ELSE v_now END,
            expires_at = EXCLUDED.expires_at
        WHERE l.leader_id = EXCLUDED.leader_id OR l.expires_at < v_now;
    RETURN FOUND;
END;
$$;

-- stent.resign_leader: gives up the leadership if p_worker_id holds it.
CREATE OR REPLACE FUNCTION stent.resign_leader(p_worker_id text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM stent.leader l WHERE l.leader_id = p_worker_id;
    RETURN FOUND;
END;
$$;
