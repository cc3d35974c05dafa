/* api_fopersonal.c -- a filter page processed device by device: the
 * send's time_limit and rate_limit, then its templates and localizations
 * (api_personal.h), on a fan-out worker thread.
 *
 * For one page: the delivery windows of the page's timezones are asked
 * of PostgreSQL in one call (herald_window_wait), the rate limits of the
 * devices still due are checked and recorded in one call
 * (herald_rate_take, exact across replicas: db/migrations/0008); devices
 * sent now are rendered and batched (devices with the same rendering
 * share batches); devices held back are grouped by the time they may be
 * sent and each group is held in scheduled_pushes as a part of the send
 * (uid "#" part, recipient filter {ids}), which the scheduler releases
 * when due and the fan-out checks again. A device whose notification
 * does not render is reported failed (code "template") on
 * herald.feedback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/backoff.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "services/api/api_batch.h"
#include "services/api/api_fanout.h"
#include "services/api/api_fopersonal.h"
#include "services/api/api_store.h"
#include "core/banned.h"

enum fate { F_SEND = 0, F_DROP, F_DELAY, F_SKIP };

struct row {
    enum fate fate;
    enum hd_provider p;
    int64_t due_ms;
};

/* ---- the rendering cache (devices that share their translations) ------ */

struct pcache_ent {
    json_t *l10n; /* the key: a translations map (borrowed) or NULL */
    json_t *part[HD_PROVIDER__COUNT];
    int failed[HD_PROVIDER__COUNT];
};

struct fo_pctx {
    struct pcache_ent *ent;
    size_t n;
};

struct fo_pctx *
fo_pctx_new(void)
{
    return hd_xcalloc(1, sizeof(struct fo_pctx));
}

void
fo_pctx_free(struct fo_pctx *c)
{
    size_t i;
    int p;

    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++)
        for (p = 0; p < HD_PROVIDER__COUNT; p++)
            json_decref(c->ent[i].part[p]);
    free(c->ent);
    free(c);
}

static size_t
payload_max(enum hd_provider p)
{
    switch (p) {
    case HD_PROVIDER_WEBPUSH:
        return HD_PAYLOAD_MAX_WEBPUSH;
    case HD_PROVIDER_APNS:
        return 5120; /* the VoIP limit: the worker checks the exact one */
    default:
        return HD_PAYLOAD_MAX_FCM;
    }
}

/* The notification part of provider p rendered for v (new), or NULL with
 * err: a string over its bound, or the part over the provider's. */
static json_t *
render(struct fo_req *req, enum hd_provider p, const struct api_tmpl_vars *v,
       struct hd_err *err)
{
    json_t *src = json_object_get(req->r.notification, hd_provider_name(p));
    json_t *out;

    if (req->pers.nt == NULL)
        return json_incref(src);
    out = api_ntmpl_render(req->pers.nt, src, v, err);
    if (out != NULL && api_json_size(out) > payload_max(p) + 64) {
        json_decref(out);
        hd_err_set(err, HD_ETOOBIG, "rendered %s part over %zu bytes",
                   hd_provider_name(p), payload_max(p));
        return NULL;
    }
    return out;
}

/* Borrowed rendering for a device that reads only .l10n. */
static json_t *
render_cached(struct fo_pctx *c, struct fo_req *req, enum hd_provider p,
              json_t *l10n, struct hd_err *err)
{
    struct api_tmpl_vars v = {NULL, NULL, NULL, l10n};
    struct pcache_ent *e = NULL;
    size_t i;

    for (i = 0; i < c->n; i++)
        if (c->ent[i].l10n == l10n) {
            e = &c->ent[i];
            break;
        }
    if (e == NULL) {
        c->ent = hd_xrealloc(c->ent, (c->n + 1) * sizeof(*c->ent));
        e = &c->ent[c->n++];
        memset(e, 0, sizeof(*e));
        e->l10n = l10n;
    }
    if (e->part[p] == NULL && !e->failed[p]) {
        e->part[p] = render(req, p, &v, err);
        e->failed[p] = e->part[p] == NULL;
        return e->part[p];
    }
    if (e->failed[p])
        hd_err_set(err, HD_ETOOBIG, "rendered %s part over its limit",
                   hd_provider_name(p));
    return e->part[p];
}

