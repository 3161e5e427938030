-- Stent's PL/pgSQL functions, installed as a tern code package after the migrations in
-- sql/schema: `stent.Migrate` does both; with the tern CLI run
--   tern migrate --migrations sql/schema --version-table public.stent_schema_version --conn-string URL
--   tern code install sql/functions --conn-string URL
-- Every file uses CREATE OR REPLACE, so installing again is harmless.
--
-- Domain errors are raised with custom SQLSTATEs (mapped to typed Go errors in one place,
-- internal/store/errors.go):
--   ST001 lease lost: the caller's fencing token no longer owns the task
--   ST002 not found: no such execution, task or dead letter
--   ST003 invalid argument: a malformed or out-of-range argument; nothing was changed
--   ST004 wrong state: the row exists but is not in a state that allows the operation
--
-- Rows named by id are found by id: where such a statement also checks the task's state, it
-- compares it with (SELECT '<state>'::text), a value the planner does not see at planning
-- time, so that it cannot answer the query from a partial index of that state (scanning all
-- pending, running or waiting tasks) instead of the primary key. Statistics taken when few
-- tasks were in that state make the partial index look nearly empty and such a scan cheap,
-- and a claim, completion, lease check or signal then reads the whole backlog for every
-- call.
--
-- Lock order, in every function that takes more than one: an execution's signal advisory lock
-- (send_signal, wait_signal), then dead letter, then task rows — children before their
-- parents (descending id within an execution) — then the execution row.
{{ template "time.sql" . }}
{{ template "validate.sql" . }}
{{ template "retry.sql" . }}
{{ template "dispatch.sql" . }}
{{ template "dispatch_one.sql" . }}
{{ template "claim.sql" . }}
{{ template "lease.sql" . }}
{{ template "complete.sql" . }}
{{ template "fail.sql" . }}
{{ template "rescue.sql" . }}
{{ template "cancel.sql" . }}
{{ template "dead_letter.sql" . }}
{{ template "purge.sql" . }}
{{ template "worker.sql" . }}
{{ template "flow.sql" . }}
{{ template "prune.sql" . }}
{{ template "lease_check.sql" . }}
{{ template "step.sql" . }}
{{ template "call.sql" . }}
{{ template "signal.sql" . }}
{{ template "effect.sql" . }}
{{ template "expire.sql" . }}
{{ template "explain.sql" . }}
{{ template "doctor.sql" . }}
{{ template "retry_execution.sql" . }}
