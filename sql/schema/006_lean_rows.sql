-- Cheaper writes to the two hot tables (measured in docs/benchmarks.md):
--
-- * PostgreSQL prepares every CHECK constraint of a table each time a statement writes to it,
--   so fifteen small constraints on stent.tasks cost more per claim, completion or step than
--   the row itself. Each table keeps the same rules in two constraints: <table>_valid (states,
--   kinds, names, leases, attempts, retry policy) and <table>_payload_size (the backstop for
--   the client's payload limit, mapped to ErrPayloadTooLarge).
-- * Foreign keys to and from stent.tasks are dropped: each task insert locked its parent task
--   and its execution row (FOR KEY SHARE, a WAL record each), and every update ran their
--   triggers. The functions that insert tasks read the parent under its lease in the same
--   statement, stent.purge deletes an execution's tasks itself, and `stent doctor` reports
--   any orphan. Rows of the other tables still go with their execution (ON DELETE CASCADE).
ALTER TABLE stent.tasks
    DROP CONSTRAINT tasks_kind_check,
    DROP CONSTRAINT tasks_state_check,
    DROP CONSTRAINT tasks_finished_check,
    DROP CONSTRAINT tasks_lease_check,
    DROP CONSTRAINT tasks_name_check,
    DROP CONSTRAINT tasks_queue_check,
    DROP CONSTRAINT tasks_seq_check,
    DROP CONSTRAINT tasks_attempt_check,
    DROP CONSTRAINT tasks_retry_check,
    DROP CONSTRAINT tasks_timeout_check,
    DROP CONSTRAINT tasks_input_size,
    DROP CONSTRAINT tasks_output_size,
    DROP CONSTRAINT tasks_error_size,
    DROP CONSTRAINT tasks_concurrency_key_check,
    DROP CONSTRAINT tasks_wait_check,
    DROP CONSTRAINT tasks_trace_context_check,
    DROP CONSTRAINT tasks_execution_id_fkey,
    DROP CONSTRAINT tasks_parent_task_id_fkey,
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
        AND (trace_context IS NULL OR jsonb_typeof(trace_context) = 'object')),
    ADD CONSTRAINT tasks_payload_size CHECK (
        (input IS NULL OR octet_length(input::text) <= 2097152)
        AND (output IS NULL OR octet_length(output::text) <= 2097152)
        AND (error IS NULL OR octet_length(error::text) <= 2097152)
        AND (trace_context IS NULL OR octet_length(trace_context::text) <= 4096));

ALTER TABLE stent.executions
    DROP CONSTRAINT executions_state_check,
    DROP CONSTRAINT executions_finished_check,
    DROP CONSTRAINT executions_workflow_check,
    DROP CONSTRAINT executions_queue_check,
    DROP CONSTRAINT executions_idempotency_key_check,
    DROP CONSTRAINT executions_input_size,
    DROP CONSTRAINT executions_output_size,
    DROP CONSTRAINT executions_error_size,
    ADD CONSTRAINT executions_valid CHECK (
        state IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'timed_out')
        AND (state IN ('completed', 'failed', 'cancelled', 'timed_out')) = (finished_at IS NOT NULL)
        AND char_length(workflow) BETWEEN 1 AND 200
        AND char_length(queue) BETWEEN 1 AND 128
        AND (idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 512)),
    ADD CONSTRAINT executions_payload_size CHECK (
        octet_length(input::text) <= 2097152
        AND (output IS NULL OR octet_length(output::text) <= 2097152)
        AND (error IS NULL OR octet_length(error::text) <= 2097152));

ALTER TABLE stent.dead_letters DROP CONSTRAINT dead_letters_task_id_fkey;
ALTER TABLE stent.signals DROP CONSTRAINT signals_consumed_by_fkey;
ALTER TABLE stent.progress DROP CONSTRAINT progress_task_id_fkey;

---- create above / drop below ----

ALTER TABLE stent.progress ADD CONSTRAINT progress_task_id_fkey
    FOREIGN KEY (task_id) REFERENCES stent.tasks (id) ON DELETE CASCADE;
