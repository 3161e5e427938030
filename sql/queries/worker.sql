-- name: CodeVersion :one
SELECT stent.code_version()::integer AS version;

-- name: FunctionRegister :exec
SELECT stent.register_functions(@functions::jsonb);

-- name: LeaderResign :one
SELECT stent.resign_leader(@worker_id::text)::boolean AS resigned;

-- name: LeaderTryLead :one
SELECT stent.try_lead(@worker_id::text, make_interval(secs => @ttl_seconds::double precision))::boolean AS leading;

-- name: WorkerList :many
SELECT * FROM stent.workers ORDER BY started_at, id;

-- name: WorkerRegister :exec
SELECT stent.register_worker(@worker_id::text, @hostname::text, @pid::integer, @queues::text[],
                             @functions::text[], @tags::text[], @concurrency::integer);

-- name: WorkerSetState :exec
SELECT stent.set_worker_state(@worker_id::text, @state::text);

-- name: RelationExists :one
SELECT (to_regclass(@name::text) IS NOT NULL)::boolean AS exists;
