-- stent.rescue_expired: returns to the queue (or dead-letters) up to p_limit running tasks
-- whose lease expired — their worker crashed, hung or lost its connection. The rescued attempt
-- counts, so a task that kills its process every time ends in the dead-letter queue after
-- max_attempts instead of looping forever. Rows are locked with SKIP LOCKED and the
-- condition is re-checked under the lock, so a task completed or renewed meanwhile is left
-- alone. Run by the maintenance leader; safe to run anywhere, any number of times. Returns
-- each task with its new state ('pending' or 'failed'), its function, queue and whether it is
-- a root task (whose failure fails the execution), for the leader's metrics and logs.
DROP FUNCTION IF EXISTS stent.rescue_expired(integer);
CREATE OR REPLACE FUNCTION stent.rescue_expired(p_limit integer DEFAULT 1000)
RETURNS TABLE (task_id bigint, state text, name text, queue text, execution_id uuid, root boolean)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now  timestamptz := stent.current_time();
    v_task stent.tasks;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'stent.rescue_expired: limit must be positive' USING ERRCODE = 'ST003';
    END IF;
    FOR v_task IN
        SELECT * FROM stent.tasks t
        WHERE t.state = 'running' AND t.lease_expires_at < v_now
        ORDER BY t.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    LOOP
        task_id := v_task.id;
        name := v_task.name;
        queue := v_task.queue;
        execution_id := v_task.execution_id;
        root := v_task.parent_task_id IS NULL;
        SELECT f.state INTO state
        FROM stent.fail_locked(
            v_task,
            jsonb_build_object(
                'kind', 'lease_expired',
                'message', format('attempt %s: lease held by worker %s expired at %s (the worker crashed, hung or lost its database connection)',
                                  v_task.attempt, v_task.lease_owner, v_task.lease_expires_at),
                'retryable', true),
            true, NULL, v_now) AS f;
        RETURN NEXT;
    END LOOP;
END;
$$;
