-- Cheaper row checks on the two hot tables (measured in docs/benchmarks.md and
-- bench/notes.md). PostgreSQL deserializes and prepares every CHECK expression of a table in
-- each statement that writes to it, so the size of tasks_valid and executions_valid was paid
-- by every dispatch, claim, completion and step: about 0.08 ms of a 0.64 ms single dispatch.
-- The checks kept here are the ones only the table can guarantee — known kinds and states,
-- finished_at set exactly in terminal states, a lease exactly while running, call positions,
-- attempt counts, the length of a concurrency key (it may come from the input, and it is
-- indexed) — and the payload-size backstops. The argument rules dropped from the table
-- (lengths of names, queues and idempotency keys, retry-policy ranges, a positive timeout,
-- the trace context being an object) are checked where arguments enter: the Go client's
-- validation and the SQL functions' own checks (stent.dispatch_many, stent.call_children,
-- stent.record_steps, ...: ST003), before anything is written.
ALTER TABLE stent.tasks
    DROP CONSTRAINT tasks_valid,
    ADD CONSTRAINT tasks_valid CHECK (
        kind IN ('workflow', 'activity', 'step', 'sleep', 'signal')
        AND state IN ('pending', 'running', 'waiting', 'completed', 'failed', 'cancelled')
        AND (state IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)
        AND (state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)
        AND (parent_task_id IS NULL) = (seq IS NULL) AND (seq IS NULL OR seq >= 0)
        AND attempt >= 0 AND max_attempts >= 1 AND wait_remaining >= 0
        AND (concurrency_key IS NULL OR char_length(concurrency_key) BETWEEN 1 AND 256));

ALTER TABLE stent.executions
    DROP CONSTRAINT executions_valid,
    ADD CONSTRAINT executions_valid CHECK (
        state IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'timed_out')
        AND (state IN ('completed', 'failed', 'cancelled', 'timed_out')) = (finished_at IS NOT NULL));

---- create above / drop below ----

ALTER TABLE stent.executions
    DROP CONSTRAINT executions_valid,
    ADD CONSTRAINT executions_valid CHECK (
        state IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'timed_out')
        AND (state IN ('completed', 'failed', 'cancelled', 'timed_out')) = (finished_at IS NOT NULL)
        AND char_length(workflow) BETWEEN 1 AND 200
        AND char_length(queue) BETWEEN 1 AND 128
        AND (idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 512));

ALTER TABLE stent.tasks
    DROP CONSTRAINT tasks_valid,
    ADD CONSTRAINT tasks_valid CHECK (
        kind IN ('workflow', 'activity', 'step', 'sleep', 'signal')
        AND state IN ('pending', 'running', 'waiting', 'completed', 'failed', 'cancelled')
        AND (state IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)
        AND (state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)
        AND char_length(name) BETWEEN 1 AND 200
        AND char_length(queue) BETWEEN 1 AND 128
        AND (parent_task_id IS NULL) = (seq IS NULL) AND (seq IS NULL OR seq >= 0)
        AND attempt >= 0 AND max_attempts >= 1
        AND retry_initial_delay >= interval '0' AND retry_max_delay >= interval '0'
        AND retry_backoff_factor >= 1 AND retry_jitter >= 0 AND retry_jitter <= 1
        AND (timeout IS NULL OR timeout > interval '0')
        AND (concurrency_key IS NULL OR char_length(concurrency_key) BETWEEN 1 AND 256)
        AND wait_remaining >= 0
        AND (trace_context IS NULL OR jsonb_typeof(trace_context) = 'object'));
