-- stent.retry_execution: runs a failed, cancelled or timed-out execution again from its
-- checkpoints (psql, `stent retry`, Client.Retry). Completed calls keep their results and
-- are not run again; every failed or cancelled task of the execution is reset: workflows and
-- activities become pending, due now, with their attempts reset, error cleared and a new
-- lease token (a worker still finishing a stale attempt gets lease lost); durable sleeps
-- keep their deadline; a signal wait gets its deadline back (the same timeout from now when
-- it had passed). The root task replays the workflow code, which finds its checkpoints. The
-- dead letters of the reset tasks are removed (as stent.replay_dead_letter does), the
-- execution becomes pending with its error cleared (a deadline already passed is dropped, so
-- a timed-out execution does not time out again at once), and the workers of the tasks'
-- queues are woken. Tasks still running or waiting are left as they are. Returns the number
-- of tasks reset.
-- Raises ST002 for an unknown execution and ST004 when it is pending, running or completed;
-- nothing changes then.
-- Lock order: the execution's signal advisory lock, its dead letters, its failed and
-- cancelled tasks (descending id), then the execution row — as cancel, replay and signals,
-- so a concurrent cancel, replay or second retry waits and then sees the result (a second
-- retry gets ST004).
CREATE OR REPLACE FUNCTION stent.retry_execution(p_execution_id uuid)
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now    timestamptz := stent.current_time();
    v_state  text;
    v_root   bigint;
    v_ids    bigint[];
    v_queues text[];
BEGIN
    SELECT e.state INTO v_state FROM stent.executions e WHERE e.id = p_execution_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stent.retry_execution: execution % not found', p_execution_id USING ERRCODE = 'ST002';
    END IF;
    IF v_state NOT IN ('failed', 'cancelled', 'timed_out') THEN
        RAISE EXCEPTION 'stent.retry_execution: execution % is %; only failed, cancelled or timed_out executions can be retried',
            p_execution_id, v_state USING ERRCODE = 'ST004';
    END IF;

    PERFORM pg_advisory_xact_lock(hashtextextended('stent.signal:' || p_execution_id::text, 0));
    PERFORM 1 FROM stent.dead_letters d WHERE d.execution_id = p_execution_id ORDER BY d.id FOR UPDATE;
    PERFORM 1 FROM stent.tasks t
    WHERE t.execution_id = p_execution_id AND t.state IN ('failed', 'cancelled')
    ORDER BY t.id DESC
    FOR UPDATE;
    -- Checked again under the lock: a concurrent retry or replay may have won.
    SELECT e.state INTO v_state FROM stent.executions e WHERE e.id = p_execution_id FOR UPDATE;
    IF v_state NOT IN ('failed', 'cancelled', 'timed_out') THEN
        RAISE EXCEPTION 'stent.retry_execution: execution % is %; only failed, cancelled or timed_out executions can be retried',
            p_execution_id, v_state USING ERRCODE = 'ST004';
    END IF;
    SELECT t.id INTO v_root FROM stent.tasks t
    WHERE t.execution_id = p_execution_id AND t.parent_task_id IS NULL AND t.state IN ('failed', 'cancelled');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stent.retry_execution: the root task of execution % is not failed or cancelled', p_execution_id
            USING ERRCODE = 'ST004';
    END IF;

    WITH reset AS (
        UPDATE stent.tasks t
        SET state = CASE WHEN t.kind IN ('sleep', 'signal') THEN 'waiting' ELSE 'pending' END,
            run_at = CASE WHEN t.kind = 'sleep' THEN t.run_at
                          WHEN t.kind = 'signal' AND t.run_at > v_now THEN t.run_at
                          WHEN t.kind = 'signal' THEN v_now + (t.run_at - t.created_at)
                          ELSE v_now END,
            attempt = 0, error = NULL, finished_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
            lease_token = t.lease_token + 1 + floor(random() * 1000000000)::bigint,
            wait_remaining = 0, wakes_parent = false
        WHERE t.execution_id = p_execution_id AND t.state IN ('failed', 'cancelled')
        RETURNING t.id, t.queue, t.state
    )
    SELECT array_agg(reset.id), array_agg(DISTINCT reset.queue) FILTER (WHERE reset.state = 'pending')
    INTO v_ids, v_queues
    FROM reset;

    DELETE FROM stent.dead_letters d WHERE d.execution_id = p_execution_id AND d.task_id = ANY (v_ids);

    UPDATE stent.executions e
    SET state = 'pending', error = NULL, output = NULL, finished_at = NULL,
        deadline = CASE WHEN e.deadline <= v_now THEN NULL ELSE e.deadline END
    WHERE e.id = p_execution_id;

    PERFORM pg_notify('stent_tasks', q) FROM unnest(v_queues) AS q;
    RETURN cardinality(v_ids);
END;
$$;
