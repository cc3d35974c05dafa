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

#include "pg/pg.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/banned.h"

/* ---- device_list: $1 app, $2 ids, $3 providers, $4 tokens, $5 platforms,
 * $6 users, $7 since, $8 rows, $9..$11 include meta/tags/channels ---- */
#define DEV_COLS                                                               \
    "SELECT d.id, d.provider, d.token, d.platform, d.user_id, d.identifier, "  \
    "d.client_type, d.device_type, d.installation_id, "                        \
    "CASE WHEN $9::boolean THEN d.meta END, "                                  \
    "CASE WHEN $10::boolean THEN d.tags END, "                                 \
    "CASE WHEN $11::boolean THEN (SELECT json_agg(DISTINCT c.channel "         \
    "ORDER BY c.channel) FROM device_channels c WHERE c.device_id = d.id) "    \
    "END FROM devices d WHERE d.app = $1 "
#define DEV_FILTERS                                                            \
    " AND ($2::text[] IS NULL OR d.id = ANY ($2::text[]))"                     \
    " AND ($3::text[] IS NULL OR d.provider = ANY ($3::text[]))"               \
    " AND ($4::text[] IS NULL OR d.token = ANY ($4::text[]))"                  \
    " AND ($5::text[] IS NULL OR d.platform = ANY ($5::text[]))"               \
    " AND ($6::text[] IS NULL OR d.user_id = ANY ($6::text[]))"                \
    " AND d.id > $7 ORDER BY d.id LIMIT $8"

/* ---- push_user_channel_list: $1 app, $2 users, $3 channels, $4 prefix,
 * $5 since (id), $6 rows ---- */
#define UC_COLS "SELECT uc.id, uc.user_id, uc.channel FROM user_channels uc "
#define UC_FILTERS                                                             \
    " AND ($2::text[] IS NULL OR uc.user_id = ANY ($2::text[]))"               \
    " AND ($3::text[] IS NULL OR uc.channel = ANY ($3::text[]))"               \
    " AND ($4::text IS NULL OR (uc.channel >= $4::text AND "                   \
    "left(uc.channel, length($4::text)) = $4::text))"                          \
    " AND uc.id > $5::bigint ORDER BY uc.id LIMIT $6"

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

const struct hd_pg_stmt api_stmts[] = {
    {"dev_register",
     "SELECT id, provider, token, platform, user_id, identifier, "
     "client_type, device_type, installation_id FROM herald_device_register("
     "$1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::text[], $11, "
     "$12::smallint, $13::smallint, $14)",
     14},
    {"dev_update",
     "SELECT herald_device_update($1, $2::text[], $3::text[], $4::text[], "
     "$5::text[], $6::boolean, $7, $8::jsonb, $9::jsonb, $10::text[])",
     10},
    {"dev_remove",
     "SELECT herald_device_remove($1, $2::text[], $3::text[], $4::text[], "
     "$5::text[])",
     5},
    {"dev_list_ids", DEV_COLS "AND d.id = ANY ($2::text[])" DEV_FILTERS, 11},
    /* every provider named, so (app, provider, token) serves the lookup */
    {"dev_list_tokens",
     DEV_COLS "AND d.provider = ANY ('{fcm,apns,hms,webpush}') "
              "AND d.token = ANY ($4::text[])" DEV_FILTERS,
     11},
    {"dev_list_users", DEV_COLS "AND d.user_id = ANY ($6::text[])" DEV_FILTERS,
     11},
    {"dev_list_all", DEV_COLS DEV_FILTERS, 11},

    {"uc_update", "SELECT herald_user_channels_update($1, $2, $3, $4::text[])",
     4},
    {"uc_list_users",
     UC_COLS "WHERE uc.app = $1 AND uc.user_id = ANY ($2::text[])" UC_FILTERS,
     6},
    {"uc_list_channels",
     UC_COLS "WHERE uc.app = $1 AND uc.channel = ANY ($3::text[])" UC_FILTERS,
     6},
    {"uc_list_prefix",
     UC_COLS "WHERE uc.app = $1 AND uc.channel >= $4::text" UC_FILTERS, 6},
    {"uc_list_all", UC_COLS "WHERE uc.app = $1" UC_FILTERS, 6},

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
     "SELECT dc.device_id FROM device_channels dc WHERE dc.app = $1 "
     "AND dc.channel = ch.name AND dc.device_id > $3 "
     "ORDER BY dc.device_id LIMIT $4) UNION ALL ("
     "SELECT i.id FROM devices i WHERE left(ch.name, 13) = 'installation:' "
     "AND i.app = $1 AND i.installation_id = substr(ch.name, 14) "
     "AND i.id > $3 ORDER BY i.id LIMIT $4)) AS x "
     "ORDER BY x.device_id LIMIT $4) AS p "
     "LEFT JOIN devices d ON d.id = p.device_id ORDER BY p.device_id",
     8},

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

void
api_pgarr_begin(struct hd_buf *b)
{
    hd_buf_reset(b);
    hd_buf_putc(b, '{', NULL);
}

int
api_pgarr_add(struct hd_buf *b, const char *s, struct hd_err *err)
{
    size_t start = b->len;
    const char *p;

    if (b->len > 1 && hd_buf_putc(b, ',', err) < 0)
        return -1;
    if (s == NULL)
        return hd_buf_puts(b, "NULL", err);
    if (hd_buf_putc(b, '"', err) < 0)
        goto fail;
    for (p = s; *p; p++) {
        if ((*p == '"' || *p == '\\') && hd_buf_putc(b, '\\', err) < 0)
            goto fail;
        if (hd_buf_putc(b, *p, err) < 0)
            goto fail;
    }
    if (hd_buf_putc(b, '"', err) < 0)
        goto fail;
    return 0;
fail:
    b->len = start;
    b->data[start] = '\0';
    return -1;
}

int
api_pgarr_add_i64(struct hd_buf *b, int64_t v, struct hd_err *err)
{
    if (b->len > 1 && hd_buf_putc(b, ',', err) < 0)
        return -1;
    return hd_buf_printf(b, err, "%lld", (long long)v);
}

int
api_pgarr_end(struct hd_buf *b, struct hd_err *err)
{
    return hd_buf_putc(b, '}', err);
}

const char *
api_pgarr_json(struct hd_buf *b, json_t *arr, struct hd_err *err)
{
    json_t *v;
    size_t i;

    if (arr == NULL)
        return NULL;
    api_pgarr_begin(b);
    json_array_foreach(arr, i, v)
    {
        if (api_pgarr_add(b, json_string_value(v), err) < 0)
            return NULL;
    }
    if (api_pgarr_end(b, err) < 0)
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
