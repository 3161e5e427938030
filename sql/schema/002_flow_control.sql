-- Flow control, enforced inside stent.claim_tasks: cluster-wide and per-key concurrency
-- limits, rate limits (sliding windows on the database clock), pauses of queues and
-- functions, and shared back-offs requested with RetryAfter.

-- The key per-key limits and back-offs apply to: set at dispatch, or extracted from the
-- input with the function's key path. NULL: the task is only subject to function-wide limits.
ALTER TABLE stent.tasks ADD COLUMN concurrency_key text;
ALTER TABLE stent.tasks ADD CONSTRAINT tasks_concurrency_key_check
    CHECK (concurrency_key IS NULL OR char_length(concurrency_key) BETWEEN 1 AND 256);

-- Running tasks by function and key: what concurrency limits count (and the rescuer scans).
DROP INDEX stent.tasks_running_idx;
CREATE INDEX tasks_running_idx ON stent.tasks (name, concurrency_key) WHERE state = 'running';

-- Pending tasks by function and key in claim order: claims of limited functions find their
-- tasks here (per-key limits walk the distinct keys and each key's first tasks) instead of
-- walking a queue's whole backlog.
-- (coalesce, so that "no key" is an equality the planner can walk in order.)
CREATE INDEX tasks_key_claim_idx
    ON stent.tasks (name, (coalesce(concurrency_key, '')), priority DESC, run_at, id)
    WHERE state = 'pending';

-- JSON path (as for #>>) of the concurrency key inside a function's input.
ALTER TABLE stent.functions ADD COLUMN key_path text[];

-- Limits per function. Workers register the values of their definitions; stent.set_limits
-- (SQL, CLI, Go) overrides them at run time until stent.reset_limits. NULL: no limit.
CREATE TABLE stent.limits (
    name               text PRIMARY KEY,
    max_concurrent     integer,
    key_max_concurrent integer,
    rate               integer,
    rate_period        interval,
    key_rate           integer,
    key_rate_period    interval,
    overridden         boolean NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT limits_positive_check CHECK (
        coalesce(max_concurrent, 1) > 0 AND coalesce(key_max_concurrent, 1) > 0
        AND coalesce(rate, 1) > 0 AND coalesce(key_rate, 1) > 0),
    CONSTRAINT limits_rate_check CHECK (
        (rate IS NULL) = (rate_period IS NULL) AND (key_rate IS NULL) = (key_rate_period IS NULL)
        AND coalesce(rate_period, interval '1 second') > interval '0'
        AND coalesce(key_rate_period, interval '1 second') > interval '0')
);

-- Start times inside the current rate window, per function (key '') and per key.
CREATE TABLE stent.rate_windows (
    name   text NOT NULL,
    key    text NOT NULL DEFAULT '',
    starts timestamptz[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (name, key)
);

-- Paused queues and functions: their pending tasks are not claimed; running ones finish.
CREATE TABLE stent.pauses (
    kind      text NOT NULL,
    name      text NOT NULL,
    paused_at timestamptz NOT NULL,
    PRIMARY KEY (kind, name),
    CONSTRAINT pauses_kind_check CHECK (kind IN ('queue', 'function'))
);

-- Shared back-offs (RetryAfter with a function or key scope): no task of the function (key
-- '') or of the key starts before until.
CREATE TABLE stent.backoffs (
    name  text NOT NULL,
    key   text NOT NULL DEFAULT '',
    until timestamptz NOT NULL,
    PRIMARY KEY (name, key)
);

---- create above / drop below ----

DROP TABLE stent.backoffs;
DROP TABLE stent.pauses;
DROP TABLE stent.rate_windows;
DROP TABLE stent.limits;
ALTER TABLE stent.functions DROP COLUMN key_path;
DROP INDEX stent.tasks_key_claim_idx;
DROP INDEX stent.tasks_running_idx;
CREATE INDEX tasks_running_idx ON stent.tasks (id) WHERE state = 'running';
ALTER TABLE stent.tasks DROP COLUMN concurrency_key;
