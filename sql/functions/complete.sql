-- stent.complete_tasks: records the results of many attempts in one statement (the worker's
-- batched completer). Each (id, token) pair completes only if the task is still running under
-- that fencing token; otherwise it is reported ok = false (lease lost) and nothing changes.
-- A completed root task completes its execution (unless the execution is already terminal:
-- terminal states are sticky), and finished executions are announced on 'stent_executions'
-- with their ids, comma separated, at most 100 per notification. Completed calls of running
-- workflows (which may be waiting for them in a worker's memory) are announced the same way
-- on 'stent_calls', so that the waiting worker resumes at once wherever the call ran.
CREATE OR REPLACE FUNCTION stent.complete_tasks(
    p_task_ids bigint[],
    p_tokens bigint[],
    p_outputs jsonb[]
)
RETURNS TABLE (task_id bigint, ok boolean)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now  timestamptz := stent.current_time();
    v_done   bigint[];
    v_exec   uuid[];
    v_names   text[];
    v_queues  text[];
    v_parents bigint[];
    v_calls   bigint[];
    v_cached  jsonb;
BEGIN
    IF cardinality(p_task_ids) <> cardinality(p_tokens) OR cardinality(p_task_ids) <> cardinality(p_outputs) THEN
        RAISE EXCEPTION 'stent.complete_tasks: arrays differ in length' USING ERRCODE = 'ST003';
    END IF;

    WITH u AS (
        SELECT * FROM unnest(p_task_ids, p_tokens, p_outputs) AS u(id, token, output) ORDER BY u.id
    ),
    done AS (
        UPDATE stent.tasks t
        SET state = 'completed',
            output = CASE WHEN t.parent_task_id IS NULL THEN NULL ELSE u.output END,
            error = NULL,
            finished_at = v_now,
            lease_owner = NULL,
            lease_expires_at = NULL
        FROM u
        WHERE t.id = u.id AND t.lease_token = u.token AND t.state = (SELECT 'running'::text)
        RETURNING t.id, t.execution_id, t.parent_task_id, t.name, t.queue, t.wakes_parent, t.cache_key,
                  t.cache_ttl, u.output
    ),

    finished AS (
        UPDATE stent.executions e
        SET state = 'completed', output = coalesce(d.output, 'null'::jsonb), finished_at = v_now
        FROM done d
        WHERE d.parent_task_id IS NULL AND e.id = d.execution_id
          AND e.state IN ('pending', 'running')
        RETURNING e.id
    )
    SELECT (SELECT array_agg(id) FROM done), (SELECT array_agg(id) FROM finished),
           (SELECT array_agg(name) FROM done), (SELECT array_agg(queue) FROM done),
           (SELECT array_agg(parent_task_id) FROM done WHERE wakes_parent),
           (SELECT array_agg(id) FROM done WHERE parent_task_id IS NOT NULL AND NOT wakes_parent),
           (SELECT jsonb_agg(jsonb_build_object('id', id, 'key', cache_key, 'output', output,
                                                'ttl_s', extract(epoch FROM cache_ttl)))
            FROM done WHERE cache_key IS NOT NULL)
    INTO v_done, v_exec, v_names, v_queues, v_parents, v_calls, v_cached;

    IF v_cached IS NOT NULL THEN
        v_parents := coalesce(v_parents, '{}') || stent.fill_cache(v_cached, v_now);
    END IF;

    PERFORM stent.wake_parents(v_parents, v_now);
    PERFORM stent.notify_finished(v_exec);
    PERFORM pg_notify('stent_calls', string_agg(x.id::text, ','))
    FROM (SELECT id, (row_number() OVER () - 1) / 100 AS g FROM unnest(v_calls) AS id) x
    GROUP BY x.g;
    PERFORM stent.notify_slots_freed(v_names, v_queues);

    RETURN QUERY
    SELECT u.id, u.id = ANY (coalesce(v_done, '{}'))
    FROM unnest(p_task_ids) AS u(id);
END;
$$;

-- stent.complete_task: completes one attempt; raises ST001 (lease lost) when the token no
-- longer owns the task. Used for transactional activities, whose completion commits in the
-- same transaction as their own writes.
CREATE OR REPLACE FUNCTION stent.complete_task(p_task_id bigint, p_token bigint, p_output jsonb)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (SELECT c.ok FROM stent.complete_tasks(ARRAY[p_task_id], ARRAY[p_token], ARRAY[p_output]) AS c) THEN
        RAISE EXCEPTION 'stent.complete_task: lease lost for task % (token %)', p_task_id, p_token
            USING ERRCODE = 'ST001';
    END IF;
END;
$$;

-- stent.notify_finished: announces finished executions to waiting clients on
-- 'stent_executions', 100 comma-separated ids per notification (payloads stay far below the
-- 8000-byte limit).
CREATE OR REPLACE FUNCTION stent.notify_finished(p_execution_ids uuid[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('stent_executions', string_agg(x.id::text, ','))
    FROM (SELECT id, (row_number() OVER () - 1) / 100 AS g FROM unnest(p_execution_ids) AS id) x
    GROUP BY x.g;
END;
$$;

-- stent.notify_slots_freed: after tasks of the given functions (parallel arrays of names and
-- queues) stopped running, wakes the workers of those queues where the function has a
-- concurrency limit, so a task held back by it is claimed at once. Costs one indexed lookup
-- when no limits exist.
CREATE OR REPLACE FUNCTION stent.notify_slots_freed(p_names text[], p_queues text[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('stent_tasks', x.queue)
    FROM (
        SELECT DISTINCT u.queue
        FROM unnest(p_names, p_queues) AS u(name, queue)
        JOIN stent.limits l ON l.name = u.name
        WHERE l.max_concurrent IS NOT NULL OR l.key_max_concurrent IS NOT NULL
    ) x;
END;
$$;

-- stent.wake_parents: one entry per awaited child that just finished (a parent appears once
-- per such child): each waiting parent's wait_remaining drops by its count, and a parent with
-- nothing left to wait for becomes pending, due now, and its queue is notified. Lock order:
-- the children were locked first by the caller, then the parents here.
CREATE OR REPLACE FUNCTION stent.wake_parents(p_parent_ids bigint[], p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_queues text[];
BEGIN
    IF p_parent_ids IS NULL THEN
        RETURN;
    END IF;
    -- Parents in descending id order, so concurrent completions never wait on each other in a
    -- cycle.
    PERFORM 1 FROM stent.tasks p WHERE p.id = ANY (p_parent_ids) ORDER BY p.id DESC FOR UPDATE;
    WITH n AS (
        SELECT u.id, count(*)::integer AS n FROM unnest(p_parent_ids) AS u(id) GROUP BY u.id
    ),
    upd AS (
        UPDATE stent.tasks p
        SET wait_remaining = greatest(p.wait_remaining - n.n, 0),
            state = CASE WHEN p.wait_remaining - n.n <= 0 THEN 'pending' ELSE p.state END,
            run_at = CASE WHEN p.wait_remaining - n.n <= 0 THEN p_now ELSE p.run_at END
        FROM n
        WHERE p.id = n.id AND p.state = (SELECT 'waiting'::text)
        RETURNING p.queue, p.state
    )
    SELECT array_agg(DISTINCT upd.queue) FILTER (WHERE upd.state = 'pending') INTO v_queues FROM upd;
    PERFORM pg_notify('stent_tasks', q) FROM unnest(v_queues) AS q;
END;
$$;

-- stent.fill_cache: for completed tasks that own a cache key (JSON array of {id, key, output,
-- ttl_s}), stores the result as ready (expiring after ttl_s) and completes the calls that
-- were waiting for the same key with it. Returns the parents to wake (one entry per follower
-- whose parent awaits it). Called by stent.complete_tasks.
CREATE OR REPLACE FUNCTION stent.fill_cache(p_entries jsonb, p_now timestamptz)
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_parents bigint[];
BEGIN
    WITH x AS (
        SELECT (e->>'id')::bigint AS id, e->>'key' AS key, e->'output' AS output,
               (e->>'ttl_s')::double precision AS ttl_s
        FROM jsonb_array_elements(p_entries) AS e
    ),
    filled AS (
        UPDATE stent.cache c
        SET state = 'ready', value = x.output, owner_task_id = NULL,
            expires_at = CASE WHEN x.ttl_s IS NULL THEN NULL ELSE p_now + make_interval(secs => x.ttl_s) END
        FROM x
        WHERE c.key = x.key AND c.owner_task_id = x.id
        RETURNING c.key, c.value
    ),
    followed AS (
        UPDATE stent.tasks f
        SET state = 'completed', output = filled.value, finished_at = p_now
        FROM filled
        WHERE f.cache_key = filled.key AND f.state = 'waiting' AND f.kind = 'activity'
        RETURNING f.parent_task_id, f.wakes_parent
    )
    SELECT array_agg(parent_task_id) FILTER (WHERE wakes_parent) INTO v_parents FROM followed;
    RETURN coalesce(v_parents, '{}');
END;
$$;
