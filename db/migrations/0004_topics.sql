-- 0004_topics.sql -- channels become topics (Centrifugo PRO's current
-- names), and devices gain a timezone and a locale.
--
-- Renames keep every row: device_channels is device_topics, user_channels
-- is user_topics, their "channel" column is "topic". The functions that
-- read them are created again under the new names; herald_device_register
-- and herald_device_update take the new fields (NULL = keep what the
-- device has). Lock order is unchanged (see 0003).

ALTER TABLE device_channels RENAME TO device_topics;
ALTER TABLE device_topics RENAME COLUMN channel TO topic;
ALTER INDEX device_channels_channel RENAME TO device_topics_topic;
ALTER INDEX device_channels_pkey RENAME TO device_topics_pkey;

ALTER TABLE user_channels RENAME TO user_topics;
ALTER TABLE user_topics RENAME COLUMN channel TO topic;
ALTER INDEX user_channels_channel RENAME TO user_topics_topic;
ALTER INDEX user_channels_page RENAME TO user_topics_page;
ALTER INDEX user_channels_user RENAME TO user_topics_user;
ALTER INDEX user_channels_pkey RENAME TO user_topics_pkey;

-- IANA timezone name and BCP 47 locale; '' = none. Constant defaults: no
-- table rewrite.
ALTER TABLE devices ADD COLUMN timezone text NOT NULL DEFAULT '',
                    ADD COLUMN locale text NOT NULL DEFAULT '';

DROP FUNCTION herald_user_channels_update(text, text, text, text[]);
DROP FUNCTION herald_device_update(text, text[], text[], text[], text[],
                                   boolean, text, jsonb, jsonb, text[]);
DROP FUNCTION herald_device_register(text, text, text, text, text, text,
                                     text, jsonb, jsonb, text[], text,
                                     smallint, smallint, text);
DROP FUNCTION herald_set_device_channels(text, text[], text[]);
DROP FUNCTION herald_sync_user_channels(text, text[]);

