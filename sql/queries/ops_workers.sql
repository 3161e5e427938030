-- name: OpsWorkerList :many
-- Registered workers with the number of tasks each holds a lease on. A worker is live when it
-- runs and heartbeat within 2 minutes (the liveness stent.task_blockers uses).
SELECT w.id, w.hostname, w.pid, w.queues, w.functions, w.tags, w.concurrency, w.state,
       w.started_at, w.heartbeat_at,
       (w.state <> 'stopped' AND w.heartbeat_at > stent.current_time() - interval '2 minutes')::boolean AS live,
       (SELECT count(*) FROM stent.tasks t WHERE t.state = 'running' AND t.lease_owner = w.id)::bigint AS held
FROM stent.workers w
ORDER BY w.started_at, w.id;
