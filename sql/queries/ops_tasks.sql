-- name: OpsTaskList :many
-- Tasks newest first with optional filters; keyset paging on id.
SELECT * FROM stent.tasks t
WHERE (sqlc.narg('state')::text IS NULL OR t.state = sqlc.narg('state')::text)
  AND (sqlc.narg('queue')::text IS NULL OR t.queue = sqlc.narg('queue')::text)
  AND (sqlc.narg('name')::text IS NULL OR t.name = sqlc.narg('name')::text)
  AND (sqlc.narg('kind')::text IS NULL OR t.kind = sqlc.narg('kind')::text)
  AND (sqlc.narg('execution_id')::uuid IS NULL OR t.execution_id = sqlc.narg('execution_id')::uuid)
  AND (sqlc.narg('worker')::text IS NULL OR t.lease_owner = sqlc.narg('worker')::text)
  AND (sqlc.narg('before_id')::bigint IS NULL OR t.id < sqlc.narg('before_id')::bigint)
ORDER BY t.id DESC
LIMIT @max_rows::integer;

-- name: OpsActiveExecutions :many
-- Unfinished executions, newest first, with their task counts (for progress bars).
SELECT e.id, e.workflow, e.state, e.queue, e.created_at, e.started_at,
       count(t.id)::bigint AS tasks,
       count(t.id) FILTER (WHERE t.state IN ('completed', 'failed', 'cancelled'))::bigint AS finished_tasks
FROM (
    SELECT x.* FROM stent.executions x
    WHERE x.state IN ('pending', 'running')
    ORDER BY x.created_at DESC, x.id DESC
    LIMIT @max_rows::integer
) AS e
LEFT JOIN stent.tasks t ON t.execution_id = e.id
GROUP BY e.id, e.workflow, e.state, e.queue, e.created_at, e.started_at
ORDER BY e.created_at DESC, e.id DESC;

-- name: OpsRecentFinished :many
-- The newest finished executions (walks the created_at index).
SELECT * FROM stent.executions e
WHERE e.finished_at IS NOT NULL
ORDER BY e.created_at DESC, e.id DESC
LIMIT @max_rows::integer;
