/* test_pushengine.c -- unit tests for the push engine (common/push/engine.c
 * and pushoutcome.c) with an in-memory source, a fake transport that the
 * test answers by hand, a fake sink whose acknowledgements the test gives,
 * a scripted provider and a fake clock: no Kafka, no HTTP, no sleeping.
 *
 * The fake provider reads the answer body as one word per target:
 * "sent", "retry" or "retry:<ms>", "invalid", "guarded", "reauth",
 * "config", "bad". */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "proto/msg.h"
#include "push/engine.h"

#define MAXREQ 64
#define MAXREC 128
#define MAXDONE 16

struct req_rec {
    hd_httpc_done_fn *cb;
    void *cbud;
    char url[256];
    int answered;
};

struct rec_rec {
    enum hd_pushsink_topic t;
    char key[128];
    char *value;
    size_t len;
    hd_pushsink_ack_fn *ack;
    void *opaque;
    int acked;
};

struct world {
    struct hd_fake_clock fc;
    struct hd_clock clock;
    struct hd_rand rnd;
    struct hd_metrics *metrics;
    struct hd_pushengine *e;
    /* transport */
    struct req_rec reqs[MAXREQ];
    int nreqs;
    /* sink */
    struct rec_rec recs[MAXREC];
    int nrecs;
    int sink_refuse; /* send() returns -1 */
    /* done */
    int64_t done[MAXDONE];
    int ndone;
    /* provider */
    int auth; /* 1 ready, 0 not yet, -1 config */
    unsigned gen;
    int rejects;
};

/* ---- fakes -------------------------------------------------------------- */

static int
t_submit(void *ud, const struct hd_httpc_req *req, hd_httpc_done_fn *cb,
         void *cbud, struct hd_err *err)
{
    struct world *w = ud;
    struct req_rec *r;

    if (w->nreqs >= MAXREQ)
        return hd_err_set(err, HD_ETOOBIG, "test: too many requests");
    r = &w->reqs[w->nreqs++];
    r->cb = cb;
    r->cbud = cbud;
    snprintf(r->url, sizeof(r->url), "%s", req->url);
    r->answered = 0;
    return 0;
}

static int
t_run(void *ud, int timeout_ms, struct hd_err *err)
{
    (void)ud;
    (void)timeout_ms;
    (void)err;
    return 0;
}

static int
s_send(void *ud, enum hd_pushsink_topic t, const void *key, size_t keylen,
       const void *value, size_t len, hd_pushsink_ack_fn *ack, void *opaque,
       struct hd_err *err)
{
    struct world *w = ud;
    struct rec_rec *r;

    if (w->sink_refuse || w->nrecs >= MAXREC)
        return hd_err_set(err, HD_EIO, "test: sink refuses");
    r = &w->recs[w->nrecs++];
    r->t = t;
    snprintf(r->key, sizeof(r->key), "%.*s", (int)keylen,
             key ? (const char *)key : "");
    r->value = hd_xmemdup(value, len);
    r->len = len;
    r->ack = ack;
    r->opaque = opaque;
    r->acked = 0;
    return 0;
}

static void
on_done(void *ud, int32_t partition, int64_t offset)
{
    struct world *w = ud;

    (void)partition;
    if (w->ndone < MAXDONE)
        w->done[w->ndone] = offset;
    w->ndone++;
}

static int
p_init(void **st, const void *cfg, const struct hd_push_env *env,
       struct hd_err *err)
{
    (void)st;
    (void)cfg;
    (void)env;
    (void)err;
    return 0;
}

static void
p_free(void *st)
{
    (void)st;
}

static int
p_auth(void *st, struct hd_err *err)
{
    struct world *w = st;

    if (w->auth < 0)
        hd_err_set(err, HD_EAUTH, "invalid_grant");
    return w->auth;
}

static void
p_reject(void *st, unsigned gen)
{
    struct world *w = st;

    if (gen == w->gen)
        w->gen++;
    w->rejects++;
}

static int
p_prepare(void *st, const struct hd_msg_delivery *d, void **bctx,
          struct hd_err *err)
{
    (void)st;
    *bctx = NULL;
    if (json_object_get(d->notification, "bad"))
        return hd_err_set(err, HD_EINVAL, "message too large");
    return 0;
}

