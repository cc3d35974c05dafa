/* api_store.c -- every SQL statement herald-api runs, and the array
 * literals its lists travel in.
 *
 * The list methods have one statement per leading filter (ids, tokens,
 * users, or none) with the other filters as residual conditions, so even
 * a generic plan starts from the index that filter names and reads the
 * page as an index range from the cursor. Multi-step writes are functions
 * (db/migrations/0003): one round trip each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/array.h"
#include "pg/pg.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/banned.h"

/* ---- device_list: $1 app, $2 ids, $3 providers, $4 tokens, $5 platforms,
 * $6 users, $7 after (id), $8 rows, $9..$11 include meta/tags/topics,
 * $12 topics, $13 token prefix and $14 the first string after its range
 * ---- */
#define DEV_SELECT                                                             \
    "SELECT d.id, d.provider, d.token, d.platform, d.user_id, d.identifier, "  \
    "d.client_type, d.device_type, d.installation_id, d.timezone, d.locale, "  \
    "extract(epoch FROM d.created_at)::bigint, "                               \
    "extract(epoch FROM d.updated_at)::bigint, "                               \
    "CASE WHEN $9::boolean THEN d.meta END, "                                  \
    "CASE WHEN $10::boolean THEN d.tags END, "                                 \
    "CASE WHEN $11::boolean THEN (SELECT json_agg(DISTINCT t.topic "           \
    "ORDER BY t.topic) FROM device_topics t WHERE t.device_id = d.id) "        \
    "END "
#define DEV_COLS DEV_SELECT "FROM devices d WHERE d.app = $1 "
#define DEV_WHERE                                                              \
    " AND ($2::text[] IS NULL OR d.id = ANY ($2::text[]))"                     \
    " AND ($3::text[] IS NULL OR d.provider = ANY ($3::text[]))"               \
    " AND ($4::text[] IS NULL OR d.token = ANY ($4::text[]))"                  \
    " AND ($5::text[] IS NULL OR d.platform = ANY ($5::text[]))"               \
    " AND ($6::text[] IS NULL OR d.user_id = ANY ($6::text[]))"                \
    " AND ($12::text[] IS NULL OR EXISTS (SELECT 1 FROM device_topics t "      \
    "WHERE t.device_id = d.id AND t.topic = ANY ($12::text[])))"               \
    " AND ($13::text IS NULL OR (d.token >= $13 AND d.token < $14))"
#define DEV_FILTERS DEV_WHERE " AND d.id > $7 ORDER BY d.id LIMIT $8"
/* A token prefix leads: pages in (provider, token) order, each provider's
 * part an index range of devices_token from the cursor's device (c: its
 * provider and token; a cursor whose device is gone ends the listing) */
#define DEV_PREFIX                                                             \
    "WITH c AS (SELECT coalesce(max(provider), '') AS p, "                     \
    "coalesce(max(token), '') AS t, count(*) AS n FROM devices "               \
    "WHERE app = $1 AND id = $7) " DEV_SELECT                                  \
    "FROM c CROSS JOIN unnest(coalesce($3::text[], "                           \
    "'{adm,apns,fcm,hms,webpush}'::text[])) AS v(p) CROSS JOIN LATERAL ("      \
    "SELECT d.* FROM devices d WHERE d.app = $1 AND d.provider = v.p "         \
    "AND v.p >= c.p AND ($7 = '' OR c.n = 1) "                                 \
    "AND d.token >= CASE WHEN v.p = c.p THEN greatest(c.t, $13) ELSE $13 END " \
    "AND ($7 = '' OR v.p > c.p OR d.token > c.t)" DEV_WHERE                    \
    " ORDER BY d.token LIMIT $8) AS d ORDER BY d.provider, d.token LIMIT $8"
/* the same filters counted: $1 app, $2..$6 as above, $7 topics, $8 token
 * prefix, $9 the end of its range */
