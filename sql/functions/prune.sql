-- stent.prune_flow_state: deletes flow-control state that no longer constrains anything:
-- back-offs that ended and rate windows whose every start has left the window (a window per
-- concurrency key ever seen would otherwise accumulate). Run by the maintenance leader;
-- returns the number of rows deleted.
CREATE OR REPLACE FUNCTION stent.prune_flow_state()
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := stent.current_time();
    v_a   bigint;
    v_b   bigint;
BEGIN
    DELETE FROM stent.backoffs b WHERE b.until < v_now;
    GET DIAGNOSTICS v_a = ROW_COUNT;
    DELETE FROM stent.rate_windows w
    WHERE NOT EXISTS (
        SELECT 1 FROM unnest(w.starts) AS s, stent.limits l
        WHERE l.name = w.name
          AND s > v_now - coalesce(CASE WHEN w.key = '' THEN l.rate_period ELSE l.key_rate_period END, interval '0'));
    GET DIAGNOSTICS v_b = ROW_COUNT;
    RETURN v_a + v_b;
END;
$$;
