/* test_api_fanout.c -- unit tests for the fan-out's batching
 * (api_batch.c) and the token-cleanup circuit breaker (api_breaker.c):
 * batch sizes per provider, numbering, flush, skipped providers, topics;
 * the breaker's threshold, its "no success" rule, a state per app past
 * 1,024 apps, idle states dropped, the sliding window and the
 * once-per-flip signal. Time is an argument. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "core/buf.h"
#include "services/api/api_batch.h"
#include "services/api/api_breaker.h"
#include "core/banned.h"

struct sink {
    size_t n; /* batches seen */
    size_t tokens[HD_PROVIDER__COUNT];
    size_t sizes[64];
    enum hd_provider prov[64];
    size_t seq[64];
    char last_json[4096];
    int fail_at; /* emit fails at this batch, -1 */
};

static int
collect(void *ud, const struct hd_msg_delivery *d, size_t seq,
        struct hd_err *err)
{
    struct sink *s = ud;
    struct hd_buf b;

    if ((int)s->n == s->fail_at)
        return hd_err_set(err, HD_EIO, "refused");
    if (s->n < 64) {
        s->sizes[s->n] = d->ntokens;
        s->prov[s->n] = d->provider;
        s->seq[s->n] = seq;
    }
    s->tokens[d->provider] += d->ntokens;
    hd_buf_init(&b, 1 << 20);
    if (hd_msg_delivery_encode(d, &b, err) == 0) {
        snprintf(s->last_json, sizeof(s->last_json), "%.4000s", b.data);
    } else {
        snprintf(s->last_json, sizeof(s->last_json), "encode: %s", err->msg);
    }
    hd_buf_release(&b);
    s->n++;
    return 0;
}

static char uid_1[] = "u-1";
static char app_default[] = "default";

static void
request(struct hd_msg_request *r, const char *notification)
{
    memset(r, 0, sizeof(*r));
    r->uid = uid_1;
    r->app = app_default;
    r->created_ms = 7;
    r->expire_at_ms = 9;
    r->notification = json_loads(notification, 0, NULL);
}

static void
test_batches_by_provider(void)
{
    struct hd_msg_request r;
    struct api_batcher b;
    struct hd_err err = {0};
    struct sink s = {0};
    char tok[32];
    int i;

    s.fail_at = -1;
    request(&r, "{\"fcm\":{\"message\":{}},\"hms\":{\"message\":{}}}");
    api_batcher_init(&b, &r, 0, collect, &s);
    ASSERT_INT_EQ(api_batcher_wants(&b, HD_PROVIDER_FCM), 1);
    ASSERT_INT_EQ(api_batcher_wants(&b, HD_PROVIDER_APNS), 0);
    for (i = 0; i < 1234; i++) {
        snprintf(tok, sizeof(tok), "f%d", i);
        ASSERT_INT_EQ(api_batcher_add(&b, HD_PROVIDER_FCM, tok, "d", &err), 0);
        snprintf(tok, sizeof(tok), "h%d", i);
        ASSERT_INT_EQ(api_batcher_add(&b, HD_PROVIDER_HMS, tok, NULL, &err), 0);
        ASSERT_INT_EQ(api_batcher_add(&b, HD_PROVIDER_APNS, "ab", "d", &err),
                      0);
    }
    /* full batches only, so far: 2 FCM of 500, 1 HMS of 1000 */
    ASSERT_INT_EQ(s.n, 3);
    ASSERT_INT_EQ(s.sizes[0], 500);
    ASSERT_INT_EQ(s.sizes[1], 500);
    ASSERT_INT_EQ(s.prov[2], HD_PROVIDER_HMS);
    ASSERT_INT_EQ(s.sizes[2], 1000);
    ASSERT_INT_EQ(api_batcher_flush(&b, &err), 0);
    ASSERT_INT_EQ(s.n, 5);
    ASSERT_INT_EQ(s.tokens[HD_PROVIDER_FCM], 1234);
    ASSERT_INT_EQ(s.tokens[HD_PROVIDER_HMS], 1234);
    ASSERT_INT_EQ(s.tokens[HD_PROVIDER_APNS], 0);
    ASSERT_INT_EQ(b.tokens[HD_PROVIDER_FCM], 1234);
    for (i = 0; i < 5; i++)
        ASSERT_INT_EQ(s.seq[i], i);
    /* the last batch is valid record JSON with the request's fields */
    ASSERT_STR_CONTAINS(s.last_json, "\"uid\":\"u-1\"");
    ASSERT_STR_CONTAINS(s.last_json, "\"expire_at_ms\":9");
    ASSERT_STR_CONTAINS(s.last_json, "\"created_ms\":7");
    /* flushing again emits nothing */
    ASSERT_INT_EQ(api_batcher_flush(&b, &err), 0);
    ASSERT_INT_EQ(s.n, 5);
    api_batcher_release(&b);
    ASSERT_NULL(b.req);
    json_decref(r.notification);
}