#define DEV_COUNT                                                              \
    "SELECT count(*) FROM devices d WHERE d.app = $1"                          \
    " AND ($2::text[] IS NULL OR d.id = ANY ($2::text[]))"                     \
    " AND ($3::text[] IS NULL OR d.provider = ANY ($3::text[]))"               \
    " AND ($4::text[] IS NULL OR d.token = ANY ($4::text[]))"                  \
    " AND ($5::text[] IS NULL OR d.platform = ANY ($5::text[]))"               \
    " AND ($6::text[] IS NULL OR d.user_id = ANY ($6::text[]))"                \
    " AND ($7::text[] IS NULL OR EXISTS (SELECT 1 FROM device_topics t "       \
    "WHERE t.device_id = d.id AND t.topic = ANY ($7::text[])))"                \
    " AND ($8::text IS NULL OR (d.token >= $8 AND d.token < $9))"

/* ---- user_topic_list: $1 app, $2 users, $3 topics, $4 prefix, $5 after
 * (id), $6 rows ---- */
#define UT_COLS "SELECT ut.id, ut.user_id, ut.topic FROM user_topics ut "
#define UT_WHERE                                                               \
    " AND ($2::text[] IS NULL OR ut.user_id = ANY ($2::text[]))"               \
    " AND ($3::text[] IS NULL OR ut.topic = ANY ($3::text[]))"                 \
    " AND ($4::text IS NULL OR (ut.topic >= $4::text AND "                     \
    "left(ut.topic, length($4::text)) = $4::text))"
#define UT_FILTERS UT_WHERE " AND ut.id > $5::bigint ORDER BY ut.id LIMIT $6"

/* ---- device_topic_list: $1 app, $2 device ids, $3 providers,
 * $4 platforms, $5 users, $6 topics, $7 prefix, $8 after device id,
 * $9 after topic, $10 rows. One row per (device, topic), in that order.
 * ---- */
#define DT_WHERE                                                               \
    " AND ($3::text[] IS NULL OR d.provider = ANY ($3::text[]))"               \
    " AND ($4::text[] IS NULL OR d.platform = ANY ($4::text[]))"               \
    " AND ($5::text[] IS NULL OR d.user_id = ANY ($5::text[]))"                \
    " AND ($6::text[] IS NULL OR t.topic = ANY ($6::text[]))"                  \
    " AND ($7::text IS NULL OR (t.topic >= $7::text AND "                      \
    "left(t.topic, length($7::text)) = $7::text))"
#define DT_SELECT                                                              \
    "SELECT DISTINCT t.device_id, t.topic, d.provider, d.token, d.platform, "  \
    "d.user_id, d.timezone, d.locale, "                                        \
    "extract(epoch FROM d.created_at)::bigint, "                               \
    "extract(epoch FROM d.updated_at)::bigint "                                \
    "FROM device_topics t JOIN devices d ON d.id = t.device_id "               \
    "WHERE t.app = $1 AND d.app = $1 "
#define DT_PAGE                                                                \
    DT_WHERE " AND (t.device_id, t.topic) > ($8::text, $9::text) "             \
             "ORDER BY t.device_id, t.topic LIMIT $10"

/* ---- fan-out pages: $1 app, $2 values, $3 cursor, $4 rows, $5 providers,
 * $6 excluded identifiers, $7 client type, $8 installation. Every row of
 * the page comes back (the cursor must move past filtered rows too), with
 * a flag saying whether the device is a recipient. ---- */
#define FO_OK                                                                  \
    "(d.id IS NOT NULL AND d.provider = ANY ($5::text[])"                      \
    " AND ($6::text[] IS NULL OR d.identifier IS NULL"                         \
    " OR d.identifier <> ALL ($6::text[]))"                                    \
    " AND ($7::int = 0 OR d.client_type = $7::int)"                            \
    " AND ($8::text IS NULL OR d.installation_id = $8::text))"

