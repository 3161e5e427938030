-- Findings of stent.doctor / stent.doctor_fix. NULLs come back as zero values (no execution:
-- '', no task: 0, no action: '') so that the generated row types need no pointers.

-- name: Doctor :many
SELECT d.check_name::text AS check_name, d.severity::text AS severity,
       coalesce(d.execution_id::text, '')::text AS execution_id, coalesce(d.task_id, 0)::bigint AS task_id,
       d.detail::text AS detail, d.fixable::boolean AS fixable
FROM stent.doctor(@grace::interval, @bloat_ratio::double precision, @bloat_min_dead::bigint,
                  @xmin_age::bigint) AS d
ORDER BY d.severity, d.check_name, d.execution_id, d.task_id;

-- name: DoctorFix :many
SELECT d.check_name::text AS check_name, d.severity::text AS severity,
       coalesce(d.execution_id::text, '')::text AS execution_id, coalesce(d.task_id, 0)::bigint AS task_id,
       d.detail::text AS detail, d.fixable::boolean AS fixable, coalesce(d.action, '')::text AS action
FROM stent.doctor_fix(@grace::interval, @bloat_ratio::double precision, @bloat_min_dead::bigint,
                      @xmin_age::bigint) AS d;
