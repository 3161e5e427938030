-- name: OpsNow :one
SELECT stent.current_time()::timestamptz AS now;

-- name: OpsExecutionCounts :many
SELECT e.state::text AS state, count(*)::bigint AS count
FROM stent.executions e
GROUP BY e.state
ORDER BY e.state;

-- name: OpsTaskCounts :many
SELECT t.state::text AS state, count(*)::bigint AS count
FROM stent.tasks t
GROUP BY t.state
ORDER BY t.state;

-- name: OpsQueueDepths :many
-- Pending (due now or later) and running tasks per queue, and how many pending ones are due.
SELECT t.queue::text AS queue,
       count(*) FILTER (WHERE t.state = 'pending')::bigint AS pending,
       count(*) FILTER (WHERE t.state = 'pending' AND t.run_at <= stent.current_time())::bigint AS due,
       count(*) FILTER (WHERE t.state = 'running')::bigint AS running
FROM stent.tasks t
WHERE t.state IN ('pending', 'running')
GROUP BY t.queue
ORDER BY t.queue;

-- name: OpsDeadLetterCount :one
SELECT count(*)::bigint AS count FROM stent.dead_letters;

-- name: OpsThroughput :one
-- Executions that finished within the window, by outcome.
SELECT count(*) FILTER (WHERE e.state = 'completed')::bigint AS completed,
       count(*) FILTER (WHERE e.state IN ('failed', 'timed_out'))::bigint AS failed,
       count(*) FILTER (WHERE e.state = 'cancelled')::bigint AS cancelled
FROM stent.executions e
WHERE e.finished_at >= stent.current_time() - make_interval(secs => @window_seconds::double precision);

-- name: OpsPurgeCount :one
-- What stent.purge would delete now (a dry run): executions finished before the cutoff, their
-- tasks, and the executions kept because they still have dead letters.
SELECT count(*) FILTER (WHERE @dead_letters::boolean OR NOT x.has_dead_letters)::bigint AS executions,
       coalesce(sum(x.tasks) FILTER (WHERE @dead_letters::boolean OR NOT x.has_dead_letters), 0)::bigint AS tasks,
       count(*) FILTER (WHERE NOT @dead_letters::boolean AND x.has_dead_letters)::bigint AS kept
FROM (
    SELECT EXISTS (SELECT 1 FROM stent.dead_letters d WHERE d.execution_id = e.id) AS has_dead_letters,
           (SELECT count(*) FROM stent.tasks t WHERE t.execution_id = e.id) AS tasks
    FROM stent.executions e
    WHERE e.created_at < stent.current_time() - make_interval(secs => @older_than_seconds::double precision)
      AND e.finished_at < stent.current_time() - make_interval(secs => @older_than_seconds::double precision)
) AS x;
