-- stent.dispatch_one: creates one execution and its root task from typed arguments, and
-- returns (execution_id, task_id, created, lease_token, started_at, timeout_ms). It is
-- stent.dispatch_many for a single request, without JSON: arguments arrive typed, so only
-- their ranges are checked, and the insert is one statement — the path of every single
-- dispatch (the Go client's Dispatch, stent.dispatch from SQL), where a dispatch's latency is
-- this function's time. NULL arguments take the defaults registered in stent.functions, then
-- the built-in ones, exactly as in dispatch_many; p_run_at wins over p_delay_ms, p_deadline
-- over p_max_duration_ms (measured from the scheduled start); p_key_path names the
-- concurrency key inside the input (as for #>>) when p_concurrency_key is NULL.
--
-- An idempotency key that already names an execution creates nothing and returns that
-- execution (created = false); concurrent dispatches with one key create one execution.
--
-- Eager start: with p_worker_id set (a worker in the caller's process with a free slot,
-- serving p_queues, p_names and p_served_tags), a task that this worker's own claim would take
-- now and next — due, of a queue, function and tags it serves, neither paused nor limited
-- (concurrency or rate) nor backing off, with no due pending task of its functions ahead of
-- it in its queue — is inserted already leased to it, as stent.claim_picked leaves a claimed
-- task (running, attempt 1, a random fencing token, the execution running), and lease_token,
-- started_at and timeout_ms are returned for the caller to start it in memory, without a
-- notification and a claim. Otherwise (and always without p_worker_id) the task is inserted
-- pending and its queue notified (pg_notify('stent_tasks', queue), delivered at commit), and
-- the three are NULL.
CREATE OR REPLACE FUNCTION stent.dispatch_one(
    p_name text,
    p_input jsonb DEFAULT 'null',
    p_kind text DEFAULT NULL,
    p_queue text DEFAULT NULL,
    p_priority integer DEFAULT NULL,
    p_tags text[] DEFAULT NULL,
    p_run_at timestamptz DEFAULT NULL,
    p_delay_ms double precision DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_deadline timestamptz DEFAULT NULL,
    p_max_duration_ms double precision DEFAULT NULL,
    p_max_attempts integer DEFAULT NULL,
    p_retry_initial_delay_ms double precision DEFAULT NULL,
    p_retry_backoff_factor double precision DEFAULT NULL,
    p_retry_max_delay_ms double precision DEFAULT NULL,
    p_retry_jitter double precision DEFAULT NULL,
    p_retry_on text[] DEFAULT NULL,
    p_timeout_ms double precision DEFAULT NULL,
    p_concurrency_key text DEFAULT NULL,
    p_key_path text[] DEFAULT NULL,
    p_trace_context jsonb DEFAULT NULL,
    p_worker_id text DEFAULT NULL,
    p_queues text[] DEFAULT NULL,
    p_names text[] DEFAULT NULL,
    p_served_tags text[] DEFAULT NULL,
    p_lease interval DEFAULT NULL,
    OUT execution_id uuid,
    OUT task_id bigint,
    OUT created boolean,
    OUT lease_token bigint,
    OUT started_at timestamptz,
    OUT timeout_ms double precision
)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_now   timestamptz := stent.current_time();
    v_bad   text;
    v_queue text;
    v_state text;
BEGIN
    -- Range checks only: the argument types already hold. The rules and messages of
    -- dispatch_many's checks, in its order (kept inline there, per request of a batch, for
    -- speed); TestDispatchOneChecksMatchMany holds the two to the same answers.
    v_bad := CASE
        WHEN coalesce(p_name, '') = '' THEN 'name is required'
        WHEN NOT stent.is_ident(p_name, 200)
            THEN 'name must be 1-200 characters of letters, digits and _ . : / -'
        WHEN p_queue IS NOT NULL AND NOT stent.is_ident(p_queue, 128)
            THEN 'queue must be 1-128 characters of letters, digits and _ . : / -'
        WHEN cardinality(p_tags) > 0 AND NOT stent.is_ident_all(p_tags, 200)
            THEN 'tags must be names of 1-200 characters of letters, digits and _ . : / -'
        WHEN p_idempotency_key IS NOT NULL AND NOT stent.is_key(p_idempotency_key, 512)
            THEN 'idempotency_key must be 1-512 characters without control characters'
        WHEN p_concurrency_key IS NOT NULL AND NOT stent.is_key(p_concurrency_key, 256)
            THEN 'concurrency_key must be 1-256 characters without control characters'
        WHEN p_priority NOT BETWEEN -1000 AND 1000 THEN 'priority must be within [-1000, 1000]'
        WHEN p_max_duration_ms <= 0 THEN 'max_duration_ms must be positive'
        WHEN p_retry_initial_delay_ms < 0 OR p_retry_max_delay_ms < 0 THEN 'retry delays must not be negative'
        WHEN p_retry_backoff_factor < 1 THEN 'retry_backoff_factor must be at least 1'
        WHEN p_retry_jitter NOT BETWEEN 0 AND 1 THEN 'retry_jitter must be within [0, 1]'
        WHEN p_delay_ms < 0 THEN 'delay_ms must not be negative'
        WHEN p_max_attempts < 1 THEN 'max_attempts must be at least 1'
        WHEN p_timeout_ms <= 0 THEN 'timeout_ms must be positive'
        WHEN p_kind NOT IN ('activity', 'workflow') THEN 'kind must be activity or workflow'
        WHEN jsonb_typeof(p_trace_context) NOT IN ('object', 'null') THEN 'trace_context must be an object'
        WHEN p_worker_id = '' THEN 'worker id must not be empty'
        WHEN p_worker_id IS NOT NULL AND (p_queues IS NULL OR p_names IS NULL OR p_served_tags IS NULL)
            THEN 'an eager start needs the worker''s queues, names and tags'
        WHEN p_worker_id IS NOT NULL AND (p_lease IS NULL OR p_lease <= interval '0') THEN 'lease must be positive'
        END;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'stent.dispatch_one: %', v_bad USING ERRCODE = 'ST003';
    END IF;

    WITH req AS MATERIALIZED (
        SELECT gen_random_uuid() AS id,
               coalesce(p_kind, f.kind, 'activity') AS kind,
               coalesce(p_input, 'null'::jsonb) AS input,
               coalesce(p_queue, f.queue, 'default') AS queue,
               coalesce(p_priority::smallint, f.priority, 0::smallint) AS priority,
               coalesce(p_tags, f.tags, '{}') AS tags,
               coalesce(p_run_at, v_now + make_interval(secs => coalesce(p_delay_ms, 0) / 1000)) AS run_at,
               coalesce(p_deadline,
                        coalesce(p_run_at, v_now + make_interval(secs => coalesce(p_delay_ms, 0) / 1000))
                        + make_interval(secs => p_max_duration_ms / 1000)) AS deadline,
               coalesce(p_max_attempts, f.max_attempts, 3) AS max_attempts,
               coalesce(make_interval(secs => p_retry_initial_delay_ms / 1000),
                        f.retry_initial_delay, interval '1 second') AS retry_initial_delay,
               coalesce(p_retry_backoff_factor, f.retry_backoff_factor, 2) AS retry_backoff_factor,
               coalesce(make_interval(secs => p_retry_max_delay_ms / 1000),
                        f.retry_max_delay, interval '5 minutes') AS retry_max_delay,
               coalesce(p_retry_jitter, f.retry_jitter, 0.1) AS retry_jitter,
               coalesce(p_retry_on, f.retry_on, '{}') AS retry_on,
               coalesce(make_interval(secs => p_timeout_ms / 1000), f.timeout) AS timeout,
               nullif(coalesce(p_concurrency_key,
                               coalesce(p_input, 'null'::jsonb) #>> coalesce(p_key_path, f.key_path)), '')
                   AS concurrency_key
        FROM (SELECT) AS one
        LEFT JOIN stent.functions f ON f.name = p_name
    ),
    -- The eager decision: what stent.claim_tasks would decide for this worker now. The
    -- probes are scalar subqueries (LIMIT 1): one index probe each.
    dec AS MATERIALIZED (
        SELECT req.*,
               (p_worker_id IS NOT NULL
                AND req.run_at <= v_now
                AND req.queue = ANY (p_queues)
                AND p_name = ANY (p_names)
                AND (cardinality(p_served_tags) = 0 OR cardinality(req.tags) = 0 OR req.tags && p_served_tags)
                AND (SELECT 1 FROM stent.pauses p
                     WHERE (p.kind = 'queue' AND p.name = req.queue)
                        OR (p.kind = 'function' AND p.name = p_name) LIMIT 1) IS NULL
                AND (SELECT 1 FROM stent.limits l
                     WHERE l.name = p_name
                       AND (l.max_concurrent IS NOT NULL OR l.key_max_concurrent IS NOT NULL
                            OR l.rate IS NOT NULL OR l.key_rate IS NOT NULL) LIMIT 1) IS NULL
                AND (SELECT 1 FROM stent.backoffs b WHERE b.name = p_name AND b.until > v_now LIMIT 1) IS NULL
                AND (SELECT 1 FROM stent.tasks o
                     WHERE o.state = 'pending'
                       AND o.queue = req.queue
                       AND o.priority >= req.priority
                       AND o.run_at <= v_now
                       AND o.name = ANY (p_names)
                       AND (cardinality(p_served_tags) = 0 OR cardinality(o.tags) = 0 OR o.tags && p_served_tags)
                     LIMIT 1) IS NULL) AS eager
        FROM req
    ),
    ins AS (
        INSERT INTO stent.executions AS e
            (id, workflow, state, input, queue, priority, tags, idempotency_key, deadline,
             created_at, started_at)
        SELECT dec.id, p_name, CASE WHEN dec.eager THEN 'running' ELSE 'pending' END,
               dec.input, dec.queue, dec.priority, dec.tags, p_idempotency_key, dec.deadline,
               v_now, CASE WHEN dec.eager THEN v_now END
        FROM dec
        ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING e.id
    ),
    tins AS (
        INSERT INTO stent.tasks AS t
            (execution_id, kind, name, state, queue, priority, tags, attempt, max_attempts,
             retry_initial_delay, retry_backoff_factor, retry_max_delay, retry_jitter, retry_on,
             timeout, run_at, lease_owner, lease_token, lease_expires_at, created_at, started_at,
             concurrency_key, trace_context)
        SELECT ins.id, dec.kind, p_name, CASE WHEN dec.eager THEN 'running' ELSE 'pending' END,
               dec.queue, dec.priority, dec.tags, CASE WHEN dec.eager THEN 1 ELSE 0 END,
               dec.max_attempts, dec.retry_initial_delay, dec.retry_backoff_factor,
               dec.retry_max_delay, dec.retry_jitter, dec.retry_on, dec.timeout, dec.run_at,
               CASE WHEN dec.eager THEN p_worker_id END,
               CASE WHEN dec.eager THEN 1 + floor(random() * 1000000000)::bigint ELSE 0 END,
               CASE WHEN dec.eager THEN v_now + p_lease END,
               v_now, CASE WHEN dec.eager THEN v_now END,
               dec.concurrency_key,
               CASE WHEN jsonb_typeof(p_trace_context) = 'object' THEN p_trace_context END
        FROM dec
        JOIN ins ON ins.id = dec.id
        RETURNING t.id, t.execution_id, t.queue, t.state, t.lease_token,
                  extract(epoch FROM t.timeout)::double precision * 1000 AS timeout_ms
    )
    SELECT tins.execution_id, tins.id, tins.queue, tins.state,
           CASE WHEN tins.state = 'running' THEN tins.lease_token END,
           CASE WHEN tins.state = 'running' THEN tins.timeout_ms END
    INTO execution_id, task_id, v_queue, v_state, lease_token, timeout_ms
    FROM tins;

    IF NOT FOUND THEN
        -- The key names an existing execution. A new statement, so one committed by a
        -- concurrent dispatch (which the insert waited for) is visible.
        SELECT e.id,
               (SELECT rt.id FROM stent.tasks rt
                WHERE rt.execution_id = e.id AND rt.parent_task_id IS NULL LIMIT 1)
        INTO execution_id, task_id
        FROM stent.executions e
        WHERE e.idempotency_key = p_idempotency_key;
        created := false;
        RETURN;
    END IF;
    created := true;
    IF v_state = 'running' THEN
        started_at := v_now;
    ELSE
        PERFORM pg_notify('stent_tasks', v_queue);
    END IF;
END;
$$;
