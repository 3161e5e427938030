-- stent.expire_executions: ends up to p_limit unfinished executions whose deadline passed:
-- each becomes timed_out with an error stored, and every unfinished task in it is cancelled
-- (running attempts are told on 'stent_cancel'; their late results are fenced off). Run by
-- the maintenance leader; returns the ids it expired with their workflow (function) names.
-- Lock order: tasks, children before parents (descending id), then the execution.
DROP FUNCTION IF EXISTS stent.expire_executions(integer);
CREATE OR REPLACE FUNCTION stent.expire_executions(p_limit integer DEFAULT 1000)
RETURNS TABLE (execution_id uuid, workflow text)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := stent.current_time();
    v_id  uuid;
    v_deadline timestamptz;
    v_workflow text;
BEGIN
    FOR v_id, v_deadline, v_workflow IN
        SELECT e.id, e.deadline, e.workflow FROM stent.executions e
        WHERE e.deadline IS NOT NULL AND e.deadline < v_now AND e.state IN ('pending', 'running')
        ORDER BY e.deadline
        LIMIT p_limit
    LOOP
        PERFORM stent.cancel_tasks(v_id, v_now);
        UPDATE stent.executions e
        SET state = 'timed_out', finished_at = v_now,
            error = jsonb_build_object('kind', 'timed_out', 'retryable', false,
                                       'message', format('execution passed its deadline of %s', v_deadline))
        WHERE e.id = v_id AND e.state IN ('pending', 'running');
        IF FOUND THEN
            PERFORM pg_notify('stent_cancel', v_id::text);
            PERFORM stent.notify_finished(ARRAY[v_id]);
            execution_id := v_id;
            workflow := v_workflow;
            RETURN NEXT;
        END IF;
    END LOOP;
END;
$$;