/* ---- filter fan-out pages: $1 app, $2 the leading list, $3 cursor,
 * $4 rows, $5 providers (wanted and filtered), $6 ids, $7 users,
 * $8 topics, $9 platforms (NULL: not filtered). The leading list is read
 * as index ranges from the cursor; the others are checked per row. ---- */
#define FF_OK                                                                  \
    "(d.id IS NOT NULL AND d.provider = ANY ($5::text[])"                      \
    " AND ($6::text[] IS NULL OR d.id = ANY ($6::text[]))"                     \
    " AND ($7::text[] IS NULL OR d.user_id = ANY ($7::text[]))"                \
    " AND ($9::text[] IS NULL OR d.platform = ANY ($9::text[]))"               \
    " AND ($8::text[] IS NULL OR EXISTS (SELECT 1 FROM device_topics t "       \
    "WHERE t.device_id = d.id AND t.topic = ANY ($8::text[]))))"
/* $10: the device's fields too (user, timezone, locale), for per-device
 * processing; $11: and its meta */
#define FF_DEVICE                                                              \
    ", CASE WHEN $10::boolean THEN d.user_id END, "                            \
    "CASE WHEN $10::boolean THEN d.timezone END, "                             \
    "CASE WHEN $10::boolean THEN d.locale END, "                               \
    "CASE WHEN $11::boolean THEN d.meta::text END"
#define FF_PAGE(inner)                                                         \
    "SELECT p.id, d.provider, d.token, " FF_OK FF_DEVICE                       \
    " FROM (SELECT DISTINCT x.id "                                             \
    "FROM unnest($2::text[]) AS v(name) CROSS JOIN LATERAL (" inner ") AS x "  \
    "ORDER BY x.id LIMIT $4) AS p LEFT JOIN devices d ON d.id = p.id "         \
    "ORDER BY p.id"

/* A herald_device_register_{bulk,many} call: dev_register's columns per
 * row and the row's number in the group. */
#define REGISTER_ARRAYS(fn)                                                    \
    "SELECT (m.o_dev).id, (m.o_dev).provider, (m.o_dev).token, "               \
    "(m.o_dev).platform, (m.o_dev).user_id, (m.o_dev).identifier, "            \
    "(m.o_dev).client_type, (m.o_dev).device_type, "                           \
    "(m.o_dev).installation_id, (m.o_dev).timezone, (m.o_dev).locale, "        \
    "extract(epoch FROM (m.o_dev).created_at)::bigint, "                       \
    "extract(epoch FROM (m.o_dev).updated_at)::bigint, m.o_n FROM " fn         \
    "($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "            \
    "$6::text[], $7::text[], $8::jsonb[], $9::jsonb[], $10::text[], "          \
    "$11::text[], $12::smallint[], $13::smallint[], $14::text[], "             \
    "$15::text[], $16::text[]) AS m"

