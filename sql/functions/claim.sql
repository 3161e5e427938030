-- stent.claim_tasks: leases up to p_limit due, pending tasks for one worker and returns them.
-- Every filter is in SQL before the LIMIT — queues, registered function names, tags (a
-- tagged worker takes untagged tasks and tasks sharing a tag; an untagged worker takes all),
-- due time, pauses, back-offs, concurrency and rate limits — so ineligible rows never hide
-- eligible ones. Order: priority (higher first), run_at, id, across all of them.
--
-- Functions without limits are claimed in one statement that walks tasks_claim_idx per queue
-- with FOR UPDATE SKIP LOCKED: concurrent claimers never claim a task twice nor wait on each
-- other. Functions with limits (stent.limits) are claimed under a transaction-level advisory
-- lock per function, taken in name order, so their running counts and rate windows are read
-- and changed by one claimer at a time: limits are strict under any number of claimers, and
-- a task held back by a limit stays pending and costs no attempt.
--
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
    v_now      timestamptz := stent.current_time();
    v_queues   text[];
    v_free     text[];
    v_limited  text[];
    v_backoff  boolean;
    v_limited_ids bigint[];
    v_ids      bigint[];
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

    -- Flow-control state, read once: paused queues and functions are left out, limited
    -- functions take the slow path, and back-offs are checked only when some exist.
    SELECT coalesce(array_agg(q), '{}') INTO v_queues
    FROM unnest(p_queues) AS q
    WHERE NOT EXISTS (SELECT 1 FROM stent.pauses p WHERE p.kind = 'queue' AND p.name = q);
    SELECT coalesce(array_agg(n) FILTER (WHERE l.name IS NULL), '{}'),
           coalesce(array_agg(n ORDER BY n) FILTER (WHERE l.name IS NOT NULL), '{}')
    INTO v_free, v_limited
    FROM unnest(p_names) AS n
    LEFT JOIN stent.limits l
           ON l.name = n AND (l.max_concurrent IS NOT NULL OR l.key_max_concurrent IS NOT NULL
                              OR l.rate IS NOT NULL OR l.key_rate IS NOT NULL)
    WHERE NOT EXISTS (SELECT 1 FROM stent.pauses p WHERE p.kind = 'function' AND p.name = n);
    v_backoff := EXISTS (SELECT 1 FROM stent.backoffs b WHERE b.name = ANY (p_names) AND b.until > v_now);

    IF cardinality(v_queues) = 0 OR cardinality(v_free) + cardinality(v_limited) = 0 THEN
        RETURN;
    END IF;

    IF cardinality(v_limited) = 0 AND NOT v_backoff THEN
        -- The common case: one statement.
        RETURN QUERY SELECT * FROM stent.claim_picked(p_worker_id, v_now, p_lease, ARRAY(
            SELECT c.id
            FROM unnest(v_queues) AS q(queue)
            CROSS JOIN LATERAL (
                SELECT t.id, t.priority, t.run_at
                FROM stent.tasks t
                WHERE t.state = 'pending'
                  AND t.queue = q.queue
                  AND t.run_at <= v_now
                  AND t.name = ANY (v_free)
                  AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
                ORDER BY t.priority DESC, t.run_at, t.id
                LIMIT p_limit
                FOR UPDATE OF t SKIP LOCKED
            ) c
            ORDER BY c.priority DESC, c.run_at, c.id
            LIMIT p_limit));
        RETURN;
    END IF;

    -- Limited functions with no room right now (every slot taken, or the rate window full)
    -- are left out of this claim without taking their lock; the notification sent when a
    -- slot frees, or the next-due timer of the rate window, brings the worker back.
    SELECT coalesce(array_agg(n ORDER BY n), '{}') INTO v_limited
    FROM unnest(v_limited) AS n
    JOIN stent.limits l ON l.name = n
    WHERE (l.max_concurrent IS NULL
           OR (SELECT count(*) FROM stent.tasks t WHERE t.state = 'running' AND t.name = n) < l.max_concurrent)
      AND (l.rate IS NULL
           OR (SELECT count(*) FROM stent.rate_windows w, unnest(w.starts) AS s
               WHERE w.name = n AND w.key = '' AND s > v_now - l.rate_period) < l.rate);

    -- Candidates of each limited function within its capacity, then of unlimited functions;
    -- the best p_limit of all of them are claimed (the others stay pending, unlocked at commit).
    v_limited_ids := CASE WHEN cardinality(v_limited) = 0 THEN '{}'::bigint[]
                          ELSE stent.claim_limited_candidates(v_limited, v_queues, p_tags, p_limit, v_now) END;
    -- Unlimited functions are looked up by name on tasks_key_claim_idx here, so a limited
    -- function's backlog ahead of them in the queue is never walked.
    SELECT array_agg(x.id ORDER BY x.priority DESC, x.run_at, x.id) INTO v_ids
    FROM (
        SELECT c.id, c.priority, c.run_at
        FROM unnest(v_free) AS f(name)
        CROSS JOIN LATERAL (
            SELECT * FROM (
                SELECT t.id, t.priority, t.run_at
                FROM stent.tasks t
                WHERE t.state = 'pending' AND t.name = f.name AND coalesce(t.concurrency_key, '') = ''
                  AND t.queue = ANY (v_queues)
                  AND t.run_at <= v_now
                  AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
                  AND NOT (v_backoff AND EXISTS (
                        SELECT 1 FROM stent.backoffs b
                        WHERE b.name = t.name AND b.key = '' AND b.until > v_now))
                ORDER BY t.priority DESC, t.run_at, t.id
                LIMIT p_limit
                FOR UPDATE OF t SKIP LOCKED) unkeyed
            UNION ALL
            SELECT * FROM (
                SELECT t.id, t.priority, t.run_at
                FROM stent.tasks t
                WHERE t.state = 'pending' AND t.name = f.name AND coalesce(t.concurrency_key, '') > ''
                  AND t.queue = ANY (v_queues)
                  AND t.run_at <= v_now
                  AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
                  AND NOT (v_backoff AND EXISTS (
                        SELECT 1 FROM stent.backoffs b
                        WHERE b.name = t.name AND b.key IN ('', t.concurrency_key) AND b.until > v_now))
                ORDER BY t.priority DESC, t.run_at, t.id
                LIMIT p_limit
                FOR UPDATE OF t SKIP LOCKED) keyed
        ) c
        UNION ALL
        SELECT t.id, t.priority, t.run_at
        FROM stent.tasks t
        WHERE t.id = ANY (v_limited_ids)
        ORDER BY 2 DESC, 3, 1
        LIMIT p_limit
    ) x;

    v_ids := v_ids[1:p_limit];
    PERFORM stent.record_rate_starts(v_ids, v_now);
    RETURN QUERY SELECT * FROM stent.claim_picked(p_worker_id, v_now, p_lease, v_ids);
