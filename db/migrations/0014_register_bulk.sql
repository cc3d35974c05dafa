-- 0014_register_bulk.sql -- herald_device_register_bulk: registrations
-- that must run one after the other (a row names an id, or a token comes
-- twice) as one call, with every user's lock taken first.
--
-- Until now such a group went as one herald_device_register call per
-- row, each taking its own users' locks as it came: a group's locks in
-- its rows' order, while herald_device_register_many and
-- herald_lock_users take them all at once in hash order. Two groups
-- sharing two users could then wait for each other until PostgreSQL's
-- deadlock detector (deadlock_timeout, 1 s) broke one, which ran again
-- row by row. This function takes, before any row, the locks of every
-- user the rows name and of every user the devices they name (by id or
-- by token) belong to now, in herald_lock_users' order, then registers
-- the rows in order, as herald_device_register: the same result and the
-- same effect, row for row. (A device moved to another user between the
-- look and the row still gets that user's lock from the row itself.)

CREATE OR REPLACE FUNCTION herald_device_register_bulk(
    p_app text[], p_id text[], p_new_id text[], p_provider text[],
    p_token text[], p_platform text[], p_user text[], p_meta jsonb[],
    p_tags jsonb[], p_topics text[], p_identifier text[],
    p_client_type smallint[], p_device_type smallint[],
    p_installation text[], p_timezone text[], p_locale text[])
RETURNS TABLE (o_n bigint, o_dev devices)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    PERFORM pg_advisory_xact_lock(1213353029, s.h)
       FROM (SELECT DISTINCT hashtext(u.app || ':' || u.usr) AS h
               FROM (SELECT a.app, a.usr
                       FROM unnest(p_app, p_user) AS a(app, usr)
                     UNION ALL
                     SELECT d.app, d.user_id
                       FROM unnest(p_app, p_id) AS a(app, id)
                       JOIN devices d ON d.id = a.id AND d.app = a.app
                     UNION ALL
                     SELECT d.app, d.user_id
                       FROM unnest(p_app, p_provider, p_token)
                            AS a(app, provider, token)
                       JOIN devices d ON d.app = a.app
                                     AND d.provider = a.provider
                                     AND d.token = a.token) u
              WHERE coalesce(u.usr, '') <> '' ORDER BY 1) s;

    FOR r IN
        SELECT a.* FROM unnest(p_app, p_id, p_new_id, p_provider, p_token,
                               p_platform, p_user, p_meta, p_tags, p_topics,
                               p_identifier, p_client_type, p_device_type,
                               p_installation, p_timezone, p_locale)
                        WITH ORDINALITY
                        AS a(app, id, new_id, provider, token, platform,
                             usr, meta, tags, topics, ident, ct, dt, inst,
                             tz, loc, n)
         ORDER BY a.n
    LOOP
        RETURN QUERY
        SELECT r.n, d
          FROM herald_device_register(r.app, r.id, r.new_id, r.provider,
                                      r.token, r.platform, r.usr, r.meta,
                                      r.tags, r.topics::text[], r.ident,
                                      r.ct, r.dt, r.inst, r.tz, r.loc) AS d;
    END LOOP;
END
$$;
