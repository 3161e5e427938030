-- name: DeadLetterDiscard :one
SELECT stent.discard_dead_letter(@id::bigint)::boolean AS discarded;

-- name: DeadLetterGet :one
SELECT * FROM stent.dead_letters WHERE id = @id;

-- name: DeadLetterList :many
SELECT * FROM stent.dead_letters d
WHERE (sqlc.narg('name')::text IS NULL OR d.name = sqlc.narg('name')::text)
  AND (sqlc.narg('before_id')::bigint IS NULL OR d.id < sqlc.narg('before_id')::bigint)
ORDER BY d.id DESC
LIMIT @max_rows::integer;

-- name: DeadLetterReplay :one
SELECT stent.replay_dead_letter(@id::bigint)::bigint AS task_id;