static void
p_unprepare(void *st, void *bctx)
{
    (void)st;
    (void)bctx;
}

static int
p_build(void *st, void *bctx, const struct hd_msg_delivery *d, size_t first,
        size_t n, struct hd_push_req *req, struct hd_err *err)
{
    struct world *w = st;

    (void)bctx;
    if (d->rtype == HD_RT_DEVICE)
        hd_buf_printf(&req->url, err, "fake://%s+%zu", d->tokens[first].token,
                      n);
    else
        hd_buf_printf(&req->url, err, "fake://topic/%s", d->topic);
    req->http.url = req->url.data;
    req->auth_gen = w->gen;
    return 0;
}

static void
p_classify(void *st, const struct hd_msg_delivery *d, size_t first, size_t n,
           const struct hd_httpc_resp *resp, struct hd_push_result *res)
{
    const char *p = resp->body;
    size_t i;

    (void)st;
    (void)d;
    (void)first;
    for (i = 0; i < n; i++) {
        size_t len = strcspn(p, ",");
        char word[32];

        snprintf(word, sizeof(word), "%.*s", (int)len, p);
        p += len + (p[len] == ',');
        res[i].http_status = resp->status;
        if (strcmp(word, "sent") == 0) {
            res[i].action = HD_PUSH_SENT;
        } else if (strncmp(word, "retry", 5) == 0) {
            res[i].action = HD_PUSH_RETRY;
            res[i].retry_after_ms =
                word[5] == ':' ? strtoull(word + 6, NULL, 10) : 0;
            snprintf(res[i].code, sizeof(res[i].code), "UNAVAILABLE");
        } else if (strcmp(word, "invalid") == 0 ||
                   strcmp(word, "guarded") == 0) {
            res[i].action = HD_PUSH_TOKEN_INVALID;
            res[i].guarded = word[0] == 'g';
            snprintf(res[i].code, sizeof(res[i].code), "UNREGISTERED");
        } else if (strcmp(word, "reauth") == 0) {
            res[i].action = HD_PUSH_REAUTH;
            snprintf(res[i].code, sizeof(res[i].code), "UNAUTHENTICATED");
        } else if (strcmp(word, "config") == 0) {
            res[i].action = HD_PUSH_CONFIG;
            snprintf(res[i].code, sizeof(res[i].code), "PERMISSION_DENIED");
        } else {
            res[i].action = HD_PUSH_BAD_REQUEST;
            snprintf(res[i].code, sizeof(res[i].code), "INVALID_ARGUMENT");
        }
    }
}

#define FAKE_PROVIDER(var, per_request)                                        \
    static const struct hd_push_provider var = {                               \
        .name = "fcm",                                                         \
        .id = HD_PROVIDER_FCM,                                                 \
        .platform = "all",                                                     \
        .tokens_per_request = per_request,                                     \
        .default_connections = 1,                                              \
        .default_streams = 8,                                                  \
        .init = p_init,                                                        \
        .free = p_free,                                                        \
        .auth = p_auth,                                                        \
        .auth_reject = p_reject,                                               \
        .prepare = p_prepare,                                                  \
        .unprepare = p_unprepare,                                              \
        .build = p_build,                                                      \
        .classify = p_classify,                                                \
    }

FAKE_PROVIDER(single, 1);
FAKE_PROVIDER(triple, 3);

static uint64_t
zero_rand(void *ud)
{
    (void)ud;
    return 0;
}

/* HERALD_WORKER_RETRY_WINDOW_S of the next world_init */
static int world_retry_window_s;

static void
world_init(struct world *w, const struct hd_push_provider *p, int streams)
{
    struct hd_pushworker_config cfg;
    struct hd_pushengine_deps deps;
    struct hd_err err = {0};

    memset(w, 0, sizeof(*w));
    w->fc.wall_ms = 1700000000000;
    w->fc.mono_ms = 1000;
    w->clock = hd_fake_clock_bind(&w->fc);
    w->rnd.next = zero_rand;
    w->metrics = hd_metrics_new();
    w->auth = 1;
    w->gen = 1;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_attempts = 3;
    cfg.retry_window_s = world_retry_window_s;
    cfg.backoff_base_ms = 1000;
    cfg.backoff_cap_ms = 60000;
    cfg.pause_base_ms = 5000;
    cfg.pause_max_ms = 20000;
    cfg.streams = streams;
    memset(&deps, 0, sizeof(deps));
    deps.p = p;
    deps.pst = w;
    deps.clock = &w->clock;
    deps.rnd = &w->rnd;
    deps.metrics = w->metrics;
    deps.queue = "herald.deliver.fcm";
    deps.transport.submit = t_submit;
    deps.transport.run = t_run;
    deps.transport.ud = w;
    deps.sink.send = s_send;
    deps.sink.ud = w;
    deps.done = on_done;
    deps.done_ud = w;
    w->e = hd_pushengine_new(&cfg, &deps, &err);
    if (w->e == NULL)
        fprintf(stderr, "engine: %s\n", err.msg);
}