ALTER TABLE stent.signals ADD CONSTRAINT signals_consumed_by_fkey
    FOREIGN KEY (consumed_by) REFERENCES stent.tasks (id) ON DELETE SET NULL;
ALTER TABLE stent.dead_letters ADD CONSTRAINT dead_letters_task_id_fkey
    FOREIGN KEY (task_id) REFERENCES stent.tasks (id) ON DELETE CASCADE;

ALTER TABLE stent.executions
    DROP CONSTRAINT executions_valid,
    DROP CONSTRAINT executions_payload_size,
    ADD CONSTRAINT executions_state_check
        CHECK (state IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'timed_out')),
    ADD CONSTRAINT executions_finished_check
        CHECK ((state IN ('completed', 'failed', 'cancelled', 'timed_out')) = (finished_at IS NOT NULL)),
    ADD CONSTRAINT executions_workflow_check CHECK (char_length(workflow) BETWEEN 1 AND 200),
    ADD CONSTRAINT executions_queue_check CHECK (char_length(queue) BETWEEN 1 AND 128),
    ADD CONSTRAINT executions_idempotency_key_check
        CHECK (idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 512),
    ADD CONSTRAINT executions_input_size CHECK (octet_length(input::text) <= 2097152),
    ADD CONSTRAINT executions_output_size CHECK (output IS NULL OR octet_length(output::text) <= 2097152),
    ADD CONSTRAINT executions_error_size CHECK (error IS NULL OR octet_length(error::text) <= 2097152);

ALTER TABLE stent.tasks
    DROP CONSTRAINT tasks_valid,
    DROP CONSTRAINT tasks_payload_size,
    ADD CONSTRAINT tasks_execution_id_fkey
        FOREIGN KEY (execution_id) REFERENCES stent.executions (id) ON DELETE CASCADE,
    ADD CONSTRAINT tasks_parent_task_id_fkey
        FOREIGN KEY (parent_task_id) REFERENCES stent.tasks (id) ON DELETE CASCADE,
    ADD CONSTRAINT tasks_kind_check CHECK (kind IN ('workflow', 'activity', 'step', 'sleep', 'signal')),
    ADD CONSTRAINT tasks_state_check
        CHECK (state IN ('pending', 'running', 'waiting', 'completed', 'failed', 'cancelled')),
    ADD CONSTRAINT tasks_finished_check
        CHECK ((state IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    ADD CONSTRAINT tasks_lease_check
        CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    ADD CONSTRAINT tasks_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    ADD CONSTRAINT tasks_queue_check CHECK (char_length(queue) BETWEEN 1 AND 128),
    ADD CONSTRAINT tasks_seq_check CHECK ((parent_task_id IS NULL) = (seq IS NULL) AND (seq IS NULL OR seq >= 0)),
    ADD CONSTRAINT tasks_attempt_check CHECK (attempt >= 0 AND max_attempts >= 1),
    ADD CONSTRAINT tasks_retry_check CHECK (
        retry_initial_delay >= interval '0' AND retry_max_delay >= interval '0'
        AND retry_backoff_factor >= 1 AND retry_jitter >= 0 AND retry_jitter <= 1),
    ADD CONSTRAINT tasks_timeout_check CHECK (timeout IS NULL OR timeout > interval '0'),
    ADD CONSTRAINT tasks_input_size CHECK (input IS NULL OR octet_length(input::text) <= 2097152),
    ADD CONSTRAINT tasks_output_size CHECK (output IS NULL OR octet_length(output::text) <= 2097152),
    ADD CONSTRAINT tasks_error_size CHECK (error IS NULL OR octet_length(error::text) <= 2097152),
    ADD CONSTRAINT tasks_concurrency_key_check
        CHECK (concurrency_key IS NULL OR char_length(concurrency_key) BETWEEN 1 AND 256),
    ADD CONSTRAINT tasks_wait_check CHECK (wait_remaining >= 0),
    ADD CONSTRAINT tasks_trace_context_check
        CHECK (trace_context IS NULL OR (jsonb_typeof(trace_context) = 'object' AND octet_length(trace_context::text) <= 4096));
