-- stent.send_signal: sends a signal to an execution (psql, triggers, client.Signal). Signals
-- of one name are delivered in the order sent, each to one WaitSignal; a signal sent before
-- anyone waits is kept until a wait consumes it. A workflow parked waiting for that name is
-- made due now. Raises ST002 for an unknown execution and ST004 for a finished one. Returns
-- the signal's id.
CREATE OR REPLACE FUNCTION stent.send_signal(p_execution_id uuid, p_name text, p_payload jsonb DEFAULT 'null')
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now   timestamptz := stent.current_time();
    v_state  text;
    v_id     bigint;
    v_queues text[];
BEGIN
    IF p_execution_id IS NULL THEN
        RAISE EXCEPTION 'stent.send_signal: execution id is required' USING ERRCODE = 'ST003';
    END IF;
    PERFORM stent.check_ident('stent.send_signal', 'signal name', p_name, 200);
    SELECT e.state INTO v_state FROM stent.executions e WHERE e.id = p_execution_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stent.send_signal: execution % not found', p_execution_id USING ERRCODE = 'ST002';
    END IF;
    IF v_state NOT IN ('pending', 'running') THEN
        RAISE EXCEPTION 'stent.send_signal: execution % is %', p_execution_id, v_state USING ERRCODE = 'ST004';
    END IF;
    -- Serializes with stent.wait_signal on this execution (taken first in both), so a signal
    -- is either seen by the wait or finds the wait parked and wakes it.
    PERFORM pg_advisory_xact_lock(hashtextextended('stent.signal:' || p_execution_id::text, 0));
    INSERT INTO stent.signals (execution_id, name, payload, created_at)
    VALUES (p_execution_id, p_name, coalesce(p_payload, 'null'::jsonb), v_now)
    RETURNING id INTO v_id;

    -- Wake a workflow parked on this name.
    WITH woken AS (
        UPDATE stent.tasks p
        SET run_at = v_now
        FROM stent.tasks w
        WHERE w.execution_id = p_execution_id AND w.kind = 'signal' AND w.name = p_name
          AND w.state = (SELECT 'waiting'::text) AND p.id = w.parent_task_id AND p.state = (SELECT 'pending'::text) AND p.run_at > v_now
        RETURNING p.queue
    )
    SELECT array_agg(DISTINCT woken.queue) INTO v_queues FROM woken;
    PERFORM pg_notify('stent_tasks', q) FROM unnest(v_queues) AS q;
    RETURN v_id;
END;
$$;

-- stent.wait_signal: the durable WaitSignal of a running workflow task at position p_seq,
-- atomic with respect to stent.send_signal (both take the execution's signal advisory lock
-- first). Under the parent's row lock it records (or finds)
-- the signal-wait row — its deadline (now + p_timeout) fixed the first time — then: if the
-- row already received a signal, returns it; else consumes the oldest unconsumed signal of
-- that name; else, past the deadline, records and returns a timeout; else parks the workflow
-- (pending until the deadline, attempt given back, lease released) and returns 'parked'.
-- Returns (state: 'received' | 'timed_out' | 'parked', payload, deadline). Fenced (ST001).
CREATE OR REPLACE FUNCTION stent.wait_signal(
    p_parent_task_id bigint,
    p_token bigint,
    p_seq integer,
    p_name text,
    p_timeout interval
)
RETURNS TABLE (state text, payload jsonb, deadline timestamptz)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now    timestamptz := stent.current_time();
    v_parent stent.tasks;
    v_wait   stent.tasks;
    v_signal stent.signals;
BEGIN
    IF p_seq IS NULL OR p_seq < 0 OR coalesce(p_name, '') = '' OR char_length(p_name) > 200 OR p_timeout IS NULL OR p_timeout < interval '0' THEN
        RAISE EXCEPTION 'stent.wait_signal: a position >= 0, a name and a timeout >= 0 are required'
            USING ERRCODE = 'ST003';
    END IF;
    -- The execution's signal lock first (as stent.send_signal), then the wait's row (a child)
    -- before its parent, as everywhere.
    PERFORM pg_advisory_xact_lock(hashtextextended('stent.signal:' || t.execution_id::text, 0))
    FROM stent.tasks t WHERE t.id = p_parent_task_id;
    PERFORM 1 FROM stent.tasks t WHERE t.parent_task_id = p_parent_task_id AND t.seq = p_seq FOR UPDATE;
    v_parent := stent.require_lease(p_parent_task_id, p_token, 'stent.wait_signal', true);

    INSERT INTO stent.tasks AS t
        (execution_id, parent_task_id, seq, kind, name, state, queue, priority, tags,
         max_attempts, retry_initial_delay, retry_backoff_factor, retry_max_delay, retry_jitter,
         run_at, created_at)
    VALUES (v_parent.execution_id, v_parent.id, p_seq, 'signal', p_name, 'waiting', v_parent.queue,
            v_parent.priority, v_parent.tags, 1, interval '0', 1, interval '0', 0,
            v_now + p_timeout, v_now)
    ON CONFLICT (parent_task_id, seq) WHERE parent_task_id IS NOT NULL DO NOTHING;
    SELECT * INTO v_wait FROM stent.tasks t WHERE t.parent_task_id = p_parent_task_id AND t.seq = p_seq FOR UPDATE;

    IF v_wait.kind <> 'signal' OR v_wait.name <> p_name THEN
        RETURN QUERY SELECT 'mismatch'::text, to_jsonb(v_wait.kind || ':' || v_wait.name), v_wait.run_at;
        RETURN;
    END IF;
    IF v_wait.state = 'completed' THEN
        RETURN QUERY SELECT 'received'::text, v_wait.output, v_wait.run_at;
        RETURN;
    END IF;
    IF v_wait.state = 'failed' THEN
        RETURN QUERY SELECT 'timed_out'::text, NULL::jsonb, v_wait.run_at;
        RETURN;
    END IF;

    SELECT * INTO v_signal FROM stent.signals s
    WHERE s.execution_id = v_parent.execution_id AND s.name = p_name AND s.consumed_by IS NULL
    ORDER BY s.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        UPDATE stent.signals s SET consumed_by = v_wait.id, consumed_at = v_now WHERE s.id = v_signal.id;
        UPDATE stent.tasks t SET state = 'completed', output = v_signal.payload, finished_at = v_now
        WHERE t.id = v_wait.id;
        RETURN QUERY SELECT 'received'::text, v_signal.payload, v_wait.run_at;
        RETURN;
    END IF;
    IF v_wait.run_at <= v_now THEN
        UPDATE stent.tasks t
        SET state = 'failed', finished_at = v_now,
            error = jsonb_build_object('kind', 'signal_timeout', 'retryable', false,
                                       'message', format('no signal %s before %s', p_name, v_wait.run_at))
        WHERE t.id = v_wait.id;
        RETURN QUERY SELECT 'timed_out'::text, NULL::jsonb, v_wait.run_at;
        RETURN;
    END IF;
    UPDATE stent.tasks t
    SET state = 'pending', run_at = v_wait.run_at, attempt = greatest(t.attempt - 1, 0),
        lease_owner = NULL, lease_expires_at = NULL
    WHERE t.id = p_parent_task_id;
    RETURN QUERY SELECT 'parked'::text, NULL::jsonb, v_wait.run_at;
END;
$$;
