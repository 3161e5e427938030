-- Observability (issue 6): the trace context stored with each task, so that the span of an
-- attempt continues the trace of whoever created the task — the dispatching request for a
-- root task, the attempt of the calling workflow for a child — whichever process runs it.
-- A JSON object of W3C Trace Context headers ({"traceparent": "00-…", "tracestate": "…"}),
-- NULL when the creator was not traced (the default: tracing off costs a NULL column).
ALTER TABLE stent.tasks ADD COLUMN trace_context jsonb;
ALTER TABLE stent.tasks ADD CONSTRAINT tasks_trace_context_check
    CHECK (trace_context IS NULL OR (jsonb_typeof(trace_context) = 'object' AND octet_length(trace_context::text) <= 4096));

---- create above / drop below ----

ALTER TABLE stent.tasks DROP CONSTRAINT tasks_trace_context_check;
ALTER TABLE stent.tasks DROP COLUMN trace_context;
