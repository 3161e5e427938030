-- stent.claim_tasks: leases up to p_limit due, pending tasks for one worker in one statement
-- and returns them. Every filter is in SQL before the LIMIT — queues, registered function
-- names, tags (a tagged worker takes untagged tasks and tasks sharing a tag; an untagged worker
-- takes all), due time — so ineligible rows never hide eligible ones. Order: priority (higher
-- first), run_at, id. Each queue is walked on tasks_claim_idx with FOR UPDATE SKIP LOCKED, so
-- concurrent claimers never claim a task twice and never wait on each other.
-- A claim increments attempt (it counts even if the worker then dies) and moves lease_token,
-- the fencing token every later write of this attempt must present, forward by a random step,
-- so a claim lost in a crash and made again never hands out the same token twice. Root tasks
-- carry their execution's input, and the execution becomes running.
-- The claim commits asynchronously (synchronous_commit off for its transaction): if the
-- server crashes before the claim reaches disk, the task is simply pending again and runs
-- again — the at-least-once contract already allows it — and the worker's later writes are
-- fenced off. Claims then cost no WAL flush wait.
CREATE OR REPLACE FUNCTION stent.claim_tasks(
    p_worker_id text,
    p_queues text[],
    p_names text[],
    p_tags text[],
    p_limit integer,
    p_lease interval
)
RETURNS SETOF stent.tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := stent.current_time();
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 10000 THEN
        RAISE EXCEPTION 'stent.claim_tasks: limit must be between 1 and 10000, got %', p_limit
            USING ERRCODE = 'ST003';
    END IF;
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION 'stent.claim_tasks: lease must be positive' USING ERRCODE = 'ST003';
    END IF;
    IF coalesce(p_worker_id, '') = '' THEN
        RAISE EXCEPTION 'stent.claim_tasks: worker id is required' USING ERRCODE = 'ST003';
    END IF;

    PERFORM set_config('synchronous_commit', 'off', true);

    RETURN QUERY
    WITH picked AS (
        SELECT c.id
        FROM unnest(p_queues) AS q(queue)
        CROSS JOIN LATERAL (
            SELECT t.id, t.priority, t.run_at
            FROM stent.tasks t
            WHERE t.state = 'pending'
              AND t.queue = q.queue
              AND t.run_at <= v_now
              AND t.name = ANY (p_names)
              AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
            ORDER BY t.priority DESC, t.run_at, t.id
            LIMIT p_limit
            FOR UPDATE OF t SKIP LOCKED
        ) c
        ORDER BY c.priority DESC, c.run_at, c.id
        LIMIT p_limit
    ),
    claimed AS (
        UPDATE stent.tasks t
        SET state = 'running',
            attempt = t.attempt + 1,
            lease_token = t.lease_token + 1 + floor(random() * 1000000000)::bigint,
            lease_owner = p_worker_id,
            lease_expires_at = v_now + p_lease,
            started_at = v_now
        FROM picked
        WHERE t.id = picked.id
        RETURNING t.*
    ),
    started AS (
        UPDATE stent.executions e
        SET state = 'running', started_at = v_now
        FROM claimed c
        WHERE c.parent_task_id IS NULL AND e.id = c.execution_id AND e.state = 'pending'
        RETURNING e.id
    )
    SELECT c.id, c.execution_id, c.parent_task_id, c.seq, c.kind, c.name, c.state, c.queue,
           c.priority, c.tags,
           CASE WHEN c.parent_task_id IS NULL
                THEN (SELECT e.input FROM stent.executions e WHERE e.id = c.execution_id)
                ELSE c.input END,
           c.output, c.error, c.attempt, c.max_attempts, c.retry_initial_delay,
           c.retry_backoff_factor, c.retry_max_delay, c.retry_jitter, c.retry_on, c.timeout,
           c.run_at, c.lease_owner, c.lease_token, c.lease_expires_at, c.created_at,
           c.started_at, c.finished_at
    FROM claimed c
    ORDER BY c.priority DESC, c.run_at, c.id;
END;
$$;

-- stent.next_due: seconds until the earliest pending task this worker could claim becomes
-- due (0 when one is due now), or NULL when there is none. Workers sleep until then instead
-- of polling for delayed work.
CREATE OR REPLACE FUNCTION stent.next_due(p_queues text[], p_names text[], p_tags text[])
RETURNS double precision
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- (greatest() ignores NULLs: without the CASE, "none pending" would read as "due now")
    SELECT CASE WHEN min(t.run_at) IS NOT NULL
                THEN greatest(extract(epoch FROM min(t.run_at) - stent.current_time())::double precision, 0) END
    FROM stent.tasks t
    WHERE t.state = 'pending'
      AND t.queue = ANY (p_queues)
      AND t.name = ANY (p_names)
      AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
$$;