/* ---- reporting --------------------------------------------------------- */

static void
report_failed(struct api_fanout *fo, struct fo_req *req, enum hd_provider p,
              const char *device, const char *token, const char *why)
{
    hd_counter_inc(
        hd_metric_with(fo->ctx->m.fo_render_failed, hd_provider_name(p)));
    hd_log(HD_LOG_WARN, 0, "send %s: device %s not sent: %s", req->r.uid,
           device, why);
    api_report_device(fo->ctx, &req->r, p, device, token, HD_OUTCOME_FAILED,
                      "template");
}

static void
count(struct api_fanout *fo, const char *strategy, const char *result)
{
    hd_counter_inc(hd_metric_with(fo->ctx->m.fo_limited, strategy, result));
}

/* ---- time_limit -------------------------------------------------------- */

/* Marks each row due now, dropped (no timezone) or delayed to the start
 * of its window. 0, or -1 (database error: nothing done). */
static int
apply_window(struct api_fanout *fo, struct fo_req *req, PGresult *res,
             struct row *rows, struct hd_err *err)
{
    const struct api_personal *pp = &req->pers;
    int n = PQntuples(res), i, k, nz = 0;
    const char **zones = hd_xcalloc((size_t)n + 1, sizeof(*zones));
    char after[16], before[16];
    const char *vals[3];
    struct hd_buf arr;
    PGresult *w = NULL;
    int rc = -1;

    hd_buf_init(&arr, API_PG_ARRAY_MAX);
    hd_pg_array_begin(&arr);
    for (i = 0; i < n; i++) {
        const char *tz = api_pg_get(res, i, 5);

        if (rows[i].fate != F_SEND || tz == NULL || tz[0] == '\0')
            continue;
        for (k = 0; k < nz && strcmp(zones[k], tz) != 0; k++)
            ;
        if (k == nz) {
            zones[nz++] = tz;
            hd_pg_array_add(&arr, tz, NULL);
        }
    }
    hd_pg_array_end(&arr, NULL);
    snprintf(after, sizeof(after), "%d", pp->after_s);
    snprintf(before, sizeof(before), "%d", pp->before_s);
    vals[0] = arr.data;
    vals[1] = after;
    vals[2] = before;
    if (nz > 0 && api_query(fo->ctx->bg, fo->ctx->cfg.pg_wait_ms,
                            "fp_window_wait", 3, vals, &w, err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        const char *tz = api_pg_get(res, i, 5);
        long long wait = -1;

        if (rows[i].fate != F_SEND)
            continue;
        for (k = 0; tz && tz[0] && k < nz; k++)
            if (strcmp(zones[k], tz) == 0) {
                wait = api_pg_get_ll(w, k, 0);
                break;
            }
        if (wait == 0)
            continue;
        if (wait < 0) {
            if (pp->no_tz_send_now)
                continue;
            rows[i].fate = F_DROP;
            count(fo, "time_limit", "dropped");
            continue;
        }
        rows[i].fate = F_DELAY;
        rows[i].due_ms = wait;
        count(fo, "time_limit", "delayed");
    }
    rc = 0;
out:
    PQclear(w);
    hd_buf_release(&arr);
    free(zones);
    return rc;
}

/* ---- rate_limit -------------------------------------------------------- */

static int
rate_args(const struct api_personal *pp, struct hd_buf *rates,
          struct hd_buf *ivs)
{
    int i;

