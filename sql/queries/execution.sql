-- name: ExecutionCancel :one
-- The join reads the execution as it was before the cancel (the statement's snapshot), so the
-- caller knows whether this call cancelled it and which workflow it was (for metrics).
SELECT c.state::text AS state, coalesce(e.state, '')::text AS previous_state,
       coalesce(e.workflow, '')::text AS workflow
FROM stent.cancel_execution(@id::uuid) AS c(state)
LEFT JOIN stent.executions e ON e.id = @id::uuid;

-- name: ExecutionDispatchMany :many
SELECT d.ord::integer AS ord, d.execution_id::uuid AS execution_id, d.task_id::bigint AS task_id,
       d.created::boolean AS created
FROM stent.dispatch_many(@requests::jsonb) AS d;

-- name: ExecutionDispatchManyEarly :many
-- dispatch_many committed asynchronously (the transaction's synchronous_commit is off): the
-- tasks are visible to workers as soon as the commit is written; AwaitDurable follows.
WITH early AS (SELECT set_config('synchronous_commit', 'off', true) AS setting)
SELECT d.ord::integer AS ord, d.execution_id::uuid AS execution_id, d.task_id::bigint AS task_id,
       d.created::boolean AS created
FROM stent.dispatch_many(@requests::jsonb) AS d, early;

-- name: ExecutionDispatchOne :one
-- stent.dispatch_one with every option typed (NULL: the function's default). Early commits
-- asynchronously like ExecutionDispatchManyEarly (AwaitDurable follows); outside early the
-- setting is left as it is (the caller's transaction decides). A leased task carries its
-- fencing token (0 when not leased: tokens start above 0).
WITH early AS (
    SELECT set_config('synchronous_commit',
                      CASE WHEN @early::boolean THEN 'off' ELSE current_setting('synchronous_commit') END,
                      true) AS setting
)
SELECT d.execution_id::uuid AS execution_id, d.task_id::bigint AS task_id,
       d.created::boolean AS created, coalesce(d.lease_token, 0)::bigint AS lease_token,
       coalesce(d.started_at, 'epoch')::timestamptz AS started_at,
       coalesce(d.timeout_ms, 0)::double precision AS timeout_ms
FROM stent.dispatch_one(
         @name::text, @input::jsonb, @kind::text, @queue::text, @priority::integer, @tags::text[],
         sqlc.narg(run_at)::timestamptz, sqlc.narg(delay_ms)::double precision,
         sqlc.narg(idempotency_key)::text, sqlc.narg(deadline)::timestamptz,
         sqlc.narg(max_duration_ms)::double precision, @max_attempts::integer,
         @retry_initial_delay_ms::double precision, @retry_backoff_factor::double precision,
         @retry_max_delay_ms::double precision, @retry_jitter::double precision, @retry_on::text[],
         sqlc.narg(timeout_ms)::double precision, sqlc.narg(concurrency_key)::text,
         sqlc.narg(key_path)::text[], sqlc.narg(trace_context)::jsonb,
         sqlc.narg(worker_id)::text, sqlc.narg(queues)::text[], sqlc.narg(names)::text[],
         sqlc.narg(served_tags)::text[],
         make_interval(secs => sqlc.narg(lease_seconds)::double precision)) AS d, early;

-- name: AwaitDurable :exec
SELECT stent.await_durable();

-- name: ExecutionGet :one
SELECT * FROM stent.executions WHERE id = @id;

-- name: ExecutionGetMany :many
SELECT * FROM stent.executions WHERE id = ANY (@ids::uuid[]);

-- name: ExecutionList :many
SELECT * FROM stent.executions e
WHERE (sqlc.narg('state')::text IS NULL OR e.state = sqlc.narg('state')::text)
  AND (sqlc.narg('workflow')::text IS NULL OR e.workflow = sqlc.narg('workflow')::text)
  AND (sqlc.narg('queue')::text IS NULL OR e.queue = sqlc.narg('queue')::text)
  AND (sqlc.narg('tag')::text IS NULL OR sqlc.narg('tag')::text = ANY (e.tags))
  AND (sqlc.narg('since')::timestamptz IS NULL OR e.created_at >= sqlc.narg('since')::timestamptz)
  AND (sqlc.narg('before_created_at')::timestamptz IS NULL
       OR (e.created_at, e.id) < (sqlc.narg('before_created_at')::timestamptz, sqlc.narg('before_id')::uuid))
ORDER BY e.created_at DESC, e.id DESC
LIMIT @max_rows::integer;

-- name: ExecutionPurge :one
SELECT stent.purge(make_interval(secs => @older_than_seconds::double precision), @max_rows::integer,
                   @dead_letters::boolean)::bigint AS purged;

-- name: ExecutionSignal :one
SELECT stent.send_signal(@execution_id::uuid, @name::text, @payload::jsonb)::bigint AS signal_id;

-- name: ExecutionCounters :many
SELECT * FROM stent.counters WHERE execution_id = @execution_id ORDER BY name;

-- name: ExecutionProgress :many
SELECT * FROM stent.progress WHERE execution_id = @execution_id ORDER BY id;

-- name: ExecutionState :many
SELECT * FROM stent.state WHERE execution_id = @execution_id ORDER BY key;

-- name: ExecutionExpire :many
SELECT e.execution_id::uuid AS id, e.workflow::text AS workflow
FROM stent.expire_executions(@max_rows::integer) AS e;
