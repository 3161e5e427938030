-- Argument checks shared by the functions that take names, keys and requests from outside
-- (psql, triggers, other languages): a bad value raises ST003 (invalid argument) before
-- anything is written, with a message naming the argument, instead of a constraint violation
-- or, worse, a value that no Go worker could ever match.

-- stent.is_ident: whether p_value is a name Stent accepts (functions, queues, tags, signals):
-- 1 to p_max characters of letters, digits and _ . : / -, not starting with punctuation
-- other than _. The same rule as stent.ValidateName in Go.
CREATE OR REPLACE FUNCTION stent.is_ident(p_value text, p_max integer)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN p_value IS NOT NULL AND char_length(p_value) BETWEEN 1 AND p_max
       AND p_value ~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$';
END;
$$;

-- stent.is_key: whether p_value is an acceptable idempotency or concurrency key: 1 to p_max
-- characters without control characters.
CREATE OR REPLACE FUNCTION stent.is_key(p_value text, p_max integer)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN p_value IS NOT NULL AND char_length(p_value) BETWEEN 1 AND p_max AND p_value !~ '[[:cntrl:]]';
END;
$$;

-- stent.check_ident: raises ST003 from p_caller unless p_value is a valid name (stent.is_ident).
CREATE OR REPLACE FUNCTION stent.check_ident(p_caller text, p_what text, p_value text, p_max integer)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT stent.is_ident(p_value, p_max) THEN
        RAISE EXCEPTION '%: % % must be 1-% characters of letters, digits and _ . : / -',
            p_caller, p_what, coalesce(quote_literal(p_value), 'NULL'), p_max USING ERRCODE = 'ST003';
    END IF;
END;
$$;

-- stent.check_requests: the field checks of stent.dispatch_many's requests beyond presence
-- (names, keys, tags, numbers and their ranges, timestamps given as strings). Requests that
-- are not objects are left to the caller's own check. Raises ST003 naming the first bad
-- request and field. The rules of stent.is_ident and stent.is_key are written out here
-- rather than called: every dispatch runs this, and each call would cost a function call.
CREATE OR REPLACE FUNCTION stent.check_requests(p_requests jsonb)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_bad text;
BEGIN
    SELECT format('request %s: %s', x.n, x.reason) INTO v_bad
    FROM (
        SELECT r.n, CASE
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
            WHEN EXISTS (
                    SELECT 1 FROM unnest(ARRAY['delay_ms', 'max_duration_ms', 'timeout_ms', 'retry_initial_delay_ms',
                                               'retry_max_delay_ms', 'retry_backoff_factor', 'retry_jitter',
                                               'max_attempts', 'priority']) AS f(field)
                    WHERE r.req ? f.field AND jsonb_typeof(r.req->f.field) NOT IN ('number', 'null'))
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
            END AS reason
        FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(req, n)
        WHERE jsonb_typeof(r.req) = 'object'
    ) x
    WHERE x.reason IS NOT NULL
    ORDER BY x.n
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'stent.dispatch_many: %', v_bad USING ERRCODE = 'ST003';
    END IF;
END;
$$;