static void
test_small_batches_topics_and_refusal(void)
{
    struct hd_msg_request r;
    struct api_batcher b;
    struct hd_err err = {0};
    struct sink s = {0};

    s.fail_at = -1;
    request(&r, "{\"fcm\":{\"message\":{\"data\":{}}}}");
    api_batcher_init(&b, &r, 3, collect, &s);
    ASSERT_INT_EQ(
        api_batcher_target(&b, HD_PROVIDER_FCM, HD_RT_TOPIC, "news", &err), 0);
    ASSERT_STR_CONTAINS(s.last_json, "\"recipient_type\":\"topic\"");
    ASSERT_STR_CONTAINS(s.last_json, "\"topic\":\"news\"");
    ASSERT_INT_EQ(
        api_batcher_target(&b, HD_PROVIDER_HMS, HD_RT_TOPIC, "x", &err), 0);
    ASSERT_INT_EQ(s.n, 1); /* no HMS notification: nothing */
    s.fail_at = 2;
    ASSERT_INT_EQ(api_batcher_add(&b, HD_PROVIDER_FCM, "a", NULL, &err), 0);
    ASSERT_INT_EQ(api_batcher_add(&b, HD_PROVIDER_FCM, "b", NULL, &err), 0);
    ASSERT_INT_EQ(api_batcher_add(&b, HD_PROVIDER_FCM, "c", NULL, &err), 0);
    ASSERT_INT_EQ(s.n, 2);
    ASSERT_INT_EQ(s.sizes[1], 3);
    ASSERT_INT_EQ(api_batcher_add(&b, HD_PROVIDER_FCM, "d", NULL, &err), 0);
    ASSERT_INT_EQ(api_batcher_add(&b, HD_PROVIDER_FCM, "e", NULL, &err), 0);
    ASSERT_INT_EQ(api_batcher_add(&b, HD_PROVIDER_FCM, "f", NULL, &err), -1);
    ASSERT_STR_EQ(err.msg, "refused");
    ASSERT_INT_EQ(b.seq, 2);
    api_batcher_release(&b);
    json_decref(r.notification);
}

/* ---- the circuit breaker ------------------------------------------------- */

static void
record_n(struct api_breaker *b, const char *app, enum hd_provider p,
         enum hd_outcome o, int n, int64_t now)
{
    int i;

    for (i = 0; i < n; i++)
        api_breaker_record(b, app, p, o, now);
}

static void
test_breaker_threshold(void)
{
    struct api_breaker_cfg cfg = {60, 20, 50};
    struct api_breaker *b = api_breaker_new(&cfg);
    int changed = 0;

    record_n(b, "a", HD_PROVIDER_APNS, HD_OUTCOME_TOKEN_INVALID, 19, 1000);
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_APNS, 1000, &changed),
                  0);
    ASSERT_INT_EQ(changed, 0);
    record_n(b, "a", HD_PROVIDER_APNS, HD_OUTCOME_TOKEN_INVALID, 1, 1000);
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_APNS, 1000, &changed),
                  1);
    ASSERT_INT_EQ(changed, 1);
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_APNS, 1000, &changed),
                  1);
    ASSERT_INT_EQ(changed, 0); /* one signal per flip */
    /* other pairs are independent */
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_FCM, 1000, NULL), 0);
    ASSERT_INT_EQ(api_breaker_open(b, "b", HD_PROVIDER_APNS, 1000, NULL), 0);
    /* one success closes it */
    api_breaker_record(b, "a", HD_PROVIDER_APNS, HD_OUTCOME_SENT, 2000);
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_APNS, 2000, &changed),
                  0);
    ASSERT_INT_EQ(changed, 1);
    api_breaker_free(b);
}

