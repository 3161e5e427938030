-- Operating Stent (issue 5): stable, documented views for people who query with psql. They
-- are public API (docs/sql.md): columns are only ever added, never renamed or removed. Each
-- is cheap on large tables when filtered the documented way: per execution (the primary key
-- and tasks_execution_idx), newest first (executions_created_at_idx), or over unfinished
-- tasks only (the partial indexes on pending, running and — added here — waiting tasks).

-- The views read the database clock. stent.current_time() belongs to the function package
-- (sql/functions/time.sql, installed after the migrations); it is defined here too, with the
-- same body, so that the views can be created on a fresh database. The package's CREATE OR
-- REPLACE keeps it identical.
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

-- Suspended workflows and calls waiting for a cached result, by queue and function: what
-- stent.queue_depths counts as waiting without reading finished tasks.
CREATE INDEX tasks_waiting_idx ON stent.tasks (queue, name) WHERE state = 'waiting';

-- stent.execution_overview: one row per execution with its current step (the most recent
-- unfinished call, else the last call, else the root task), its task counts by state, and
-- its latest progress entry. Filter by id, or ORDER BY created_at DESC LIMIT n.
CREATE VIEW stent.execution_overview AS
SELECT e.id, e.workflow, e.state, e.queue, e.priority, e.tags, e.idempotency_key,
       e.parent_execution_id, e.deadline, e.created_at, e.started_at, e.finished_at,
       coalesce(e.finished_at, stent.current_time()) - e.started_at AS duration,
       e.error->>'kind' AS error_kind, e.error->>'message' AS error_message,
       c.current_task_id, c.current_step, c.current_step_kind, c.current_step_state,
       c.tasks_total, c.tasks_pending, c.tasks_running, c.tasks_waiting, c.tasks_completed,
       c.tasks_failed, c.tasks_cancelled, c.max_attempt,
       p.message AS progress_message, p.detail AS progress_detail, p.created_at AS progress_at
FROM stent.executions e
LEFT JOIN LATERAL (
    SELECT (array_agg(t.id ORDER BY x.rank, t.id DESC))[1] AS current_task_id,
           (array_agg(t.name ORDER BY x.rank, t.id DESC))[1] AS current_step,
           (array_agg(t.kind ORDER BY x.rank, t.id DESC))[1] AS current_step_kind,
           (array_agg(t.state ORDER BY x.rank, t.id DESC))[1] AS current_step_state,
           count(*) AS tasks_total,
           count(*) FILTER (WHERE t.state = 'pending') AS tasks_pending,
           count(*) FILTER (WHERE t.state = 'running') AS tasks_running,
           count(*) FILTER (WHERE t.state = 'waiting') AS tasks_waiting,
           count(*) FILTER (WHERE t.state = 'completed') AS tasks_completed,
           count(*) FILTER (WHERE t.state = 'failed') AS tasks_failed,
           count(*) FILTER (WHERE t.state = 'cancelled') AS tasks_cancelled,
           max(t.attempt) AS max_attempt
    FROM stent.tasks t
    CROSS JOIN LATERAL (SELECT CASE
        WHEN t.parent_task_id IS NOT NULL AND t.state IN ('pending', 'running', 'waiting') THEN 0
        WHEN t.parent_task_id IS NOT NULL THEN 1
        ELSE 2 END AS rank) x
    WHERE t.execution_id = e.id
) c ON true
LEFT JOIN LATERAL (
    SELECT pr.message, pr.detail, pr.created_at
    FROM stent.progress pr
    WHERE pr.execution_id = e.id
    ORDER BY pr.id DESC
    LIMIT 1
) p ON true;

COMMENT ON VIEW stent.execution_overview IS
    'One row per execution: state, timings, error, current step, task counts by state and latest progress. Public API (docs/sql.md).';

-- stent.task_tree_order: the tasks of one execution in tree order — depth first, each
-- task's calls by position — with their depth and ordinal (1, 2, ...). The walk starts at the
-- execution's root and follows tasks_parent_seq_idx, so it reads only that execution's tasks
-- (a recursive view could not be filtered before walking every execution). Used by
-- stent.task_timeline; owned by this migration.
CREATE FUNCTION stent.task_tree_order(p_execution_id uuid)
RETURNS TABLE (task_id bigint, parent_task_id bigint, seq integer, depth integer, ordinal bigint)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    WITH RECURSIVE tree AS (
        SELECT r.id, r.parent_task_id, r.seq, 0 AS depth, ''::text AS sort_key
        FROM stent.tasks r
        WHERE r.execution_id = p_execution_id AND r.parent_task_id IS NULL
        UNION ALL
        SELECT ch.id, ch.parent_task_id, ch.seq, tree.depth + 1,
               tree.sort_key || lpad(ch.seq::text, 10, '0') || '/'
        FROM stent.tasks ch
        JOIN tree ON ch.parent_task_id = tree.id
    )
    SELECT tree.id, tree.parent_task_id, tree.seq, tree.depth, row_number() OVER (ORDER BY tree.sort_key)
    FROM tree;
END;
$$;

-- stent.task_timeline: every task of every execution in tree order (ORDER BY execution_id,
-- ordinal: depth first, calls in the order the code made them), with its timing: created,
-- started (latest attempt), finished, duration, wait before start, attempts, state, error.
-- The tree is walked per execution, so filtering by execution_id reads only its tasks.
CREATE VIEW stent.task_timeline AS
SELECT e.id AS execution_id, e.workflow, tl.ordinal, tl.task_id, tl.parent_task_id, tl.seq, tl.depth,
       t.kind, t.name, t.state, t.queue, t.attempt AS attempts, t.max_attempts, t.run_at,
       t.created_at, t.started_at, t.finished_at,
       coalesce(t.finished_at, CASE WHEN t.state = 'running' THEN stent.current_time() END) - t.started_at AS duration,
       t.started_at - t.created_at AS queued_for,
       t.lease_owner AS worker_id, t.lease_expires_at,
       coalesce(t.error, CASE WHEN t.parent_task_id IS NULL THEN e.error END) ->> 'message' AS error_message,
       coalesce(t.error, CASE WHEN t.parent_task_id IS NULL THEN e.error END) AS error