END;
$$;

-- stent.claim_limited_candidates: for each limited function (in name order, each under its
-- advisory lock until the transaction ends), the pending tasks that fit its capacity: free
-- concurrency slots (function-wide and per key), room in its rate windows, no back-off.
-- Candidates are locked (FOR UPDATE SKIP LOCKED). Called only by stent.claim_tasks.
CREATE OR REPLACE FUNCTION stent.claim_limited_candidates(
    p_names text[],
    p_queues text[],
    p_tags text[],
    p_limit integer,
    p_now timestamptz
)
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_name  text;
    v_limit stent.limits;
    v_cap   integer;
    v_ids   bigint[] := '{}';
BEGIN
    FOREACH v_name IN ARRAY p_names LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('stent.flow:' || v_name, 0));
        SELECT * INTO v_limit FROM stent.limits l WHERE l.name = v_name;
        CONTINUE WHEN NOT FOUND;
        v_cap := p_limit;
        IF v_limit.max_concurrent IS NOT NULL THEN
            v_cap := least(v_cap, v_limit.max_concurrent - (
                SELECT count(*) FROM stent.tasks t WHERE t.state = 'running' AND t.name = v_name)::integer);
        END IF;
        IF v_limit.rate IS NOT NULL THEN
            v_cap := least(v_cap, v_limit.rate - coalesce((
                SELECT count(*) FROM stent.rate_windows w, unnest(w.starts) AS s
                WHERE w.name = v_name AND w.key = '' AND s > p_now - v_limit.rate_period), 0)::integer);
        END IF;
        CONTINUE WHEN v_cap <= 0;

        IF v_limit.key_max_concurrent IS NULL AND v_limit.key_rate IS NULL THEN
            -- Function-wide limits only: the first v_cap due tasks of the function, from
            -- tasks_key_claim_idx (unkeyed tasks in order; keyed ones, if any, sorted).
            v_ids := v_ids || ARRAY(
                SELECT x.id
                FROM (
                    SELECT * FROM (SELECT t.id, t.priority, t.run_at
                     FROM stent.tasks t
                     WHERE t.state = 'pending' AND t.name = v_name AND coalesce(t.concurrency_key, '') = ''
                       AND t.queue = ANY (p_queues)
                       AND t.run_at <= p_now
                       AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
                       AND NOT EXISTS (
                             SELECT 1 FROM stent.backoffs b
                             WHERE b.name = v_name AND b.key = '' AND b.until > p_now)
                     ORDER BY t.priority DESC, t.run_at, t.id
                     LIMIT v_cap
                     FOR UPDATE OF t SKIP LOCKED) unkeyed
                    UNION ALL
                    SELECT * FROM (SELECT t.id, t.priority, t.run_at
                     FROM stent.tasks t
                     WHERE t.state = 'pending' AND t.name = v_name AND coalesce(t.concurrency_key, '') > ''
                       AND t.queue = ANY (p_queues)
                       AND t.run_at <= p_now
                       AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
                       AND NOT EXISTS (
                             SELECT 1 FROM stent.backoffs b
                             WHERE b.name = v_name AND b.key IN ('', t.concurrency_key) AND b.until > p_now)
                     ORDER BY t.priority DESC, t.run_at, t.id
                     LIMIT v_cap
                     FOR UPDATE OF t SKIP LOCKED) keyed
                ) x
                ORDER BY x.priority DESC, x.run_at, x.id
                LIMIT v_cap);
            CONTINUE;
        END IF;

        -- Per-key limits: walk the distinct keys that have pending tasks (a skip scan on
        -- tasks_key_claim_idx), and for each key with room take its first tasks in claim
        -- order; tasks without a key are only subject to the function-wide limits. The work
        -- grows with the number of keys, not with the backlog.
        v_ids := v_ids || ARRAY(
            WITH RECURSIVE keys(k) AS (
                (SELECT coalesce(t.concurrency_key, '') FROM stent.tasks t
                 WHERE t.state = 'pending' AND t.name = v_name AND coalesce(t.concurrency_key, '') > ''
                 ORDER BY coalesce(t.concurrency_key, '') LIMIT 1)
                UNION ALL
                SELECT (SELECT coalesce(t.concurrency_key, '') FROM stent.tasks t
                        WHERE t.state = 'pending' AND t.name = v_name
                          AND coalesce(t.concurrency_key, '') > keys.k
                        ORDER BY coalesce(t.concurrency_key, '') LIMIT 1)
                FROM keys WHERE keys.k IS NOT NULL
            ),
            room AS (
                SELECT keys.k, least(
                    v_cap,
                    coalesce(v_limit.key_max_concurrent - (
                        SELECT count(*) FROM stent.tasks r
                        WHERE r.state = 'running' AND r.name = v_name AND r.concurrency_key = keys.k), v_cap),
                    coalesce(v_limit.key_rate - (
                        SELECT count(*) FROM stent.rate_windows w, unnest(w.starts) AS s
                        WHERE w.name = v_name AND w.key = keys.k AND s > p_now - v_limit.key_rate_period), v_cap)
                )::integer AS n
                FROM keys WHERE keys.k IS NOT NULL
            )
            SELECT x.id
            FROM (
                SELECT c.id, c.priority, c.run_at
                FROM room
                CROSS JOIN LATERAL (
                    SELECT t.id, t.priority, t.run_at
                    FROM stent.tasks t
                    WHERE t.state = 'pending'
                      AND t.name = v_name
                      AND coalesce(t.concurrency_key, '') = room.k
                      AND t.queue = ANY (p_queues)
                      AND t.run_at <= p_now
                      AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
                      AND NOT EXISTS (
                            SELECT 1 FROM stent.backoffs b
                            WHERE b.name = v_name AND b.key IN ('', room.k) AND b.until > p_now)
                    ORDER BY t.priority DESC, t.run_at, t.id
                    LIMIT greatest(room.n, 0)
                    FOR UPDATE OF t SKIP LOCKED
                ) c
                UNION ALL
                SELECT c.id, c.priority, c.run_at
                FROM (
                    SELECT t.id, t.priority, t.run_at
                    FROM stent.tasks t
                    WHERE t.state = 'pending'
                      AND t.name = v_name
                      AND coalesce(t.concurrency_key, '') = ''
                      AND t.queue = ANY (p_queues)
                      AND t.run_at <= p_now
                      AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
                      AND NOT EXISTS (
                            SELECT 1 FROM stent.backoffs b
                            WHERE b.name = v_name AND b.key = '' AND b.until > p_now)
                    ORDER BY t.priority DESC, t.run_at, t.id
                    LIMIT v_cap
                    FOR UPDATE OF t SKIP LOCKED
                ) c
            ) x
            ORDER BY x.priority DESC, x.run_at, x.id
            LIMIT v_cap);
    END LOOP;
    RETURN v_ids;
