-- stent.record_step: checkpoints the result of a durable call made inline by a running
-- workflow task (a step, a recorded time or random value): one completed child row at
-- (p_parent_task_id, p_seq). Fenced by the parent's lease token (ST001 when it no longer owns
-- the task). If the position is already recorded — a replay that raced an earlier attempt —
-- nothing is written and the recorded row is returned, so the caller can compare names and
-- use the first result. Returns the row at that position.
CREATE OR REPLACE FUNCTION stent.record_step(
    p_parent_task_id bigint,
    p_token bigint,
    p_seq integer,
    p_kind text,
    p_name text,
    p_output jsonb
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
    IF p_seq IS NULL OR p_seq < 0 OR coalesce(p_name, '') = '' OR char_length(p_name) > 200 OR p_kind NOT IN ('step') THEN
        RAISE EXCEPTION 'stent.record_step: a kind step, a name and a position >= 0 are required'
            USING ERRCODE = 'ST003';
    END IF;
    v_parent := stent.require_lease(p_parent_task_id, p_token, 'stent.record_step');

    RETURN QUERY
    INSERT INTO stent.tasks AS t
        (execution_id, parent_task_id, seq, kind, name, state, queue, priority, tags, output,
         attempt, max_attempts, retry_initial_delay, retry_backoff_factor, retry_max_delay,
         retry_jitter, run_at, created_at, started_at, finished_at)
    VALUES (v_parent.execution_id, v_parent.id, p_seq, p_kind, p_name, 'completed', v_parent.queue,
            v_parent.priority, v_parent.tags, coalesce(p_output, 'null'::jsonb), 1, 1,
            interval '0', 1, interval '0', 0, v_now, v_now, v_now, v_now)
    ON CONFLICT (parent_task_id, seq) WHERE parent_task_id IS NOT NULL DO NOTHING
    RETURNING t.*;
    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM stent.tasks t WHERE t.parent_task_id = p_parent_task_id AND t.seq = p_seq;
    END IF;
END;
$$;

-- stent.record_steps: stent.record_step for many running workflow tasks at once — the Go
-- client gathers the checkpoints its workflows make at the same moment and writes them in one
-- statement. p_steps is a JSON array of {"parent": task id, "token": lease token, "seq":
-- position, "name": step name, "output": JSON}. Returns one row per element, in order:
-- lease_lost when the parent no longer holds that token (nothing is written for it), else the
-- kind, name and output recorded at the position (an earlier row's if it was already taken).
-- Only inserts: no row is locked, so concurrent batches never wait on each other.
CREATE OR REPLACE FUNCTION stent.record_steps(p_steps jsonb)
RETURNS TABLE (ord integer, lease_lost boolean, kind text, name text, output jsonb)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := stent.current_time();
BEGIN
    IF p_steps IS NULL OR jsonb_typeof(p_steps) <> 'array' THEN
        RAISE EXCEPTION 'stent.record_steps: an array of steps is required' USING ERRCODE = 'ST003';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_steps) AS s(v)
               WHERE jsonb_typeof(s.v) <> 'object' OR coalesce(s.v->>'name', '') = ''
                  OR char_length(s.v->>'name') > 200
                  OR NOT (s.v ? 'parent' AND s.v ? 'token' AND s.v ? 'seq')
                  OR (s.v->>'seq')::integer < 0) THEN
        RAISE EXCEPTION 'stent.record_steps: every step needs a parent, a token, a position >= 0 and a name'
            USING ERRCODE = 'ST003';
    END IF;
    PERFORM set_config('synchronous_commit', 'off', true);

    INSERT INTO stent.tasks AS t
        (execution_id, parent_task_id, seq, kind, name, state, queue, priority, tags, output,
         attempt, max_attempts, retry_initial_delay, retry_backoff_factor, retry_max_delay,
         retry_jitter, run_at, created_at, started_at, finished_at)
    SELECT p.execution_id, p.id, (s.v->>'seq')::integer, 'step', s.v->>'name', 'completed', p.queue,
           p.priority, p.tags, coalesce(s.v->'output', 'null'::jsonb), 1, 1,
           interval '0', 1, interval '0', 0, v_now, v_now, v_now, v_now
    FROM jsonb_array_elements(p_steps) AS s(v)
    JOIN stent.tasks p ON p.id = (s.v->>'parent')::bigint
                      AND p.state = (SELECT 'running'::text) AND p.lease_token = (s.v->>'token')::bigint
    ORDER BY p.id, (s.v->>'seq')::integer
    ON CONFLICT (parent_task_id, seq) WHERE parent_task_id IS NOT NULL DO NOTHING;

    -- A new snapshot: it sees this statement's rows and any committed by a racing attempt.
    RETURN QUERY
    SELECT s.ord::integer, p.id IS NULL, x.kind, x.name, x.output
    FROM jsonb_array_elements(p_steps) WITH ORDINALITY AS s(v, ord)
    LEFT JOIN stent.tasks p ON p.id = (s.v->>'parent')::bigint
                           AND p.state = (SELECT 'running'::text) AND p.lease_token = (s.v->>'token')::bigint
    LEFT JOIN stent.tasks x ON x.parent_task_id = (s.v->>'parent')::bigint
                           AND x.seq = (s.v->>'seq')::integer
    ORDER BY s.ord;
END;
$$;
