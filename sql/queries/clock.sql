-- name: CurrentTime :one
SELECT stent.current_time()::timestamptz AS now;