static void ack_all(struct world *w, int ok);

static void
world_free(struct world *w)
{
    int i;

    ack_all(w, 0); /* the sink gives every record back before the end */
    hd_pushengine_free(w->e);
    for (i = 0; i < w->nrecs; i++)
        free(w->recs[i].value);
    hd_metrics_free(w->metrics);
}

/* Offers a delivery with ntok tokens "tok<i>" at offset off. */
static void
offer(struct world *w, int64_t off, int ntok, int attempt, int64_t not_before,
      int64_t expire_at, const char *extra)
{
    struct hd_msg_delivery d;
    struct hd_buf out;
    char tok[32], dev[32];
    int i;

    memset(&d, 0, sizeof(d));
    d.uid = (char *)(uintptr_t) "u-1";
    d.app = (char *)(uintptr_t) "default";
    d.provider = HD_PROVIDER_FCM;
    d.attempt = attempt;
    d.not_before_ms = not_before;
    d.expire_at_ms = expire_at;
    d.created_ms = w->fc.wall_ms;
    d.rtype = ntok > 0 ? HD_RT_DEVICE : HD_RT_TOPIC;
    d.notification = json_pack("{s:{s:s}}", "message", "k", "v");
    if (extra)
        json_object_set_new(d.notification, extra, json_true());
    for (i = 0; i < ntok; i++) {
        snprintf(tok, sizeof(tok), "tok%d", i);
        snprintf(dev, sizeof(dev), "dev%d", i);
        hd_msg_delivery_add_token(&d, tok, dev);
    }
    if (ntok == 0)
        d.topic = hd_xstrdup("news");
    hd_buf_init(&out, 1 << 20);
    hd_msg_delivery_encode(&d, &out, NULL);
    hd_pushengine_offer(w->e, 0, off, out.data, out.len, w->fc.wall_ms);
    hd_buf_release(&out);
    d.uid = NULL;
    d.app = NULL;
    hd_msg_delivery_release(&d);
}

static void
step(struct world *w)
{
    hd_pushengine_step(w->e, 0, NULL);
}

/* Answers request i with status and body (one word per target). */
static void
answer(struct world *w, int i, int status, const char *body)
{
    struct hd_httpc_resp r;

    memset(&r, 0, sizeof(r));
    r.status = status;
    r.http_version = 2;
    r.body = body;
    r.len = strlen(body);
    r.headers = "";
    r.error = "";
    w->reqs[i].answered = 1;
    w->reqs[i].cb(w->reqs[i].cbud, &r);
}

static void
answer_fail(struct world *w, int i, enum hd_httpc_fail f)
{
    struct hd_httpc_resp r;

    memset(&r, 0, sizeof(r));
    r.fail = f;
    r.body = "";
    r.headers = "";
    r.error = "boom";
    w->reqs[i].answered = 1;
    w->reqs[i].cb(w->reqs[i].cbud, &r);
}

/* Acknowledges every record not yet acknowledged (ok or failed). */
static void
ack_all(struct world *w, int ok)
{
    int i;

    for (i = 0; i < w->nrecs; i++) {
        if (w->recs[i].acked)
            continue;
        w->recs[i].acked = 1;
        w->recs[i].ack(w->recs[i].opaque, ok, ok ? NULL : "broker down");
    }
}

/* Counts records of topic t; with outcome (feedback only) matching. */
static int
count(struct world *w, enum hd_pushsink_topic t, const char *outcome)
{
    int i, n = 0;

    for (i = 0; i < w->nrecs; i++) {
        struct hd_msg_feedback f;

        if (w->recs[i].t != t)
            continue;
        if (outcome == NULL) {
            n++;
            continue;
        }
        if (hd_msg_feedback_decode(w->recs[i].value, w->recs[i].len, &f,
                                   NULL) == 0) {
            n += strcmp(hd_outcome_name(f.outcome), outcome) == 0;
            hd_msg_feedback_release(&f);
        }
    }
    return n;
}

