/* api_expand.c -- one request into delivery batches: raw tokens and
 * topics directly; a filter, device ids, users and topics by keyset
 * pages.
 *
 * A page is one prepared statement reading ~1000 rows as an index range
 * from the cursor (the last device id), on a connection the worker holds
 * while it expands the request: the next page's statement runs while this
 * page's batches are built and handed to the producer. Every row of a page
 * comes back with a "passes the filter" flag, so the cursor moves past filtered
 * rows too. A send with per-device processing (limit_strategy,
 * templates) has its pages processed by api_fopersonal.c. Fan-out worker
 * threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backoff.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "pg/pg.h"
#include "services/api/api_batch.h"
#include "services/api/api_fanout.h"
#include "services/api/api_fopersonal.h"
#include "services/api/api_presence.h"
#include "services/api/api_store.h"
#include "core/banned.h"

#define PAGE_RETRY_BASE_MS 200
#define PAGE_RETRY_CAP_MS 5000
#define CANCEL_CHECK_MS 100 /* cancel_push takes effect within this */

static int
stopping(struct api_fanout *fo)
{
    return atomic_load(&fo->stop);
}

static int
expired(const struct fo_req *req)
{
    return req->r.expire_at_ms > 0 && hd_now_wall_ms() >= req->r.expire_at_ms;
}

/* The batcher's emit: encode and produce. */
static int
emit(void *ud, const struct hd_msg_delivery *d, size_t seq, struct hd_err *err)
{
    struct fo_req *req = ud;
    struct hd_buf b;
    size_t len;
    char *value;

    hd_buf_init(&b, HD_KAFKA_MAX_MESSAGE);
    if (hd_msg_delivery_encode(d, &b, err) < 0) {
        /* a registry row the schema should never have let in: drop this
         * batch, not the request (it would come back forever) */
        hd_log(HD_LOG_ERROR, 0, "fan-out %s: batch %zu dropped: %s", d->uid,
               seq, err->msg);
        hd_buf_release(&b);
        return 0;
    }
    value = hd_buf_detach(&b, &len);
    hd_buf_release(&b);
    if (fo_produce(req->fo, req, d->provider, d->ntokens, seq, value, len) < 0)
        return hd_err_set(err, HD_EIO, "stopping");
    return 0;
}

static int
raw_tokens(struct api_batcher *b, const struct hd_msg_request *r,
           enum hd_provider p, struct hd_err *err)
{
    json_t *t;
    size_t i;

    json_array_foreach(r->values, i, t)
    {
        if (api_batcher_add(b, p, json_string_value(t), NULL, err) < 0)
            return -1;
    }
    return 0;
}

/* The page statement's fixed parameters. */
struct page_args {
    struct hd_buf values;
    struct hd_buf providers;
    struct hd_buf exclude;
    struct hd_buf lists[4]; /* a filter's ids, users, topics, platforms */
    char client_type[16];
    char rows[16];
    const char *stmt;
    const char *vals[11];
    int nvals;
};

static void
page_args_release(struct page_args *a)
{
    int i;

    hd_buf_release(&a->values);
    hd_buf_release(&a->providers);
    hd_buf_release(&a->exclude);
    for (i = 0; i < 4; i++)
        hd_buf_release(&a->lists[i]);
}

/* 1 when p is in the filter's providers (or it names none). */
static int
filter_has_provider(json_t *filter, enum hd_provider p)
{
    json_t *list = json_object_get(filter, "providers"), *v;
    size_t i;

    if (list == NULL)
        return 1;
    json_array_foreach(list, i, v)
    {
        if (strcmp(json_string_value(v), hd_provider_name(p)) == 0)
            return 1;
    }
    return 0;
}

/* The providers to read: those the notification has a part for (and the
 * filter names). 1, 0 when none, -1. */
