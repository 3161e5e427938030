-- name: OpsDeadLetterDiscardBatch :one
-- Discards up to max_rows dead letters (oldest first) older than older_than (0: any age), optionally of
-- one function, through stent.discard_dead_letter; returns how many it deleted.
SELECT count(*) FILTER (WHERE x.discarded)::bigint AS discarded
FROM (
    SELECT stent.discard_dead_letter(d.id) AS discarded
    FROM (
        SELECT dl.id FROM stent.dead_letters dl
        WHERE (sqlc.narg('name')::text IS NULL OR dl.name = sqlc.narg('name')::text)
          AND (@older_than_seconds::double precision <= 0
               OR dl.created_at < stent.current_time() - make_interval(secs => @older_than_seconds::double precision))
        ORDER BY dl.id
        LIMIT @max_rows::integer
    ) AS d
) AS x;

-- name: OpsDeadLetterCountFiltered :one
SELECT count(*)::bigint AS count FROM stent.dead_letters dl
WHERE (sqlc.narg('name')::text IS NULL OR dl.name = sqlc.narg('name')::text)
  AND (@older_than_seconds::double precision <= 0
       OR dl.created_at < stent.current_time() - make_interval(secs => @older_than_seconds::double precision));
