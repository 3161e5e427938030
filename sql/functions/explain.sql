-- stent.explain: why an execution is not running (or not finished yet), one row per reason
-- and task, for psql, the CLI (`stent explain`) and Client.Explain. For each unfinished
-- workflow or activity task of the execution, in id order, it returns the reasons of
-- stent.task_blockers (the rules live in stent.task_blockers_of): scheduled, backing_off,
-- paused_queue, paused_function, backoff, concurrency_limit, key_concurrency_limit,
-- rate_limited, key_rate_limited, no_worker, leased, lease_expired, sleeping,
-- waiting_signal, waiting_child, waiting_cache — and 'queued' for a pending task that
-- nothing holds back (the next claim of a live worker takes it). A finished execution
-- returns one row, reason 'finished', on its root task, with its state and error in the
-- detail. Columns:
--   task_id, task_name, task_kind, task_state  the task the reason is about
--   reason   short stable code (above)
--   detail   human-readable explanation
--   until    when the reason ends, if known (timer, signal timeout, retry, rate window,
--            lease expiry)
--   worker_id  the worker holding the task (leased, lease_expired)
--   holders  who holds what the task waits for: tasks and workers using the concurrency
--            slots, the lease owner, the awaited calls, the task computing a cached result
-- Raises ST002 for an unknown execution. Reads only (STABLE): safe on a busy database.
CREATE OR REPLACE FUNCTION stent.explain(p_execution_id uuid)
RETURNS TABLE (task_id bigint, task_name text, task_kind text, task_state text, reason text,
               detail text, until timestamptz, worker_id text, holders text[])
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now  timestamptz := stent.current_time();
    v_exec stent.executions;
    v_task stent.tasks;
BEGIN
    SELECT * INTO v_exec FROM stent.executions e WHERE e.id = p_execution_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stent.explain: execution % not found', p_execution_id USING ERRCODE = 'ST002';
    END IF;

    IF v_exec.state NOT IN ('pending', 'running') THEN
        RETURN QUERY
        SELECT t.id, t.name, t.kind, t.state, 'finished'::text,
               format('execution %s at %s', v_exec.state, v_exec.finished_at)
                   || coalesce(': ' || (v_exec.error->>'message'), ''),
               NULL::timestamptz, NULL::text, NULL::text[]
        FROM stent.tasks t
        WHERE t.execution_id = p_execution_id AND t.parent_task_id IS NULL;
        RETURN;
    END IF;

    FOR v_task IN
        SELECT * FROM stent.tasks t
        WHERE t.execution_id = p_execution_id
          AND t.state IN ('pending', 'running', 'waiting')
          AND t.kind IN ('workflow', 'activity')
        ORDER BY t.id
    LOOP
        RETURN QUERY
        SELECT v_task.id, v_task.name, v_task.kind, v_task.state, b.reason, b.detail, b.until,
               CASE WHEN b.reason IN ('leased', 'lease_expired') THEN v_task.lease_owner END,
               b.holders
        FROM stent.task_blockers_of(v_task, v_now) AS b;
        IF NOT FOUND AND v_task.state = 'pending' THEN
            RETURN QUERY
            SELECT v_task.id, v_task.name, v_task.kind, v_task.state, 'queued'::text,
                   format('due since %s; the next claim on queue %s takes it', v_task.run_at, v_task.queue),
                   NULL::timestamptz, NULL::text, NULL::text[];
        END IF;
    END LOOP;
END;
$$;
