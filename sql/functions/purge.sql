-- stent.purge: retention. Deletes up to p_limit executions that finished more than
-- p_older_than ago, with their tasks. Executions that still have dead letters are kept unless
-- p_dead_letters is true, so a failure is never dropped silently. Returns the number deleted;
-- callers loop until it returns less than p_limit. Tasks have no foreign key to their
-- execution (stent.tasks is written too often to pay for one), so their rows are deleted here;
-- the other tables' rows go with the execution (ON DELETE CASCADE).
CREATE OR REPLACE FUNCTION stent.purge(
    p_older_than interval,
    p_limit integer DEFAULT 10000,
    p_dead_letters boolean DEFAULT false
)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_cutoff timestamptz;
    v_count  bigint;
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION 'stent.purge: older_than must not be negative' USING ERRCODE = 'ST003';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'stent.purge: limit must be positive' USING ERRCODE = 'ST003';
    END IF;
    v_cutoff := stent.current_time() - p_older_than;

    WITH doomed AS (
        SELECT e.id
        FROM stent.executions e
        WHERE e.created_at < v_cutoff
          AND e.finished_at < v_cutoff
          AND (p_dead_letters OR NOT EXISTS (
                SELECT 1 FROM stent.dead_letters d WHERE d.execution_id = e.id))
        ORDER BY e.created_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    , gone AS (
        DELETE FROM stent.executions e USING doomed WHERE e.id = doomed.id RETURNING e.id
    ), gone_tasks AS (
        DELETE FROM stent.tasks t USING gone WHERE t.execution_id = gone.id
    )
    SELECT count(*) INTO v_count FROM gone;
    RETURN v_count;
END;
$$;
