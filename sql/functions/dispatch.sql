-- stent.dispatch_many: creates one execution and its root task per request, in one statement
-- pass, and returns (ord, execution_id, task_id, created) per request in input order.
-- p_requests is a JSON array of objects:
--   name (required), kind ('activity' | 'workflow'), input (any JSON), queue, priority, tags,
--   run_at (timestamptz) or delay_ms, idempotency_key, deadline or max_duration_ms (from the
--   scheduled start), parent_execution_id,
--   max_attempts, retry_initial_delay_ms, retry_backoff_factor, retry_max_delay_ms,
--   retry_jitter, retry_on (error kinds), timeout_ms, concurrency_key, key_path (JSON path of
--   the concurrency key inside the input, as for #>>), trace_context (an object of W3C Trace
--   Context headers, stored with the root task so that its attempts continue the trace).
-- Missing fields come from stent.functions (what workers registered), then built-in defaults.
-- A request whose idempotency key already names an execution creates nothing and returns
-- that execution (created = false); concurrent dispatches with one key create one execution.
-- Workers are woken with pg_notify('stent_tasks', queue), delivered at commit.
CREATE OR REPLACE FUNCTION stent.dispatch_many(p_requests jsonb)
RETURNS TABLE (ord integer, execution_id uuid, task_id bigint, created boolean)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_now     timestamptz := stent.current_time();
    v_bad     text;
    v_ord     integer[];
    v_exec    uuid[];
    v_task    bigint[];
    v_key     text[];
    v_queues  text[];
