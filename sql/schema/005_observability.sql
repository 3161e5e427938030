-- Observability (issue 6): the trace context stored with each task.
-- Placeholder: filled in by the tracing work.
SELECT 1;

---- create above / drop below ----

SELECT 1;