    hd_pg_array_begin(rates);
    hd_pg_array_begin(ivs);
    for (i = 0; i < pp->npol; i++) {
        hd_pg_array_add_i64(rates, pp->pol_rate[i], NULL);
        hd_pg_array_add_i64(ivs, pp->pol_ms[i], NULL);
    }
    hd_pg_array_end(rates, NULL);
    return hd_pg_array_end(ivs, NULL);
}

/* Takes a send from each due row's rate limit; the limited ones are
 * dropped or delayed until they would be allowed. 0 or -1. */
static int
apply_rate(struct api_fanout *fo, struct fo_req *req, PGresult *res,
           struct row *rows, struct hd_err *err)
{
    const struct api_personal *pp = &req->pers;
    int n = PQntuples(res), i, k = 0, nk = 0;
    struct hd_buf keys, rates, ivs, key;
    const char *vals[4];
    PGresult *r = NULL;
    int rc = -1;

    hd_buf_init(&keys, API_PG_ARRAY_MAX);
    hd_buf_init(&rates, 1024);
    hd_buf_init(&ivs, 1024);
    hd_buf_init(&key, API_RATE_KEY_MAX * 4 + 1);
    hd_pg_array_begin(&keys);
    for (i = 0; i < n; i++) {
        struct api_tmpl_vars v = {api_pg_get(res, i, 0), api_pg_get(res, i, 4),
                                  NULL, NULL};

        if (rows[i].fate != F_SEND)
            continue;
        key.len = 0;
        if (pp->rate_key == NULL ||
            api_tmpl_render(pp->rate_key, &v, API_RATE_KEY_MAX * 4, &key, err) <
                0)
            hd_buf_puts(&key, v.id, NULL);
        hd_buf_append(&key, "", 1, NULL);
        hd_pg_array_add(&keys, key.data, NULL);
        nk++;
    }
    hd_pg_array_end(&keys, NULL);
    rate_args(pp, &rates, &ivs);
    vals[0] = req->r.app;
    vals[1] = keys.data;
    vals[2] = rates.data;
    vals[3] = ivs.data;
    if (nk > 0 && api_query(fo->ctx->bg, fo->ctx->cfg.pg_wait_ms,
                            "fp_rate_take", 4, vals, &r, err) < 0)
        goto out;
    for (i = 0; i < n && nk > 0; i++) {
        long long retry;

        if (rows[i].fate != F_SEND)
            continue;
        retry = api_pg_get_ll(r, k++, 0);
        if (retry == 0)
            continue;
        rows[i].fate = pp->drop ? F_DROP : F_DELAY;
        rows[i].due_ms = retry;
        count(fo, "rate_limit", pp->drop ? "dropped" : "delayed");
    }
    rc = 0;
out:
    PQclear(r);
    hd_buf_release(&keys);
    hd_buf_release(&rates);
    hd_buf_release(&ivs);
    hd_buf_release(&key);
    return rc;
}

/* ---- held back --------------------------------------------------------- */

/* Holds one part of the send: the devices of rows due at due_ms. Retried
 * until written or stopping (0 / -1). */
static int
hold(struct api_fanout *fo, struct fo_req *req, PGresult *res,
     const struct row *rows, int64_t due_s)
{
    const struct hd_backoff bo = {200, 5000};
    struct hd_msg_request part = req->r;
    struct hd_err err = {0};
    json_t *ids = json_array();
    char name[HD_PART_MAX + 1];
    uint64_t h = 1469598103934665603ULL;
    unsigned fails = 0;
    const char *s;
    int i, rc;

    for (i = 0; i < PQntuples(res); i++) {
        if (rows[i].fate != F_DELAY || (rows[i].due_ms + 999) / 1000 != due_s)
            continue;
        json_array_append_new(ids, json_string(api_pg_get(res, i, 0)));
        for (s = api_pg_get(res, i, 0); *s; s++)
            h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    snprintf(name, sizeof(name), "%lld-%016llx", (long long)due_s,
             (unsigned long long)h);
    part.kind = HD_RCPT_FILTER;
    part.values = json_pack("{s:o}", "ids", ids);
    part.part = name;
    for (;;) {
        rc = api_sched_put(fo->ctx, fo->ctx->bg, &part, due_s * 1000, &err);
        if (rc == 0 || atomic_load(&fo->stop))
            break;
        hd_log(HD_LOG_WARN, 0, "send %s: holding a part (retried): %s",
               req->r.uid, err.msg);
        fo_nap(fo, hd_backoff_delay(&bo, fails++, &hd_rand_system));
    }
    json_decref(part.values);
    return rc;
}

static int
hold_all(struct api_fanout *fo, struct fo_req *req, PGresult *res,
         struct row *rows)
{
    int n = PQntuples(res), i, k;

    for (i = 0; i < n; i++) {
        int64_t due_s;

        if (rows[i].fate != F_DELAY)
            continue;
        due_s = (rows[i].due_ms + 999) / 1000;
        if (hold(fo, req, res, rows, due_s) < 0)
            return -1;
        for (k = i; k < n; k++) /* that group is held */
            if (rows[k].fate == F_DELAY &&
                (rows[k].due_ms + 999) / 1000 == due_s)
                rows[k].fate = F_SKIP;
    }
    return 0;
}

/* ---- sending ----------------------------------------------------------- */

static int
send_row(struct fo_pctx *c, struct api_batcher *b, struct fo_req *req,
         PGresult *res, int i, enum hd_provider p, struct hd_err *err)
{
    const char *id = api_pg_get(res, i, 0), *token = api_pg_get(res, i, 2);
    const char *meta = api_pg_get(res, i, 7);
    struct api_tmpl_vars v = {id, api_pg_get(res, i, 4), NULL, NULL};
    struct hd_err rerr = {0};
    json_t *part;
    int rc;

    if (!req->pers.templating)
        return api_batcher_add(b, p, token, id, err);
    v.l10n = api_personal_l10n(&req->pers, api_pg_get(res, i, 6));
    if (!api_ntmpl_uses_device(req->pers.nt)) {
        part = render_cached(c, req, p, v.l10n, &rerr);
        if (part == NULL) {
            report_failed(req->fo, req, p, id, token, rerr.msg);
            return 0;
        }
        return api_batcher_add_part(b, p, part, token, id, err);
    }
    if (meta != NULL && req->pers.use_meta)
        v.meta = hd_json_parse(meta, strlen(meta), &rerr);
    part = render(req, p, &v, &rerr);
    json_decref(v.meta);
    if (part == NULL) {
        report_failed(req->fo, req, p, id, token, rerr.msg);
        return 0;
    }
    rc = api_batcher_add_part(b, p, part, token, id, err);
    json_decref(part);
    return rc;
}

int
fo_personal_page(struct api_fanout *fo, struct fo_req *req, struct fo_pctx *c,
                 struct api_batcher *b, PGresult *res, struct hd_err *err)
{
    int n = PQntuples(res), i, rc = n;
    struct row *rows = hd_xcalloc((size_t)n + 1, sizeof(*rows));

    for (i = 0; i < n; i++) {
        const char *ok = api_pg_get(res, i, 3);

        if (ok == NULL || ok[0] != 't' ||
            hd_provider_parse(api_pg_get(res, i, 1), &rows[i].p) < 0 ||
            !api_batcher_wants(b, rows[i].p))
            rows[i].fate = F_SKIP;
    }
    if ((req->pers.window && apply_window(fo, req, res, rows, err) < 0) ||
        (req->pers.rate && apply_rate(fo, req, res, rows, err) < 0)) {
        free(rows);
        return -2; /* nothing taken yet: the page is read again */
    }
    if (hold_all(fo, req, res, rows) < 0) {
        free(rows);
        return hd_err_set(err, HD_EIO, "stopping");
    }
    for (i = 0; i < n && rc >= 0; i++)
        if (rows[i].fate == F_SEND &&
            send_row(c, b, req, res, i, rows[i].p, err) < 0)
            rc = -1;
    free(rows);
    return rc;
}