const struct hd_pg_stmt api_stmts[] = {
    {"dev_register",
     "SELECT id, provider, token, platform, user_id, identifier, "
     "client_type, device_type, installation_id, timezone, locale, "
     "extract(epoch FROM created_at)::bigint, "
     "extract(epoch FROM updated_at)::bigint FROM herald_device_register("
     "$1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::text[], $11, "
     "$12::smallint, $13::smallint, $14, $15, $16)",
     16},
    /* dev_register's sixteen parameters as arrays, one element a device
     * ($10: each device's topic list as a literal); the rows in order,
     * numbered in the last column, every user's lock taken first
     * (api_bulk.c, the group commit's groups that are not apart) */
    {"dev_register_bulk", REGISTER_ARRAYS("herald_device_register_bulk"), 16},
    /* the same, when no row names an id and no token comes twice */
    {"dev_register_many", REGISTER_ARRAYS("herald_device_register_many"), 16},
    /* $1..$5 the filter, $6 set user, $7 user, $8 meta, $9 tags,
     * $10 topics op, $11 topics, $12 timezone, $13 locale */
    {"dev_update",
     "SELECT herald_device_update($1, $2::text[], $3::text[], $4::text[], "
     "$5::text[], $6::boolean, $7, $8::jsonb, $9::jsonb, $10, $11::text[], "
     "$12, $13)",
     13},
    {"dev_remove",
     "SELECT herald_device_remove($1, $2::text[], $3::text[], $4::text[], "
     "$5::text[])",
     5},
    {"dev_list_ids", DEV_COLS "AND d.id = ANY ($2::text[])" DEV_FILTERS, 14},
    /* every provider named, so (app, provider, token) serves the lookup */
    {"dev_list_tokens",
     DEV_COLS "AND d.provider = ANY ('{fcm,apns,hms,webpush}') "
              "AND d.token = ANY ($4::text[])" DEV_FILTERS,
     14},
    {"dev_list_users", DEV_COLS "AND d.user_id = ANY ($6::text[])" DEV_FILTERS,
     14},
    {"dev_list_all", DEV_COLS DEV_FILTERS, 14},
    {"dev_list_prefix", DEV_PREFIX, 14},
    /* topics alone: the page's ids from the topic index ranges */
    {"dev_list_topics",
     DEV_COLS
     "AND d.id = ANY (ARRAY(SELECT DISTINCT x.id FROM "
     "unnest($12::text[]) AS v(name) CROSS JOIN LATERAL ("
     "SELECT DISTINCT t.device_id AS id FROM device_topics t WHERE t.app = $1 "
     "AND t.topic = v.name AND t.device_id > $7 "
     "ORDER BY t.device_id LIMIT $8) AS x ORDER BY x.id LIMIT $8))" DEV_FILTERS,
     14},
    {"dev_count", DEV_COUNT, 9},
    /* the prefix's range of devices_token, provider by provider */
    {"dev_count_prefix",
     DEV_COUNT " AND d.provider = ANY (coalesce($3::text[], "
               "'{adm,apns,fcm,hms,webpush}'::text[])) "
               "AND d.token >= $8 AND d.token < $9",
     9},
    {"dev_count_topics",
     "SELECT count(DISTINCT t.device_id) FROM device_topics t "
     "WHERE t.app = $1 AND t.topic = ANY ($2::text[])",
     2},

    /* $1 app, $2 device id, $3 owner (NULL: any), $4 op, $5 topics */
    {"dt_update",
     "SELECT herald_device_topic_update($1, $2, $3, $4, $5::text[])", 5},
    {"dt_list_devices", DT_SELECT "AND t.device_id = ANY ($2::text[])" DT_PAGE,
     10},
    {"dt_list_all", DT_SELECT "AND ($2::text[] IS NULL)" DT_PAGE, 10},
    {"dt_count",
     "SELECT count(*) FROM (SELECT DISTINCT t.device_id, t.topic "
     "FROM device_topics t JOIN devices d ON d.id = t.device_id "
     "WHERE t.app = $1 AND d.app = $1 "
     "AND ($2::text[] IS NULL OR t.device_id = ANY ($2::text[]))" DT_WHERE
     ") x",
     7},

    {"ut_update", "SELECT herald_user_topics_update($1, $2, $3, $4::text[])",
     4},
    {"ut_list_users",
     UT_COLS "WHERE ut.app = $1 AND ut.user_id = ANY ($2::text[])" UT_FILTERS,
     6},
    {"ut_list_topics",
     UT_COLS "WHERE ut.app = $1 AND ut.topic = ANY ($3::text[])" UT_FILTERS, 6},
    {"ut_list_prefix",
     UT_COLS "WHERE ut.app = $1 AND ut.topic >= $4::text" UT_FILTERS, 6},
    {"ut_list_all", UT_COLS "WHERE ut.app = $1" UT_FILTERS, 6},
    {"ut_count",
     "SELECT count(*) FROM user_topics ut WHERE ut.app = $1" UT_WHERE, 4},

    {"ps_put",
     "INSERT INTO push_status AS s (app, uid, target, device_id, status, "
     "msg_id) VALUES ($1, $2, $3, $3, $4, $5) "
     "ON CONFLICT (app, uid, target) DO UPDATE SET status = excluded.status, "
     "msg_id = coalesce(excluded.msg_id, s.msg_id), updated_at = now() "
     "WHERE herald_status_rank(excluded.status) >= "
     "herald_status_rank(s.status)",
     5},
    {"ps_list",
     "SELECT target, device_id, provider, token, status, code, msg_id, "
     "(extract(epoch FROM updated_at) * 1000)::bigint FROM push_status "
     "WHERE app = $1 AND uid = $2 AND target > $3 ORDER BY target LIMIT $4",
     4},
    /* one device's latest outcomes, newest first (push_status_target) */
    {"ps_device",
     "SELECT target, device_id, provider, token, status, code, msg_id, "
     "(extract(epoch FROM updated_at) * 1000)::bigint, uid FROM push_status "
     "WHERE app = $1 AND target = $2 ORDER BY updated_at DESC LIMIT $3",
     3},
    {"ps_counts",
     "SELECT status, count(*) FROM push_status WHERE app = $1 AND uid = $2 "
     "GROUP BY status",
     2},
    {"ps_request",
     "SELECT state, tokens, (extract(epoch FROM done_at) * 1000)::bigint "
     "FROM push_requests WHERE app = $1 AND uid = $2",
     2},

    {"fo_done_check",
     "SELECT r.app, r.uid FROM push_requests r JOIN unnest($1::text[], "
     "$2::text[]) AS x(app, uid) ON r.app = x.app AND r.uid = x.uid",
     2},
    {"fo_mark_done",
     "INSERT INTO push_requests (app, uid, state, tokens, created_at) "
     "SELECT x.app, x.uid, x.state, x.tokens, "
     "to_timestamp(x.created_ms / 1000.0) FROM unnest($1::text[], "
     "$2::text[], $3::text[], $4::bigint[], $5::bigint[]) "
     "AS x(app, uid, state, tokens, created_ms) "
     "ON CONFLICT (app, uid) DO NOTHING",
     5},
    {"fo_page_ids",
     "SELECT d.id, d.provider, d.token, " FO_OK " FROM devices d "
     "WHERE d.app = $1 AND d.id = ANY ($2::text[]) AND d.id > $3 "
     "ORDER BY d.id LIMIT $4",
     8},
    {"fo_page_users",
     "SELECT d.id, d.provider, d.token, " FO_OK " FROM devices d "
     "WHERE d.app = $1 AND d.user_id = ANY ($2::text[]) AND d.id > $3 "
     "ORDER BY d.id LIMIT $4",
     8},
    {"fo_page_channels",
     "SELECT p.device_id, d.provider, d.token, " FO_OK " FROM ("
     "SELECT DISTINCT x.device_id FROM unnest($2::text[]) AS ch(name) "
     "CROSS JOIN LATERAL (("
     "SELECT DISTINCT dc.device_id FROM device_topics dc WHERE dc.app = $1 "
     "AND dc.topic = ch.name AND dc.device_id > $3 "
     "ORDER BY dc.device_id LIMIT $4) UNION ALL ("
     "SELECT i.id FROM devices i WHERE left(ch.name, 13) = 'installation:' "
     "AND i.app = $1 AND i.installation_id = substr(ch.name, 14) "
     "AND i.id > $3 ORDER BY i.id LIMIT $4)) AS x "
     "ORDER BY x.device_id LIMIT $4) AS p "
     "LEFT JOIN devices d ON d.id = p.device_id ORDER BY p.device_id",
     8},

    {"ff_page_ids",
     "SELECT d.id, d.provider, d.token, " FF_OK FF_DEVICE " FROM devices d "
     "WHERE d.app = $1 AND d.id = ANY ($2::text[]) AND d.id > $3 "
     "ORDER BY d.id LIMIT $4",
     11},
    {"ff_page_users",
     FF_PAGE("SELECT i.id FROM devices i WHERE i.app = $1 "
             "AND i.user_id = v.name AND i.id > $3 ORDER BY i.id LIMIT $4"),
     11},
    {"ff_page_topics",
     FF_PAGE("SELECT DISTINCT t.device_id AS id FROM device_topics t "
             "WHERE t.app = $1 AND t.topic = v.name AND t.device_id > $3 "
             "ORDER BY t.device_id LIMIT $4"),
     11},
    /* no ids, users or topics: the providers' index ranges ($2 = $5) */
    {"ff_page_providers",
     FF_PAGE("SELECT i.id FROM devices i WHERE i.app = $1 "
             "AND i.provider = v.name AND i.id > $3 ORDER BY i.id LIMIT $4"),
     11},
    /* limit_strategy (db/migrations/0008) */
    {"fp_rate_take",
     "SELECT unnest(herald_rate_take($1, $2::text[], $3::int[], "
     "$4::bigint[]))",
     4},
    {"fp_window_wait",
     "SELECT unnest(herald_window_wait($1::text[], $2::int, $3::int))", 3},

    /* scheduled pushes (send_at) and cancel_push */
    {"sp_put",
     "INSERT INTO scheduled_pushes (app, uid, due_at, state, record) "
     "VALUES ($1, $2, to_timestamp($3::bigint / 1000.0), 'pending', $4) "
     "ON CONFLICT (app, uid) DO NOTHING",
     4},
    {"sp_claim",
     "SELECT app, uid, record FROM scheduled_pushes "
     "WHERE state = 'pending' AND due_at <= now() ORDER BY due_at "
     "LIMIT $1::int FOR UPDATE SKIP LOCKED",
     1},
    {"sp_released",
     "UPDATE scheduled_pushes s SET state = 'released' FROM "
     "unnest($1::text[], $2::text[]) AS x(app, uid) "
     "WHERE s.app = x.app AND s.uid = x.uid AND s.state = 'pending'",
     2},
    {"sp_cancel",
     "INSERT INTO scheduled_pushes (app, uid, due_at, state) "
     "VALUES ($1, $2, now(), 'cancelled') ON CONFLICT (app, uid) "
     "DO UPDATE SET state = 'cancelled'",
     2},
    {"sp_cancelled",
     "SELECT 1 FROM scheduled_pushes WHERE app = $1 AND uid = $2 "
     "AND state = 'cancelled'",
     2},

    {"fb_status",
     "INSERT INTO push_status AS s (app, uid, target, device_id, provider, "
     "token, status, code) SELECT DISTINCT ON (x.app, x.uid, x.target) "
     "x.app, x.uid, x.target, x.device_id, x.provider, x.token, x.status, "
     "x.code FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
     "$5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY "
     "AS x(app, uid, target, device_id, provider, token, status, code, ord) "
     "ORDER BY x.app, x.uid, x.target, herald_status_rank(x.status) DESC, "
     "x.ord DESC "
     "ON CONFLICT (app, uid, target) DO UPDATE SET status = excluded.status, "
     "code = excluded.code, provider = excluded.provider, "
     "updated_at = now() WHERE herald_status_rank(excluded.status) >= "
     "herald_status_rank(s.status)",
     8},
    {"fb_remove",
     "DELETE FROM devices d USING unnest($1::text[], $2::text[]) "
     "AS x(id, token) WHERE d.id = x.id AND d.token = x.token "
     "RETURNING d.app, d.provider",
     2},
    {"fb_seen",
     "UPDATE devices SET last_seen_at = now() WHERE id = ANY ($1::text[]) "
     "AND last_seen_at < now() - interval '1 hour'",
     1},

    {"cl_inactive",
     "WITH del AS (DELETE FROM devices WHERE id IN (SELECT id FROM devices "
     "WHERE last_seen_at < now() - make_interval(days => $1::int) "
     "LIMIT $2::int) RETURNING provider) "
     "SELECT provider, count(*) FROM del GROUP BY provider",
     2},
    {"cl_requests",
     "DELETE FROM push_requests WHERE (app, uid) IN (SELECT app, uid FROM "
     "push_requests WHERE done_at < now() - make_interval(hours => $1::int) "
     "LIMIT $2::int)",
     2},
    {"cl_status",
     "DELETE FROM push_status WHERE (app, uid, target) IN (SELECT app, uid, "
     "target FROM push_status "
     "WHERE updated_at < now() - make_interval(hours => $1::int) "
     "LIMIT $2::int)",
     2},
    /* rate-limit state that no longer limits anything ($1: slack, ms) */
    {"cl_rate",
     "DELETE FROM push_rate_state WHERE (app, key) IN (SELECT app, key "
     "FROM push_rate_state WHERE until_ms < "
     "(extract(epoch FROM now()) * 1000)::bigint - $1::int LIMIT $2::int)",
     2},
    {"cl_scheduled",
     "DELETE FROM scheduled_pushes WHERE (app, uid) IN (SELECT app, uid "
     "FROM scheduled_pushes WHERE state <> 'pending' "
     "AND created_at < now() - make_interval(hours => $1::int) "
     "LIMIT $2::int)",
     2},

    /* another user's device on another identifier holding the token: the
     * token may not move to this user (a device takeover) */
    {"bw_token_taken",
     "SELECT 1 FROM devices WHERE app = $1 AND provider = $2 AND token = $3 "
     "AND user_id <> $4 AND identifier IS DISTINCT FROM $5 LIMIT 1",
     5},

    {"bw_find",
     "SELECT id FROM devices WHERE app = $1 AND identifier = $2 "
     "AND user_id = $3 ORDER BY updated_at DESC LIMIT 1",
     3},
    {"bw_clear_user",
     "DELETE FROM devices WHERE app = $1 AND identifier = $2 "
     "AND user_id = $3 RETURNING id",
     3},
    {"bw_clear_any",
     "DELETE FROM devices WHERE app = $1 AND identifier = $2 RETURNING id", 2},
};
const size_t api_nstmts = sizeof(api_stmts) / sizeof(api_stmts[0]);

