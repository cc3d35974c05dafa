/* relay_store.c -- every SQL statement herald-relay runs.
 *
 * Devices go through the registry's own function (herald_device_register,
 * db/migrations/0003), in the installation's namespace: every statement
 * that touches devices names the app "relay.<installationId>", so a
 * statement cannot reach another installation's rows whatever ids it is
 * given. Lists travel as JSON arrays ($n::jsonb), never as SQL text. */
#include "pg/pg.h"
#include "services/relay/relay.h"
#include "core/banned.h"

#define RELAY_TS "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"
#define RCPT_OK                                                                \
    "d.identifier IS DISTINCT FROM $3 AND ($4::int = 0 OR d.client_type = "    \
    "$4::int)"
#define JSON_IDS(n) "(SELECT jsonb_array_elements_text($" #n "::jsonb))"

const struct hd_pg_stmt relay_stmts[] = {
    {"inst_get",
     "SELECT id, key_hash, enabled, key_version FROM installations "
     "WHERE id = $1",
     1},
    {"inst_auth",
     "SELECT enabled, key_version FROM installations WHERE id = $1", 1},
    /* a page of installations after cursor $1, with their device counts */
    {"inst_list",
     "SELECT i.id, i.contact_email, i.enabled, i.key_version, "
     "to_char(i.created_at AT TIME ZONE 'UTC', " RELAY_TS "), "
     "to_char(i.key_rotated_at AT TIME ZONE 'UTC', " RELAY_TS "), "
     "(SELECT count(*) FROM devices d WHERE d.app = 'relay.' || i.id) "
     "FROM installations i WHERE i.id > $1 ORDER BY i.id LIMIT $2",
     2},
    {"inst_rotate",
     "UPDATE installations SET key_hash = $2, key_version = key_version + 1, "
     "key_rotated_at = now() WHERE id = $1 RETURNING enabled, key_version",
     2},
    {"inst_add",
     "INSERT INTO installations (id, key_hash, contact_email) "
     "VALUES ($1, $2, $3)",
     3},
    /* a token belongs to one device of the installation: a row holding it
     * under another id (a device re-created upstream) goes first */
    {"dev_drop_token",
     "DELETE FROM devices WHERE app = $1 AND provider = $2 AND token = $3 "
     "AND id <> $4",
     4},
    /* $1 app, $2 id, $3 provider, $4 token, $5 platform, $6 user,
     * $7 channels (JSON array), $8 identifier, $9 client type,
     * $10 device type, $11 installation */
    {"dev_register",
     "SELECT id FROM herald_device_register($1, $2, $2, $3, $4, $5, $6, "
     "NULL, NULL, ARRAY" JSON_IDS(7) ", $8, $9::smallint, $10::smallint, "
                                     "$11)",
     11},
    /* tenant quotas (relay_quota.c): counts stop at $n, so a count costs
     * at most one quota's worth of index entries */
    {"inst_lock", "SELECT 1 FROM installations WHERE id = $1 FOR NO KEY UPDATE",
     1},
    {"dev_quota",
     "SELECT EXISTS (SELECT 1 FROM devices WHERE app = $1 AND id = $2), "
     "(SELECT count(*) FROM (SELECT 1 FROM devices WHERE app = $1 "
     "LIMIT $3) s)",
     3},
    /* the devices a send reaches, as the fan-out picks them: $1 app,
     * $2 user / topic / installation, $3 excluded identifier (NULL: none),
     * $4 client type (0: any), $5 most */
    {"rcpt_user",
     "SELECT count(*) FROM (SELECT 1 FROM devices d WHERE d.app = $1 "
     "AND d.user_id = $2 AND " RCPT_OK " LIMIT $5) s",
     5},
    {"rcpt_topic",
     "SELECT count(*) FROM (SELECT 1 FROM device_topics t JOIN devices d "
     "ON d.id = t.device_id WHERE t.app = $1 AND t.topic = $2 "
     "AND " RCPT_OK " LIMIT $5) s",
     5},
    {"rcpt_inst",
     "SELECT count(*) FROM (SELECT 1 FROM devices d WHERE d.app = $1 "
     "AND d.installation_id = $2 AND " RCPT_OK " LIMIT $5) s",
     5},
    {"dev_delete", "DELETE FROM devices WHERE app = $1 AND id = $2", 2},
    {"org_add",
     "INSERT INTO device_topics (device_id, topic, src, app) "
     "SELECT d.id, $3, 0, d.app FROM devices d WHERE d.app = $1 "
     "AND d.id IN " JSON_IDS(2) " ON CONFLICT DO NOTHING",
     3},
    {"org_delete",
     "DELETE FROM device_topics WHERE app = $1 AND src = 0 "
     "AND topic = $3 AND device_id IN " JSON_IDS(2),
     3},
};
const size_t relay_nstmts = sizeof(relay_stmts) / sizeof(relay_stmts[0]);

int
relay_query(struct relay_ctx *ctx, const char *stmt, int n,
            const char *const *vals, PGresult **res, struct hd_err *err)
{
    struct hd_pgconn *c;
    int rc;

    c = hd_pg_acquire(ctx->pg, ctx->cfg.pg_wait_ms, err);
    if (c == NULL)
        return -1;
    rc = hd_pg_exec(c, stmt, n, vals, NULL, NULL, res, err);
    hd_pg_release(ctx->pg, c);
    return rc;
}
