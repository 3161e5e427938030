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

-- stent.is_ident_all: whether every element of p_values is a name stent.is_ident accepts.
CREATE OR REPLACE FUNCTION stent.is_ident_all(p_values text[], p_max integer)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM unnest(p_values) AS v WHERE NOT coalesce(stent.is_ident(v, p_max), false));
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

-- stent.check_requests was folded into stent.dispatch_insert (one statement instead of a
-- call and two passes over the requests).
DROP FUNCTION IF EXISTS stent.check_requests(jsonb);
