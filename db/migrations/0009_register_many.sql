-- 0009_register_many.sql -- herald_device_register_many: the
-- registrations of a batch that touch different devices (no id given, no
-- token twice), with the same effect as herald_device_register called
-- once per row: the new devices are inserted set-wise (one insert for
-- the devices, one for their users' topics, one for their own topics),
-- the users' locks taken first in herald_lock_users' order (ascending
-- hash); a row whose token is already registered goes through
-- herald_device_register, in the batch's order. Arrays are parallel, one
-- element a registration, as herald_device_register's parameters; p_id
-- is all NULL and p_topics holds each row's topic list as an array
-- literal. Returns each row's number (from 1) and its device row.

CREATE FUNCTION herald_device_register_many(
    p_app text[], p_id text[], p_new_id text[], p_provider text[],
    p_token text[], p_platform text[], p_user text[], p_meta jsonb[],
    p_tags jsonb[], p_topics text[], p_identifier text[],
    p_client_type smallint[], p_device_type smallint[],
    p_installation text[], p_timezone text[], p_locale text[])
RETURNS TABLE (o_n bigint, o_dev devices)
LANGUAGE plpgsql AS $$
DECLARE
    v_ins text[];
    r record;
BEGIN
    PERFORM pg_advisory_xact_lock(1213353029, s.h)
       FROM (SELECT DISTINCT hashtext(a.app || ':' || a.usr) AS h
               FROM unnest(p_app, p_user) AS a(app, usr)
              WHERE a.usr <> '' ORDER BY 1) s;

    WITH ins AS (
        INSERT INTO devices AS d (id, app, provider, token, platform,
                                  user_id, meta, tags, timezone, locale,
                                  identifier, client_type, device_type,
                                  installation_id)
        SELECT a.new_id, a.app, a.provider, a.token, a.platform, a.usr,
               coalesce(a.meta, '{}'), coalesce(a.tags, '{}'),
               coalesce(a.tz, ''), coalesce(a.loc, ''), a.ident,
               coalesce(a.ct, 0), a.dt, a.inst
          FROM unnest(p_new_id, p_app, p_provider, p_token, p_platform,
                      p_user, p_meta, p_tags, p_timezone, p_locale,
                      p_identifier, p_client_type, p_device_type,
                      p_installation) WITH ORDINALITY
               AS a(new_id, app, provider, token, platform, usr, meta, tags,
                    tz, loc, ident, ct, dt, inst, n)
         ORDER BY a.n
        ON CONFLICT (app, provider, token) DO NOTHING
        RETURNING d.id)
    SELECT coalesce(array_agg(ins.id), '{}') INTO v_ins FROM ins;

    -- the new devices' topics: their users', then their own
    INSERT INTO device_topics (device_id, topic, src, app)
    SELECT a.new_id, ut.topic, 1, a.app
      FROM unnest(p_new_id, p_app, p_user) AS a(new_id, app, usr)
      JOIN unnest(v_ins) AS i(id) ON i.id = a.new_id
      JOIN user_topics ut ON ut.app = a.app AND ut.user_id = a.usr
     WHERE a.usr <> '';
    INSERT INTO device_topics (device_id, topic, src, app)
    SELECT DISTINCT a.new_id, t.name, 0::smallint, a.app
      FROM unnest(p_new_id, p_app, p_topics) AS a(new_id, app, topics)
      JOIN unnest(v_ins) AS i(id) ON i.id = a.new_id
     CROSS JOIN LATERAL unnest(a.topics::text[]) AS t(name);

    -- the tokens already registered: one by one, in order
    FOR r IN
        SELECT a.* FROM unnest(p_app, p_new_id, p_provider, p_token,
                               p_platform, p_user, p_meta, p_tags, p_topics,
                               p_identifier, p_client_type, p_device_type,
                               p_installation, p_timezone, p_locale)
                        WITH ORDINALITY
                        AS a(app, new_id, provider, token, platform, usr,
                             meta, tags, topics, ident, ct, dt, inst, tz,
                             loc, n)
         WHERE a.new_id <> ALL (v_ins) ORDER BY a.n
    LOOP
        PERFORM herald_device_register(r.app, NULL, r.new_id, r.provider,
                                       r.token, r.platform, r.usr, r.meta,
                                       r.tags, r.topics::text[], r.ident,
                                       r.ct, r.dt, r.inst, r.tz, r.loc);
    END LOOP;

    -- the rows as this function sees them (the statement calling it
    -- does not see what it wrote)
    RETURN QUERY
    SELECT a.n, d
      FROM unnest(p_app, p_provider, p_token) WITH ORDINALITY
           AS a(app, provider, token, n)
      JOIN devices d ON d.app = a.app AND d.provider = a.provider
                    AND d.token = a.token;
END
$$;
