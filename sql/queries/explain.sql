-- name: Explain :many
SELECT r.task_id::bigint AS task_id, r.task_name::text AS task_name, r.task_kind::text AS task_kind,
       r.task_state::text AS task_state, r.reason::text AS reason, r.detail::text AS detail,
       coalesce(r.until, 'epoch')::timestamptz AS until, coalesce(r.worker_id, '')::text AS worker_id,
       coalesce(r.holders, '{}')::text[] AS holders
FROM stent.explain(@execution_id::uuid) AS r;
