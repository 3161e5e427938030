-- name: RetryExecution :one
SELECT stent.retry_execution(@execution_id::uuid)::integer AS reset;