BEGIN
    IF p_requests IS NULL OR jsonb_typeof(p_requests) <> 'array' THEN
        RAISE EXCEPTION 'stent.dispatch_many: requests must be a JSON array' USING ERRCODE = 'ST003';
    END IF;
    -- Every field check in one pass, in order: presence and JSON types first, so that the
    -- casts of the later checks (and of the insert below) only ever see well-typed values.
    SELECT format('request %s: %s', x.n, x.reason) INTO v_bad
    FROM (
        SELECT r.n, CASE
            WHEN jsonb_typeof(r.req) <> 'object' THEN 'not a JSON object'
            WHEN coalesce(r.req->>'name', '') = '' THEN 'name is required'
            WHEN NOT (r.req->>'name' IS NOT NULL AND char_length(r.req->>'name') BETWEEN 1 AND 200 AND r.req->>'name' ~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$')
                THEN 'name must be 1-200 characters of letters, digits and _ . : / -'
            WHEN r.req ? 'queue' AND NOT (r.req->>'queue' IS NOT NULL AND char_length(r.req->>'queue') BETWEEN 1 AND 128 AND r.req->>'queue' ~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$')
                THEN 'queue must be 1-128 characters of letters, digits and _ . : / -'
            WHEN jsonb_typeof(r.req->'tags') = 'array' AND EXISTS (
                    SELECT 1 FROM jsonb_array_elements(r.req->'tags') AS g(tag)
                    WHERE jsonb_typeof(g.tag) <> 'string' OR NOT (g.tag #>> '{}' IS NOT NULL AND char_length(g.tag #>> '{}') BETWEEN 1 AND 200 AND g.tag #>> '{}' ~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$'))
                THEN 'tags must be names of 1-200 characters of letters, digits and _ . : / -'
            WHEN r.req ? 'idempotency_key' AND NOT (r.req->>'idempotency_key' IS NOT NULL AND char_length(r.req->>'idempotency_key') BETWEEN 1 AND 512 AND r.req->>'idempotency_key' !~ '[[:cntrl:]]')
                THEN 'idempotency_key must be 1-512 characters without control characters'
            WHEN r.req ? 'concurrency_key' AND NOT (r.req->>'concurrency_key' IS NOT NULL AND char_length(r.req->>'concurrency_key') BETWEEN 1 AND 256 AND r.req->>'concurrency_key' !~ '[[:cntrl:]]')
                THEN 'concurrency_key must be 1-256 characters without control characters'
            WHEN jsonb_typeof(r.req->'delay_ms') NOT IN ('number', 'null')
              OR jsonb_typeof(r.req->'max_duration_ms') NOT IN ('number', 'null')
              OR jsonb_typeof(r.req->'timeout_ms') NOT IN ('number', 'null')
              OR jsonb_typeof(r.req->'retry_initial_delay_ms') NOT IN ('number', 'null')
              OR jsonb_typeof(r.req->'retry_max_delay_ms') NOT IN ('number', 'null')
              OR jsonb_typeof(r.req->'retry_backoff_factor') NOT IN ('number', 'null')
              OR jsonb_typeof(r.req->'retry_jitter') NOT IN ('number', 'null')
              OR jsonb_typeof(r.req->'max_attempts') NOT IN ('number', 'null')
              OR jsonb_typeof(r.req->'priority') NOT IN ('number', 'null')
                THEN 'numeric fields (delays, durations, retry policy, priority) must be JSON numbers'
            WHEN r.req->>'max_attempts' !~ '^-?[0-9]+$' OR r.req->>'priority' !~ '^-?[0-9]+$'
                THEN 'max_attempts and priority must be whole numbers'
            WHEN (r.req->>'priority')::numeric NOT BETWEEN -1000 AND 1000
                THEN 'priority must be within [-1000, 1000]'
            WHEN (r.req->>'max_attempts')::numeric > 2147483647
                THEN 'max_attempts is too large'
            WHEN (r.req->>'max_duration_ms')::double precision <= 0
                THEN 'max_duration_ms must be positive'
            WHEN (r.req->>'retry_initial_delay_ms')::double precision < 0 OR (r.req->>'retry_max_delay_ms')::double precision < 0
                THEN 'retry delays must not be negative'
            WHEN (r.req->>'retry_backoff_factor')::double precision < 1
                THEN 'retry_backoff_factor must be at least 1'
            WHEN (r.req->>'retry_jitter')::double precision NOT BETWEEN 0 AND 1
                THEN 'retry_jitter must be within [0, 1]'
            WHEN (r.req ? 'run_at' AND jsonb_typeof(r.req->'run_at') NOT IN ('string', 'null'))
              OR (r.req ? 'deadline' AND jsonb_typeof(r.req->'deadline') NOT IN ('string', 'null'))
                THEN 'run_at and deadline must be timestamps (JSON strings)'
            WHEN (r.req->>'delay_ms')::double precision < 0 THEN 'delay_ms must not be negative'
            WHEN (r.req->>'max_attempts')::integer < 1 THEN 'max_attempts must be at least 1'
            WHEN (r.req->>'timeout_ms')::double precision <= 0 THEN 'timeout_ms must be positive'
            WHEN r.req->>'kind' NOT IN ('activity', 'workflow') THEN 'kind must be activity or workflow'
            WHEN r.req ? 'tags' AND jsonb_typeof(r.req->'tags') <> 'array' THEN 'tags must be an array'
            WHEN r.req ? 'retry_on' AND jsonb_typeof(r.req->'retry_on') <> 'array' THEN 'retry_on must be an array'
            WHEN jsonb_typeof(r.req->'trace_context') NOT IN ('object', 'null') THEN 'trace_context must be an object'
            END AS reason
        FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(req, n)
    ) x
    WHERE x.reason IS NOT NULL
    ORDER BY x.n
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'stent.dispatch_many: %', v_bad USING ERRCODE = 'ST003';
    END IF;

    WITH req AS MATERIALIZED (
        SELECT r.n::integer AS n,
               gen_random_uuid() AS id,
               r.req->>'name' AS name,
               coalesce(r.req->>'kind', f.kind, 'activity') AS kind,
               coalesce(r.req->'input', 'null'::jsonb) AS input,
               coalesce(r.req->>'queue', f.queue, 'default') AS queue,
               coalesce((r.req->>'priority')::smallint, f.priority, 0::smallint) AS priority,
               CASE WHEN r.req ? 'tags' THEN ARRAY(SELECT jsonb_array_elements_text(r.req->'tags'))
                    ELSE coalesce(f.tags, '{}') END AS tags,
               coalesce((r.req->>'run_at')::timestamptz,
                        v_now + make_interval(secs => coalesce((r.req->>'delay_ms')::double precision, 0) / 1000)) AS run_at,
               r.req->>'idempotency_key' AS idempotency_key,
               coalesce((r.req->>'deadline')::timestamptz,
                        coalesce((r.req->>'run_at')::timestamptz,
                                 v_now + make_interval(secs => coalesce((r.req->>'delay_ms')::double precision, 0) / 1000))
                        + make_interval(secs => (r.req->>'max_duration_ms')::double precision / 1000)) AS deadline,
               (r.req->>'parent_execution_id')::uuid AS parent_execution_id,
               coalesce((r.req->>'max_attempts')::integer, f.max_attempts, 3) AS max_attempts,
               coalesce(make_interval(secs => (r.req->>'retry_initial_delay_ms')::double precision / 1000),
                        f.retry_initial_delay, interval '1 second') AS retry_initial_delay,
               coalesce((r.req->>'retry_backoff_factor')::double precision, f.retry_backoff_factor, 2) AS retry_backoff_factor,
               coalesce(make_interval(secs => (r.req->>'retry_max_delay_ms')::double precision / 1000),
                        f.retry_max_delay, interval '5 minutes') AS retry_max_delay,
               coalesce((r.req->>'retry_jitter')::double precision, f.retry_jitter, 0.1) AS retry_jitter,
               CASE WHEN r.req ? 'retry_on' THEN ARRAY(SELECT jsonb_array_elements_text(r.req->'retry_on'))
                    ELSE coalesce(f.retry_on, '{}') END AS retry_on,
               coalesce(make_interval(secs => (r.req->>'timeout_ms')::double precision / 1000), f.timeout) AS timeout,
               nullif(coalesce(r.req->>'concurrency_key',
                               coalesce(r.req->'input', 'null'::jsonb) #>> coalesce(
                                   CASE WHEN jsonb_typeof(r.req->'key_path') = 'array'
                                        THEN ARRAY(SELECT jsonb_array_elements_text(r.req->'key_path')) END,
                                   f.key_path)), '') AS concurrency_key,
               CASE WHEN jsonb_typeof(r.req->'trace_context') = 'object' THEN r.req->'trace_context' END AS trace_context
        FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(req, n)
        LEFT JOIN stent.functions f ON f.name = r.req->>'name'
    ),
    ins AS (
        INSERT INTO stent.executions AS e
            (id, workflow, state, input, queue, priority, tags, idempotency_key, deadline,
             parent_execution_id, created_at)
        SELECT req.id, req.name, 'pending', req.input, req.queue, req.priority, req.tags,
               req.idempotency_key, req.deadline, req.parent_execution_id, v_now
        FROM req
        ORDER BY req.n
        ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING e.id
    ),
    tins AS (
        INSERT INTO stent.tasks AS t
            (execution_id, kind, name, state, queue, priority, tags, attempt, max_attempts,
             retry_initial_delay, retry_backoff_factor, retry_max_delay, retry_jitter, retry_on,
             timeout, run_at, created_at, concurrency_key, trace_context)
        SELECT req.id, req.kind, req.name, 'pending', req.queue, req.priority, req.tags, 0,
               req.max_attempts, req.retry_initial_delay, req.retry_backoff_factor,
               req.retry_max_delay, req.retry_jitter, req.retry_on, req.timeout, req.run_at,
               v_now, req.concurrency_key, req.trace_context
        FROM req
        JOIN ins ON ins.id = req.id
        ORDER BY req.n
        RETURNING t.id, t.execution_id, t.queue
    )
    SELECT array_agg(req.n ORDER BY req.n),
           array_agg(tins.execution_id ORDER BY req.n),
           array_agg(tins.id ORDER BY req.n),
           array_agg(req.idempotency_key ORDER BY req.n),
           array_agg(DISTINCT tins.queue) FILTER (WHERE tins.id IS NOT NULL)
    INTO v_ord, v_exec, v_task, v_key, v_queues
    FROM req
    LEFT JOIN tins ON tins.execution_id = req.id;

    IF v_queues IS NOT NULL THEN
        PERFORM pg_notify('stent_tasks', q) FROM unnest(v_queues) AS q;
    END IF;

    -- A new statement, so a conflicting execution committed by a concurrent dispatch is visible.
    -- Requests that matched an existing execution look it up by key; the lookups are scalar
    -- subqueries (index probes per row), so no cached plan can turn them into a scan.
    RETURN QUERY
    SELECT u.n, coalesce(u.exec, x.exec), coalesce(u.task, x.task), u.exec IS NOT NULL
    FROM unnest(v_ord, v_exec, v_task, v_key) AS u(n, exec, task, key)
    LEFT JOIN LATERAL (
        SELECT e.id AS exec,
               (SELECT rt.id FROM stent.tasks rt
                WHERE rt.execution_id = e.id AND rt.parent_task_id IS NULL LIMIT 1) AS task
        FROM stent.executions e
        WHERE u.exec IS NULL AND e.idempotency_key = u.key
        LIMIT 1
    ) x ON true
    ORDER BY u.n;
END;
$$;

-- stent.dispatch: dispatches one execution from SQL (psql, triggers, other languages) and
-- returns its ids. Unset options take the defaults registered in stent.functions.
-- p_trace_context (W3C Trace Context headers as a JSON object) links the execution's spans
-- to the caller's trace. stent.dispatch_one takes every option.
DROP FUNCTION IF EXISTS stent.dispatch(text, jsonb, text, integer, text[], timestamptz, text, integer, text);
CREATE OR REPLACE FUNCTION stent.dispatch(
    p_name text,
    p_input jsonb DEFAULT 'null',
    p_queue text DEFAULT NULL,
    p_priority integer DEFAULT NULL,
    p_tags text[] DEFAULT NULL,
    p_run_at timestamptz DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_max_attempts integer DEFAULT NULL,
    p_kind text DEFAULT NULL,
    p_trace_context jsonb DEFAULT NULL
)
RETURNS TABLE (execution_id uuid, task_id bigint, created boolean)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT d.execution_id, d.task_id, d.created
    FROM stent.dispatch_one(p_name, coalesce(p_input, 'null'::jsonb), p_kind => p_kind,
                            p_queue => p_queue, p_priority => p_priority, p_tags => p_tags,
                            p_run_at => p_run_at, p_idempotency_key => p_idempotency_key,
                            p_max_attempts => p_max_attempts,
                            p_trace_context => p_trace_context) AS d;
END;
$$;

-- stent.await_durable: returns once every transaction committed before the call is durable
-- (flushed to disk, and to synchronous standbys where synchronous_commit asks for that). It
-- writes one small WAL record (a transactional logical message, prefix 'stent', which logical
-- decoding consumers ignore unless they ask for messages), so that its commit waits, under
-- the session's synchronous_commit, for the WAL to be flushed up to it — past every earlier
-- commit, whichever connection made it. (A transaction that writes no WAL commits without a
-- flush even when it holds a transaction id.) The Go client commits a dispatch
-- asynchronously, so that workers see and claim the new tasks while the WAL is being flushed,
-- then calls this before it reports the dispatch as done.
CREATE OR REPLACE FUNCTION stent.await_durable()
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_logical_emit_message(true, 'stent', 'durable');
END;
$$;

-- stent.dispatch_eager and stent.dispatch_insert were replaced by stent.dispatch_one (typed
-- single dispatches, eager start included); dispatch_many is again one function.
DROP FUNCTION IF EXISTS stent.dispatch_eager(jsonb, text, text[], text[], text[], integer, interval);
DROP FUNCTION IF EXISTS stent.dispatch_insert(jsonb, text, text[], text[], text[], integer, interval);