/* Decodes the last record of topic t as a delivery. */
static int
last_delivery(struct world *w, enum hd_pushsink_topic t,
              struct hd_msg_delivery *d)
{
    int i;

    for (i = w->nrecs - 1; i >= 0; i--)
        if (w->recs[i].t == t)
            return hd_msg_delivery_decode(w->recs[i].value, w->recs[i].len, d,
                                          NULL);
    return -1;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_success_done_only_after_every_ack(void)
{
    struct world w;
    struct hd_pushengine_stats st;

    world_init(&w, &single, 8);
    ASSERT_NOT_NULL(w.e);
    offer(&w, 7, 3, 0, 0, 0, NULL);
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 3);
    ASSERT_STR_EQ(w.reqs[1].url, "fake://tok1+1");
    answer(&w, 0, 200, "sent");
    answer(&w, 1, 200, "sent");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "sent"), 2);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 0); /* one target has no outcome yet */
    answer(&w, 2, 200, "sent");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "sent"), 3);
    ASSERT_INT_EQ(w.ndone, 0); /* its feedback is not acknowledged */
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 1);
    ASSERT_INT_EQ(w.done[0], 7);
    ASSERT_STR_EQ(w.recs[0].key, "dev0");
    hd_pushengine_stats(w.e, &st);
    ASSERT_INT_EQ(st.batches, 0);
    ASSERT_INT_EQ(st.records, 0);
    world_free(&w);
}

static void
test_retry_after_requeues_only_failed_targets(void)
{
    struct world w;
    struct hd_msg_delivery d;

    world_init(&w, &single, 8);
    offer(&w, 1, 3, 0, 0, 0, NULL);
    step(&w);
    answer(&w, 0, 200, "sent");
    answer(&w, 1, 503, "retry:30000");
    answer(&w, 2, 200, "sent");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, NULL), 2);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_DELIVER, NULL), 1);
    ASSERT_INT_EQ(last_delivery(&w, HD_PUSHSINK_DELIVER, &d), 0);
    ASSERT_INT_EQ(d.attempt, 1);
    ASSERT_INT_EQ(d.ntokens, 1);
    ASSERT_STR_EQ(d.tokens[0].token, "tok1");
    ASSERT_STR_EQ(d.tokens[0].device, "dev1");
    /* Retry-After is the floor (jitter is 0 here) */
    ASSERT_INT_EQ(d.not_before_ms, w.fc.wall_ms + 30000);
    hd_msg_delivery_release(&d);
    ASSERT_INT_EQ(w.ndone, 0);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 1);
    world_free(&w);
}

static void
test_not_before_is_held(void)
{
    struct world w;
    struct hd_pushengine_stats st;

    world_init(&w, &single, 8);
    offer(&w, 1, 1, 1, w.fc.wall_ms + 5000, 0, NULL);
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 0);
    hd_pushengine_stats(w.e, &st);
    ASSERT_INT_EQ(st.held, 1);
    w.fc.wall_ms += 4999;
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 0);
    w.fc.wall_ms += 1;
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 1);
    answer(&w, 0, 200, "sent");
    step(&w);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 1);
    world_free(&w);
}

static void
test_expired_is_not_sent_and_reported(void)
{
    struct world w;

    world_init(&w, &single, 8);
    /* already expired when it arrives */
    offer(&w, 1, 2, 0, 0, w.fc.wall_ms - 1, NULL);
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 0);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "expired"), 2);
    /* expires while held for not_before */
    offer(&w, 2, 1, 1, w.fc.wall_ms + 10000, w.fc.wall_ms + 5000, NULL);
    step(&w);
    w.fc.wall_ms += 10000;
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 0);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "expired"), 3);
    /* a retry that would land past the expiry is reported expired */
    offer(&w, 3, 1, 0, 0, w.fc.wall_ms + 20000, NULL);
    step(&w);
    answer(&w, 0, 429, "retry:60000");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "expired"), 4);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_DELIVER, NULL), 0);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 3);
    world_free(&w);
}