-- Re-derives the user-bound topics (src 1) of devices from their current
-- user's user_topics.
CREATE FUNCTION herald_sync_user_topics(p_app text, p_ids text[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM device_topics WHERE device_id = ANY (p_ids) AND src = 1;
    INSERT INTO device_topics (device_id, topic, src, app)
    SELECT d.id, ut.topic, 1, d.app
      FROM devices d
     CROSS JOIN LATERAL (SELECT u.topic FROM user_topics u
                          WHERE u.app = d.app AND u.user_id = d.user_id) ut
     WHERE d.id = ANY (p_ids) AND d.app = p_app AND d.user_id <> ''
    ON CONFLICT DO NOTHING;
END
$$;

-- Changes the devices' own topics (src 0): op add, remove or set.
CREATE FUNCTION herald_set_device_topics(p_app text, p_ids text[],
                                         p_op text, p_topics text[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_op = 'remove' THEN
        DELETE FROM device_topics
         WHERE device_id = ANY (p_ids) AND src = 0
           AND topic = ANY (p_topics);
        RETURN;
    END IF;
    IF p_op = 'set' THEN
        DELETE FROM device_topics
         WHERE device_id = ANY (p_ids) AND src = 0
           AND topic <> ALL (p_topics);
    END IF;
    IF cardinality(p_topics) > 0 THEN
        INSERT INTO device_topics (device_id, topic, src, app)
        SELECT i.id, t.name, 0, p_app
          FROM unnest(p_ids) AS i(id), unnest(p_topics) AS t(name)
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- device_register, as in 0003, plus timezone and locale. NULL meta, tags,
-- topics, timezone, locale and extension fields keep what the device had;
-- the user is always the one given.
CREATE FUNCTION herald_device_register(
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
         WHERE d.id = v_id;
    ELSE
        -- xmax is 0 when this statement inserted the row (see 0003)
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
        RETURNING d.id, (d.xmax = 0) INTO v_id, v_new;
    END IF;

    -- user-bound topics follow the user
    IF v_new THEN
        IF p_user <> '' THEN
            INSERT INTO device_topics (device_id, topic, src, app)
            SELECT v_id, ut.topic, 1, p_app FROM user_topics ut
             WHERE ut.app = p_app AND ut.user_id = p_user;
        END IF;
        IF cardinality(p_topics) > 0 THEN
            INSERT INTO device_topics (device_id, topic, src, app)
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
    RETURN QUERY SELECT * FROM devices d WHERE d.id = v_id;
END
$$;

-- device_update: the matching devices get the given user (swapping their
-- user-bound topics), meta, tags, timezone, locale (NULL: unchanged) and
-- their own topics changed by p_topics_op (NULL: unchanged). Returns how
-- many devices matched.
CREATE FUNCTION herald_device_update(
    p_app text, p_ids text[], p_users text[], p_providers text[],
    p_tokens text[], p_set_user boolean, p_user text, p_meta jsonb,
    p_tags jsonb, p_topics_op text, p_topics text[], p_timezone text,
    p_locale text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v text[];
    v_users text[];
BEGIN
    v := herald_device_select(p_app, p_ids, p_users, p_providers, p_tokens);
    IF cardinality(v) = 0 THEN
        RETURN 0;
    END IF;
    IF p_set_user THEN
        SELECT array_agg(DISTINCT d.user_id) INTO v_users
          FROM devices d WHERE d.id = ANY (v);
        PERFORM herald_lock_users(p_app, v_users || p_user);
    END IF;
    PERFORM 1 FROM devices d WHERE d.id = ANY (v)
      ORDER BY d.id FOR NO KEY UPDATE;
    UPDATE devices d
       SET user_id = CASE WHEN p_set_user THEN p_user ELSE d.user_id END,
           meta = coalesce(p_meta, d.meta),
           tags = coalesce(p_tags, d.tags),
           timezone = coalesce(p_timezone, d.timezone),
           locale = coalesce(p_locale, d.locale),
           updated_at = now()
     WHERE d.id = ANY (v);
    IF p_set_user THEN
        PERFORM herald_sync_user_topics(p_app, v);
    END IF;
    IF p_topics_op IS NOT NULL THEN
        PERFORM herald_set_device_topics(p_app, v, p_topics_op, p_topics);
    END IF;
    RETURN cardinality(v);
END
$$;

-- device_topic_update: one device's own topics, op add, remove or set.
-- With p_user not NULL the device must belong to that user. Returns 1,
-- or 0 when there is no such device (of that user).
CREATE FUNCTION herald_device_topic_update(p_app text, p_id text,
                                           p_user text, p_op text,
                                           p_topics text[])
RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM devices d
      WHERE d.id = p_id AND d.app = p_app
        AND (p_user IS NULL OR d.user_id = p_user)
      FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    PERFORM herald_set_device_topics(p_app, ARRAY[p_id], p_op, p_topics);
    UPDATE devices SET updated_at = now() WHERE id = p_id;
    RETURN 1;
END
$$;

-- user_topic_update: add, remove or set a user's topics, and the same on
-- every device of the user.
CREATE FUNCTION herald_user_topics_update(p_app text, p_user text,
                                          p_op text, p_topics text[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM herald_lock_users(p_app, ARRAY[p_user]);
    IF p_op = 'remove' THEN
        DELETE FROM user_topics ut
         WHERE ut.app = p_app AND ut.user_id = p_user
           AND ut.topic = ANY (p_topics);
        DELETE FROM device_topics dt USING devices d
         WHERE d.app = p_app AND d.user_id = p_user AND dt.device_id = d.id
           AND dt.src = 1 AND dt.topic = ANY (p_topics);
        RETURN;
    END IF;
    IF p_op = 'set' THEN
        DELETE FROM user_topics ut
         WHERE ut.app = p_app AND ut.user_id = p_user
           AND ut.topic <> ALL (p_topics);
        DELETE FROM device_topics dt USING devices d
         WHERE d.app = p_app AND d.user_id = p_user AND dt.device_id = d.id
           AND dt.src = 1 AND dt.topic <> ALL (p_topics);
    END IF;
    INSERT INTO user_topics (app, user_id, topic)
    SELECT p_app, p_user, t.name FROM unnest(p_topics) AS t(name)
    ON CONFLICT DO NOTHING;
    INSERT INTO device_topics (device_id, topic, src, app)
    SELECT d.id, t.name, 1, p_app
      FROM devices d, unnest(p_topics) AS t(name)
     WHERE d.app = p_app AND d.user_id = p_user
    ON CONFLICT DO NOTHING;
END
$$;