END;
$$;

-- stent.record_rate_starts: appends the start times of newly claimed tasks of rate-limited
-- functions to their windows (function-wide and per key), dropping starts that left the
-- window. Called by stent.claim_tasks under the functions' advisory locks.
CREATE OR REPLACE FUNCTION stent.record_rate_starts(p_task_ids bigint[], p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO stent.rate_windows AS w (name, key, starts)
    SELECT x.name, x.key, array_fill(p_now, ARRAY[x.n])
    FROM (
        SELECT t.name, '' AS key, count(*)::integer AS n, l.rate_period AS period
        FROM stent.tasks t JOIN stent.limits l ON l.name = t.name AND l.rate IS NOT NULL
        WHERE t.id = ANY (p_task_ids)
        GROUP BY t.name, l.rate_period
        UNION ALL
        SELECT t.name, t.concurrency_key, count(*)::integer, l.key_rate_period
        FROM stent.tasks t JOIN stent.limits l ON l.name = t.name AND l.key_rate IS NOT NULL
        WHERE t.id = ANY (p_task_ids) AND t.concurrency_key IS NOT NULL
        GROUP BY t.name, t.concurrency_key, l.key_rate_period
    ) x
    ON CONFLICT (name, key) DO UPDATE
    SET starts = ARRAY(
        SELECT s FROM unnest(w.starts || EXCLUDED.starts) AS s
        WHERE s > p_now - coalesce(
            (SELECT CASE WHEN w.key = '' THEN l.rate_period ELSE l.key_rate_period END
             FROM stent.limits l WHERE l.name = w.name), interval '0')
        ORDER BY s);
END;
$$;

-- stent.claim_picked: leases the given (already locked) pending tasks to a worker and returns
-- them with root tasks carrying their execution's input; their executions become running.
-- Called only by stent.claim_tasks. The select list names every column of stent.tasks in
-- table order (a column added to the table must be added here).
CREATE OR REPLACE FUNCTION stent.claim_picked(
    p_worker_id text,
    p_now timestamptz,
    p_lease interval,
    p_task_ids bigint[]
)
RETURNS SETOF stent.tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    WITH claimed AS (
        UPDATE stent.tasks t
        SET state = 'running',
            attempt = t.attempt + 1,
            lease_token = t.lease_token + 1 + floor(random() * 1000000000)::bigint,
            lease_owner = p_worker_id,
            lease_expires_at = p_now + p_lease,
            started_at = p_now
        WHERE t.id = ANY (p_task_ids) AND t.state = (SELECT 'pending'::text)
        RETURNING t.*
    ),
    started AS (
        UPDATE stent.executions e
        SET state = 'running', started_at = p_now
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
           c.started_at, c.finished_at, c.concurrency_key, c.wait_remaining, c.wakes_parent,
           c.cache_key, c.cache_ttl, c.trace_context
    FROM claimed c
    ORDER BY c.priority DESC, c.run_at, c.id;
END;
$$;

-- stent.next_due: seconds until the next moment work may become claimable for this worker
-- without any notification — a delayed task's run_at, the end of a back-off, a start leaving
-- a rate window — or NULL when none is known. Tasks due now but held back by a concurrency
-- limit are woken by the notification sent when a slot frees.
CREATE OR REPLACE FUNCTION stent.next_due(p_queues text[], p_names text[], p_tags text[])
RETURNS double precision
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (
    SELECT extract(epoch FROM min(x.at) - stent.current_time())::double precision
    FROM (
        SELECT min(t.run_at) AS at
        FROM stent.tasks t
        WHERE t.state = 'pending'
          AND t.run_at > stent.current_time()
          AND t.queue = ANY (p_queues)
          AND t.name = ANY (p_names)
          AND (cardinality(p_tags) = 0 OR cardinality(t.tags) = 0 OR t.tags && p_tags)
        UNION ALL
        SELECT min(b.until)
        FROM stent.backoffs b
        WHERE b.name = ANY (p_names) AND b.until > stent.current_time()
        UNION ALL
        SELECT min(s + CASE WHEN w.key = '' THEN l.rate_period ELSE l.key_rate_period END)
        FROM stent.rate_windows w
        JOIN stent.limits l ON l.name = w.name
        CROSS JOIN LATERAL unnest(w.starts) AS s
        WHERE w.name = ANY (p_names)
          AND s + CASE WHEN w.key = '' THEN l.rate_period ELSE l.key_rate_period END > stent.current_time()
    ) x);
END;
$$;