/* ---- array literals ---------------------------------------------------- */

const char *
api_pgarr_json(struct hd_buf *b, json_t *arr, struct hd_err *err)
{
    json_t *v;
    size_t i;

    if (arr == NULL)
        return NULL;
    hd_pg_array_begin(b);
    json_array_foreach(arr, i, v)
    {
        if (hd_pg_array_add(b, json_string_value(v), err) < 0)
            return NULL;
    }
    if (hd_pg_array_end(b, err) < 0)
        return NULL;
    return b->data;
}

/* ---- running --------------------------------------------------------- */

int
api_query(struct hd_pg *pg, int wait_ms, const char *stmt, int n,
          const char *const *vals, PGresult **res, struct hd_err *err)
{
    struct hd_pgconn *c;
    int rc;

    c = hd_pg_acquire(pg, wait_ms, err);
    if (c == NULL) {
        err->code = HD_EUPSTREAM;
        return -1;
    }
    rc = hd_pg_exec(c, stmt, n, vals, NULL, NULL, res, err);
    hd_pg_release(pg, c);
    if (rc < 0)
        err->code = HD_EUPSTREAM; /* never a client's fault: not a 107 */
    return rc;
}

/* ---- results ----------------------------------------------------------- */

const char *
api_pg_get(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}

long long
api_pg_get_ll(const PGresult *res, int row, int col)
{
    const char *s = api_pg_get(res, row, col);
    long long v = 0;

    if (s == NULL ||
        hd_parse_ll(s, -9223372036854775807LL, 9223372036854775807LL, &v) < 0)
        return 0;
    return v;
}

json_t *
api_pg_get_json(const PGresult *res, int row, int col)
{
    const char *s = api_pg_get(res, row, col);

    if (s == NULL)
        return NULL;
    return json_loads(s, 0, NULL);
}
