/* test_sim_store.c -- unit tests for herald-sim's recording store
 * (tools/sim/store.c): filters, newest-N queries, ring eviction, counts,
 * and waits satisfied at once, later, by timeout and by cancellation. */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "tools/sim/providers/apns.h"
#include "tools/sim/providers/fcm.h"
#include "tools/sim/providers/hms.h"
#include "tools/sim/providers/oauth.h"
#include "tools/sim/store.h"
#include "core/banned.h"

struct shot {
    struct sim_peer peer;
    struct sim_req req;
    struct sim_resp resp;
};

static void
shot_init(struct shot *s)
{
    sim_peer_init(&s->peer, 7);
    sim_req_init(&s->req, 4096);
    sim_resp_init(&s->resp);
}

static void
shot_release(struct shot *s)
{
    sim_peer_release(&s->peer);
    sim_req_release(&s->req);
    sim_resp_release(&s->resp);
}

static void
add(struct sim_store *st, struct shot *s, const struct sim_endpoint *ep,
    const char *token, const char *outcome, int accepted)
{
    sim_req_reset(&s->req);
    sim_resp_reset(&s->resp);
    sim_req_add_header(&s->req, ":path", 5, "/x", 2);
    sim_req_add_body(&s->req, "{\"a\":1}", 7);
    if (token != NULL)
        sim_resp_add_token(&s->resp, token, strlen(token));
    sim_resp_outcome(&s->resp, outcome);
    s->resp.status = accepted ? 200 : 400;
    s->resp.accepted = accepted;
    s->resp.delivered = accepted;
    s->resp.oauth_issued = ep->kind == SIM_EP_TOKEN && accepted;
    sim_store_add(st, ep, &s->peer, &s->req, &s->resp, 1000);
}

static size_t
nrecords(json_t *q)
{
    return json_array_size(json_object_get(q, "records"));
}

static void
test_query_and_filters(void)
{
    struct sim_store *st = sim_store_new(3, 64);
    struct sim_filter f;
    struct shot s;
    json_t *q;
    json_t *r;

    shot_init(&s);
    add(st, &s, &sim_apns_send, "aa", "success", 1);
    add(st, &s, &sim_apns_send, "bb", "Unregistered", 0);
    add(st, &s, &sim_fcm_send, "cc", "success", 1);
    add(st, &s, &sim_hms_send, "dd", "success", 1); /* evicts "aa" */
    sim_filter_init(&f);
    q = sim_store_query(st, &f, 100);
    ASSERT_INT_EQ(nrecords(q), 3);
    ASSERT_INT_EQ(json_integer_value(json_object_get(q, "last_seq")), 4);
    r = json_array_get(json_object_get(q, "records"), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(r, "token")), "bb");
    ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(r, "json"), "a")),
        1);
    json_decref(q);
    f.provider = SIM_APNS;
    ASSERT_INT_EQ(sim_store_count(st, &f), 1);
    sim_filter_init(&f);
    f.accepted = 1;
    q = sim_store_query(st, &f, 1); /* newest one only */
    ASSERT_INT_EQ(nrecords(q), 1);
    ASSERT_INT_EQ(json_integer_value(json_object_get(q, "matched")), 2);
    r = json_array_get(json_object_get(q, "records"), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(r, "token")), "dd");
    json_decref(q);
    sim_filter_init(&f);
    snprintf(f.token_prefix, sizeof(f.token_prefix), "c");
    ASSERT_INT_EQ(sim_store_count(st, &f), 1);
    sim_filter_init(&f);
    f.since = 3;
    ASSERT_INT_EQ(sim_store_count(st, &f), 1);
    shot_release(&s);
    sim_store_free(st);
}

static void
test_counts(void)
{
    struct sim_store *st = sim_store_new(10, 64);
    struct shot s;
    json_t *c;

    shot_init(&s);
    add(st, &s, &sim_apns_send, "aa", "success", 1);
    add(st, &s, &sim_apns_send, "aa", "success", 1);
    add(st, &s, &sim_apns_send, "bb", "Unregistered", 0);
    add(st, &s, &sim_google_token, NULL, "issued", 1);
    add(st, &s, &sim_google_token, NULL, "invalid_grant", 0);
    c = sim_store_counts(st);
    ASSERT_INT_EQ(json_integer_value(
                      json_object_get(json_object_get(c, "apns"), "requests")),
                  3);
    ASSERT_INT_EQ(json_integer_value(json_object_get(
                      json_object_get(json_object_get(c, "apns"), "outcomes"),
                      "success")),
                  2);
    ASSERT_INT_EQ(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(c, "fcm"), "token"), "issued")),
        1);
    ASSERT_INT_EQ(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(c, "fcm"), "token"), "requests")),
        2);
    json_decref(c);
    sim_store_reset(st);
    c = sim_store_counts(st);
    ASSERT_INT_EQ(json_integer_value(
                      json_object_get(json_object_get(c, "apns"), "requests")),
                  0);
    json_decref(c);
    shot_release(&s);
    sim_store_free(st);
}

struct waited {
    int calls;
    int satisfied;
    uint64_t matched;
};

static void
on_wait(void *ud, int satisfied, uint64_t matched)
{
    struct waited *w = ud;

    w->calls++;
    w->satisfied = satisfied;
    w->matched = matched;
}

static void
test_waits(void)
{
    struct sim_store *st = sim_store_new(10, 64);
    struct sim_filter f;
    struct waited now = {0};
    struct waited later = {0};
    struct waited expire = {0};
    struct waited cancel = {0};
    struct shot s;

    shot_init(&s);
    add(st, &s, &sim_apns_send, "aa", "success", 1);
    sim_filter_init(&f);
    snprintf(f.token, sizeof(f.token), "aa");
    ASSERT_INT_EQ(sim_store_wait(st, &f, 1, 100, on_wait, &now, NULL), 0);
    ASSERT_INT_EQ(now.calls, 1);
    ASSERT_INT_EQ(now.satisfied, 1);
    ASSERT_INT_EQ(sim_store_wait(st, &f, 3, 100, on_wait, &later, NULL), 0);
    ASSERT_INT_EQ(later.calls, 0);
    add(st, &s, &sim_apns_send, "zz", "success", 1); /* not matching */
    add(st, &s, &sim_apns_send, "aa", "success", 1);
    ASSERT_INT_EQ(later.calls, 0);
    add(st, &s, &sim_apns_send, "aa", "success", 1);
    ASSERT_INT_EQ(later.calls, 1);
    ASSERT_INT_EQ(later.satisfied, 1);
    ASSERT_INT_EQ(later.matched, 3);
    ASSERT_INT_EQ(sim_store_wait(st, &f, 99, 100, on_wait, &expire, NULL), 0);
    ASSERT_INT_EQ(sim_store_wait(st, &f, 99, 500, on_wait, &cancel, NULL), 0);
    sim_store_tick(st, 99);
    ASSERT_INT_EQ(expire.calls, 0);
    sim_store_tick(st, 100);
    ASSERT_INT_EQ(expire.calls, 1);
    ASSERT_INT_EQ(expire.satisfied, 0);
    ASSERT_INT_EQ(expire.matched, 3);
    ASSERT_INT_EQ(cancel.calls, 0);
    sim_store_cancel_waits(st);
    ASSERT_INT_EQ(cancel.calls, 1);
    ASSERT_INT_EQ(cancel.satisfied, 0);
    shot_release(&s);
    sim_store_free(st);
}

int
main(void)
{
    RUN_TEST(test_query_and_filters);
    RUN_TEST(test_counts);
    RUN_TEST(test_waits);
    return UNIT_DONE();
}
