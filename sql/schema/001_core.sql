-- Stent core schema: executions, tasks, dead letters, workers, function defaults and the
-- maintenance leader. Every timestamp is timestamptz written from the database clock
-- (stent.current_time()); the PL/pgSQL functions that change these tables live in
-- sql/functions and are installed after the migrations.

CREATE SCHEMA stent;

COMMENT ON SCHEMA stent IS 'Stent durable workflow engine: tables, views and functions.';

-- One row per dispatched run of a workflow or activity.
CREATE TABLE stent.executions (
    id                  uuid PRIMARY KEY,
    workflow            text NOT NULL,
    state               text NOT NULL DEFAULT 'pending',
    input               jsonb NOT NULL DEFAULT 'null',
    output              jsonb,
    error               jsonb,
    queue               text NOT NULL,
    priority            smallint NOT NULL DEFAULT 0,
    tags                text[] NOT NULL DEFAULT '{}',
    idempotency_key     text,
    deadline            timestamptz,
    parent_execution_id uuid REFERENCES stent.executions (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL,
    started_at          timestamptz,
    finished_at         timestamptz,
    CONSTRAINT executions_state_check
        CHECK (state IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'timed_out')),
    CONSTRAINT executions_finished_check
        CHECK ((state IN ('completed', 'failed', 'cancelled', 'timed_out')) = (finished_at IS NOT NULL)),
    CONSTRAINT executions_workflow_check CHECK (char_length(workflow) BETWEEN 1 AND 200),
    CONSTRAINT executions_queue_check CHECK (char_length(queue) BETWEEN 1 AND 128),
    CONSTRAINT executions_idempotency_key_check
        CHECK (idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 512),
    -- Backstops for the client's payload limit (default 1 MiB of encoded JSON; jsonb's text
    -- form adds spaces, hence the larger bound here).
    CONSTRAINT executions_input_size CHECK (octet_length(input::text) <= 2097152),
    CONSTRAINT executions_output_size CHECK (output IS NULL OR octet_length(output::text) <= 2097152),
    CONSTRAINT executions_error_size CHECK (error IS NULL OR octet_length(error::text) <= 2097152)
) WITH (fillfactor = 70); -- room on each page keeps the claim's state update a HOT update