static int
wanted_providers(struct page_args *a, struct api_batcher *b,
                 const struct hd_msg_request *r, struct hd_err *err)
{
    int p, any = 0;

    hd_pg_array_begin(&a->providers);
    for (p = 0; p < HD_PROVIDER__COUNT; p++) {
        if (!api_batcher_wants(b, (enum hd_provider)p) ||
            (r->kind == HD_RCPT_FILTER &&
             !filter_has_provider(r->values, (enum hd_provider)p)))
            continue;
        if (hd_pg_array_add(&a->providers, hd_provider_name(p), err) < 0)
            return -1;
        any = 1;
    }
    if (hd_pg_array_end(&a->providers, err) < 0)
        return -1;
    return any;
}

/* A filter: the leading list picks the statement (ids, users, topics,
 * else the providers' own ranges); every other list is checked per row. */
static int
filter_args(struct page_args *a, const struct hd_msg_request *r,
            struct hd_err *err)
{
    static const char *const keys[] = {"ids", "users", "topics", "platforms"};
    static const char *const stmts[] = {"ff_page_ids", "ff_page_users",
                                        "ff_page_topics"};
    int i, lead = -1;

    for (i = 0; i < 4; i++) {
        json_t *list = json_object_get(r->values, keys[i]);

        a->vals[5 + i] = NULL;
        if (list == NULL)
            continue;
        a->vals[5 + i] = api_pgarr_json(&a->lists[i], list, err);
        if (a->vals[5 + i] == NULL)
            return -1;
        if (lead < 0 && i < 3)
            lead = i;
    }
    a->stmt = lead >= 0 ? stmts[lead] : "ff_page_providers";
    a->vals[1] = lead >= 0 ? a->lists[lead].data : a->providers.data;
    /* the leading list's rows match it by construction: checking it per
     * row again would cost a probe (or a scan) per device */
    if (lead >= 0)
        a->vals[5 + lead] = NULL;
    /* per-device processing reads the device's fields (and meta) */
    a->vals[9] = r->personal ? "true" : "false";
    a->vals[10] =
        r->personal && json_is_true(json_object_get(r->personal, "use_meta"))
            ? "true"
            : "false";
    a->nvals = 11;
    return 0;
}

static int
page_args_init(struct page_args *a, struct api_batcher *b,
               const struct hd_msg_request *r, int page, struct hd_err *err)
{
    int i, any;

    memset(a, 0, sizeof(*a));
    hd_buf_init(&a->values, API_PG_ARRAY_MAX);
    hd_buf_init(&a->providers, 256);
    hd_buf_init(&a->exclude, API_PG_ARRAY_MAX);
    for (i = 0; i < 4; i++)
        hd_buf_init(&a->lists[i], API_PG_ARRAY_MAX);
    snprintf(a->rows, sizeof(a->rows), "%d", page);
    any = wanted_providers(a, b, r, err);
    if (any <= 0)
        return any;
    a->vals[0] = r->app;
    a->vals[3] = a->rows;
    a->vals[4] = a->providers.data;
    if (r->kind == HD_RCPT_FILTER)
        return filter_args(a, r, err) < 0 ? -1 : 1;
    a->stmt = r->kind == HD_RCPT_DEVICE_IDS ? "fo_page_ids"
              : r->kind == HD_RCPT_USERS    ? "fo_page_users"
                                            : "fo_page_channels";
    if (api_pgarr_json(&a->values, r->values, err) == NULL)
        return -1;
    if (r->exclude_identifiers &&
        api_pgarr_json(&a->exclude, r->exclude_identifiers, err) == NULL)
        return -1;
    snprintf(a->client_type, sizeof(a->client_type), "%d", r->client_type);
    a->vals[1] = a->values.data;
    a->vals[5] = r->exclude_identifiers ? a->exclude.data : NULL;
    a->vals[6] = a->client_type;
    a->vals[7] = r->installation_id;
    a->nvals = 8;
    return 1;
}

/* Adds a page's recipients to the batcher. The row count, or -1 when
 * the batcher's emit refused (stopping). */
static int
add_page(struct api_batcher *b, PGresult *res, struct hd_err *err)
{
    int n = PQntuples(res), i;

    for (i = 0; i < n; i++) {
        const char *ok = api_pg_get(res, i, 3);
        enum hd_provider p;

        if (ok == NULL || ok[0] != 't' ||
            hd_provider_parse(api_pg_get(res, i, 1), &p) < 0)
            continue;
        if (api_batcher_add(b, p, api_pg_get(res, i, 2), api_pg_get(res, i, 0),
                            err) < 0)
            return -1;
    }
    return n;
}

