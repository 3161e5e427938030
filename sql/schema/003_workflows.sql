-- Workflows that wait without holding a worker: a suspended workflow task is 'waiting' with
-- wait_remaining = the number of awaited children not yet finished; each awaited child
-- (wakes_parent) decrements it when it finishes, and the last one makes the parent pending
-- again — one wake-up however many children it awaited.
ALTER TABLE stent.tasks ADD COLUMN wait_remaining integer NOT NULL DEFAULT 0;
ALTER TABLE stent.tasks ADD COLUMN wakes_parent boolean NOT NULL DEFAULT false;
ALTER TABLE stent.tasks ADD CONSTRAINT tasks_wait_check CHECK (wait_remaining >= 0);

-- Signals sent to executions, kept in order until a WaitSignal of that name consumes them
-- (consumed_by: the signal-wait task that received it).
CREATE TABLE stent.signals (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES stent.executions (id) ON DELETE CASCADE,
    name         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT 'null',
    created_at   timestamptz NOT NULL,
    consumed_by  bigint REFERENCES stent.tasks (id) ON DELETE SET NULL,
    consumed_at  timestamptz,
    CONSTRAINT signals_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT signals_payload_size CHECK (octet_length(payload::text) <= 2097152)
);

CREATE INDEX signals_pending_idx ON stent.signals (execution_id, name, id) WHERE consumed_by IS NULL;

-- Execution-scoped progress entries, counters and custom state, written by workflow code
-- exactly once per call site (each write is recorded as a step of its workflow task).
CREATE TABLE stent.progress (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES stent.executions (id) ON DELETE CASCADE,
    task_id      bigint REFERENCES stent.tasks (id) ON DELETE CASCADE,
    message      text NOT NULL,
    detail       jsonb,
    created_at   timestamptz NOT NULL
);
CREATE INDEX progress_execution_idx ON stent.progress (execution_id, id);

CREATE TABLE stent.counters (
    execution_id uuid NOT NULL REFERENCES stent.executions (id) ON DELETE CASCADE,
    name         text NOT NULL,
    value        double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (execution_id, name)
);

CREATE TABLE stent.state (
    execution_id uuid NOT NULL REFERENCES stent.executions (id) ON DELETE CASCADE,
    key          text NOT NULL,
    value        jsonb NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (execution_id, key)
);

-- Executions with a deadline, for the leader's sweep (stent.expire_executions). The index
-- names only deadline, which never changes, so it costs no HOT update.
CREATE INDEX executions_deadline_idx ON stent.executions (deadline) WHERE deadline IS NOT NULL;

-- stent.task_tree: every task of every execution as a tree, for psql users: depth (0 for the
-- root), path (the positions from the root, e.g. {0,3} for the 4th call of the 1st child),
-- sort_key (ORDER BY it for depth-first order), and the task's state, attempts, timings and
-- result or error. Same data as client.Get.
CREATE VIEW stent.task_tree AS
WITH RECURSIVE tree AS (
    SELECT t.id, t.execution_id, t.parent_task_id, t.seq, 0 AS depth, ARRAY[]::integer[] AS path,
           ''::text AS sort_key
    FROM stent.tasks t
    WHERE t.parent_task_id IS NULL
    UNION ALL
    SELECT c.id, c.execution_id, c.parent_task_id, c.seq, tree.depth + 1, tree.path || c.seq,
           tree.sort_key || lpad(c.seq::text, 10, '0') || '/'
    FROM stent.tasks c
    JOIN tree ON c.parent_task_id = tree.id
)
SELECT tree.execution_id, tree.id AS task_id, tree.parent_task_id, tree.seq, tree.depth, tree.path,
       tree.sort_key,
       t.kind, t.name, t.state, t.queue, t.attempt, t.max_attempts, t.run_at, t.created_at,
       t.started_at, t.finished_at, t.lease_owner, t.lease_expires_at,
       CASE WHEN t.parent_task_id IS NULL THEN e.output ELSE t.output END AS output,
       coalesce(t.error, CASE WHEN t.parent_task_id IS NULL THEN e.error END) AS error
FROM tree
JOIN stent.tasks t ON t.id = tree.id
JOIN stent.executions e ON e.id = tree.execution_id;

COMMENT ON VIEW stent.task_tree IS
    'Every task of every execution as a tree (depth, path of positions), with state, attempts, timings and result or error. Filter by execution_id.';

-- Cached activity results (the Cache(ttl) option), shared across executions by key (a hash
-- of name, version and input). A 'pending' entry is being computed by its owner task; calls
-- with the same key meanwhile wait for it (single flight) as 'waiting' tasks with that
-- cache_key, completed with the owner's result.
ALTER TABLE stent.tasks ADD COLUMN cache_key text;
ALTER TABLE stent.tasks ADD COLUMN cache_ttl interval;
CREATE INDEX tasks_cache_followers_idx ON stent.tasks (cache_key)
    WHERE state = 'waiting' AND cache_key IS NOT NULL;

CREATE TABLE stent.cache (
    key           text PRIMARY KEY,
    name          text NOT NULL,
    state         text NOT NULL,
    value         jsonb,
    owner_task_id bigint,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    CONSTRAINT cache_state_check CHECK (state IN ('pending', 'ready'))
);

---- create above / drop below ----

DROP TABLE stent.cache;
DROP INDEX stent.tasks_cache_followers_idx;
ALTER TABLE stent.tasks DROP COLUMN cache_ttl;
ALTER TABLE stent.tasks DROP COLUMN cache_key;

DROP VIEW stent.task_tree;

DROP INDEX stent.executions_deadline_idx;

DROP TABLE stent.state;
DROP TABLE stent.counters;
DROP TABLE stent.progress;

DROP TABLE stent.signals;

ALTER TABLE stent.tasks DROP CONSTRAINT tasks_wait_check;
ALTER TABLE stent.tasks DROP COLUMN wakes_parent;
ALTER TABLE stent.tasks DROP COLUMN wait_remaining;