static void
test_last_attempt_goes_to_dlq(void)
{
    struct world w;
    struct hd_msg_feedback f;
    int i;

    world_init(&w, &single, 8);
    offer(&w, 4, 2, 2, 0, 0, NULL); /* attempt 2 of max 3 */
    step(&w);
    answer(&w, 0, 503, "retry");
    answer_fail(&w, 1, HD_HTTPC_ETIMEOUT);
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_DELIVER, NULL), 0);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_DLQ, NULL), 1);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "failed"), 2);
    for (i = 0; i < w.nrecs; i++) {
        if (w.recs[i].t == HD_PUSHSINK_DLQ) {
            ASSERT_STR_CONTAINS(w.recs[i].value, "after 3 attempts");
            ASSERT_STR_CONTAINS(w.recs[i].value, "\"tok1\"");
            ASSERT_STR_CONTAINS(w.recs[i].value, "herald.deliver.fcm");
        }
        if (w.recs[i].t == HD_PUSHSINK_FEEDBACK &&
            hd_msg_feedback_decode(w.recs[i].value, w.recs[i].len, &f, NULL) ==
                0) {
            if (strcmp(f.token, "tok1") == 0)
                ASSERT_STR_EQ(f.code, "http_timeout");
            hd_msg_feedback_release(&f);
        }
    }
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 1);
    world_free(&w);
}

/* With a retry window, the last attempt of a push younger than the window
 * is re-queued, not dead-lettered (a provider outage of a few seconds
 * crosses full-jitter backoff's first tries); once the push is older, the
 * next failure is dead-lettered. */
static void
test_retry_window_holds_the_dead_letter(void)
{
    struct world w;

    world_retry_window_s = 600;
    world_init(&w, &single, 8);
    world_retry_window_s = 0;
    offer(&w, 4, 1, 2, 0, 0, NULL); /* attempt 2 of max 3, created now */
    step(&w);
    w.fc.wall_ms += 599000;
    answer(&w, 0, 503, "retry");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_DLQ, NULL), 0);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_DELIVER, NULL), 1);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "failed"), 0);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 1);

    offer(&w, 5, 1, 3, 0, 0, NULL); /* created now, sent 601 s later */
    step(&w);
    w.fc.wall_ms += 601000;
    ASSERT_INT_EQ(w.nreqs, 2);
    answer(&w, 1, 503, "retry");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_DLQ, NULL), 1);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "failed"), 1);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 2);
    world_free(&w);
}

static void
test_partial_outcomes_in_one_request(void)
{
    struct world w;
    struct hd_msg_delivery d;

    world_init(&w, &triple, 8);
    offer(&w, 5, 4, 0, 0, 0, NULL);
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 2); /* 3 + 1 targets */
    ASSERT_STR_EQ(w.reqs[0].url, "fake://tok0+3");
    ASSERT_STR_EQ(w.reqs[1].url, "fake://tok3+1");
    answer(&w, 0, 200, "sent,invalid,retry");
    answer(&w, 1, 200, "bad");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "sent"), 1);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "token_invalid"), 1);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "failed"), 1);
    ASSERT_INT_EQ(last_delivery(&w, HD_PUSHSINK_DELIVER, &d), 0);
    ASSERT_INT_EQ(d.ntokens, 1);
    ASSERT_STR_EQ(d.tokens[0].token, "tok2");
    hd_msg_delivery_release(&d);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 1);
    world_free(&w);
}

static void
test_reauth_refreshes_once_then_config(void)
{
    struct world w;
    struct hd_pushengine_stats st;
    struct hd_msg_delivery d;

    world_init(&w, &single, 8);
    offer(&w, 1, 1, 0, 0, 0, NULL);
    step(&w);
    answer(&w, 0, 401, "reauth");
    ASSERT_INT_EQ(w.rejects, 1);
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 2); /* the same target again */
    answer(&w, 1, 200, "sent");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "sent"), 1);

    /* refused twice in a row: a configuration problem, not staleness */
    offer(&w, 2, 1, 0, 0, 0, NULL);
    step(&w);
    answer(&w, 2, 401, "reauth");
    step(&w);
    answer(&w, 3, 401, "reauth");
    step(&w);
    hd_pushengine_stats(w.e, &st);
    ASSERT_INT_EQ(st.paused, 1);
    ASSERT_INT_EQ(w.rejects, 2);
    ASSERT_INT_EQ(w.nreqs, 4);
    /* the target comes back after the pause as a bounded retry */
    ASSERT_INT_EQ(last_delivery(&w, HD_PUSHSINK_DELIVER, &d), 0);
    ASSERT_INT_EQ(d.attempt, 1);
    ASSERT_INT_EQ(d.not_before_ms, w.fc.wall_ms + 5000);
    hd_msg_delivery_release(&d);
    world_free(&w);
}