static void
test_breaker_ratio_and_expired(void)
{
    struct api_breaker_cfg cfg = {60, 20, 50};
    struct api_breaker *b = api_breaker_new(&cfg);

    /* 10 invalid of 30 sends: under 50% */
    record_n(b, "a", HD_PROVIDER_FCM, HD_OUTCOME_TOKEN_INVALID, 10, 0);
    record_n(b, "a", HD_PROVIDER_FCM, HD_OUTCOME_FAILED, 20, 0);
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_FCM, 0, NULL), 0);
    record_n(b, "a", HD_PROVIDER_FCM, HD_OUTCOME_TOKEN_INVALID, 10, 0);
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_FCM, 0, NULL), 1);
    /* expired outcomes are not sends */
    record_n(b, "c", HD_PROVIDER_HMS, HD_OUTCOME_EXPIRED, 100, 0);
    record_n(b, "c", HD_PROVIDER_HMS, HD_OUTCOME_TOKEN_INVALID, 19, 0);
    ASSERT_INT_EQ(api_breaker_open(b, "c", HD_PROVIDER_HMS, 0, NULL), 0);
    api_breaker_free(b);
}

static void
test_breaker_window_slides(void)
{
    struct api_breaker_cfg cfg = {60, 20, 50};
    struct api_breaker *b = api_breaker_new(&cfg);
    int changed = 0;

    record_n(b, "a", HD_PROVIDER_FCM, HD_OUTCOME_TOKEN_INVALID, 25, 10000);
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_FCM, 10000, NULL), 1);
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_FCM, 69000, NULL), 1);
    /* a minute later those outcomes are out of the window */
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_FCM, 71000, &changed),
                  0);
    ASSERT_INT_EQ(changed, 1);
    /* a slot reused a lap later starts from zero */
    record_n(b, "a", HD_PROVIDER_FCM, HD_OUTCOME_TOKEN_INVALID, 5, 70000);
    ASSERT_INT_EQ(api_breaker_open(b, "a", HD_PROVIDER_FCM, 70000, NULL), 0);
    api_breaker_free(b);
}

/* More than the 1,024 pairs the table once held (past them every pair
 * shared one overflow state): each app still has its own state, so one
 * app's burst of invalid tokens opens its breaker and nobody else's. */
static void
test_breaker_every_app_its_own(void)
{
    struct api_breaker_cfg cfg = {60, 20, 50};
    struct api_breaker *b = api_breaker_new(&cfg);
    char app[32];
    int i;

    for (i = 0; i < 1024; i++) {
        snprintf(app, sizeof(app), "app-%d", i);
        api_breaker_record(b, app, HD_PROVIDER_FCM, HD_OUTCOME_SENT, 0);
    }
    for (i = 1024; i < 1100; i++) { /* one invalid token each */
        snprintf(app, sizeof(app), "app-%d", i);
        api_breaker_record(b, app, HD_PROVIDER_FCM, HD_OUTCOME_TOKEN_INVALID,
                           0);
    }
    record_n(b, "relay.bad", HD_PROVIDER_FCM, HD_OUTCOME_TOKEN_INVALID, 40,
             1000);
    api_breaker_record(b, "relay.good", HD_PROVIDER_FCM,
                       HD_OUTCOME_TOKEN_INVALID, 1000);
    ASSERT_INT_EQ(api_breaker_open(b, "relay.bad", HD_PROVIDER_FCM, 1000, NULL),
                  1);
    ASSERT_INT_EQ(
        api_breaker_open(b, "relay.good", HD_PROVIDER_FCM, 1000, NULL), 0);
    for (i = 1024; i < 1100; i++) {
        snprintf(app, sizeof(app), "app-%d", i);
        ASSERT_INT_EQ(api_breaker_open(b, app, HD_PROVIDER_FCM, 1000, NULL), 0);
    }
    ASSERT_INT_EQ(
        api_breaker_open(b, "relay.bad", HD_PROVIDER_APNS, 1000, NULL), 0);
    ASSERT_INT_EQ(api_breaker_size(b), 1024 + 76 + 3);
    api_breaker_free(b);
}

