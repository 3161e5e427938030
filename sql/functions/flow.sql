-- stent.set_limits: overrides a function's limits at run time (psql, CLI, Go); NULL removes
-- that limit. The override outlives worker restarts (workers no longer write this function's
-- limits) until stent.reset_limits. Workers waiting on the function are woken.
CREATE OR REPLACE FUNCTION stent.set_limits(
    p_name text,
    p_max_concurrent integer DEFAULT NULL,
    p_key_max_concurrent integer DEFAULT NULL,
    p_rate integer DEFAULT NULL,
    p_rate_period interval DEFAULT NULL,
    p_key_rate integer DEFAULT NULL,
    p_key_rate_period interval DEFAULT NULL
)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF coalesce(p_name, '') = '' THEN
        RAISE EXCEPTION 'stent.set_limits: name is required' USING ERRCODE = 'ST003';
    END IF;
    PERFORM stent.check_ident('stent.set_limits', 'function name', p_name, 200);
    IF p_max_concurrent < 1 OR p_key_max_concurrent < 1 OR p_rate < 1 OR p_key_rate < 1
       OR (p_rate IS NULL) <> (p_rate_period IS NULL) OR (p_key_rate IS NULL) <> (p_key_rate_period IS NULL)
       OR p_rate_period <= interval '0' OR p_key_rate_period <= interval '0' THEN
        RAISE EXCEPTION 'stent.set_limits: limits must be positive and each rate needs a positive period'
            USING ERRCODE = 'ST003';
    END IF;
    INSERT INTO stent.limits AS l
        (name, max_concurrent, key_max_concurrent, rate, rate_period, key_rate, key_rate_period,
         overridden, updated_at)
    VALUES (p_name, p_max_concurrent, p_key_max_concurrent, p_rate, p_rate_period, p_key_rate,
            p_key_rate_period, true, stent.current_time())
    ON CONFLICT (name) DO UPDATE
        SET max_concurrent = EXCLUDED.max_concurrent, key_max_concurrent = EXCLUDED.key_max_concurrent,
            rate = EXCLUDED.rate, rate_period = EXCLUDED.rate_period, key_rate = EXCLUDED.key_rate,
            key_rate_period = EXCLUDED.key_rate_period, overridden = true, updated_at = EXCLUDED.updated_at;
    PERFORM pg_notify('stent_tasks', q) FROM (SELECT DISTINCT t.queue AS q FROM stent.tasks t
                                             WHERE t.state = 'pending' AND t.name = p_name) x;
END;
$$;

