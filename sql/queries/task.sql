-- name: TaskClaim :many
SELECT * FROM stent.claim_tasks(@worker_id::text, @queues::text[], @names::text[], @tags::text[],
                                @max_tasks::integer, make_interval(secs => @lease_seconds::double precision));

-- name: TaskComplete :exec
SELECT stent.complete_task(@task_id::bigint, @token::bigint, @output::jsonb);

-- name: TaskCompleteMany :many
SELECT c.task_id::bigint AS task_id, c.ok::boolean AS ok
FROM stent.complete_tasks(@task_ids::bigint[], @tokens::bigint[], @outputs::jsonb[]) AS c;

-- name: TaskFail :one
SELECT f.state::text AS state, coalesce(f.run_at, 'epoch')::timestamptz AS run_at
FROM stent.fail_task(@task_id::bigint, @token::bigint, @error::jsonb, @retryable::boolean,
                     make_interval(secs => sqlc.narg('retry_after_seconds')::double precision),
                     @scope::text) AS f;

-- name: TaskGet :one
SELECT * FROM stent.tasks WHERE id = @id;

-- name: TaskListByExecution :many
SELECT * FROM stent.tasks WHERE execution_id = @execution_id ORDER BY id;

-- name: TaskNextDue :one
SELECT coalesce(stent.next_due(@queues::text[], @names::text[], @tags::text[]), -1)::double precision AS seconds;

-- name: TaskRelease :many
SELECT r::bigint AS task_id FROM stent.release_tasks(@task_ids::bigint[], @tokens::bigint[]) AS r;

-- name: TaskRenewLeases :many
SELECT r::bigint AS task_id
FROM stent.renew_leases(@worker_id::text, @task_ids::bigint[], @tokens::bigint[],
                        make_interval(secs => @lease_seconds::double precision)) AS r;

-- name: TaskRescueExpired :many
SELECT r.task_id::bigint AS task_id, r.state::text AS state, r.name::text AS name,
       r.queue::text AS queue, r.execution_id::uuid AS execution_id, r.root::boolean AS root
FROM stent.rescue_expired(@max_tasks::integer) AS r;

-- name: TaskListChildren :many
SELECT * FROM stent.tasks WHERE parent_task_id = @parent_task_id ORDER BY seq;

-- name: TaskRecordStep :one
SELECT * FROM stent.record_step(@parent_task_id::bigint, @token::bigint, @seq::integer, @kind::text,
                                @name::text, @output::jsonb);

-- name: TaskCallChild :one
SELECT * FROM stent.call_child(@parent_task_id::bigint, @token::bigint, @seq::integer, @request::jsonb);

-- name: TaskRecordSleep :one
SELECT * FROM stent.record_sleep(@parent_task_id::bigint, @token::bigint, @seq::integer, @name::text,
                                 make_interval(secs => @duration_seconds::double precision),
                                 sqlc.narg('until')::timestamptz);

-- name: TaskSuspend :one
SELECT stent.suspend_task(@task_id::bigint, @token::bigint, @awaiting::bigint[],
                          sqlc.narg('until')::timestamptz)::boolean AS suspended;

-- name: TaskWaitSignal :one
SELECT w.state::text AS state, coalesce(w.payload, 'null')::jsonb AS payload, w.deadline::timestamptz AS deadline
FROM stent.wait_signal(@parent_task_id::bigint, @token::bigint, @seq::integer, @name::text,
                       make_interval(secs => @timeout_seconds::double precision)) AS w;

-- name: TaskRecordEffect :one
SELECT * FROM stent.record_effect(@parent_task_id::bigint, @token::bigint, @seq::integer, @kind::text,
                                  @name::text, @value::jsonb);

-- name: TaskQueueStats :many
-- One aggregate over the pending tasks (tasks_claim_idx): per queue, the tasks due now, the
-- delayed ones, and the age of the oldest due task on the database clock.
SELECT t.queue::text AS queue,
       (count(*) FILTER (WHERE t.run_at <= n.now))::bigint AS due,
       (count(*) FILTER (WHERE t.run_at > n.now))::bigint AS delayed,
       coalesce(extract(epoch FROM n.now - min(t.run_at) FILTER (WHERE t.run_at <= n.now)), 0)::double precision
           AS oldest_due_seconds
FROM stent.tasks t, (SELECT stent.current_time() AS now) n
WHERE t.state = 'pending'
GROUP BY t.queue, n.now
ORDER BY t.queue;

-- name: TaskRecordSteps :many
SELECT r.ord::integer AS ord, r.lease_lost::boolean AS lease_lost, coalesce(r.kind, '')::text AS kind,
       coalesce(r.name, '')::text AS name, r.output::jsonb AS output
FROM stent.record_steps(@steps::jsonb) AS r;

-- name: TaskCallChildren :many
SELECT * FROM stent.call_children(@calls::jsonb);
