-- stent.call_child: records a durable call of a running workflow task that runs as its own
-- task (an activity): one child at (p_parent_task_id, p_seq), with the request's name, input,
-- queue, priority, tags and retry policy (keys of stent.dispatch_many), and wakes the child's
-- workers. With a cache_key (the Cache option; cache_ttl_ms) a fresh cached result completes
-- the child at once (a hit, zero values included); while another task computes the same key
-- the child waits for it ('waiting', completed with the owner's result: single flight);
-- otherwise the child runs and owns the key. The request's trace_context (the calling
-- attempt's span, W3C headers) is stored with the child so that its attempts, on whatever
-- worker, continue the workflow's trace. The child is due from just before its parent's own
-- due time (run_at − 1 µs), not from now: claims take tasks in (priority, run_at, id) order,
-- so the calls of workflows already running go ahead of workflows still queued — even those
-- dispatched in the same instant as the parent — work begun is finished before new work
-- starts, and a workflow waiting in memory for its child is not left to suspend behind a
-- backlog. Fenced by the parent's lease token (ST001). If the position
-- is already recorded, nothing is written. Returns the row at that position. (The work is
-- done by stent.call_children, below.)
CREATE OR REPLACE FUNCTION stent.call_child(
    p_parent_task_id bigint,
    p_token bigint,
    p_seq integer,
    p_request jsonb
)
RETURNS SETOF stent.tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_seq IS NULL OR p_seq < 0 OR coalesce(p_request->>'name', '') = '' THEN
        RAISE EXCEPTION 'stent.call_child: a name and a position >= 0 are required' USING ERRCODE = 'ST003';
    END IF;
    PERFORM stent.require_lease(p_parent_task_id, p_token, 'stent.call_child');
    RETURN QUERY SELECT * FROM stent.call_children(jsonb_build_array(jsonb_build_object(
        'parent', p_parent_task_id, 'token', p_token, 'seq', p_seq, 'request', p_request)));
END;
$$;

-- stent.call_children: stent.call_child for many calls in one statement — a workflow's fan-out,
-- or the calls that the client's workflows make at the same moment. p_calls is a JSON array of
-- {"parent": task id, "token": lease token, "seq": position, "request": call_child's request}.
-- Calls whose parent no longer holds the token are skipped (the caller reads them as lease
-- lost: no row comes back for them); for the others the row at each position is returned,
-- new or recorded before. Cached calls decide hit, follow or run one by one under their cache
-- row's lock (single flight, also between calls of the same batch); every child is then
-- inserted by one statement, and each queue with new work is notified once.
CREATE OR REPLACE FUNCTION stent.call_children(p_calls jsonb)
RETURNS SETOF stent.tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now     timestamptz := stent.current_time();
    v_call    record;
    v_cache   stent.cache;
    v_modes   jsonb := '{}';   -- position in p_calls → 'hit' or 'follow' (default: run)
    v_values  jsonb := '{}';   -- position in p_calls → cached value of a hit
    v_running text[] := '{}';  -- cache keys a call of this batch will compute
    v_queues  text[];
BEGIN
    IF p_calls IS NULL OR jsonb_typeof(p_calls) <> 'array' THEN
        RAISE EXCEPTION 'stent.call_children: an array of calls is required' USING ERRCODE = 'ST003';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_calls) AS s(v)
               WHERE jsonb_typeof(s.v) <> 'object' OR jsonb_typeof(s.v->'request') IS DISTINCT FROM 'object'
                  OR coalesce(s.v->'request'->>'name', '') = ''
                  OR NOT (s.v ? 'parent' AND s.v ? 'token' AND s.v ? 'seq')
                  OR (s.v->>'seq')::integer < 0) THEN
        RAISE EXCEPTION 'stent.call_children: every call needs a parent, a token, a position >= 0 and a request with a name'
            USING ERRCODE = 'ST003';
    END IF;
    -- The argument rules the tables no longer check (migration 7).
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_calls) AS s(v), LATERAL (SELECT s.v->'request' AS r) q
               WHERE char_length(r->>'name') > 200
                  OR char_length(coalesce(r->>'queue', 'default')) NOT BETWEEN 1 AND 128
                  OR coalesce((r->>'max_attempts')::integer, 3) < 1
                  OR coalesce((r->>'retry_initial_delay_ms')::double precision, 0) < 0
                  OR coalesce((r->>'retry_max_delay_ms')::double precision, 0) < 0
                  OR coalesce((r->>'retry_backoff_factor')::double precision, 2) < 1
                  OR coalesce((r->>'retry_jitter')::double precision, 0) NOT BETWEEN 0 AND 1
                  OR (r->>'timeout_ms')::double precision <= 0
                  OR jsonb_typeof(r->'trace_context') NOT IN ('object', 'null')) THEN
        RAISE EXCEPTION 'stent.call_children: a request has a name or queue of the wrong length, or a bad retry policy, timeout or trace context'
            USING ERRCODE = 'ST003';
    END IF;
    PERFORM set_config('synchronous_commit', 'off', true);

    FOR v_call IN
        SELECT s.ord, s.v->'request'->>'cache_key' AS key, s.v->'request'->>'name' AS name
        FROM jsonb_array_elements(p_calls) WITH ORDINALITY AS s(v, ord)
        JOIN stent.tasks p ON p.id = (s.v->>'parent')::bigint
                          AND p.state = (SELECT 'running'::text) AND p.lease_token = (s.v->>'token')::bigint
        WHERE s.v->'request'->>'cache_key' IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM stent.tasks x
                          WHERE x.parent_task_id = p.id AND x.seq = (s.v->>'seq')::integer)
        ORDER BY s.ord
    LOOP
        INSERT INTO stent.cache (key, name, state, created_at) VALUES (v_call.key, v_call.name, 'pending', v_now)
        ON CONFLICT (key) DO NOTHING;
        SELECT * INTO v_cache FROM stent.cache c WHERE c.key = v_call.key FOR UPDATE;
        IF v_cache.state = 'ready' AND (v_cache.expires_at IS NULL OR v_cache.expires_at > v_now) THEN
            v_modes := v_modes || jsonb_build_object(v_call.ord::text, 'hit');
            v_values := v_values || jsonb_build_object(v_call.ord::text, coalesce(v_cache.value, 'null'::jsonb));
        ELSIF v_call.key = ANY (v_running) OR (v_cache.state = 'pending' AND EXISTS (
                SELECT 1 FROM stent.tasks o WHERE o.id = v_cache.owner_task_id AND o.state IN ('pending', 'running'))) THEN
            v_modes := v_modes || jsonb_build_object(v_call.ord::text, 'follow');
        ELSE
            v_running := v_running || v_call.key;
        END IF;
    END LOOP;

    WITH inserted AS (
        INSERT INTO stent.tasks AS t
            (execution_id, parent_task_id, seq, kind, name, state, queue, priority, tags, input, output,
             max_attempts, retry_initial_delay, retry_backoff_factor, retry_max_delay, retry_jitter,
             retry_on, timeout, run_at, created_at, finished_at, concurrency_key, cache_key, cache_ttl,
             trace_context)
        SELECT p.execution_id, p.id, (s.v->>'seq')::integer, coalesce(r->>'kind', 'activity'), r->>'name',
               CASE v_modes->>s.ord::text WHEN 'hit' THEN 'completed' WHEN 'follow' THEN 'waiting' ELSE 'pending' END,
               coalesce(r->>'queue', 'default'), coalesce((r->>'priority')::smallint, 0),
               ARRAY(SELECT jsonb_array_elements_text(CASE jsonb_typeof(r->'tags') WHEN 'array' THEN r->'tags' ELSE '[]' END)),
               coalesce(r->'input', 'null'::jsonb),
               v_values->s.ord::text,
               coalesce((r->>'max_attempts')::integer, 3),
               make_interval(secs => coalesce((r->>'retry_initial_delay_ms')::double precision, 1000) / 1000),
               coalesce((r->>'retry_backoff_factor')::double precision, 2),
               make_interval(secs => coalesce((r->>'retry_max_delay_ms')::double precision, 300000) / 1000),
               coalesce((r->>'retry_jitter')::double precision, 0.1),
               ARRAY(SELECT jsonb_array_elements_text(CASE jsonb_typeof(r->'retry_on') WHEN 'array' THEN r->'retry_on' ELSE '[]' END)),
               make_interval(secs => (r->>'timeout_ms')::double precision / 1000),
               least(v_now, p.run_at - interval '1 microsecond'), v_now, CASE WHEN v_modes->>s.ord::text = 'hit' THEN v_now END,
               nullif(coalesce(r->>'concurrency_key', coalesce(r->'input', 'null'::jsonb) #>> CASE jsonb_typeof(r->'key_path')
                   WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(r->'key_path')) END), ''),
               r->>'cache_key', make_interval(secs => (r->>'cache_ttl_ms')::double precision / 1000),
               CASE WHEN jsonb_typeof(r->'trace_context') = 'object' THEN r->'trace_context' END
        FROM jsonb_array_elements(p_calls) WITH ORDINALITY AS s(v, ord)
        CROSS JOIN LATERAL (SELECT s.v->'request' AS r) q
        JOIN stent.tasks p ON p.id = (s.v->>'parent')::bigint
                          AND p.state = (SELECT 'running'::text) AND p.lease_token = (s.v->>'token')::bigint
        ORDER BY p.id, (s.v->>'seq')::integer
        ON CONFLICT (parent_task_id, seq) WHERE parent_task_id IS NOT NULL DO NOTHING
        RETURNING t.id, t.state, t.queue, t.cache_key
    ), owned AS (
        -- A call that runs with a cache key owns it: calls of the same key wait for its result.
        UPDATE stent.cache c SET state = 'pending', owner_task_id = i.id, value = NULL, expires_at = NULL
        FROM inserted i
        WHERE i.state = 'pending' AND i.cache_key IS NOT NULL AND c.key = i.cache_key
    )
    SELECT array_agg(DISTINCT i.queue) FILTER (WHERE i.state = 'pending') INTO v_queues FROM inserted i;
    PERFORM pg_notify('stent_tasks', q) FROM unnest(v_queues) AS q;

    -- A new snapshot: this statement's rows and any recorded by a racing attempt.
    RETURN QUERY
    SELECT x.*
    FROM jsonb_array_elements(p_calls) AS s(v)
    JOIN stent.tasks p ON p.id = (s.v->>'parent')::bigint
                      AND p.state = (SELECT 'running'::text) AND p.lease_token = (s.v->>'token')::bigint
    JOIN stent.tasks x ON x.parent_task_id = p.id AND x.seq = (s.v->>'seq')::integer;