-- stent.reset_limits: drops a run-time override; the next worker that registers the function
-- restores the limits of its code. Returns false when there was nothing to reset.
CREATE OR REPLACE FUNCTION stent.reset_limits(p_name text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM stent.limits l WHERE l.name = p_name AND l.overridden;
    RETURN FOUND;
END;
$$;

-- stent.pause: stops claims of a queue (p_kind 'queue') or function (p_kind 'function');
-- running attempts finish. Pausing twice is harmless.
CREATE OR REPLACE FUNCTION stent.pause(p_kind text, p_name text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF coalesce(p_kind, '') NOT IN ('queue', 'function') OR coalesce(p_name, '') = '' THEN
        RAISE EXCEPTION 'stent.pause: kind must be queue or function, and name is required'
            USING ERRCODE = 'ST003';
    END IF;
    PERFORM stent.check_ident('stent.pause', p_kind || ' name', p_name, CASE p_kind WHEN 'queue' THEN 128 ELSE 200 END);
    INSERT INTO stent.pauses (kind, name, paused_at) VALUES (p_kind, p_name, stent.current_time())
    ON CONFLICT (kind, name) DO NOTHING;
END;
$$;

-- stent.resume: lifts a pause and wakes the workers at once. Returns false when it was not
-- paused.
CREATE OR REPLACE FUNCTION stent.resume(p_kind text, p_name text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF coalesce(p_kind, '') NOT IN ('queue', 'function') OR coalesce(p_name, '') = '' THEN
        RAISE EXCEPTION 'stent.resume: kind must be queue or function, and name is required'
            USING ERRCODE = 'ST003';
    END IF;
    PERFORM stent.check_ident('stent.resume', p_kind || ' name', p_name, CASE p_kind WHEN 'queue' THEN 128 ELSE 200 END);
    DELETE FROM stent.pauses p WHERE p.kind = p_kind AND p.name = p_name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_kind = 'queue' THEN
        PERFORM pg_notify('stent_tasks', p_name);
    ELSE
        PERFORM pg_notify('stent_tasks', q) FROM (SELECT DISTINCT t.queue AS q FROM stent.tasks t
                                                 WHERE t.state = 'pending' AND t.name = p_name) x;
    END IF;
    RETURN true;
END;
$$;

-- stent.task_blockers: why a task is not running, one row per reason: 'scheduled' (run_at in
-- the future), 'backing_off' (retrying after attempt N), 'paused_queue', 'paused_function',
-- 'backoff' (a shared RetryAfter wait), 'concurrency_limit' and 'key_concurrency_limit'
-- (holders: the running tasks and their workers), 'rate_limited' and 'key_rate_limited'
-- (until: when the window frees), 'no_worker' (no live worker serves the queue and
-- function), 'leased' for a running task (holders: its worker, until: lease expiry) or
-- 'lease_expired' (its worker stopped renewing; the rescuer runs it again), and for
-- workflows that wait: 'sleeping' (a durable Sleep, until it ends), 'waiting_signal'
-- (WaitSignal, until its timeout), 'waiting_child' (suspended until its awaited calls
-- finish; holders: those calls), 'waiting_cache' (a cached call waiting for the task that
-- computes the same result). No row for a pending task that is claimable now, nor for a
-- finished task. Raises ST002 for an unknown task. The rules are in stent.task_blockers_of,
-- which stent.explain shares.
CREATE OR REPLACE FUNCTION stent.task_blockers(p_task_id bigint)
RETURNS TABLE (reason text, detail text, until timestamptz, holders text[])
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_task stent.tasks;
BEGIN
    SELECT * INTO v_task FROM stent.tasks t WHERE t.id = p_task_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stent.task_blockers: task % not found', p_task_id USING ERRCODE = 'ST002';
    END IF;
    RETURN QUERY SELECT b.reason, b.detail, b.until, b.holders
                 FROM stent.task_blockers_of(v_task, stent.current_time()) AS b;
END;
$$;

-- stent.task_blockers_of: the rules of stent.task_blockers for a task row at p_now (see there
-- for the reasons). Reads only; shared by stent.task_blockers and stent.explain.
CREATE OR REPLACE FUNCTION stent.task_blockers_of(p_task stent.tasks, p_now timestamptz)
RETURNS TABLE (reason text, detail text, until timestamptz, holders text[])
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now  timestamptz := p_now;
    v_task stent.tasks := p_task;
    v_l    stent.limits;
    v_n    bigint;
    v_wait stent.tasks;
    v_last timestamptz;
BEGIN
    IF v_task.state = 'running' THEN
        IF v_task.lease_expires_at > v_now THEN
            RETURN QUERY SELECT 'leased'::text, format('attempt %s leased by worker %s', v_task.attempt, v_task.lease_owner),
                                v_task.lease_expires_at, ARRAY[v_task.lease_owner];
        ELSE
            RETURN QUERY SELECT 'lease_expired'::text,
                                format('attempt %s leased by worker %s, which stopped renewing it; the rescuer runs it again',
                                       v_task.attempt, v_task.lease_owner),
                                v_task.lease_expires_at, ARRAY[v_task.lease_owner];
        END IF;
        RETURN;
    END IF;
    IF v_task.state = 'waiting' THEN
        IF v_task.kind = 'workflow' THEN
            RETURN QUERY SELECT 'waiting_child'::text,
                                format('suspended until %s awaited call(s) finish', v_task.wait_remaining),
                                NULL::timestamptz,
                                ARRAY(SELECT format('task %s %s (%s)', c.id, c.name, c.state) FROM stent.tasks c
                                      WHERE c.parent_task_id = v_task.id AND c.wakes_parent
                                        AND c.state IN ('pending', 'running', 'waiting')
                                      ORDER BY c.seq LIMIT 20);
        ELSIF v_task.kind = 'activity' AND v_task.cache_key IS NOT NULL THEN
            RETURN QUERY SELECT 'waiting_cache'::text,
                                format('waiting for task %s, which computes the same cached result', c.owner_task_id),
                                NULL::timestamptz, ARRAY[format('task %s', c.owner_task_id)]
                         FROM stent.cache c WHERE c.key = v_task.cache_key;
        ELSIF v_task.kind = 'sleep' THEN
            RETURN QUERY SELECT 'sleeping'::text, format('durable sleep %s', v_task.name), v_task.run_at, NULL::text[];
        ELSIF v_task.kind = 'signal' THEN
            RETURN QUERY SELECT 'waiting_signal'::text, format('waiting for signal %s', v_task.name), v_task.run_at, NULL::text[];
        END IF;
        RETURN;
    END IF;
    IF v_task.state <> 'pending' THEN
        RETURN;
    END IF;

    IF v_task.run_at > v_now THEN
        -- A workflow parked by a durable sleep or a signal wait is pending until the wait's
        -- deadline, which the waiting child row records.
        SELECT * INTO v_wait FROM stent.tasks c
        WHERE c.parent_task_id = v_task.id AND c.state = (SELECT 'waiting'::text) AND c.kind IN ('sleep', 'signal')
          AND c.run_at = v_task.run_at
        ORDER BY c.seq DESC LIMIT 1;
        IF FOUND AND v_wait.kind = 'sleep' THEN
            RETURN QUERY SELECT 'sleeping'::text, format('durable sleep (%s, call %s)', v_wait.name, v_wait.seq),
                                v_task.run_at, NULL::text[];
        ELSIF FOUND THEN
            RETURN QUERY SELECT 'waiting_signal'::text,
                                format('waiting for signal %s (call %s) until its timeout', v_wait.name, v_wait.seq),
                                v_task.run_at, NULL::text[];
        -- A stored error means an attempt failed (a RetryAfter wait gives its attempt back, so
        -- the attempt number may be 0): the failed attempt's number is in the error.
        ELSIF v_task.error IS NOT NULL THEN
            RETURN QUERY SELECT 'backing_off'::text, format('retrying after attempt %s failed: %s',
                                coalesce(v_task.error->>'attempt', v_task.attempt::text), v_task.error->>'message'),
                                v_task.run_at, NULL::text[];
        ELSE
            RETURN QUERY SELECT 'scheduled'::text, 'scheduled to start later', v_task.run_at, NULL::text[];
        END IF;
    END IF;
    RETURN QUERY SELECT 'paused_queue'::text, format('queue %s paused', v_task.queue), NULL::timestamptz, NULL::text[]
                 FROM stent.pauses p WHERE p.kind = 'queue' AND p.name = v_task.queue;
    RETURN QUERY SELECT 'paused_function'::text, format('function %s paused', v_task.name), NULL::timestamptz, NULL::text[]
                 FROM stent.pauses p WHERE p.kind = 'function' AND p.name = v_task.name;
    RETURN QUERY SELECT 'backoff'::text,
                        CASE WHEN b.key = '' THEN format('function %s asked to retry later', v_task.name)
                             ELSE format('key %s of %s asked to retry later', b.key, v_task.name) END,
                        b.until, NULL::text[]
                 FROM stent.backoffs b
                 WHERE b.name = v_task.name AND b.key IN ('', coalesce(v_task.concurrency_key, '')) AND b.until > v_now;

    SELECT * INTO v_l FROM stent.limits l WHERE l.name = v_task.name;
    IF FOUND THEN
        IF v_l.max_concurrent IS NOT NULL THEN
            SELECT count(*) INTO v_n FROM stent.tasks t WHERE t.state = 'running' AND t.name = v_task.name;
            IF v_n >= v_l.max_concurrent THEN
                RETURN QUERY SELECT 'concurrency_limit'::text,
                                    format('%s of %s slots of %s in use', v_n, v_l.max_concurrent, v_task.name),
                                    NULL::timestamptz,
                                    ARRAY(SELECT format('task %s on %s', t.id, t.lease_owner) FROM stent.tasks t
                                          WHERE t.state = 'running' AND t.name = v_task.name ORDER BY t.id);
            END IF;
        END IF;
        IF v_l.key_max_concurrent IS NOT NULL AND v_task.concurrency_key IS NOT NULL THEN
            SELECT count(*) INTO v_n FROM stent.tasks t
            WHERE t.state = 'running' AND t.name = v_task.name AND t.concurrency_key = v_task.concurrency_key;
            IF v_n >= v_l.key_max_concurrent THEN
                RETURN QUERY SELECT 'key_concurrency_limit'::text,
                                    format('%s of %s slots of key %s in use', v_n, v_l.key_max_concurrent, v_task.concurrency_key),
                                    NULL::timestamptz,
                                    ARRAY(SELECT format('task %s on %s', t.id, t.lease_owner) FROM stent.tasks t
                                          WHERE t.state = 'running' AND t.name = v_task.name
                                            AND t.concurrency_key = v_task.concurrency_key ORDER BY t.id);
            END IF;
        END IF;
        RETURN QUERY SELECT CASE WHEN w.key = '' THEN 'rate_limited' ELSE 'key_rate_limited' END,
                            format('%s starts in the last %s', count(*),
                                   CASE WHEN w.key = '' THEN v_l.rate_period ELSE v_l.key_rate_period END),
                            min(s) + CASE WHEN w.key = '' THEN v_l.rate_period ELSE v_l.key_rate_period END,
                            NULL::text[]
                     FROM stent.rate_windows w, unnest(w.starts) AS s
                     WHERE w.name = v_task.name
                       AND ((w.key = '' AND v_l.rate IS NOT NULL AND s > v_now - v_l.rate_period)
                         OR (w.key = v_task.concurrency_key AND v_l.key_rate IS NOT NULL AND s > v_now - v_l.key_rate_period))
                     GROUP BY w.key
                     HAVING count(*) >= CASE WHEN w.key = '' THEN v_l.rate ELSE v_l.key_rate END;
    END IF;

    IF NOT EXISTS (
        SELECT 1 FROM stent.workers w
        WHERE v_task.queue = ANY (w.queues) AND v_task.name = ANY (w.functions)
          AND (cardinality(w.tags) = 0 OR cardinality(v_task.tags) = 0 OR w.tags && v_task.tags)
          AND w.state = 'running' AND w.heartbeat_at > v_now - interval '2 minutes') THEN
        SELECT max(w.heartbeat_at) INTO v_last FROM stent.workers w
        WHERE v_task.queue = ANY (w.queues) AND v_task.name = ANY (w.functions);
        RETURN QUERY SELECT 'no_worker'::text, CASE
            WHEN v_last IS NOT NULL AND v_last <= v_now - interval '2 minutes' THEN
                format('no live worker serves queue %s and function %s: the last heartbeat of one that does was at %s',
                       v_task.queue, v_task.name, v_last)
            WHEN NOT EXISTS (SELECT 1 FROM stent.functions f WHERE f.name = v_task.name)
                 AND NOT EXISTS (SELECT 1 FROM stent.workers w WHERE v_task.name = ANY (w.functions)) THEN
                format('no live worker serves queue %s and function %s: no worker ever registered %s',
                       v_task.queue, v_task.name, v_task.name)
            WHEN v_last IS NULL THEN
                format('no live worker serves queue %s and function %s: workers run %s on other queues, or serve %s without it',
                       v_task.queue, v_task.name, v_task.name, v_task.queue)
            ELSE format('no live worker serves queue %s and function %s: they are draining, or share none of the tags %s',
                        v_task.queue, v_task.name, v_task.tags)
            END, NULL::timestamptz, NULL::text[];
    END IF;
END;
$$;
