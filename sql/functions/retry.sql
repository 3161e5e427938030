-- stent.retry_delay: the wait before attempt p_attempt + 1 after attempt p_attempt failed:
-- min(initial * factor^(attempt-1), max_delay), then scaled by a uniform factor in
-- [1 - jitter, 1 + jitter]. The exponent is capped so large attempt numbers cannot overflow.
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
    v_seconds double precision;
BEGIN
    IF p_attempt < 1 THEN
        RAISE EXCEPTION 'stent.retry_delay: attempt must be >= 1, got %', p_attempt
            USING ERRCODE = 'ST003';
    END IF;
    v_seconds := least(
        extract(epoch FROM p_initial)::double precision * power(p_factor, least(p_attempt - 1, 64)),
        extract(epoch FROM p_max)::double precision);
    IF p_jitter > 0 THEN
        v_seconds := v_seconds * (1 + p_jitter * (2 * random() - 1));
    END IF;
    RETURN make_interval(secs => greatest(v_seconds, 0));
END;
$$;
