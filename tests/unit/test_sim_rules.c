/* test_sim_rules.c -- unit tests for herald-sim's fault rules and the
 * token-prefix conventions (tools/sim/faults/rules.c, ruleset.c, outcome.c),
 * plus the rate windows and the issued-token table they rely on (rate.c,
 * tokens.c). */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "tools/sim/providers/apns.h"
#include "tools/sim/providers/fcm.h"
#include "tools/sim/providers/hms.h"
#include "tools/sim/providers/oauth.h"
#include "tools/sim/providers/rate.h"
#include "tools/sim/faults/rules.h"
#include "tools/sim/providers/tokens.h"
#include "core/banned.h"

static int
add(struct sim_rules *r, const char *json, struct hd_err *err)
{
    json_t *j = json_loads(json, 0, NULL);
    uint64_t id = 0;
    int rc = sim_rules_add(r, j, &id, err);

    json_decref(j);
    return rc < 0 ? -1 : (int)id;
}

static void
test_prefixes(void)
{
    struct sim_outcome o;

    sim_outcome_init(&o);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "dead00", 6, &o), 1);
    ASSERT_STR_EQ(o.error, "Unregistered");
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_fcm_send, "dead", 4, &o), 1);
    ASSERT_STR_EQ(o.error, "UNREGISTERED");
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_hms_send, "bad0x", 5, &o), 1);
    ASSERT_STR_EQ(o.error, "illegal_token");
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_fcm_send, "04290060ab", 10, &o),
                  1);
    ASSERT_STR_EQ(o.error, "QUOTA_EXCEEDED");
    ASSERT_INT_EQ(o.retry_after_s, 60);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "04290000", 8, &o), 1);
    ASSERT_INT_EQ(o.retry_after_s, -1); /* 0: no Retry-After */
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_hms_send, "0503", 4, &o), 1);
    ASSERT_STR_EQ(o.error, "503");
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "de1a1500ff", 10, &o),
                  1);
    ASSERT_INT_EQ(o.kind, SIM_OUT_SUCCESS);
    ASSERT_INT_EQ(o.delay_ms, 1500);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "a80707", 6, &o), 1);
    ASSERT_INT_EQ(o.kind, SIM_OUT_RST);
    ASSERT_INT_EQ(o.h2_code, 7);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "60a002", 6, &o), 1);
    ASSERT_INT_EQ(o.kind, SIM_OUT_GOAWAY);
    ASSERT_INT_EQ(o.h2_code, 2);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "57a1", 4, &o), 1);
    ASSERT_INT_EQ(o.kind, SIM_OUT_STALL);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "c105", 4, &o), 1);
    ASSERT_INT_EQ(o.kind, SIM_OUT_CLOSE);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "ae31", 4, &o), 1);
    ASSERT_STR_EQ(o.error, "Shutdown");
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "ae99", 4, &o), 0);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_fcm_send, "fe02", 4, &o), 1);
    ASSERT_STR_EQ(o.error, "SENDER_ID_MISMATCH");
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_fcm_send, "ae02", 4, &o), 0);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_apns_send, "0123abcd", 8, &o), 0);
    ASSERT_INT_EQ(sim_outcome_from_token(&sim_google_token, "dead", 4, &o), 0);
    sim_outcome_release(&o);
}

static void
test_parse_errors(void)
{
    struct sim_rules *r = sim_rules_new(1);
    struct hd_err err = {0};

    ASSERT_INT_EQ(add(r, "{\"provider\":\"gcm\",\"error\":\"x\"}", &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "provider");
    ASSERT_INT_EQ(add(r, "{\"error\":\"Unregistered\"}", &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "needs provider");
    ASSERT_INT_EQ(add(r, "{\"provider\":\"apns\",\"error\":\"Nope\"}", &err),
                  -1);
    ASSERT_STR_CONTAINS(err.msg, "not an error of apns.send");
    ASSERT_INT_EQ(add(r, "{\"provider\":\"fcm\"}", &err), -1);
    ASSERT_INT_EQ(add(r, "{\"action\":\"explode\"}", &err), -1);
    ASSERT_INT_EQ(
        add(r, "{\"action\":\"rst_stream\",\"error_code\":\"X\"}", &err), -1);
    ASSERT_INT_EQ(add(r, "{\"status\":503,\"probability\":2}", &err), -1);
    ASSERT_INT_EQ(add(r,
                      "{\"provider\":\"fcm\",\"endpoint\":\"token\","
                      "\"error\":\"invalid_grant\"}",
                      &err),
                  -1); /* token errors have their own names */
    ASSERT_INT_EQ(add(r,
                      "{\"provider\":\"fcm\",\"endpoint\":\"token\","
                      "\"error\":\"invalid_signature\"}",
                      &err),
                  1);
    sim_rules_free(r);
}

static void
test_match_count_skip_delete(void)
{
    struct sim_rules *r = sim_rules_new(1);
    struct sim_outcome o;
    struct sim_req req;
    json_t *list;
    int id;

    sim_outcome_init(&o);
    sim_req_init(&req, 1024);
    sim_req_add_header(&req, ":path", 5, "/3/device/abcd", 14);
    sim_req_add_header(&req, "apns-topic", 10, "com.a", 5);
    ASSERT_INT_EQ(sim_rules_match(r, &sim_apns_send, "abcd", &req, &o), 0);
    id = add(r,
             "{\"provider\":\"apns\",\"token_prefix\":\"ab\",\"error\":"
             "\"TooManyRequests\",\"retry_after\":5,\"count\":2,\"skip\":1}",
             NULL);
    ASSERT_INT_EQ(id, 1);
    ASSERT_INT_EQ(add(r,
                      "{\"status\":502,\"body\":\"<html>bad gateway"
                      "</html>\",\"content_type\":\"text/html\","
                      "\"header\":{\"name\":\"apns-topic\",\"value\":"
                      "\"com.a\"}}",
                      NULL),
                  2);
    ASSERT_INT_EQ(sim_rules_match(r, &sim_fcm_send, "abcd", &req, &o), 1);
    ASSERT_INT_EQ(o.kind, SIM_OUT_RAW); /* rule 1 is apns-only */
    ASSERT_INT_EQ(o.status, 502);
    ASSERT_STR_EQ(o.body.data, "<html>bad gateway</html>");
    ASSERT_INT_EQ(sim_rules_match(r, &sim_apns_send, "abcd", &req, &o), 1);
    ASSERT_INT_EQ(o.kind, SIM_OUT_RAW); /* rule 1 skipped its first match */
    ASSERT_INT_EQ(sim_rules_match(r, &sim_apns_send, "abcd", &req, &o), 1);
    ASSERT_STR_EQ(o.error, "TooManyRequests");
    ASSERT_INT_EQ(o.retry_after_s, 5);
    ASSERT_INT_EQ(sim_rules_match(r, &sim_apns_send, "abcd", &req, &o), 1);
    ASSERT_STR_EQ(o.error, "TooManyRequests");
    ASSERT_INT_EQ(sim_rules_match(r, &sim_apns_send, "abcd", &req, &o), 1);
    ASSERT_INT_EQ(o.kind, SIM_OUT_RAW); /* rule 1 is used up */
    list = sim_rules_list(r);
    ASSERT_INT_EQ(json_array_size(list), 2);
    ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_array_get(list, 0), "fired")),
        2);
    json_decref(list);
    ASSERT_INT_EQ(sim_rules_delete(r, 2), 0);
    ASSERT_INT_EQ(sim_rules_delete(r, 2), -1);
    ASSERT_INT_EQ(sim_rules_match(r, &sim_apns_send, "abcd", &req, &o), 0);
    sim_req_release(&req);
    sim_outcome_release(&o);
    sim_rules_free(r);
}