FROM stent.executions e
CROSS JOIN LATERAL (
    -- (Fields of the whole row, so that sqlc, which cannot see a function's result columns,
    -- parses the view.)
    SELECT (r).task_id AS task_id, (r).parent_task_id AS parent_task_id, (r).seq AS seq,
           (r).depth AS depth, (r).ordinal AS ordinal
    FROM stent.task_tree_order(e.id) AS r
) tl
JOIN stent.tasks t ON t.id = tl.task_id;

COMMENT ON VIEW stent.task_timeline IS
    'Tasks of each execution in tree order (ORDER BY execution_id, ordinal) with created/started/finished times, duration, attempts, state and error. Filter by execution_id. Public API (docs/sql.md).';

-- stent.queue_depths: unfinished work per queue and function: pending (due now plus
-- scheduled later — delayed starts, retries backing off, durable sleeps, signal waits),
-- running, waiting (suspended workflows, calls waiting for a cached result), and how long
-- the oldest due task has waited. Reads the partial indexes of unfinished tasks only.
CREATE VIEW stent.queue_depths AS
SELECT u.queue, u.name AS function,
       sum(u.pending)::bigint AS pending,
       sum(u.due)::bigint AS due_now,
       sum(u.pending - u.due)::bigint AS scheduled,
       sum(u.running)::bigint AS running,
       sum(u.waiting)::bigint AS waiting,
       stent.current_time() - min(u.oldest_due) AS oldest_due_age,
       min(u.next_run_at) AS next_run_at
FROM (
    SELECT t.queue, t.name, count(*) AS pending,
           count(*) FILTER (WHERE t.run_at <= stent.current_time()) AS due,
           0 AS running, 0 AS waiting,
           min(t.run_at) FILTER (WHERE t.run_at <= stent.current_time()) AS oldest_due,
           min(t.run_at) FILTER (WHERE t.run_at > stent.current_time()) AS next_run_at
    FROM stent.tasks t WHERE t.state = 'pending' GROUP BY t.queue, t.name
    UNION ALL
    SELECT t.queue, t.name, 0, 0, count(*), 0, NULL, NULL
    FROM stent.tasks t WHERE t.state = 'running' GROUP BY t.queue, t.name
    UNION ALL
    SELECT t.queue, t.name, 0, 0, 0, count(*), NULL, NULL
    FROM stent.tasks t WHERE t.state = 'waiting' AND t.kind IN ('workflow', 'activity') GROUP BY t.queue, t.name
) u
GROUP BY u.queue, u.name;

COMMENT ON VIEW stent.queue_depths IS
    'Unfinished tasks per queue and function: pending, due now, scheduled, running, waiting, age of the oldest due task. Public API (docs/sql.md).';

-- stent.dead_letter_overview: every dead letter with its execution (workflow, state), the
-- error's kind and message, and its age. ORDER BY created_at DESC for the newest first.
CREATE VIEW stent.dead_letter_overview AS
SELECT d.id, d.task_id, d.execution_id, e.workflow, e.state AS execution_state, d.name, d.kind,
       d.queue, d.attempts, d.error->>'kind' AS error_kind, d.error->>'message' AS error_message,
       d.error, d.created_at, stent.current_time() - d.created_at AS age
FROM stent.dead_letters d
JOIN stent.executions e ON e.id = d.execution_id;

COMMENT ON VIEW stent.dead_letter_overview IS
    'Dead letters with their execution, error kind and message, and age. Public API (docs/sql.md).';

-- stent.worker_overview: every registered worker process with its heartbeat age, status
-- ('live': running with a heartbeat in the last 2 minutes, 'draining', or 'stale': no
-- heartbeat for 2 minutes — the threshold stent.explain uses for no_worker), the tasks it
-- holds (running under its lease), and whether it leads maintenance.
CREATE VIEW stent.worker_overview AS
SELECT w.id, w.hostname, w.pid, w.state,
       CASE WHEN w.heartbeat_at <= stent.current_time() - interval '2 minutes' THEN 'stale'
            WHEN w.state = 'draining' THEN 'draining'
            ELSE 'live' END AS status,
       w.queues, w.functions, w.tags, w.concurrency, w.started_at, w.heartbeat_at,
       stent.current_time() - w.heartbeat_at AS heartbeat_age,
       coalesce(h.held, 0) AS held_tasks,
       EXISTS (SELECT 1 FROM stent.leader l WHERE l.leader_id = w.id AND l.expires_at > stent.current_time()) AS leader
FROM stent.workers w
LEFT JOIN (
    SELECT t.lease_owner, count(*) AS held
    FROM stent.tasks t
    WHERE t.state = 'running'
    GROUP BY t.lease_owner
) h ON h.lease_owner = w.id;

COMMENT ON VIEW stent.worker_overview IS
    'Worker processes: status (live, draining, stale), heartbeat age, held tasks, leadership. Public API (docs/sql.md).';

---- create above / drop below ----

DROP VIEW stent.worker_overview;
DROP VIEW stent.dead_letter_overview;
DROP VIEW stent.queue_depths;
DROP VIEW stent.task_timeline;
DROP FUNCTION stent.task_tree_order(uuid);
DROP VIEW stent.execution_overview;
DROP INDEX stent.tasks_waiting_idx;
-- stent.current_time() stays: the function package owns it.