/* The page reader: one connection held while a request is expanded, the
 * next page's statement running on it while this page is batched. */
struct reader {
    struct api_fanout *fo;
    struct page_args *a;
    struct hd_pgconn *c;
    int inflight; /* a page statement sent, its result not taken */
};

static void
reader_drop(struct reader *rd)
{
    hd_pg_release(rd->fo->ctx->bg, rd->c); /* broken, or mid-query: closed */
    rd->c = NULL;
    rd->inflight = 0;
}

/* Sends the page statement from the current cursor. 0 or -1. */
static int
reader_send(struct reader *rd, struct hd_err *err)
{
    struct api_ctx *ctx = rd->fo->ctx;

    if (rd->c == NULL) {
        rd->c = hd_pg_acquire(ctx->bg, ctx->cfg.pg_wait_ms, err);
        if (rd->c == NULL)
            return -1;
    }
    if (hd_pg_send(rd->c, rd->a->stmt, rd->a->nvals, rd->a->vals, err) < 0) {
        reader_drop(rd);
        return -1;
    }
    rd->inflight = 1;
    return 0;
}

/* The page sent last (sending it first if it was not). 0 or -1. */
static int
reader_recv(struct reader *rd, PGresult **res, struct hd_err *err)
{
    if (!rd->inflight && reader_send(rd, err) < 0)
        return -1;
    rd->inflight = 0;
    if (hd_pg_recv(rd->c, rd->a->stmt, rd->a->nvals, rd->a->vals, res, err) <
        0) {
        reader_drop(rd);
        return -1;
    }
    return 0;
}

/* Gives the connection back, after the result of a page still running. */
static void
reader_close(struct reader *rd)
{
    PGresult *res = NULL;
    struct hd_err err = {0};

    if (rd->inflight && reader_recv(rd, &res, &err) == 0)
        PQclear(res);
    reader_drop(rd);
}

/* Past expire_at, or cancelled by cancel_push (asked of the database at
 * most every CANCEL_CHECK_MS). */
static int
stopped_early(struct api_fanout *fo, struct fo_req *req, uint64_t *next_check)
{
    uint64_t now = hd_now_mono_ms();

    if (expired(req))
        return 1;
    if (now < *next_check)
        return 0;
    *next_check = now + CANCEL_CHECK_MS;
    return api_sched_cancelled(fo->ctx, req->r.app, req->r.uid);
}

/* Batches one page's rows; a failed limit-strategy lookup (-2) is retried
 * on the same rows. The row count, or -1 when stopping. */
static int
take_page(struct api_fanout *fo, struct fo_req *req, struct fo_pctx *pc,
          struct api_batcher *b, PGresult *res, struct hd_err *err)
{
    const struct hd_backoff bo = {PAGE_RETRY_BASE_MS, PAGE_RETRY_CAP_MS};
    unsigned fails = 0;
    int n;

    for (;;) {
        n = pc ? fo_personal_page(fo, req, pc, b, res, err)
               : add_page(b, res, err);
        if (n != -2)
            return n;
        hd_log(HD_LOG_WARN, 0, "fan-out page (retried): %s", err->msg);
        fo_nap(fo, hd_backoff_delay(&bo, fails++, &hd_rand_system));
        if (stopping(fo))
            return hd_err_set(err, HD_EIO, "stopping");
    }
}

/* Registry recipients, page by page: page k + 1 is read while page k is
 * batched (its cursor, page k's last id, is known once page k arrived).
 * 0, or -1 when stopping. */
static int
pages(struct api_fanout *fo, struct fo_req *req, struct api_batcher *b,
      struct hd_err *err)
{
    const struct hd_backoff bo = {PAGE_RETRY_BASE_MS, PAGE_RETRY_CAP_MS};
    struct api_ctx *ctx = fo->ctx;
    char cursor[HD_ID_MAX + 1] = "";
    struct page_args a;
    struct reader rd = {fo, &a, NULL, 0};
    struct fo_pctx *pc = NULL;
    uint64_t next_check = 0;
    unsigned fails = 0;
    int rc, n;