END;
$$;

-- stent.release_cache_followers: for tasks that ended without a result (failed, cancelled)
-- while owning a cache key, drops the pending entry and lets the calls that were waiting for
-- it run themselves (pending, due now).
CREATE OR REPLACE FUNCTION stent.release_cache_followers(p_task_ids bigint[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_keys   text[];
    v_queues text[];
BEGIN
    WITH dropped AS (
        DELETE FROM stent.cache c WHERE c.owner_task_id = ANY (p_task_ids) AND c.state = 'pending'
        RETURNING c.key
    )
    SELECT array_agg(key) INTO v_keys FROM dropped;
    IF v_keys IS NULL THEN
        RETURN;
    END IF;
    WITH released AS (
        UPDATE stent.tasks f SET state = 'pending', run_at = stent.current_time()
        WHERE f.cache_key = ANY (v_keys) AND f.state = 'waiting' AND f.kind = 'activity'
        RETURNING f.queue
    )
    SELECT array_agg(DISTINCT queue) INTO v_queues FROM released;
    PERFORM pg_notify('stent_tasks', q) FROM unnest(v_queues) AS q;
END;
$$;

-- stent.suspend_task: a running workflow task stops running until what its code waits for
-- happens. With children in p_awaiting: if all of them already finished it stays running and
-- false is returned (run the code again now); otherwise it becomes 'waiting' with
-- wait_remaining = the unfinished ones, which are marked to wake it. With no children and
-- p_until (a durable sleep): it becomes pending again at p_until. Either way its lease is
-- released, its attempt given back (suspending is not a failure) and true is returned.
-- Fenced by the lease token (ST001). Lock order: the children (descending id), then the task.
DROP FUNCTION IF EXISTS stent.suspend_task(bigint, bigint, bigint[]);
CREATE OR REPLACE FUNCTION stent.suspend_task(
    p_task_id bigint,
    p_token bigint,
    p_awaiting bigint[],
    p_until timestamptz DEFAULT NULL
)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_open integer := 0;
BEGIN
    -- Asynchronous commit, as for every workflow checkpoint (see stent.require_lease).
    PERFORM set_config('synchronous_commit', 'off', true);
    IF cardinality(p_awaiting) > 0 THEN
        PERFORM 1 FROM stent.tasks c WHERE c.id = ANY (p_awaiting) AND c.parent_task_id = p_task_id
        ORDER BY c.id DESC FOR UPDATE;
        UPDATE stent.tasks c SET wakes_parent = true
        WHERE c.id = ANY (p_awaiting) AND c.parent_task_id = p_task_id
          AND c.state NOT IN ('completed', 'failed', 'cancelled');
        GET DIAGNOSTICS v_open = ROW_COUNT;
    ELSIF p_until IS NULL THEN
        RAISE EXCEPTION 'stent.suspend_task: nothing to wait for' USING ERRCODE = 'ST003';
    END IF;

    PERFORM 1 FROM stent.tasks t WHERE t.id = p_task_id AND t.state = (SELECT 'running'::text) AND t.lease_token = p_token
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stent.suspend_task: lease lost for task % (token %)', p_task_id, p_token
            USING ERRCODE = 'ST001';
    END IF;
    IF cardinality(p_awaiting) > 0 THEN
        IF v_open = 0 THEN
            RETURN false;
        END IF;
        UPDATE stent.tasks t
        SET state = 'waiting', wait_remaining = v_open, attempt = greatest(t.attempt - 1, 0),
            lease_owner = NULL, lease_expires_at = NULL
        WHERE t.id = p_task_id;
    ELSE
        UPDATE stent.tasks t
        SET state = 'pending', run_at = p_until, attempt = greatest(t.attempt - 1, 0),
            lease_owner = NULL, lease_expires_at = NULL
        WHERE t.id = p_task_id;
        PERFORM pg_notify('stent_tasks', t.queue) FROM stent.tasks t WHERE t.id = p_task_id;
    END IF;
    RETURN true;
END;
$$;

-- stent.record_sleep: a durable timer of a running workflow task at position p_seq. The first
-- time, it records the deadline (p_until, or else now + p_duration on the database clock) in a 'waiting'
-- sleep row; later runs find it, so a crash or a replay never restarts the timer. Once the
-- deadline has passed the row is completed. Fenced by the parent's lease token (ST001).
-- Returns the row.
DROP FUNCTION IF EXISTS stent.record_sleep(bigint, bigint, integer, text, interval);
CREATE OR REPLACE FUNCTION stent.record_sleep(
    p_parent_task_id bigint,
    p_token bigint,
    p_seq integer,
    p_name text,
    p_duration interval,
    p_until timestamptz DEFAULT NULL
)
RETURNS SETOF stent.tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now    timestamptz := stent.current_time();
    v_parent stent.tasks;
BEGIN
    IF p_seq IS NULL OR p_seq < 0 OR p_duration IS NULL OR p_duration < interval '0'
       OR coalesce(p_name, '') = '' OR char_length(p_name) > 200 THEN
        RAISE EXCEPTION 'stent.record_sleep: a position >= 0, a name of 1-200 characters and a duration >= 0 are required'
            USING ERRCODE = 'ST003';
    END IF;
    v_parent := stent.require_lease(p_parent_task_id, p_token, 'stent.record_sleep');
    INSERT INTO stent.tasks AS t
        (execution_id, parent_task_id, seq, kind, name, state, queue, priority, tags,
         max_attempts, retry_initial_delay, retry_backoff_factor, retry_max_delay, retry_jitter,
         run_at, created_at)
    VALUES (v_parent.execution_id, v_parent.id, p_seq, 'sleep', p_name, 'waiting', v_parent.queue,
            v_parent.priority, v_parent.tags, 1, interval '0', 1, interval '0', 0,
            coalesce(p_until, v_now + p_duration), v_now)
    ON CONFLICT (parent_task_id, seq) WHERE parent_task_id IS NOT NULL DO NOTHING;

    UPDATE stent.tasks t SET state = 'completed', finished_at = v_now
    WHERE t.parent_task_id = p_parent_task_id AND t.seq = p_seq AND t.kind = 'sleep'
      AND t.state = (SELECT 'waiting'::text) AND t.run_at <= v_now;
    RETURN QUERY SELECT * FROM stent.tasks t WHERE t.parent_task_id = p_parent_task_id AND t.seq = p_seq;
END;
$$;