/* Idle states (nothing inside the window) are dropped: memory follows the
 * pairs active within a window. An open breaker is kept until it is seen
 * closed, so its flip is still told. */
static void
test_breaker_idle_states_are_dropped(void)
{
    struct api_breaker_cfg cfg = {60, 1, 50};
    struct api_breaker *b = api_breaker_new(&cfg);
    char app[32];
    int i, changed = 0;

    for (i = 0; i < 5000; i++) {
        snprintf(app, sizeof(app), "app-%d", i);
        api_breaker_record(b, app, HD_PROVIDER_FCM, HD_OUTCOME_SENT, 0);
    }
    api_breaker_record(b, "relay.bad", HD_PROVIDER_FCM,
                       HD_OUTCOME_TOKEN_INVALID, 0);
    ASSERT_INT_EQ(api_breaker_open(b, "relay.bad", HD_PROVIDER_FCM, 0, NULL),
                  1);
    ASSERT_INT_EQ(api_breaker_size(b), 5001);
    /* two minutes later a new pair comes: the idle ones go */
    api_breaker_record(b, "relay.new", HD_PROVIDER_APNS, HD_OUTCOME_SENT,
                       120000);
    ASSERT_INT_EQ(api_breaker_size(b), 2);
    ASSERT_INT_EQ(
        api_breaker_open(b, "relay.bad", HD_PROVIDER_FCM, 120000, &changed), 0);
    ASSERT_INT_EQ(changed, 1);
    api_breaker_free(b);
}

/* A table full of active pairs keeps a further pair's devices (answers
 * open, no flip) instead of sharing or evicting a live state; once states
 * go idle the pair is tracked. */
static void
test_breaker_full_table_keeps_devices(void)
{
    struct api_breaker_cfg cfg = {60, 20, 50};
    struct api_breaker *b = api_breaker_new(&cfg);
    char app[32];
    int i, changed = 1;

    for (i = 0; i < API_BREAKER_MAX_KEYS; i++) {
        snprintf(app, sizeof(app), "a%d", i);
        api_breaker_record(b, app, HD_PROVIDER_HMS, HD_OUTCOME_SENT, 0);
    }
    api_breaker_record(b, "late", HD_PROVIDER_HMS, HD_OUTCOME_TOKEN_INVALID,
                       1000);
    ASSERT_INT_EQ(api_breaker_open(b, "late", HD_PROVIDER_HMS, 1000, &changed),
                  1);
    ASSERT_INT_EQ(changed, 0);
    ASSERT_INT_EQ(api_breaker_open(b, "a7", HD_PROVIDER_HMS, 1000, NULL), 0);
    api_breaker_record(b, "late", HD_PROVIDER_HMS, HD_OUTCOME_TOKEN_INVALID,
                       200000);
    ASSERT_INT_EQ(api_breaker_open(b, "late", HD_PROVIDER_HMS, 200000, NULL),
                  0);
    ASSERT_INT_EQ(api_breaker_size(b), 1);
    api_breaker_free(b);
}

int
main(void)
{
    RUN_TEST(test_batches_by_provider);
    RUN_TEST(test_small_batches_topics_and_refusal);
    RUN_TEST(test_breaker_threshold);
    RUN_TEST(test_breaker_ratio_and_expired);
    RUN_TEST(test_breaker_window_slides);
    RUN_TEST(test_breaker_every_app_its_own);
    RUN_TEST(test_breaker_idle_states_are_dropped);
    RUN_TEST(test_breaker_full_table_keeps_devices);
    return UNIT_DONE();
}
