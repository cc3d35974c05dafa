-- 0003_registry_functions.sql -- the registry's multi-step writes, each
-- one call (one round trip, one implicit transaction, all or nothing).
--
-- They exist so device_register stays a single prepared statement on the
-- hot path. Lock order, everywhere: users' advisory locks (sorted by key)
-- first, then device rows (sorted by id) FOR NO KEY UPDATE, so a device
-- changing user never interleaves with push_user_channel_update of either
-- user, and no two calls deadlock. Nothing here validates input: the
-- service does that before calling, so a call either applies fully or
-- fails on a constraint and changes nothing.

-- Serialises changes to the channels of the given users' devices.
CREATE FUNCTION herald_lock_users(p_app text, p_users text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    h integer;
BEGIN
    FOR h IN SELECT DISTINCT hashtext(p_app || ':' || u)
               FROM unnest(p_users) AS u WHERE u <> '' ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(1213353029, h);
    END LOOP;
END
$$;

-- Re-derives the user-bound channels (src 1) of devices from their
-- current user's user_channels. (plpgsql, not sql: plans are cached per
-- session instead of re-planned on every call; the lateral join keeps
-- the generic plan starting from the devices, not from the whole app's
-- user_channels.)
CREATE FUNCTION herald_sync_user_channels(p_app text, p_ids text[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM device_channels WHERE device_id = ANY (p_ids) AND src = 1;
    INSERT INTO device_channels (device_id, channel, src, app)
    SELECT d.id, uc.channel, 1, d.app
      FROM devices d
     CROSS JOIN LATERAL (SELECT u.channel FROM user_channels u
                          WHERE u.app = d.app AND u.user_id = d.user_id) uc
     WHERE d.id = ANY (p_ids) AND d.app = p_app AND d.user_id <> ''
    ON CONFLICT DO NOTHING;
END
$$;

-- Sets the devices' own channels (src 0) to exactly p_channels.
CREATE FUNCTION herald_set_device_channels(p_app text, p_ids text[],
                                           p_channels text[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM device_channels
     WHERE device_id = ANY (p_ids) AND src = 0
       AND channel <> ALL (p_channels);
    IF cardinality(p_channels) > 0 THEN
        INSERT INTO device_channels (device_id, channel, src, app)
        SELECT i.id, c.ch, 0, p_app
          FROM unnest(p_ids) AS i(id), unnest(p_channels) AS c(ch)
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- device_register. With p_id naming an existing device of the app, that
-- device is updated (and any other device holding the same token is
-- removed: a token belongs to one device). Otherwise the device is found
-- by (app, provider, token) and moved to the new user and fields, or
-- created with p_new_id. NULL meta, tags, channels and extension fields
-- keep what the device had; the user is always the one given. It is the
-- hot path of registration, so everything is inline and a new device
-- costs one lookup, one insert and the channel inserts it needs.
CREATE FUNCTION herald_device_register(
    p_app text, p_id text, p_new_id text, p_provider text, p_token text,
    p_platform text, p_user text, p_meta jsonb, p_tags jsonb,
    p_channels text[], p_identifier text, p_client_type smallint,
    p_device_type smallint, p_installation text)
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

    -- the users whose channels may change, in herald_lock_users' order
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
               identifier = coalesce(p_identifier, d.identifier),
               client_type = coalesce(p_client_type, d.client_type),
               device_type = coalesce(p_device_type, d.device_type),
               installation_id = coalesce(p_installation, d.installation_id),
               updated_at = now(), last_seen_at = now()
         WHERE d.id = v_id;
    ELSE
        -- xmax is 0 when this statement inserted the row, not when a
        -- concurrent first registration of the token turned it into an
        -- update: only a device inserted here is new (no channel rows yet)
        INSERT INTO devices AS d (id, app, provider, token, platform,
                                  user_id, meta, tags, identifier,
                                  client_type, device_type, installation_id)
        VALUES (p_new_id, p_app, p_provider, p_token, p_platform, p_user,
                coalesce(p_meta, '{}'), coalesce(p_tags, '{}'), p_identifier,
                coalesce(p_client_type, 0), p_device_type, p_installation)
        ON CONFLICT (app, provider, token) DO UPDATE
           SET platform = excluded.platform, user_id = excluded.user_id,
               meta = coalesce(p_meta, d.meta),
               tags = coalesce(p_tags, d.tags),
               identifier = coalesce(p_identifier, d.identifier),
               client_type = coalesce(p_client_type, d.client_type),
               device_type = coalesce(p_device_type, d.device_type),
               installation_id = coalesce(p_installation, d.installation_id),
               updated_at = now(), last_seen_at = now()
        RETURNING d.id, (d.xmax = 0) INTO v_id, v_new;
    END IF;

    -- user-bound channels follow the user
    IF v_new THEN
        IF p_user <> '' THEN
            INSERT INTO device_channels (device_id, channel, src, app)
            SELECT v_id, uc.channel, 1, p_app FROM user_channels uc
             WHERE uc.app = p_app AND uc.user_id = p_user;
        END IF;
        IF cardinality(p_channels) > 0 THEN
            INSERT INTO device_channels (device_id, channel, src, app)
            SELECT DISTINCT v_id, c.ch, 0::smallint, p_app
              FROM unnest(p_channels) AS c(ch);
        END IF;
    ELSE
        IF v_old IS DISTINCT FROM p_user THEN
            DELETE FROM device_channels WHERE device_id = v_id AND src = 1;
            IF p_user <> '' THEN
                INSERT INTO device_channels (device_id, channel, src, app)
                SELECT v_id, uc.channel, 1, p_app FROM user_channels uc
                 WHERE uc.app = p_app AND uc.user_id = p_user
                ON CONFLICT DO NOTHING;
            END IF;
        END IF;
        -- the device's own channels: exactly p_channels
        IF p_channels IS NOT NULL THEN
            DELETE FROM device_channels
             WHERE device_id = v_id AND src = 0
               AND channel <> ALL (p_channels);
            INSERT INTO device_channels (device_id, channel, src, app)
            SELECT v_id, c.ch, 0, p_app FROM unnest(p_channels) AS c(ch)
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN QUERY SELECT * FROM devices d WHERE d.id = v_id;
END
$$;

-- The ids (sorted) of the app's devices matching every given filter:
-- ids, users, and (provider, token) pairs. At least one is not NULL.
CREATE FUNCTION herald_device_select(p_app text, p_ids text[],
                                     p_users text[], p_providers text[],
                                     p_tokens text[])
RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text[];
BEGIN
    IF p_ids IS NOT NULL THEN
        SELECT array_agg(d.id ORDER BY d.id) INTO v FROM devices d
         WHERE d.app = p_app AND d.id = ANY (p_ids)
           AND (p_users IS NULL OR d.user_id = ANY (p_users))
           AND (p_providers IS NULL OR (d.provider, d.token) IN
                (SELECT * FROM unnest(p_providers, p_tokens)));
    ELSIF p_providers IS NOT NULL THEN
        SELECT array_agg(DISTINCT d.id ORDER BY d.id) INTO v
          FROM unnest(p_providers, p_tokens) AS pt(provider, token)
          JOIN devices d ON d.app = p_app AND d.provider = pt.provider
                        AND d.token = pt.token
         WHERE p_users IS NULL OR d.user_id = ANY (p_users);
    ELSIF p_users IS NOT NULL THEN
        SELECT array_agg(d.id ORDER BY d.id) INTO v FROM devices d
         WHERE d.app = p_app AND d.user_id = ANY (p_users);
    END IF;
    RETURN coalesce(v, '{}');
END
$$;

-- device_update: the matching devices get the given user (swapping their
-- user-bound channels), meta, tags and own channels. Returns how many.
CREATE FUNCTION herald_device_update(
    p_app text, p_ids text[], p_users text[], p_providers text[],
    p_tokens text[], p_set_user boolean, p_user text, p_meta jsonb,
    p_tags jsonb, p_channels text[])
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
           updated_at = now()
     WHERE d.id = ANY (v);
    IF p_set_user THEN
        PERFORM herald_sync_user_channels(p_app, v);
    END IF;
    IF p_channels IS NOT NULL THEN
        PERFORM herald_set_device_channels(p_app, v, p_channels);
    END IF;
    RETURN cardinality(v);
END
$$;

-- device_remove: deletes the matching devices (their channels go with
-- them). Returns how many.
CREATE FUNCTION herald_device_remove(p_app text, p_ids text[],
                                     p_users text[], p_providers text[],
                                     p_tokens text[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v text[];
    n integer;
BEGIN
    v := herald_device_select(p_app, p_ids, p_users, p_providers, p_tokens);
    DELETE FROM devices d WHERE d.id = ANY (v);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- push_user_channel_update: add, remove or set a user's channels, and
-- the same on every device of the user.
CREATE FUNCTION herald_user_channels_update(p_app text, p_user text,
                                            p_op text, p_channels text[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM herald_lock_users(p_app, ARRAY[p_user]);
    IF p_op = 'remove' THEN
        DELETE FROM user_channels uc
         WHERE uc.app = p_app AND uc.user_id = p_user
           AND uc.channel = ANY (p_channels);
        DELETE FROM device_channels dc USING devices d
         WHERE d.app = p_app AND d.user_id = p_user AND dc.device_id = d.id
           AND dc.src = 1 AND dc.channel = ANY (p_channels);
        RETURN;
    END IF;
    IF p_op = 'set' THEN
        DELETE FROM user_channels uc
         WHERE uc.app = p_app AND uc.user_id = p_user
           AND uc.channel <> ALL (p_channels);
        DELETE FROM device_channels dc USING devices d
         WHERE d.app = p_app AND d.user_id = p_user AND dc.device_id = d.id
           AND dc.src = 1 AND dc.channel <> ALL (p_channels);
    END IF;
    INSERT INTO user_channels (app, user_id, channel)
    SELECT p_app, p_user, c.ch FROM unnest(p_channels) AS c(ch)
    ON CONFLICT DO NOTHING;
    INSERT INTO device_channels (device_id, channel, src, app)
    SELECT d.id, c.ch, 1, p_app
      FROM devices d, unnest(p_channels) AS c(ch)
     WHERE d.app = p_app AND d.user_id = p_user
    ON CONFLICT DO NOTHING;
END
$$;
