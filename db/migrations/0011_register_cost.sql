-- 0011_register_cost.sql -- less work per device registration, same
-- effect.
--
-- devices_platform goes: no statement reads devices by platform first
-- (platform is a condition checked on the rows another index gives), and
-- every registration paid for one more index entry.
--
-- herald_device_register (as in 0004) does the same in fewer statements:
-- the row comes back from its INSERT or UPDATE instead of being read again
-- at the end (a new device is the one that got the new id), and a new
-- device's user-bound and own topics are one INSERT.

DROP INDEX devices_platform;

CREATE OR REPLACE FUNCTION herald_device_register(
    p_app text, p_id text, p_new_id text, p_provider text, p_token text,
    p_platform text, p_user text, p_meta jsonb, p_tags jsonb,
    p_topics text[], p_identifier text, p_client_type smallint,
    p_device_type smallint, p_installation text,
    p_timezone text DEFAULT NULL, p_locale text DEFAULT NULL)
RETURNS SETOF devices
LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
    v_peek text;
    v_old text;
    v_new boolean := false;
    v_dev devices;
    h1 integer;
    h2 integer;
BEGIN
    IF p_id IS NOT NULL THEN
        SELECT d.id, d.user_id INTO v_id, v_peek
          FROM devices d WHERE d.id = p_id AND d.app = p_app;
    END IF;
    IF v_id IS NULL THEN
        SELECT d.id, d.user_id INTO v_old, v_peek FROM devices d
         WHERE d.app = p_app AND d.provider = p_provider
           AND d.token = p_token;
        v_new := v_old IS NULL;
    END IF;

    -- the users whose topics may change, in herald_lock_users' order
    h1 := CASE WHEN p_user <> '' THEN hashtext(p_app || ':' || p_user) END;
    h2 := CASE WHEN coalesce(v_peek, '') <> '' AND v_peek <> p_user
               THEN hashtext(p_app || ':' || v_peek) END;
    IF h1 IS NOT NULL AND h2 IS NOT NULL AND h1 <> h2 THEN
        PERFORM pg_advisory_xact_lock(1213353029, least(h1, h2));
        PERFORM pg_advisory_xact_lock(1213353029, greatest(h1, h2));
    ELSIF coalesce(h1, h2) IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(1213353029, coalesce(h1, h2));
    END IF;

    IF v_id IS NOT NULL THEN
        SELECT d.user_id INTO v_old FROM devices d
         WHERE d.id = v_id FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            v_id := NULL; -- removed meanwhile: register by token
            v_new := true;
        END IF;
    ELSIF NOT v_new THEN
        SELECT d.user_id INTO v_old FROM devices d
         WHERE d.app = p_app AND d.provider = p_provider
           AND d.token = p_token
           FOR NO KEY UPDATE;
        v_new := NOT FOUND;
    END IF;

    IF v_id IS NOT NULL THEN
        DELETE FROM devices d
         WHERE d.app = p_app AND d.provider = p_provider
           AND d.token = p_token AND d.id <> v_id;
        UPDATE devices d
           SET provider = p_provider, token = p_token,
               platform = p_platform, user_id = p_user,
               meta = coalesce(p_meta, d.meta),
               tags = coalesce(p_tags, d.tags),
               timezone = coalesce(p_timezone, d.timezone),
               locale = coalesce(p_locale, d.locale),
               identifier = coalesce(p_identifier, d.identifier),
               client_type = coalesce(p_client_type, d.client_type),
               device_type = coalesce(p_device_type, d.device_type),
               installation_id = coalesce(p_installation, d.installation_id),
               updated_at = now(), last_seen_at = now()
         WHERE d.id = v_id
        RETURNING d.* INTO v_dev;
    ELSE
        -- the new id comes back when this statement inserted the row
        INSERT INTO devices AS d (id, app, provider, token, platform,
                                  user_id, meta, tags, timezone, locale,
                                  identifier, client_type, device_type,
                                  installation_id)
        VALUES (p_new_id, p_app, p_provider, p_token, p_platform, p_user,
                coalesce(p_meta, '{}'), coalesce(p_tags, '{}'),
                coalesce(p_timezone, ''), coalesce(p_locale, ''),
                p_identifier, coalesce(p_client_type, 0), p_device_type,
                p_installation)
        ON CONFLICT (app, provider, token) DO UPDATE
           SET platform = excluded.platform, user_id = excluded.user_id,
               meta = coalesce(p_meta, d.meta),
               tags = coalesce(p_tags, d.tags),
               timezone = coalesce(p_timezone, d.timezone),
               locale = coalesce(p_locale, d.locale),
               identifier = coalesce(p_identifier, d.identifier),
               client_type = coalesce(p_client_type, d.client_type),
               device_type = coalesce(p_device_type, d.device_type),
               installation_id = coalesce(p_installation, d.installation_id),
               updated_at = now(), last_seen_at = now()
        RETURNING d.* INTO v_dev;
        v_id := v_dev.id;
        v_new := coalesce(v_dev.id = p_new_id, false);
    END IF;

    -- user-bound topics follow the user
    IF v_new THEN
        IF p_user <> '' OR cardinality(p_topics) > 0 THEN
            INSERT INTO device_topics (device_id, topic, src, app)
            SELECT v_id, ut.topic, 1::smallint, p_app FROM user_topics ut
             WHERE p_user <> '' AND ut.app = p_app AND ut.user_id = p_user
            UNION ALL
            SELECT DISTINCT v_id, t.name, 0::smallint, p_app
              FROM unnest(p_topics) AS t(name);
        END IF;
    ELSE
        IF v_old IS DISTINCT FROM p_user THEN
            DELETE FROM device_topics WHERE device_id = v_id AND src = 1;
            IF p_user <> '' THEN
                INSERT INTO device_topics (device_id, topic, src, app)
                SELECT v_id, ut.topic, 1, p_app FROM user_topics ut
                 WHERE ut.app = p_app AND ut.user_id = p_user
                ON CONFLICT DO NOTHING;
            END IF;
        END IF;
        -- the device's own topics: exactly p_topics
        IF p_topics IS NOT NULL THEN
            DELETE FROM device_topics
             WHERE device_id = v_id AND src = 0
               AND topic <> ALL (p_topics);
            INSERT INTO device_topics (device_id, topic, src, app)
            SELECT v_id, t.name, 0, p_app FROM unnest(p_topics) AS t(name)
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN NEXT v_dev;
END
$$;
