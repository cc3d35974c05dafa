/* relay_quota.c -- the per-installation quotas: devices reached a minute
 * (a push to N devices counts N) and devices registered.
 *
 * A send names a user, an organization or the whole installation; the
 * devices it reaches are counted in the registry the way the fan-out
 * will pick them (excluded identifier and client type too), stopping at
 * one minute's quota, and taken from the installation's bucket. The
 * device quota is checked inside the registration's transaction under a
 * lock on the installation's row, so concurrent registrations cannot
 * pass it together. Answers are the callers'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/relay/relay.h"
#include "core/banned.h"

/* The statement and its $2 for r's recipients. */
static const char *
target_of(const struct hd_msg_request *r, const char **value)
{
    const char *v = json_string_value(json_array_get(r->values, 0));

    *value = v ? v : "";
    if (r->kind == HD_RCPT_USERS)
        return "rcpt_user";
    if (v != NULL && strncmp(v, "installation:", 13) == 0) {
        *value = v + 13;
        return "rcpt_inst";
    }
    return "rcpt_topic";
}

int
relay_quota_recipients(struct relay_ctx *ctx, const char *inst,
                       const struct hd_msg_request *r, long *n,
                       struct hd_err *err)
{
    const char *vals[5], *stmt;
    char ct[16], most[16];
    PGresult *res = NULL;

    *n = 0;
    if (ctx->cfg.recipients_per_min <= 0)
        return 0;
    stmt = target_of(r, &vals[1]);
    snprintf(ct, sizeof(ct), "%d", r->client_type);
    snprintf(most, sizeof(most), "%d", ctx->cfg.recipients_per_min);
    vals[0] = r->app;
    vals[2] = r->exclude_identifiers
                  ? json_string_value(json_array_get(r->exclude_identifiers, 0))
                  : NULL;
    vals[3] = ct;
    vals[4] = most;
    if (relay_query(ctx, stmt, 5, vals, &res, err) < 0)
        return -1;
    *n = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return hd_ratelimit_take_n(&ctx->recipients, inst, *n);
}

int
relay_quota_devices(struct relay_ctx *ctx, struct hd_pgconn *c, const char *app,
                    const char *inst, const char *id, struct hd_err *err)
{
    const char *vals[3];
    PGresult *res = NULL;
    char most[16];
    int full;

    if (ctx->cfg.max_devices <= 0)
        return 0;
    vals[0] = inst;
    if (hd_pg_exec(c, "inst_lock", 1, vals, NULL, NULL, NULL, err) < 0)
        return -1;
    snprintf(most, sizeof(most), "%d", ctx->cfg.max_devices);
    vals[0] = app;
    vals[1] = id;
    vals[2] = most;
    if (hd_pg_exec(c, "dev_quota", 3, vals, NULL, NULL, &res, err) < 0)
        return -1;
    full = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") != 0 &&
           strtol(PQgetvalue(res, 0, 1), NULL, 10) >= ctx->cfg.max_devices;
    PQclear(res);
    return full;
}
