-- stent.require_lease: returns the task if the caller still owns it — running under the lease
-- token p_token — and raises ST002 (unknown task) or ST001 (lease lost, naming p_caller)
-- otherwise. With p_lock the row is locked FOR UPDATE first. The fence of every durable call
-- a workflow makes.
--
-- It also makes the caller's transaction commit asynchronously (synchronous_commit off): a
-- workflow's checkpoints need no WAL flush of their own. A crash can only lose a suffix of
-- the WAL, so losing a checkpoint also loses everything recorded after it; the workflow then
-- replays from the last surviving checkpoint and runs the lost calls again, which the
-- at-least-once contract allows (effects recorded with a step are lost and re-applied with
-- it, so they still apply once). The workflow's completion is written synchronously and
-- flushes every checkpoint before it.
CREATE OR REPLACE FUNCTION stent.require_lease(
    p_task_id bigint,
    p_token bigint,
    p_caller text,
    p_lock boolean DEFAULT false
)
RETURNS stent.tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_task stent.tasks;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    IF p_lock THEN
        SELECT * INTO v_task FROM stent.tasks t WHERE t.id = p_task_id FOR UPDATE;
    ELSE
        SELECT * INTO v_task FROM stent.tasks t WHERE t.id = p_task_id;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: task % not found', p_caller, p_task_id USING ERRCODE = 'ST002';
    END IF;
    IF v_task.state <> 'running' OR v_task.lease_token <> p_token THEN
        RAISE EXCEPTION '%: lease lost for task % (token %)', p_caller, p_task_id, p_token
            USING ERRCODE = 'ST001';
    END IF;
    RETURN v_task;
END;
$$;
