-- stent.call_child: records a durable call of a running workflow task that runs as its own
-- task (an activity): one pending child at (p_parent_task_id, p_seq), with the request's
-- name, input, queue, priority, tags and retry policy (keys of stent.dispatch_many), and wakes
-- the child's workers. Fenced by the parent's lease token (ST001). If the position is already
-- recorded, nothing is written. Returns the row at that position.
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
DECLARE
    v_now    timestamptz := stent.current_time();
    v_parent stent.tasks;
    r        jsonb := p_request;
BEGIN
    IF p_seq IS NULL OR p_seq < 0 OR coalesce(r->>'name', '') = '' THEN
        RAISE EXCEPTION 'stent.call_child: a name and a position >= 0 are required' USING ERRCODE = 'ST003';
    END IF;
    v_parent := stent.require_lease(p_parent_task_id, p_token, 'stent.call_child');

    RETURN QUERY
    INSERT INTO stent.tasks AS t
        (execution_id, parent_task_id, seq, kind, name, queue, priority, tags, input, max_attempts,
         retry_initial_delay, retry_backoff_factor, retry_max_delay, retry_jitter, retry_on,
         timeout, run_at, created_at, concurrency_key)
    VALUES (v_parent.execution_id, v_parent.id, p_seq, coalesce(r->>'kind', 'activity'), r->>'name',
            coalesce(r->>'queue', 'default'), coalesce((r->>'priority')::smallint, 0),
            ARRAY(SELECT jsonb_array_elements_text(CASE jsonb_typeof(r->'tags') WHEN 'array' THEN r->'tags' ELSE '[]' END)),
            coalesce(r->'input', 'null'::jsonb),
            coalesce((r->>'max_attempts')::integer, 3),
            make_interval(secs => coalesce((r->>'retry_initial_delay_ms')::double precision, 1000) / 1000),
            coalesce((r->>'retry_backoff_factor')::double precision, 2),
            make_interval(secs => coalesce((r->>'retry_max_delay_ms')::double precision, 300000) / 1000),
            coalesce((r->>'retry_jitter')::double precision, 0.1),
            ARRAY(SELECT jsonb_array_elements_text(CASE jsonb_typeof(r->'retry_on') WHEN 'array' THEN r->'retry_on' ELSE '[]' END)),
            make_interval(secs => (r->>'timeout_ms')::double precision / 1000),
            v_now, v_now,
            nullif(coalesce(r->>'concurrency_key', coalesce(r->'input', 'null'::jsonb) #>> CASE jsonb_typeof(r->'key_path')
                WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(r->'key_path')) END), ''))
    ON CONFLICT (parent_task_id, seq) WHERE parent_task_id IS NOT NULL DO NOTHING
    RETURNING t.*;
    IF FOUND THEN
        PERFORM pg_notify('stent_tasks', coalesce(r->>'queue', 'default'));
    ELSE
        RETURN QUERY SELECT * FROM stent.tasks t WHERE t.parent_task_id = p_parent_task_id AND t.seq = p_seq;
    END IF;
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

    PERFORM 1 FROM stent.tasks t WHERE t.id = p_task_id AND t.state = 'running' AND t.lease_token = p_token
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
    IF p_seq IS NULL OR p_seq < 0 OR p_duration IS NULL OR p_duration < interval '0' THEN
        RAISE EXCEPTION 'stent.record_sleep: a position >= 0 and a duration >= 0 are required'
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
      AND t.state = 'waiting' AND t.run_at <= v_now;
    RETURN QUERY SELECT * FROM stent.tasks t WHERE t.parent_task_id = p_parent_task_id AND t.seq = p_seq;
END;
$$;
