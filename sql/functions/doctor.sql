-- stent.doctor: checks Stent's own invariants and returns one row per violation, for the
-- `stent doctor` CLI, Client.Doctor and psql users. It reads only (nothing is locked or
-- changed), so it is safe on a busy database; each check is one statement and sees a
-- consistent snapshot. Columns: check_name (stable identifier), severity ('error': work is
-- stuck or state is inconsistent; 'warning': degraded, e.g. bloat), the execution and task
-- concerned (NULL when none), a human-readable detail, and whether stent.doctor_fix repairs
-- it. Thresholds: p_grace is how long past its due time something must be before it counts
-- (the maintenance leader rescues within seconds, so a minute means it was never done);
-- p_bloat_ratio and p_bloat_min_dead bound dead tuples per Stent table; p_xmin_age is the
-- transaction age beyond which a snapshot, prepared transaction or replication slot of this
-- database is reported for holding back vacuum. Time comes from stent.current_time().
CREATE OR REPLACE FUNCTION stent.doctor(
    p_grace interval DEFAULT interval '1 minute',
    p_bloat_ratio double precision DEFAULT 0.2,
    p_bloat_min_dead bigint DEFAULT 10000,
    p_xmin_age bigint DEFAULT 100000000
)
RETURNS TABLE (
    check_name   text,
    severity     text,
    execution_id uuid,
    task_id      bigint,
    detail       text,
    fixable      boolean
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := stent.current_time();
BEGIN
    IF p_grace IS NULL OR p_grace < interval '0' OR p_bloat_ratio IS NULL OR p_bloat_ratio <= 0
       OR p_bloat_ratio > 1 OR p_bloat_min_dead IS NULL OR p_bloat_min_dead < 0
       OR p_xmin_age IS NULL OR p_xmin_age < 1 THEN
        RAISE EXCEPTION 'stent.doctor: grace must be >= 0, bloat ratio within (0, 1], min dead tuples >= 0 and xmin age >= 1'
            USING ERRCODE = 'ST003';
    END IF;

    -- Running tasks whose lease expired long ago: the rescuer (maintenance leader) is not
    -- running or is failing.
    RETURN QUERY
    SELECT 'expired_lease'::text, 'error'::text, t.execution_id, t.id,
           format('%s %s attempt %s: lease of worker %s expired at %s and was never rescued (is a worker running maintenance?)',
                  t.kind, t.name, t.attempt, t.lease_owner, t.lease_expires_at),
           true
    FROM stent.tasks t
    WHERE t.state = 'running' AND t.lease_expires_at < v_now - p_grace;

    -- Running tasks with a live lease whose worker is gone (no row) or stopped heartbeating:
    -- they hold concurrency slots until their lease runs out.
    RETURN QUERY
    SELECT 'dead_worker_lease'::text, 'error'::text, t.execution_id, t.id,
           format('%s %s is leased until %s by worker %s, which %s', t.kind, t.name, t.lease_expires_at,
                  t.lease_owner,
                  CASE WHEN w.id IS NULL THEN 'is not registered'
                       ELSE format('last heartbeat at %s', w.heartbeat_at) END),
           true
    FROM stent.tasks t
    LEFT JOIN stent.workers w ON w.id = t.lease_owner
    WHERE t.state = 'running' AND t.lease_expires_at >= v_now - p_grace
      -- A live worker heartbeats (renewing its leases in the same statement) before half
      -- its lease has passed (HeartbeatInterval < LeaseDuration/2 is enforced).
      AND (w.id IS NULL OR v_now - w.heartbeat_at > greatest(p_grace, (t.lease_expires_at - w.heartbeat_at) / 2));

    -- Unfinished tasks of finished executions: work nobody will ever use (terminal states are
    -- sticky, so the tasks should have been cancelled with their execution).
    RETURN QUERY
    SELECT 'runnable_in_finished_execution'::text, 'error'::text, t.execution_id, t.id,
           format('%s %s is %s but its execution is %s', t.kind, t.name, t.state, e.state),
           true
    FROM stent.tasks t
    JOIN stent.executions e ON e.id = t.execution_id
    WHERE t.state IN ('pending', 'running', 'waiting')
      AND e.state IN ('completed', 'failed', 'cancelled', 'timed_out');

    -- Waiting workflows whose wait_remaining does not match their unfinished awaited children:
    -- with fewer open children than counted they are never woken.
    RETURN QUERY
    SELECT 'wait_mismatch'::text, 'error'::text, p.execution_id, p.id,
           format('workflow %s waits for %s children but %s awaited children are unfinished',
                  p.name, p.wait_remaining, coalesce(c.n, 0)),
           true
    FROM stent.tasks p
    LEFT JOIN LATERAL (
        SELECT count(*)::integer AS n FROM stent.tasks c
        WHERE c.parent_task_id = p.id AND c.wakes_parent AND c.state IN ('pending', 'running', 'waiting')
    ) c ON true
    WHERE p.state = 'waiting' AND p.cache_key IS NULL AND p.wait_remaining <> coalesce(c.n, 0);

    -- Calls waiting for a cached result that nobody computes any more.
    RETURN QUERY
    SELECT 'cache_wait_orphaned'::text, 'error'::text, f.execution_id, f.id,
           format('activity %s waits for cache key %s, which no running task computes', f.name, f.cache_key),
           true
    FROM stent.tasks f
    WHERE f.state = 'waiting' AND f.cache_key IS NOT NULL AND f.kind = 'activity'
      AND NOT EXISTS (
        SELECT 1 FROM stent.cache k JOIN stent.tasks o ON o.id = k.owner_task_id
        WHERE k.key = f.cache_key AND k.state = 'pending' AND o.state IN ('pending', 'running'));

    -- Sleeping workflows due long ago but scheduled later, and workflows parked on a signal
    -- that has arrived: they wake late (or never).
    RETURN QUERY
    SELECT 'wake_overdue'::text, 'error'::text, p.execution_id, p.id,
           format('workflow %s is pending until %s but its %s %s (position %s) %s', p.name, p.run_at,
                  c.kind, c.name, c.seq,
                  CASE c.kind WHEN 'sleep' THEN format('was due at %s', c.run_at)
                              ELSE 'has an unconsumed signal' END),
           true
    FROM stent.tasks c
    JOIN stent.tasks p ON p.id = c.parent_task_id
    WHERE c.state = 'waiting' AND p.state = 'pending' AND p.run_at > v_now
      AND ((c.kind = 'sleep' AND c.run_at < v_now - p_grace)
        OR (c.kind = 'signal' AND EXISTS (
              SELECT 1 FROM stent.signals s
              WHERE s.execution_id = c.execution_id AND s.name = c.name AND s.consumed_by IS NULL
                AND s.created_at < v_now - p_grace)));

    -- Children whose parent task is missing or belongs to another execution (possible only if
    -- foreign keys were bypassed), and unfinished executions without a root task.
    RETURN QUERY
    SELECT 'orphaned_task'::text, 'error'::text, c.execution_id, c.id,
           CASE WHEN p.id IS NULL THEN format('%s %s refers to missing parent task %s', c.kind, c.name, c.parent_task_id)
                ELSE format('%s %s belongs to execution %s but its parent task %s to %s',
                            c.kind, c.name, c.execution_id, p.id, p.execution_id) END,
           false
    FROM stent.tasks c
    LEFT JOIN stent.tasks p ON p.id = c.parent_task_id
    WHERE c.parent_task_id IS NOT NULL AND (p.id IS NULL OR p.execution_id <> c.execution_id);

    RETURN QUERY
    SELECT 'missing_root_task'::text, 'error'::text, e.id, NULL::bigint,
           format('execution of %s is %s but has no root task', e.workflow, e.state),
           false
    FROM stent.executions e
    WHERE e.state IN ('pending', 'running')
      AND NOT EXISTS (SELECT 1 FROM stent.tasks t WHERE t.execution_id = e.id AND t.parent_task_id IS NULL);

    -- Attempts beyond the maximum (a retry loop that escaped its policy).
    RETURN QUERY
    SELECT 'attempts_exceeded'::text, 'error'::text, t.execution_id, t.id,
           format('%s %s is at attempt %s of at most %s (%s)', t.kind, t.name, t.attempt, t.max_attempts, t.state),
           false
    FROM stent.tasks t
    WHERE t.attempt > t.max_attempts;

    -- Dead letters whose task is not failed (replayed or changed behind the entry's back).
    RETURN QUERY
    SELECT 'stale_dead_letter'::text, 'error'::text, d.execution_id, d.task_id,
           format('dead letter %s for %s %s, but the task is %s', d.id, d.kind, d.name, coalesce(t.state, 'missing')),
           true
    FROM stent.dead_letters d
    LEFT JOIN stent.tasks t ON t.id = d.task_id
    WHERE t.state IS DISTINCT FROM 'failed' OR t.execution_id <> d.execution_id;

    -- Checkpoints out of sequence: duplicate positions, and gaps in the positions of a
    -- finished workflow (every durable call records its position, so 0..n-1 are all there).
    RETURN QUERY
    SELECT 'checkpoint_duplicate'::text, 'error'::text, (array_agg(c.execution_id))[1], c.parent_task_id,
           format('%s checkpoints at position %s (%s)', count(*), c.seq, string_agg(c.kind || ':' || c.name, ', ')),
           false
    FROM stent.tasks c
    WHERE c.parent_task_id IS NOT NULL
    GROUP BY c.parent_task_id, c.seq
    HAVING count(*) > 1;

    RETURN QUERY
    SELECT 'checkpoint_gap'::text, 'warning'::text, p.execution_id, p.id,
           format('workflow %s finished with %s checkpoints at positions 0..%s (missing %s)', p.name, g.n, g.max_seq,
                  g.max_seq + 1 - g.n),
           false
    FROM stent.tasks p
    JOIN LATERAL (
        SELECT count(DISTINCT c.seq)::integer AS n, max(c.seq) AS max_seq
        FROM stent.tasks c WHERE c.parent_task_id = p.id
    ) g ON g.n > 0
    WHERE p.kind = 'workflow' AND p.state = 'completed' AND g.max_seq + 1 <> g.n;

    -- Checkpoint rows whose kind or name cannot be what recorded them (sleeps carry the
    -- sleep's name, signal waits the signal's; a root task is a workflow or an activity).
    RETURN QUERY
    SELECT 'checkpoint_mismatch'::text, 'error'::text, t.execution_id, t.id,
           format('%s task %s at position %s under %s %s', t.kind, t.name, t.seq,
                  coalesce(p.kind, 'no parent'), coalesce(p.name, '')),
           false
    FROM stent.tasks t
    LEFT JOIN stent.tasks p ON p.id = t.parent_task_id
    WHERE (t.parent_task_id IS NULL AND t.kind NOT IN ('workflow', 'activity'))
       OR (p.id IS NOT NULL AND p.kind <> 'workflow')
       OR (t.kind = 'sleep' AND t.name NOT IN ('stent.sleep', 'stent.sleep_until'));

    -- Table bloat: dead tuples Stent's tables carry (autovacuum behind or blocked).
    RETURN QUERY
    SELECT 'table_bloat'::text, 'warning'::text, NULL::uuid, NULL::bigint,
           format('stent.%s has %s dead and %s live tuples (%s%% dead); last autovacuum %s. Run VACUUM (ANALYZE) stent.%s and check the xmin horizon',
                  s.relname, s.n_dead_tup, s.n_live_tup,
                  round(100.0 * s.n_dead_tup / (s.n_dead_tup + s.n_live_tup)), coalesce(s.last_autovacuum::text, 'never'),
                  s.relname),
           false
    FROM pg_stat_user_tables s
    WHERE s.schemaname = 'stent' AND s.n_dead_tup >= greatest(p_bloat_min_dead, 1)
      AND s.n_dead_tup::double precision / (s.n_dead_tup + s.n_live_tup) > p_bloat_ratio;

    -- An old xmin horizon: a long-open snapshot, a forgotten prepared transaction or a
    -- replication slot keeps vacuum from removing Stent's dead rows.
    RETURN QUERY
    SELECT 'xmin_horizon'::text, 'warning'::text, NULL::uuid, NULL::bigint, h.what, false
    FROM (
        SELECT format('backend %s (%s, %s, state %s) holds a snapshot %s transactions old since %s',
                      a.pid, coalesce(nullif(a.application_name, ''), 'no application name'),
                      coalesce(a.usename::text, '?'), coalesce(a.state, '?'), age(a.backend_xmin), a.xact_start) AS what
        FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
          AND a.backend_xmin IS NOT NULL AND age(a.backend_xmin) > p_xmin_age
        UNION ALL
        SELECT format('prepared transaction %s (owner %s, prepared at %s) is %s transactions old; COMMIT PREPARED or ROLLBACK PREPARED it',
                      x.gid, x.owner, x.prepared, age(x.transaction))
        FROM pg_prepared_xacts x
        WHERE x.database = current_database() AND age(x.transaction) > p_xmin_age
        UNION ALL
        SELECT format('replication slot %s (%s, active %s) holds xmin %s transactions old', r.slot_name, r.slot_type,
                      r.active, greatest(age(r.xmin), age(r.catalog_xmin)))
        FROM pg_replication_slots r
        WHERE (r.database IS NULL OR r.database = current_database())
          AND greatest(age(r.xmin), age(r.catalog_xmin)) > p_xmin_age
    ) h;
END;
$$;

-- stent.doctor_fix: runs stent.doctor with the same thresholds and repairs what is safe to
-- repair, returning every finding with the action taken (NULL: not repairable here, or no
-- longer present when re-checked under lock). Each repair re-checks its condition in a
-- guarded update, so a row that changed since the check is left alone:
--   expired_lease, dead_worker_lease: the lease is ended now and stent.rescue_expired returns
--     the task to the queue (or dead-letters it), counting the attempt; a late result of
--     the old attempt is fenced off by its token;
--   runnable_in_finished_execution: the execution's unfinished tasks are cancelled
--     (stent.cancel_tasks);
--   wait_mismatch: wait_remaining is set to the unfinished awaited children, and a workflow
--     with none left becomes pending, due now;
--   cache_wait_orphaned: the call runs itself (pending, due now);
--   wake_overdue: the workflow is made due now;
--   stale_dead_letter: the entry is deleted.
-- Lock order: task rows children before parents, as everywhere (each repair locks one
-- execution's rows at a time).
CREATE OR REPLACE FUNCTION stent.doctor_fix(
    p_grace interval DEFAULT interval '1 minute',
    p_bloat_ratio double precision DEFAULT 0.2,
    p_bloat_min_dead bigint DEFAULT 10000,
    p_xmin_age bigint DEFAULT 100000000
)
RETURNS TABLE (
    check_name   text,
    severity     text,
    execution_id uuid,
    task_id      bigint,
    detail       text,
    fixable      boolean,
    action       text
)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now      timestamptz := stent.current_time();
    f          record;
    v_n        integer;
    v_state    text;
    v_done     uuid[] := '{}';
BEGIN
    FOR f IN SELECT * FROM stent.doctor(p_grace, p_bloat_ratio, p_bloat_min_dead, p_xmin_age) d
             ORDER BY d.check_name, d.execution_id, d.task_id
    LOOP
        check_name := f.check_name; severity := f.severity; execution_id := f.execution_id;
        task_id := f.task_id; detail := f.detail; fixable := f.fixable; action := NULL;
        CASE f.check_name
        WHEN 'expired_lease', 'dead_worker_lease' THEN
            UPDATE stent.tasks t SET lease_expires_at = least(t.lease_expires_at, v_now - interval '1 microsecond')
            WHERE t.id = f.task_id AND t.state = 'running';
            IF FOUND THEN
                -- rescue_expired takes expired leases in id order, up to its limit.
                LOOP
                    SELECT count(*) INTO v_n FROM stent.rescue_expired(1000);
                    SELECT t.state INTO v_state FROM stent.tasks t WHERE t.id = f.task_id;
                    EXIT WHEN v_n < 1000 OR v_state IS DISTINCT FROM 'running';
                END LOOP;
                IF v_state IS DISTINCT FROM 'running' THEN
                    action := format('lease ended and task rescued (now %s)', v_state);
                END IF;
            END IF;
        WHEN 'runnable_in_finished_execution' THEN
            IF NOT f.execution_id = ANY (v_done) THEN
                PERFORM 1 FROM stent.executions e
                WHERE e.id = f.execution_id AND e.state IN ('completed', 'failed', 'cancelled', 'timed_out');
                IF FOUND THEN
                    PERFORM stent.cancel_tasks(f.execution_id, v_now);
                    PERFORM pg_notify('stent_cancel', f.execution_id::text);
                    v_done := v_done || f.execution_id;
                END IF;
            END IF;
            IF f.execution_id = ANY (v_done) THEN
                action := 'cancelled with the execution''s other unfinished tasks';
            END IF;
        WHEN 'wait_mismatch' THEN
            PERFORM 1 FROM stent.tasks c WHERE c.parent_task_id = f.task_id ORDER BY c.id DESC FOR UPDATE;
            PERFORM 1 FROM stent.tasks p WHERE p.id = f.task_id AND p.state = 'waiting' FOR UPDATE;
            IF FOUND THEN
                SELECT count(*)::integer INTO v_n FROM stent.tasks c
                WHERE c.parent_task_id = f.task_id AND c.wakes_parent AND c.state IN ('pending', 'running', 'waiting');
                UPDATE stent.tasks p
                SET wait_remaining = v_n,
                    state = CASE WHEN v_n = 0 THEN 'pending' ELSE 'waiting' END,
                    run_at = CASE WHEN v_n = 0 THEN v_now ELSE p.run_at END
                WHERE p.id = f.task_id;
                PERFORM pg_notify('stent_tasks', p.queue) FROM stent.tasks p WHERE p.id = f.task_id AND v_n = 0;
                action := CASE WHEN v_n = 0 THEN 'woken (nothing left to wait for)'
                               ELSE format('wait_remaining set to %s', v_n) END;
            END IF;
        WHEN 'cache_wait_orphaned' THEN
            UPDATE stent.tasks t SET state = 'pending', run_at = v_now
            WHERE t.id = f.task_id AND t.state = 'waiting'
              AND NOT EXISTS (
                SELECT 1 FROM stent.cache k JOIN stent.tasks o ON o.id = k.owner_task_id
                WHERE k.key = t.cache_key AND k.state = 'pending' AND o.state IN ('pending', 'running'));
            IF FOUND THEN
                PERFORM pg_notify('stent_tasks', t.queue) FROM stent.tasks t WHERE t.id = f.task_id;
                action := 'runs itself (pending, due now)';
            END IF;
        WHEN 'wake_overdue' THEN
            UPDATE stent.tasks p SET run_at = v_now
            WHERE p.id = f.task_id AND p.state = 'pending' AND p.run_at > v_now;
            IF FOUND THEN
                PERFORM pg_notify('stent_tasks', p.queue) FROM stent.tasks p WHERE p.id = f.task_id;
                action := 'made due now';
            END IF;
        WHEN 'stale_dead_letter' THEN
            DELETE FROM stent.dead_letters d
            WHERE d.task_id = f.task_id
              AND NOT EXISTS (SELECT 1 FROM stent.tasks t
                              WHERE t.id = d.task_id AND t.state = 'failed' AND t.execution_id = d.execution_id);
            IF FOUND THEN
                action := 'dead letter deleted';
            END IF;
        ELSE
            NULL;
        END CASE;
        RETURN NEXT;
    END LOOP;
END;
$$;