    rc = page_args_init(&a, b, &req->r, ctx->cfg.fanout_page, err);
    if (rc <= 0) {
        page_args_release(&a);
        return rc; /* 0: no provider of the request to look for */
    }
    if (req->has_pers)
        pc = fo_pctx_new();
    a.vals[2] = cursor;
    for (;;) {
        PGresult *res = NULL;

        if (stopping(fo)) {
            rc = -1;
            break;
        }
        if (stopped_early(fo, req, &next_check)) {
            /* past expire_at, or cancel_push: no more deliveries */
            atomic_fetch_or(&req->flags, FO_F_EXPIRED);
            rc = 0;
            break;
        }
        if (reader_recv(&rd, &res, err) < 0) {
            hd_log(HD_LOG_WARN, 0, "fan-out page (retried): %s", err->msg);
            fo_nap(fo, hd_backoff_delay(&bo, fails++, &hd_rand_system));
            continue;
        }
        fails = 0;
        n = PQntuples(res);
        if (n > 0)
            snprintf(cursor, sizeof(cursor), "%s", api_pg_get(res, n - 1, 0));
        /* the next page runs meanwhile; a failed send is sent again */
        if (n >= ctx->cfg.fanout_page)
            (void)reader_send(&rd, err);
        n = take_page(fo, req, pc, b, res, err);
        PQclear(res);
        if (n < 0) {
            rc = -1; /* emit refused: stopping */
            break;
        }
        if (n < ctx->cfg.fanout_page) {
            rc = 0;
            break;
        }
    }
    reader_close(&rd);
    page_args_release(&a);
    fo_pctx_free(pc);
    return rc;
}

void
fo_expand(struct api_fanout *fo, struct fo_req *req)
{
    const struct hd_msg_request *r = &req->r;
    struct hd_err err = {0};
    struct api_batcher b;
    int rc = 0;

    if (expired(req)) {
        atomic_fetch_or(&req->flags, FO_F_EXPIRED);
        return;
    }
    api_batcher_init(&b, r, 0, emit, req);
    rc = r->skip_online ? api_presence_skip(fo, &req->r, &b, &err) : 0;
    if (rc != 0) {
        if (rc < 0) /* stopping */
            atomic_fetch_or(&req->flags, FO_F_ABANDONED);
        api_batcher_release(&b); /* 1: every user online, nothing to send */
        return;
    }
    switch (r->kind) {
    case HD_RCPT_FCM_TOKENS:
        rc = raw_tokens(&b, r, HD_PROVIDER_FCM, &err);
        break;
    case HD_RCPT_APNS_TOKENS:
        rc = raw_tokens(&b, r, HD_PROVIDER_APNS, &err);
        break;
    case HD_RCPT_HMS_TOKENS:
        rc = raw_tokens(&b, r, HD_PROVIDER_HMS, &err);
        break;
    case HD_RCPT_WEBPUSH_TOKENS:
        rc = raw_tokens(&b, r, HD_PROVIDER_WEBPUSH, &err);
        break;
    case HD_RCPT_FCM_TOPIC:
    case HD_RCPT_FCM_CONDITION:
    case HD_RCPT_HMS_TOPIC:
    case HD_RCPT_HMS_CONDITION:
        rc = api_batcher_target(
            &b,
            r->kind == HD_RCPT_FCM_TOPIC || r->kind == HD_RCPT_FCM_CONDITION
                ? HD_PROVIDER_FCM
                : HD_PROVIDER_HMS,
            r->kind == HD_RCPT_FCM_TOPIC || r->kind == HD_RCPT_HMS_TOPIC
                ? HD_RT_TOPIC
                : HD_RT_CONDITION,
            json_string_value(r->values), &err);
        break;
    default:
        rc = pages(fo, req, &b, &err);
        break;
    }
    if (rc == 0 && !(atomic_load(&req->flags) & FO_F_EXPIRED))
        rc = api_batcher_flush(&b, &err);
    if (rc < 0)
        atomic_fetch_or(&req->flags, FO_F_ABANDONED);
    api_batcher_release(&b);
}
