-- name: LimitsList :many
SELECT * FROM stent.limits ORDER BY name;

-- name: LimitsReset :one
SELECT stent.reset_limits(@name::text)::boolean AS reset;

-- name: LimitsSet :exec
SELECT stent.set_limits(@name::text, sqlc.narg('max_concurrent')::integer,
                        sqlc.narg('key_max_concurrent')::integer, sqlc.narg('rate')::integer,
                        make_interval(secs => sqlc.narg('rate_period_seconds')::double precision),
                        sqlc.narg('key_rate')::integer,
                        make_interval(secs => sqlc.narg('key_rate_period_seconds')::double precision));

-- name: PauseList :many
SELECT * FROM stent.pauses ORDER BY kind, name;

-- name: PauseSet :exec
SELECT stent.pause(@kind::text, @name::text);

-- name: PauseResume :one
SELECT stent.resume(@kind::text, @name::text)::boolean AS resumed;

-- name: TaskBlockers :many
SELECT b.reason::text AS reason, b.detail::text AS detail,
       coalesce(b.until, 'epoch')::timestamptz AS until, coalesce(b.holders, '{}')::text[] AS holders
FROM stent.task_blockers(@task_id::bigint) AS b;

-- name: FlowStatePrune :one
SELECT stent.prune_flow_state()::bigint AS pruned;