static void
test_config_error_pauses_and_probes(void)
{
    struct world w;
    struct hd_pushengine_stats st;
    struct hd_msg_delivery d;

    world_init(&w, &single, 2);
    offer(&w, 1, 5, 0, 0, 0, NULL);
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 2);
    answer(&w, 0, 403, "config");
    answer(&w, 1, 403, "config");
    step(&w);
    hd_pushengine_stats(w.e, &st);
    ASSERT_INT_EQ(st.paused, 1);
    ASSERT_INT_EQ(w.nreqs, 2); /* nothing new while paused */
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, NULL), 0); /* tokens kept */
    w.fc.wall_ms += 5000; /* past the pause */
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 3); /* exactly one probe */
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 3);
    answer(&w, 2, 200, "sent");
    step(&w);
    hd_pushengine_stats(w.e, &st);
    ASSERT_INT_EQ(st.paused, 0);
    ASSERT_INT_EQ(w.nreqs, 5); /* the rest go out */
    answer(&w, 3, 200, "sent");
    answer(&w, 4, 200, "sent");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "sent"), 3);
    /* the two refused targets come back after the pause, attempt 1 */
    ASSERT_INT_EQ(last_delivery(&w, HD_PUSHSINK_DELIVER, &d), 0);
    ASSERT_INT_EQ(d.attempt, 1);
    ASSERT_INT_EQ(d.ntokens, 2);
    ASSERT_INT_EQ(d.not_before_ms, w.fc.wall_ms);
    hd_msg_delivery_release(&d);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 1);
    world_free(&w);
}

static void
test_auth_not_ready_and_config(void)
{
    struct world w;
    struct hd_pushengine_stats st;

    world_init(&w, &single, 8);
    w.auth = 0;
    offer(&w, 1, 1, 0, 0, 0, NULL);
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 0);
    w.auth = -1; /* the token endpoint refuses our key */
    step(&w);
    hd_pushengine_stats(w.e, &st);
    ASSERT_INT_EQ(st.paused, 1);
    ASSERT_INT_EQ(w.nreqs, 0);
    w.auth = 1;
    w.fc.wall_ms += 5000;
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 1);
    answer(&w, 0, 200, "sent");
    step(&w);
    hd_pushengine_stats(w.e, &st);
    ASSERT_INT_EQ(st.paused, 0);
    world_free(&w);
}

static void
test_breaker_keeps_tokens(void)
{
    struct world w;
    int i;

    world_init(&w, &single, 64);
    offer(&w, 1, 30, 0, 0, 0, NULL);
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 30);
    for (i = 0; i < 30; i++)
        answer(&w, i, 400, "guarded");
    step(&w);
    /* the first 19 are removed; from the 20th on, the breaker holds */
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "token_invalid"), 19);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "failed"), 11);
    /* unguarded reasons (410 Unregistered) are always removed */
    offer(&w, 2, 1, 0, 0, 0, NULL);
    step(&w);
    answer(&w, 30, 410, "invalid");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "token_invalid"), 20);
    world_free(&w);
}

static void
test_bad_records_and_bad_messages(void)
{
    struct world w;

    world_init(&w, &single, 8);
    hd_pushengine_offer(w.e, 0, 9, "{not json", 9, -1);
    offer(&w, 10, 2, 0, 0, 0, "bad");
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 0);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_DLQ, NULL), 1);
    ASSERT_STR_CONTAINS(w.recs[0].value, "undecodable");
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_FEEDBACK, "failed"), 2);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 2);
    world_free(&w);
}

