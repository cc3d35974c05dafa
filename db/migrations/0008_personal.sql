-- 0008_personal.sql -- per-device push rate limits and delivery windows
-- (send_push_notification's limit_strategy).
--
-- push_rate_state holds, per (app, key) -- a device id, or the key the
-- send names ({{.device.user}}, ...) -- the times of its last sends, so a
-- policy "at most rate per interval_ms" is checked exactly over any
-- window: a push is allowed when, for every policy, fewer than rate sends
-- fall in the last interval_ms. herald_rate_take checks and records a
-- page of keys in one call, locking the rows in key order, so fan-outs on
-- several replicas (or after a restart) count against the same state.
-- Bounded: at most 1000 times per key (the largest rate), none older than
-- 7 days (the longest interval); a row past until_ms says nothing and the
-- cleanup timer deletes it.

CREATE TABLE push_rate_state (
    app      text COLLATE "C" NOT NULL,
    key      text COLLATE "C" NOT NULL,
    sent_ms  bigint[] NOT NULL,  -- send times (ms), oldest first
    until_ms bigint NOT NULL,    -- newest send + the longest interval seen
    PRIMARY KEY (app, key)
);
CREATE INDEX push_rate_state_until ON push_rate_state (until_ms);

-- For each key (in the order given; a key may repeat): 0 when the push is
-- allowed (and recorded), else the time (ms) at which it would be. The
-- clock is the database's, the same one the scheduler releases by.
CREATE FUNCTION herald_rate_take(p_app text, p_keys text[], p_rates int[],
                                 p_intervals bigint[])
RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    v_now bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    v_out bigint[] := array_fill(0::bigint,
                                 ARRAY[coalesce(array_length(p_keys, 1), 0)]);
    v_max bigint := (SELECT max(x) FROM unnest(p_intervals) x);
    r record;
    v_sent bigint[];
    v_retry bigint;
    v_cnt int;
    v_t bigint;
    i int;
BEGIN
    INSERT INTO push_rate_state (app, key, sent_ms, until_ms)
    SELECT p_app, k, '{}', 0 FROM (SELECT DISTINCT k FROM unnest(p_keys) k) x
     ORDER BY k
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM push_rate_state
     WHERE app = p_app AND key = ANY (p_keys) ORDER BY key FOR UPDATE;
    FOR r IN SELECT k, ord FROM unnest(p_keys) WITH ORDINALITY AS x(k, ord)
              ORDER BY k, ord LOOP
        SELECT sent_ms INTO v_sent FROM push_rate_state
         WHERE app = p_app AND key = r.k;
        v_retry := 0;
        FOR i IN 1 .. array_length(p_rates, 1) LOOP
            SELECT count(*) INTO v_cnt FROM unnest(v_sent) s
             WHERE s > v_now - p_intervals[i];
            IF v_cnt >= p_rates[i] THEN
                -- cnt - rate + 1 of them must leave the window: the
                -- (cnt - rate + 1)-th oldest leaves at t + interval
                SELECT s INTO v_t FROM unnest(v_sent) s
                 WHERE s > v_now - p_intervals[i]
                 ORDER BY s OFFSET v_cnt - p_rates[i] LIMIT 1;
                v_retry := greatest(v_retry, v_t + p_intervals[i]);
            END IF;
        END LOOP;
        IF v_retry = 0 THEN
            v_sent := ARRAY(SELECT s FROM (
                        SELECT s FROM unnest(array_append(v_sent, v_now)) s
                         WHERE s > v_now - 604800000
                         ORDER BY s DESC LIMIT 1000) y ORDER BY s);
            UPDATE push_rate_state
               SET sent_ms = v_sent, until_ms = greatest(until_ms, v_now + v_max)
             WHERE app = p_app AND key = r.k;
        END IF;
        v_out[r.ord] := v_retry;
    END LOOP;
    RETURN v_out;
END
$$;

-- A delivery window [p_after, p_before) in seconds of the local day (it
-- wraps midnight when p_after > p_before), for each timezone given: 0 when
-- the zone's local time is inside it now, else the time (ms) of the
-- window's next start there; -1 for a zone this database does not know.
CREATE FUNCTION herald_window_wait(p_zones text[], p_after int, p_before int)
RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    v_out bigint[] := '{}';
    v_local timestamp;
    v_sod int;
    v_start timestamp;
    z text;
BEGIN
    FOREACH z IN ARRAY p_zones LOOP
        BEGIN
            v_local := clock_timestamp() AT TIME ZONE z;
            v_sod := floor(extract(epoch FROM v_local::time))::int;
            IF (p_after < p_before AND v_sod >= p_after AND v_sod < p_before)
               OR (p_after > p_before AND (v_sod >= p_after OR v_sod < p_before))
            THEN
                v_out := v_out || 0::bigint;
            ELSE
                v_start := date_trunc('day', v_local)
                           + make_interval(secs => p_after);
                IF v_start <= v_local THEN
                    v_start := v_start + interval '1 day';
                END IF;
                v_out := v_out ||
                    (extract(epoch FROM (v_start AT TIME ZONE z)) * 1000)::bigint;
            END IF;
        EXCEPTION WHEN invalid_parameter_value THEN
            v_out := v_out || (-1)::bigint;
        END;
    END LOOP;
    RETURN v_out;
END
$$;
