-- stent.fail_locked: the failure rule, shared by stent.fail_task and stent.rescue_expired.
-- The caller holds the row lock on p_task (running). A retry-after request (p_retry_after not
-- NULL, retryable) puts the task back at now + p_retry_after without counting the attempt;
-- with p_scope 'function' or 'key' the wait also applies to every task of the function (or of
-- its concurrency key) through stent.backoffs. Otherwise, if the error is retryable, attempts
-- remain and its kind is retried (retry_on empty or containing it), the task goes back to
-- pending at now + the policy's backoff delay. Otherwise the task fails, a dead letter is
-- written and a root task fails its execution — all in the caller's transaction. Returns the
-- new state and run_at.
CREATE OR REPLACE FUNCTION stent.fail_locked(
    p_task stent.tasks,
    p_error jsonb,
    p_retryable boolean,
    p_retry_after interval,
    p_now timestamptz,
    p_scope text DEFAULT 'task'
)
RETURNS TABLE (state text, run_at timestamptz)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_error  jsonb := coalesce(p_error, '{}'::jsonb) || jsonb_build_object('attempt', p_task.attempt);
    v_run_at timestamptz;
BEGIN
    IF p_retryable AND p_retry_after IS NOT NULL THEN
        v_run_at := p_now + p_retry_after;
        UPDATE stent.tasks t
        SET state = 'pending', error = v_error, run_at = v_run_at,
            attempt = greatest(t.attempt - 1, 0), lease_owner = NULL, lease_expires_at = NULL
        WHERE t.id = p_task.id;
        IF p_scope = 'function' OR (p_scope = 'key' AND p_task.concurrency_key IS NOT NULL) THEN
            INSERT INTO stent.backoffs AS b (name, key, until)
            VALUES (p_task.name, CASE WHEN p_scope = 'key' THEN p_task.concurrency_key ELSE '' END, v_run_at)
            ON CONFLICT (name, key) DO UPDATE SET until = greatest(b.until, EXCLUDED.until);
        END IF;
        PERFORM pg_notify('stent_tasks', p_task.queue);
        RETURN QUERY SELECT 'pending'::text, v_run_at;
        RETURN;
    END IF;

    IF p_retryable
       AND p_task.attempt < p_task.max_attempts
       AND (cardinality(p_task.retry_on) = 0 OR (v_error->>'kind') = ANY (p_task.retry_on)) THEN
        v_run_at := p_now + stent.retry_delay(
            p_task.attempt, p_task.retry_initial_delay, p_task.retry_backoff_factor,
            p_task.retry_max_delay, p_task.retry_jitter);
        UPDATE stent.tasks t
        SET state = 'pending', error = v_error, run_at = v_run_at,
            lease_owner = NULL, lease_expires_at = NULL
        WHERE t.id = p_task.id;
        PERFORM pg_notify('stent_tasks', p_task.queue);
        RETURN QUERY SELECT 'pending'::text, v_run_at;
        RETURN;
    END IF;

    UPDATE stent.tasks t
    SET state = 'failed', error = v_error, finished_at = p_now,
        lease_owner = NULL, lease_expires_at = NULL
    WHERE t.id = p_task.id;

    INSERT INTO stent.dead_letters AS d
        (task_id, execution_id, name, kind, queue, attempts, error, created_at)
    VALUES (p_task.id, p_task.execution_id, p_task.name, p_task.kind, p_task.queue,
            p_task.attempt, v_error, p_now)
    ON CONFLICT (task_id) DO UPDATE
        SET attempts = EXCLUDED.attempts, error = EXCLUDED.error, created_at = EXCLUDED.created_at;

    PERFORM stent.notify_slots_freed(ARRAY[p_task.name], ARRAY[p_task.queue]);
    IF p_task.cache_key IS NOT NULL THEN
        PERFORM stent.release_cache_followers(ARRAY[p_task.id]);
    END IF;
    IF p_task.wakes_parent THEN
        PERFORM stent.wake_parents(ARRAY[p_task.parent_task_id], p_now);
    END IF;

    IF p_task.parent_task_id IS NULL THEN
        UPDATE stent.executions e
        SET state = 'failed', error = v_error, finished_at = p_now
        WHERE e.id = p_task.execution_id AND e.state IN ('pending', 'running');
        IF FOUND THEN
            PERFORM stent.notify_finished(ARRAY[p_task.execution_id]);
        END IF;
    END IF;

    RETURN QUERY SELECT 'failed'::text, NULL::timestamptz;
END;
$$;

-- stent.fail_task: records a failed attempt. p_error is {kind, message, stack, retryable};
-- p_retryable = false marks a permanent failure; p_retry_after asks for the next attempt after
-- that wait, without counting this one, and p_scope ('task', 'function' or 'key') shares the
-- wait with the whole function or concurrency key.
-- Raises ST001 when the token no longer owns the task (nothing changes) and ST002 when the
-- task does not exist. Returns the task's new state ('pending' to retry, or 'failed') and,
-- when retrying, when it runs next.
CREATE OR REPLACE FUNCTION stent.fail_task(
    p_task_id bigint,
    p_token bigint,
    p_error jsonb,
    p_retryable boolean DEFAULT true,
    p_retry_after interval DEFAULT NULL,
    p_scope text DEFAULT 'task'
)
RETURNS TABLE (state text, run_at timestamptz)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_task stent.tasks;
BEGIN
    IF p_retry_after < interval '0' THEN
        RAISE EXCEPTION 'stent.fail_task: retry_after must not be negative' USING ERRCODE = 'ST003';
    END IF;
    IF coalesce(p_scope, '') NOT IN ('task', 'function', 'key') THEN
        RAISE EXCEPTION 'stent.fail_task: scope must be task, function or key, got %', p_scope
            USING ERRCODE = 'ST003';
    END IF;
    SELECT * INTO v_task FROM stent.tasks t WHERE t.id = p_task_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stent.fail_task: task % not found', p_task_id USING ERRCODE = 'ST002';
    END IF;
    IF v_task.state <> 'running' OR v_task.lease_token <> p_token THEN
        RAISE EXCEPTION 'stent.fail_task: lease lost for task % (token %)', p_task_id, p_token
            USING ERRCODE = 'ST001';
    END IF;
    RETURN QUERY SELECT * FROM stent.fail_locked(v_task, p_error, coalesce(p_retryable, true),
                                                 p_retry_after, stent.current_time(), p_scope);
END;
$$;
