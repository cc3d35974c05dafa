-- 0013_register_group.sql -- herald_device_register_many in one statement
-- for the new devices, so the group commit of device_register can send a
-- whole group of registrations (no id given, no token twice) as one call.
--
-- Same parameters, same result and the same effect as 0009's: the users'
-- locks first, in herald_lock_users' order; the new devices inserted in
-- the batch's order with their users' topics (src 1) and their own
-- (src 0); a token already registered goes through
-- herald_device_register, in the batch's order. What changes is the
-- work: the devices, their topics and the rows returned are one
-- statement (the inserted rows come back from the INSERT rather than
-- being read again from devices, a join whose plan, cached while the
-- table was small, became a scan of the whole table), and the rows whose
-- token was already there are looked for only when some are missing.

CREATE OR REPLACE FUNCTION herald_device_register_many(
    p_app text[], p_id text[], p_new_id text[], p_provider text[],
    p_token text[], p_platform text[], p_user text[], p_meta jsonb[],
    p_tags jsonb[], p_topics text[], p_identifier text[],
    p_client_type smallint[], p_device_type smallint[],
    p_installation text[], p_timezone text[], p_locale text[])
RETURNS TABLE (o_n bigint, o_dev devices)
LANGUAGE plpgsql AS $$
DECLARE
    v_done bigint;
    r record;
BEGIN
    PERFORM pg_advisory_xact_lock(1213353029, s.h)
       FROM (SELECT DISTINCT hashtext(a.app || ':' || a.usr) AS h
               FROM unnest(p_app, p_user) AS a(app, usr)
              WHERE a.usr <> '' ORDER BY 1) s;

    -- the new devices, their topics (their users', then their own), and
    -- their rows numbered as in the batch
    RETURN QUERY
    WITH a AS (
        SELECT * FROM unnest(p_new_id, p_app, p_provider, p_token,
                             p_platform, p_user, p_meta, p_tags, p_timezone,
                             p_locale, p_identifier, p_client_type,
                             p_device_type, p_installation, p_topics)
                      WITH ORDINALITY
                      AS a(new_id, app, provider, token, platform, usr, meta,
                           tags, tz, loc, ident, ct, dt, inst, topics, n)),
    ins AS (
        INSERT INTO devices AS d (id, app, provider, token, platform,
                                  user_id, meta, tags, timezone, locale,
                                  identifier, client_type, device_type,
                                  installation_id)
        SELECT a.new_id, a.app, a.provider, a.token, a.platform, a.usr,
               coalesce(a.meta, '{}'), coalesce(a.tags, '{}'),
               coalesce(a.tz, ''), coalesce(a.loc, ''), a.ident,
               coalesce(a.ct, 0), a.dt, a.inst
          FROM a ORDER BY a.n
        ON CONFLICT (app, provider, token) DO NOTHING
        RETURNING d AS dev),
    new AS (
        SELECT a.n, a.app, a.usr, a.topics, i.dev
          FROM ins i JOIN a ON a.new_id = (i.dev).id),
    topics AS (
        INSERT INTO device_topics (device_id, topic, src, app)
        SELECT (w.dev).id, ut.topic, 1::smallint, w.app
          FROM new w
          JOIN user_topics ut ON ut.app = w.app AND ut.user_id = w.usr
         WHERE w.usr <> ''
        UNION ALL
        SELECT DISTINCT (w.dev).id, t.name, 0::smallint, w.app
          FROM new w CROSS JOIN LATERAL unnest(w.topics::text[]) AS t(name))
    SELECT w.n, w.dev FROM new w;
    GET DIAGNOSTICS v_done = ROW_COUNT;
    IF v_done = cardinality(p_new_id) THEN
        RETURN;
    END IF;

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
         WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = a.new_id)
         ORDER BY a.n
    LOOP
        RETURN QUERY
        SELECT r.n, d
          FROM herald_device_register(r.app, NULL, r.new_id, r.provider,
                                      r.token, r.platform, r.usr, r.meta,
                                      r.tags, r.topics::text[], r.ident,
                                      r.ct, r.dt, r.inst, r.tz, r.loc) AS d;
    END LOOP;
END
$$;