static void
test_failed_produce_is_resent(void)
{
    struct world w;

    world_init(&w, &single, 8);
    offer(&w, 1, 1, 0, 0, 0, NULL);
    step(&w);
    answer(&w, 0, 200, "sent");
    step(&w);
    ASSERT_INT_EQ(w.nrecs, 1);
    ack_all(&w, 0); /* the broker lost it */
    step(&w);
    ASSERT_INT_EQ(w.ndone, 0);
    ASSERT_INT_EQ(w.nrecs, 1);
    w.fc.wall_ms += 1000;
    step(&w);
    ASSERT_INT_EQ(w.nrecs, 2); /* sent again */
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 1);
    /* a sink that refuses outright is retried the same way */
    w.sink_refuse = 1;
    offer(&w, 2, 1, 0, 0, 0, NULL);
    step(&w);
    answer(&w, 1, 200, "sent");
    step(&w);
    ASSERT_INT_EQ(w.nrecs, 2);
    w.sink_refuse = 0;
    w.fc.wall_ms += 1000;
    step(&w);
    ASSERT_INT_EQ(w.nrecs, 3);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 2);
    world_free(&w);
}

static void
test_drain_hands_back_untried_targets(void)
{
    struct world w;
    struct hd_msg_delivery d;

    world_init(&w, &single, 2);
    offer(&w, 1, 5, 1, 0, 0, NULL);
    offer(&w, 2, 1, 0, 0, 0, NULL); /* never started */
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 2);
    hd_pushengine_drain(w.e);
    step(&w);
    ASSERT_INT_EQ(hd_pushengine_drained(w.e), 0);
    ASSERT_INT_EQ(w.nreqs, 2);
    answer(&w, 0, 200, "sent");
    answer(&w, 1, 503, "retry:1000");
    step(&w);
    ASSERT_INT_EQ(count(&w, HD_PUSHSINK_DELIVER, NULL), 2);
    ASSERT_INT_EQ(last_delivery(&w, HD_PUSHSINK_DELIVER, &d), 0);
    ASSERT_INT_EQ(d.attempt, 1); /* handed back untried: same attempt */
    ASSERT_INT_EQ(d.ntokens, 3);
    ASSERT_STR_EQ(d.tokens[0].token, "tok2");
    hd_msg_delivery_release(&d);
    ASSERT_INT_EQ(hd_pushengine_drained(w.e), 0);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(hd_pushengine_drained(w.e), 1);
    ASSERT_INT_EQ(w.ndone, 1); /* offset 2 stays undone: delivered again */
    ASSERT_INT_EQ(w.done[0], 1);
    world_free(&w);
}

static void
test_concurrency_limit_and_topic(void)
{
    struct world w;

    world_init(&w, &single, 2);
    offer(&w, 1, 0, 0, 0, 0, NULL); /* a topic send: one target */
    offer(&w, 2, 3, 0, 0, 0, NULL);
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 2);
    ASSERT_STR_EQ(w.reqs[0].url, "fake://topic/news");
    answer(&w, 0, 200, "sent");
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 3);
    answer(&w, 1, 200, "sent");
    answer(&w, 2, 200, "sent");
    step(&w);
    ASSERT_INT_EQ(w.nreqs, 4);
    answer(&w, 3, 200, "sent");
    step(&w);
    ack_all(&w, 1);
    step(&w);
    ASSERT_INT_EQ(w.ndone, 2);
    ASSERT_STR_EQ(w.recs[0].key, "u-1"); /* topic feedback keyed by uid */
    world_free(&w);
}

int
main(void)
{
    RUN_TEST(test_success_done_only_after_every_ack);
    RUN_TEST(test_retry_after_requeues_only_failed_targets);
    RUN_TEST(test_not_before_is_held);
    RUN_TEST(test_expired_is_not_sent_and_reported);
    RUN_TEST(test_last_attempt_goes_to_dlq);
    RUN_TEST(test_retry_window_holds_the_dead_letter);
    RUN_TEST(test_partial_outcomes_in_one_request);
    RUN_TEST(test_reauth_refreshes_once_then_config);
    RUN_TEST(test_config_error_pauses_and_probes);
    RUN_TEST(test_auth_not_ready_and_config);
    RUN_TEST(test_breaker_keeps_tokens);
    RUN_TEST(test_bad_records_and_bad_messages);
    RUN_TEST(test_failed_produce_is_resent);
    RUN_TEST(test_drain_hands_back_untried_targets);
    RUN_TEST(test_concurrency_limit_and_topic);
    return UNIT_DONE();
}
