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
    IF p_seq IS NULL OR p_seq < 0 OR coalesce(p_name, '') = '' OR p_kind NOT IN ('step') THEN
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
