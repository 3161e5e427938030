-- stent.cancel_execution: cancels an execution and every non-terminal task in it, and returns
-- the execution's resulting state. Cancelling a finished execution changes nothing and
-- returns its state (terminal states are sticky); a task completing after the cancel is
-- rejected by its fence. Workers running its tasks are told on 'stent_cancel' (payload: the
-- execution id) so they cancel the attempts' contexts. Raises ST002 for an unknown id.
CREATE OR REPLACE FUNCTION stent.cancel_execution(p_execution_id uuid)
RETURNS text
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now   timestamptz := stent.current_time();
    v_state  text;
BEGIN
    SELECT e.state INTO v_state FROM stent.executions e WHERE e.id = p_execution_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stent.cancel_execution: execution % not found', p_execution_id
            USING ERRCODE = 'ST002';
    END IF;
    IF v_state NOT IN ('pending', 'running') THEN
        RETURN v_state;
    END IF;

    PERFORM stent.cancel_tasks(p_execution_id, v_now);

    UPDATE stent.executions e
    SET state = 'cancelled', finished_at = v_now,
        error = jsonb_build_object('kind', 'cancelled', 'message', 'execution cancelled', 'retryable', false)
    WHERE e.id = p_execution_id AND e.state IN ('pending', 'running')
    RETURNING e.state INTO v_state;
    IF NOT FOUND THEN
        SELECT e.state INTO v_state FROM stent.executions e WHERE e.id = p_execution_id;
        RETURN v_state;
    END IF;

    PERFORM pg_notify('stent_cancel', p_execution_id::text);
    PERFORM stent.notify_finished(ARRAY[p_execution_id]);
    RETURN v_state;
END;
$$;

-- stent.cancel_tasks: cancels every unfinished task of an execution (cancel, deadline): locks
-- them children before parents (descending id), wakes workers waiting on the concurrency
-- slots the running ones held, and lets calls waiting on a cache key they owned run
-- themselves. The caller updates the execution row after (lock order: tasks, then execution).
CREATE OR REPLACE FUNCTION stent.cancel_tasks(p_execution_id uuid, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_names  text[];
    v_queues text[];
    v_cached bigint[];
BEGIN
    PERFORM 1 FROM stent.tasks t
    WHERE t.execution_id = p_execution_id AND t.state IN ('pending', 'running', 'waiting')
    ORDER BY t.id DESC
    FOR UPDATE;

    WITH cancelled AS (
        UPDATE stent.tasks t
        SET state = 'cancelled', finished_at = p_now, lease_owner = NULL, lease_expires_at = NULL
        FROM stent.tasks old
        WHERE t.execution_id = p_execution_id AND t.state IN ('pending', 'running', 'waiting')
          AND old.id = t.id
        RETURNING t.id, t.name, t.queue, t.cache_key, old.state AS was
    )
    SELECT array_agg(name) FILTER (WHERE was = 'running'), array_agg(queue) FILTER (WHERE was = 'running'),
           array_agg(id) FILTER (WHERE cache_key IS NOT NULL)
    INTO v_names, v_queues, v_cached
    FROM cancelled;
    PERFORM stent.notify_slots_freed(v_names, v_queues);
    IF v_cached IS NOT NULL THEN
        PERFORM stent.release_cache_followers(v_cached);
    END IF;
END;
$$;
