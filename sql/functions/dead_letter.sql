-- stent.replay_dead_letter: runs a dead-lettered task again. In one transaction the entry is
-- removed, the task returns to pending with its attempts reset (its last error is kept for
-- inspection) and, for a root task, its failed execution becomes pending again. Returns the
-- task id. Raises ST002 when the entry does not exist and ST004 when the task or execution is
-- no longer failed (nothing changes).
CREATE OR REPLACE FUNCTION stent.replay_dead_letter(p_dead_letter_id bigint)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now  timestamptz := stent.current_time();
    v_task stent.tasks;
BEGIN
    SELECT t.* INTO v_task
    FROM stent.dead_letters d
    JOIN stent.tasks t ON t.id = d.task_id
    WHERE d.id = p_dead_letter_id
    FOR UPDATE OF d, t;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stent.replay_dead_letter: dead letter % not found', p_dead_letter_id
            USING ERRCODE = 'ST002';
    END IF;
    IF v_task.state <> 'failed' THEN
        RAISE EXCEPTION 'stent.replay_dead_letter: task % is %, not failed', v_task.id, v_task.state
            USING ERRCODE = 'ST004';
    END IF;

    DELETE FROM stent.dead_letters d WHERE d.id = p_dead_letter_id;

    UPDATE stent.tasks t
    SET state = 'pending', attempt = 0, run_at = v_now, finished_at = NULL
    WHERE t.id = v_task.id;

    IF v_task.parent_task_id IS NULL THEN
        UPDATE stent.executions e
        SET state = 'pending', error = NULL, output = NULL, finished_at = NULL
        WHERE e.id = v_task.execution_id AND e.state = 'failed';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'stent.replay_dead_letter: execution % is not failed', v_task.execution_id
                USING ERRCODE = 'ST004';
        END IF;
    END IF;

    PERFORM pg_notify('stent_tasks', v_task.queue);
    RETURN v_task.id;
END;
$$;

-- stent.discard_dead_letter: deletes a dead-letter entry (the failed task and execution stay
-- as they are). Returns false when there was no such entry.
CREATE OR REPLACE FUNCTION stent.discard_dead_letter(p_dead_letter_id bigint)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM stent.dead_letters d WHERE d.id = p_dead_letter_id;
    RETURN FOUND;
END;
$$;
