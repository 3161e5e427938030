-- stent.renew_leases: the one heartbeat statement of a worker. Extends the lease of every task
-- it still owns (matching id, fencing token and running state) and records the worker's
-- heartbeat; returns the ids renewed. A held id missing from the result has lost its lease
-- (rescued, cancelled or claimed again), and the worker must stop acting on it.
CREATE OR REPLACE FUNCTION stent.renew_leases(
    p_worker_id text,
    p_task_ids bigint[],
    p_tokens bigint[],
    p_lease interval
)
RETURNS SETOF bigint
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := stent.current_time();
BEGIN
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION 'stent.renew_leases: lease must be positive' USING ERRCODE = 'ST003';
    END IF;
    IF cardinality(p_task_ids) <> cardinality(p_tokens) THEN
        RAISE EXCEPTION 'stent.renew_leases: % task ids but % tokens',
            cardinality(p_task_ids), cardinality(p_tokens) USING ERRCODE = 'ST003';
    END IF;

    UPDATE stent.workers SET heartbeat_at = v_now WHERE id = p_worker_id;

    RETURN QUERY
    UPDATE stent.tasks t
    SET lease_expires_at = v_now + p_lease
    FROM unnest(p_task_ids, p_tokens) AS u(id, token)
    WHERE t.id = u.id AND t.lease_token = u.token AND t.state = (SELECT 'running'::text)
      AND t.lease_owner = p_worker_id
    RETURNING t.id;
END;
$$;

-- stent.release_tasks: gives running tasks back without burning an attempt (graceful
-- shutdown): they become pending and due now. Only tasks still owned under the given tokens
-- are released; returns their ids.
CREATE OR REPLACE FUNCTION stent.release_tasks(p_task_ids bigint[], p_tokens bigint[])
RETURNS SETOF bigint
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now    timestamptz := stent.current_time();
    v_ids    bigint[];
    v_queues text[];
BEGIN
    WITH released AS (
        UPDATE stent.tasks t
        SET state = 'pending',
            attempt = greatest(t.attempt - 1, 0),
            run_at = v_now,
            lease_owner = NULL,
            lease_expires_at = NULL
        FROM unnest(p_task_ids, p_tokens) AS u(id, token)
        WHERE t.id = u.id AND t.lease_token = u.token AND t.state = (SELECT 'running'::text)
        RETURNING t.id, t.queue
    )
    SELECT array_agg(id), array_agg(DISTINCT queue) INTO v_ids, v_queues FROM released;

    PERFORM pg_notify('stent_tasks', q) FROM unnest(v_queues) AS q;
    RETURN QUERY SELECT unnest(v_ids);
END;
$$;
