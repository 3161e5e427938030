-- stent.current_time: the clock of every Stent decision. It is now() (the transaction's start
-- time), unless the session sets stent.fake_now, which tests use to move time without sleeping.
CREATE OR REPLACE FUNCTION stent.current_time()
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN coalesce(nullif(current_setting('stent.fake_now', true), '')::timestamptz, now());
END;
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
    RETURN 4;
END;
$$;