static void
test_probability_is_seeded(void)
{
    struct sim_rules *a = sim_rules_new(42);
    struct sim_rules *b = sim_rules_new(42);
    struct sim_outcome o;
    struct sim_req req;
    int fa = 0;
    int same = 1;
    int i;

    sim_outcome_init(&o);
    sim_req_init(&req, 16);
    add(a, "{\"action\":\"stall\",\"probability\":0.3}", NULL);
    add(b, "{\"action\":\"stall\",\"probability\":0.3}", NULL);
    for (i = 0; i < 1000; i++) {
        int x = sim_rules_match(a, &sim_fcm_send, "t", &req, &o);
        int y = sim_rules_match(b, &sim_fcm_send, "t", &req, &o);

        fa += x;
        same &= x == y;
    }
    ASSERT_TRUE(same);
    ASSERT_TRUE(fa > 200 && fa < 400);
    sim_req_release(&req);
    sim_outcome_release(&o);
    sim_rules_free(a);
    sim_rules_free(b);
}

static void
test_rate_window(void)
{
    struct sim_rate *r = sim_rate_new(10, 60);
    int retry = 0;

    ASSERT_INT_EQ(sim_rate_take(r, "p", 6, 1000, &retry), 1);
    ASSERT_INT_EQ(sim_rate_take(r, "p", 4, 30000, &retry), 1);
    ASSERT_INT_EQ(sim_rate_take(r, "p", 1, 31000, &retry), 0);
    ASSERT_INT_EQ(retry, 30); /* the first 6 leave the window at 61 s */
    ASSERT_INT_EQ(sim_rate_take(r, "other", 10, 31000, &retry), 1);
    ASSERT_INT_EQ(sim_rate_take(r, "p", 6, 61000, &retry), 1); /* slid */
    sim_rate_reset(r);
    ASSERT_INT_EQ(sim_rate_take(r, "p", 10, 61000, &retry), 1);
    sim_rate_free(r);
    r = sim_rate_new(0, 60);
    ASSERT_INT_EQ(sim_rate_take(r, "p", 1000000, 0, &retry), 1);
    sim_rate_free(r);
}

static void
test_tokens_evict_oldest(void)
{
    struct sim_tokens *t = sim_tokens_new();
    struct sim_token_info in = {0};
    struct sim_token_info out;
    char name[32];
    int i;

    in.provider = SIM_HMS;
    in.expires_ms = 42;
    for (i = 0; i < SIM_TOKENS_MAX + 5; i++) {
        snprintf(name, sizeof(name), "tok-%d", i);
        sim_tokens_put(t, name, &in);
    }
    ASSERT_INT_EQ(sim_tokens_count(t), SIM_TOKENS_MAX);
    ASSERT_INT_EQ(sim_tokens_get(t, "tok-4", &out), 0);
    ASSERT_INT_EQ(sim_tokens_get(t, "tok-5", &out), 1);
    ASSERT_INT_EQ(out.expires_ms, 42);
    sim_tokens_clear(t);
    ASSERT_INT_EQ(sim_tokens_get(t, "tok-5", &out), 0);
    sim_tokens_free(t);
}

int
main(void)
{
    RUN_TEST(test_prefixes);
    RUN_TEST(test_parse_errors);
    RUN_TEST(test_match_count_skip_delete);
    RUN_TEST(test_probability_is_seeded);
    RUN_TEST(test_rate_window);
    RUN_TEST(test_tokens_evict_oldest);
    return UNIT_DONE();
}
