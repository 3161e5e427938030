-- stent.record_effect: an execution-scoped write made by workflow code — p_kind 'incr' (add
-- p_value, a number, to counter p_name), 'set_state' (set key p_name to p_value) or
-- 'progress' (append message p_name with detail p_value) — applied exactly once per call
-- site: it is recorded as a completed step at (p_parent_task_id, p_seq) in the same
-- transaction, and a replay that finds the step applies nothing again. Fenced by the parent's
-- lease token (ST001). Returns the step row (for 'incr', its output is the counter's value
-- after the increment).
CREATE OR REPLACE FUNCTION stent.record_effect(
    p_parent_task_id bigint,
    p_token bigint,
    p_seq integer,
    p_kind text,
    p_name text,
    p_value jsonb
)
RETURNS SETOF stent.tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now    timestamptz := stent.current_time();
    v_parent stent.tasks;
    v_step   stent.tasks;
    v_out    jsonb := 'null';
BEGIN
    IF p_kind NOT IN ('incr', 'set_state', 'progress') OR coalesce(p_name, '') = '' OR char_length(p_name) > 200 OR p_seq IS NULL OR p_seq < 0
       OR (p_kind = 'incr' AND jsonb_typeof(p_value) IS DISTINCT FROM 'number') THEN
        RAISE EXCEPTION 'stent.record_effect: kind incr (with a number), set_state or progress, a name and a position are required'
            USING ERRCODE = 'ST003';
    END IF;
    v_parent := stent.require_lease(p_parent_task_id, p_token, 'stent.record_effect');

    SELECT * INTO v_step FROM stent.tasks t WHERE t.parent_task_id = p_parent_task_id AND t.seq = p_seq;
    IF FOUND THEN
        RETURN NEXT v_step; -- applied before: nothing again
        RETURN;
    END IF;

    IF p_kind = 'incr' THEN
        INSERT INTO stent.counters AS c (execution_id, name, value)
        VALUES (v_parent.execution_id, p_name, (p_value #>> '{}')::double precision)
        ON CONFLICT (execution_id, name) DO UPDATE SET value = c.value + EXCLUDED.value
        RETURNING to_jsonb(c.value) INTO v_out;
    ELSIF p_kind = 'set_state' THEN
        INSERT INTO stent.state AS s (execution_id, key, value, updated_at)
        VALUES (v_parent.execution_id, p_name, coalesce(p_value, 'null'::jsonb), v_now)
        ON CONFLICT (execution_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = v_now;
    ELSE
        INSERT INTO stent.progress (execution_id, task_id, message, detail, created_at)
        VALUES (v_parent.execution_id, v_parent.id, p_name, p_value, v_now);
    END IF;

    RETURN QUERY
    INSERT INTO stent.tasks AS t
        (execution_id, parent_task_id, seq, kind, name, state, queue, priority, tags, output,
         attempt, max_attempts, retry_initial_delay, retry_backoff_factor, retry_max_delay,
         retry_jitter, run_at, created_at, started_at, finished_at)
    VALUES (v_parent.execution_id, v_parent.id, p_seq, 'step', 'stent.' || p_kind || ':' || p_name,
            'completed', v_parent.queue, v_parent.priority, v_parent.tags, v_out, 1, 1,
            interval '0', 1, interval '0', 0, v_now, v_now, v_now, v_now)
    RETURNING t.*;
END;
$$;
