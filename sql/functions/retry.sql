-- stent.retry_delay: the wait before attempt p_attempt + 1 after attempt p_attempt failed:
-- min(initial * factor^(attempt-1), max_delay), then scaled by a uniform factor in
-- [1 - jitter, 1 + jitter]. The exponent is capped so large attempt numbers cannot overflow,
-- and a delay already past max_delay (compared in log space) is never computed, so a huge
-- backoff factor cannot overflow either (an error here would also stop stent.rescue_expired).
CREATE OR REPLACE FUNCTION stent.retry_delay(
    p_attempt integer,
    p_initial interval,
    p_factor double precision,
    p_max interval,
    p_jitter double precision
)
RETURNS interval
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_initial double precision := extract(epoch FROM p_initial)::double precision;
    v_max     double precision := extract(epoch FROM p_max)::double precision;
    v_exp     integer := least(p_attempt - 1, 64);
    v_seconds double precision;
BEGIN
    IF p_attempt < 1 THEN
        RAISE EXCEPTION 'stent.retry_delay: attempt must be >= 1, got %', p_attempt
            USING ERRCODE = 'ST003';
    END IF;
    IF v_initial <= 0 THEN
        v_seconds := 0;
    ELSIF p_factor > 1 AND v_exp * ln(p_factor) > ln(greatest(v_max, v_initial) / v_initial) + 1 THEN
        v_seconds := v_max; -- initial * factor^exp is far past the cap (and may not be finite)
    ELSE
        v_seconds := least(v_initial * power(p_factor, v_exp), v_max);
    END IF;
    IF p_jitter > 0 THEN
        v_seconds := v_seconds * (1 + p_jitter * (2 * random() - 1));
    END IF;
    RETURN make_interval(secs => greatest(v_seconds, 0));
END;
$$;