CREATE UNIQUE INDEX executions_idempotency_key_idx ON stent.executions (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX executions_created_at_idx ON stent.executions (created_at DESC, id);
-- No index covers state, started_at or finished_at, so claims and completions can update
-- executions in place (HOT). Retention walks executions_created_at_idx (an execution finished
-- before the cutoff was created before it).

-- One row per unit of work: the root task of an execution and every durable call it makes.
-- (parent_task_id, seq) is the deterministic identity of a call inside its parent. A root
-- task's input and output live on its execution row (input and output are NULL here), so a
-- payload is written once.
CREATE TABLE stent.tasks (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id         uuid NOT NULL REFERENCES stent.executions (id) ON DELETE CASCADE,
    parent_task_id       bigint REFERENCES stent.tasks (id) ON DELETE CASCADE,
    seq                  integer,
    kind                 text NOT NULL,
    name                 text NOT NULL,
    state                text NOT NULL DEFAULT 'pending',
    queue                text NOT NULL,
    priority             smallint NOT NULL DEFAULT 0,
    tags                 text[] NOT NULL DEFAULT '{}',
    input                jsonb,
    output               jsonb,
    error                jsonb,
    attempt              integer NOT NULL DEFAULT 0,
    max_attempts         integer NOT NULL,
    retry_initial_delay  interval NOT NULL,
    retry_backoff_factor double precision NOT NULL,
    retry_max_delay      interval NOT NULL,
    retry_jitter         double precision NOT NULL,
    retry_on             text[] NOT NULL DEFAULT '{}',
    timeout              interval,
    run_at               timestamptz NOT NULL,
    lease_owner          text,
    lease_token          bigint NOT NULL DEFAULT 0,
    lease_expires_at     timestamptz,
    created_at           timestamptz NOT NULL,
    started_at           timestamptz,
    finished_at          timestamptz,
    CONSTRAINT tasks_kind_check CHECK (kind IN ('workflow', 'activity', 'step', 'sleep', 'signal')),
    CONSTRAINT tasks_state_check
        CHECK (state IN ('pending', 'running', 'waiting', 'completed', 'failed', 'cancelled')),
    CONSTRAINT tasks_finished_check
        CHECK ((state IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CONSTRAINT tasks_lease_check
        CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT tasks_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT tasks_queue_check CHECK (char_length(queue) BETWEEN 1 AND 128),
    CONSTRAINT tasks_seq_check CHECK ((parent_task_id IS NULL) = (seq IS NULL) AND (seq IS NULL OR seq >= 0)),
    CONSTRAINT tasks_attempt_check CHECK (attempt >= 0 AND max_attempts >= 1),
    CONSTRAINT tasks_retry_check CHECK (
        retry_initial_delay >= interval '0' AND retry_max_delay >= interval '0'
        AND retry_backoff_factor >= 1 AND retry_jitter >= 0 AND retry_jitter <= 1),
    CONSTRAINT tasks_timeout_check CHECK (timeout IS NULL OR timeout > interval '0'),
    CONSTRAINT tasks_input_size CHECK (input IS NULL OR octet_length(input::text) <= 2097152),
    CONSTRAINT tasks_output_size CHECK (output IS NULL OR octet_length(output::text) <= 2097152),
    CONSTRAINT tasks_error_size CHECK (error IS NULL OR octet_length(error::text) <= 2097152)
);

-- Deterministic identity of a durable call inside its parent; root tasks are left out so that
-- their updates maintain one index less.
CREATE UNIQUE INDEX tasks_parent_seq_idx ON stent.tasks (parent_task_id, seq)
    WHERE parent_task_id IS NOT NULL;

-- The claim walks this index in claim order, one queue at a time.
CREATE INDEX tasks_claim_idx ON stent.tasks (queue, priority DESC, run_at, id)
    WHERE state = 'pending';
-- The rescuer scans running tasks only; lease_expires_at is left out of every index so that
-- lease renewals stay HOT updates.
CREATE INDEX tasks_running_idx ON stent.tasks (id) WHERE state = 'running';
CREATE INDEX tasks_execution_idx ON stent.tasks (execution_id);

-- Tasks whose attempts are exhausted (or that failed permanently), kept until replayed,
-- discarded or purged. At most one entry per task.
CREATE TABLE stent.dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id      bigint NOT NULL UNIQUE REFERENCES stent.tasks (id) ON DELETE CASCADE,
    execution_id uuid NOT NULL REFERENCES stent.executions (id) ON DELETE CASCADE,
    name         text NOT NULL,
    kind         text NOT NULL,
    queue        text NOT NULL,
    attempts     integer NOT NULL,
    error        jsonb NOT NULL,
    created_at   timestamptz NOT NULL
);

CREATE INDEX dead_letters_created_at_idx ON stent.dead_letters (created_at DESC, id);
CREATE INDEX dead_letters_execution_idx ON stent.dead_letters (execution_id);

-- Live worker processes and their heartbeats (one statement per heartbeat interval).
CREATE TABLE stent.workers (
    id           text PRIMARY KEY,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    queues       text[] NOT NULL,
    functions    text[] NOT NULL,
    tags         text[] NOT NULL DEFAULT '{}',
    concurrency  integer NOT NULL,
    state        text NOT NULL DEFAULT 'running',
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    CONSTRAINT workers_state_check CHECK (state IN ('running', 'draining', 'stopped'))
);

-- Defaults registered by workers for each function, used by SQL dispatches (psql, triggers)
-- that do not name a queue or retry policy.
CREATE TABLE stent.functions (
    name                 text PRIMARY KEY,
    kind                 text NOT NULL,
    queue                text NOT NULL,
    priority             smallint NOT NULL DEFAULT 0,
    tags                 text[] NOT NULL DEFAULT '{}',
    max_attempts         integer NOT NULL,
    retry_initial_delay  interval NOT NULL,
    retry_backoff_factor double precision NOT NULL,
    retry_max_delay      interval NOT NULL,
    retry_jitter         double precision NOT NULL,
    retry_on             text[] NOT NULL DEFAULT '{}',
    timeout              interval,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT functions_kind_check CHECK (kind IN ('workflow', 'activity'))
);

-- Single-row lease held by the worker that runs maintenance (rescue, retention).
CREATE TABLE stent.leader (
    name       text PRIMARY KEY DEFAULT 'default' CHECK (name = 'default'),
    leader_id  text NOT NULL,
    elected_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

---- create above / drop below ----

DROP SCHEMA stent CASCADE;
