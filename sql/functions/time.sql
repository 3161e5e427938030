-- stent.current_time: the clock of every Stent decision. It is now() (the transaction's start
-- time), unless the session sets stent.fake_now, which tests use to move time without sleeping.
-- The one function without SET search_path, on purpose: a SET clause would keep PostgreSQL
-- from inlining it, and every claim, completion and dispatch calls it. Its body names only
-- pg_catalog objects, schema-qualified (operator included), so no search_path can redirect it.
CREATE OR REPLACE FUNCTION stent.current_time()
RETURNS timestamptz
LANGUAGE sql
STABLE
AS $$
    SELECT COALESCE(
        (CASE WHEN pg_catalog.current_setting('stent.fake_now', true) OPERATOR(pg_catalog.=) ''
              THEN NULL
              ELSE pg_catalog.current_setting('stent.fake_now', true) END)::pg_catalog.timestamptz,
        pg_catalog.now())
$$;

-- stent.code_version: version of the installed function package; a worker refuses to start
-- when it is older than the one it was built with.
CREATE OR REPLACE FUNCTION stent.code_version()
RETURNS integer
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN 6;
END;
$$;
