/* test_api_presence.c -- unit tests for services/api/api_presence_set.c
 * (the presence state herald-api keeps from herald.presence) and for the
 * request record's skip_online flag: the latest record per key wins, a
 * hub's users go offline when its lease ends and are forgotten (with
 * tombstones for their keys) one lease later, a hub's tombstone drops
 * its users at once, the cap drops records rather than growing, and bad
 * records are refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "core/buf.h"
#include "proto/msg.h"
#include "services/api/api_presence.h"
#include "core/banned.h"

#define LEASE "{\"lease_ms\":1000}"

static int
put(struct api_pset *s, const char *key, const char *value, int64_t ts)
{
    struct hd_err err = {0};

    return api_pset_apply(s, key, strlen(key), value, value ? strlen(value) : 0,
                          ts, &err);
}

struct tombs {
    int n;
    char keys[8][64];
};

static void
tomb(void *ud, const char *key, size_t keylen)
{
    struct tombs *t = ud;

    if (t->n < 8 && keylen < 64) {
        memcpy(t->keys[t->n], key, keylen);
        t->keys[t->n][keylen] = '\0';
    }
    t->n++;
}

static void
test_online_offline(void)
{
    struct api_pset *s = api_pset_new(100);

    ASSERT_INT_EQ(api_pset_online(s, "alice", 1000), 0);
    ASSERT_INT_EQ(put(s, "h/hub1", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "u/hub1/alice", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "u/hub1/alice", LEASE, 1100), 0); /* again */
    ASSERT_INT_EQ(api_pset_entries(s), 1);
    ASSERT_INT_EQ(api_pset_online(s, "alice", 1500), 1);
    ASSERT_INT_EQ(api_pset_online(s, "bob", 1500), 0);
    /* a user with a '/' in the id, on a second hub */
    ASSERT_INT_EQ(put(s, "u/hub2/alice", LEASE, 1200), 0);
    ASSERT_INT_EQ(put(s, "u/hub2/b/c", LEASE, 1200), 0);
    ASSERT_INT_EQ(api_pset_online(s, "b/c", 1500), 1);
    ASSERT_INT_EQ(api_pset_hubs(s), 2);
    /* the last connection on hub1 closes: still online on hub2 */
    ASSERT_INT_EQ(put(s, "u/hub1/alice", NULL, 1300), 0);
    ASSERT_INT_EQ(api_pset_online(s, "alice", 1500), 1);
    ASSERT_INT_EQ(put(s, "u/hub2/alice", NULL, 1300), 0);
    ASSERT_INT_EQ(api_pset_online(s, "alice", 1500), 0);
    /* a tombstone for a key never seen is fine */
    ASSERT_INT_EQ(put(s, "u/hub9/zed", NULL, 1300), 0);
    ASSERT_INT_EQ(api_pset_hubs(s), 2);
    ASSERT_INT_EQ(api_pset_entries(s), 1);
    api_pset_free(s);
}

static void
test_lease_expires(void)
{
    struct api_pset *s = api_pset_new(100);
    struct tombs t = {0};

    ASSERT_INT_EQ(put(s, "h/dead", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "u/dead/alice", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "h/live", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "u/live/bob", LEASE, 1000), 0);
    /* live renews its lease; dead says nothing more (a crash) */
    ASSERT_INT_EQ(put(s, "h/live", LEASE, 1900), 0);
    ASSERT_INT_EQ(api_pset_online(s, "alice", 1999), 1);
    ASSERT_INT_EQ(api_pset_online(s, "alice", 2001), 0);
    ASSERT_INT_EQ(api_pset_online(s, "bob", 2001), 1);
    /* within a second lease it is kept, without tombstones */
    ASSERT_INT_EQ(api_pset_expire(s, 2500, tomb, &t), 0);
    ASSERT_INT_EQ(t.n, 0);
    ASSERT_INT_EQ(put(s, "h/live", LEASE, 2800), 0);
    ASSERT_INT_EQ(api_pset_expire(s, 3001, tomb, &t), 1);
    ASSERT_INT_EQ(t.n, 2);
    ASSERT_STR_EQ(t.keys[0], "u/dead/alice");
    ASSERT_STR_EQ(t.keys[1], "h/dead");
    ASSERT_INT_EQ(api_pset_hubs(s), 1);
    ASSERT_INT_EQ(api_pset_entries(s), 1);
    ASSERT_INT_EQ(api_pset_online(s, "bob", 3001), 1);
    /* our own tombstones read back: no-ops */
    ASSERT_INT_EQ(put(s, "u/dead/alice", NULL, 3002), 0);
    ASSERT_INT_EQ(put(s, "h/dead", NULL, 3002), 0);
    ASSERT_INT_EQ(api_pset_hubs(s), 1);
    /* records replayed from long ago (a restarted reader): never online */
    ASSERT_INT_EQ(put(s, "u/old/carol", LEASE, 10), 0);
    ASSERT_INT_EQ(api_pset_online(s, "carol", 3002), 0);
    api_pset_free(s);
}

static void
test_hub_stops(void)
{
    struct api_pset *s = api_pset_new(100);

    ASSERT_INT_EQ(put(s, "h/h1", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "u/h1/a", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "u/h1/b", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "h/h1", NULL, 1100), 0);
    ASSERT_INT_EQ(api_pset_online(s, "a", 1200), 0);
    ASSERT_INT_EQ(api_pset_entries(s), 0);
    ASSERT_INT_EQ(api_pset_hubs(s), 0);
    api_pset_free(s);
}

/* A hub written off by a reader (its heartbeats late) and still alive: a
 * replay may read a user who came online after the hub's tombstone (on
 * another partition) before that tombstone. The tombstone drops the
 * users online before it, not that one. */
static void
test_replayed_tombstone_keeps_later_users(void)
{
    struct api_pset *s = api_pset_new(100);

    ASSERT_INT_EQ(put(s, "u/h1/a", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "u/h1/b", LEASE, 6000), 0);
    ASSERT_INT_EQ(put(s, "h/h1", LEASE, 1000), 0);
    ASSERT_INT_EQ(put(s, "h/h1", NULL, 5000), 0);
    ASSERT_INT_EQ(put(s, "h/h1", LEASE, 6500), 0);
    ASSERT_INT_EQ(api_pset_online(s, "a", 6600), 0);
    ASSERT_INT_EQ(api_pset_online(s, "b", 6600), 1);
    ASSERT_INT_EQ(api_pset_entries(s), 1);
    ASSERT_INT_EQ(api_pset_hubs(s), 1);
    /* a later tombstone (the hub stopped) takes b too */
    ASSERT_INT_EQ(put(s, "h/h1", NULL, 7000), 0);
    ASSERT_INT_EQ(api_pset_entries(s), 0);
    ASSERT_INT_EQ(api_pset_hubs(s), 0);
    api_pset_free(s);
}

static void
test_cap_and_growth(void)
{
    struct api_pset *s = api_pset_new(3000);
    char key[64];
    int i;

    for (i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "u/h/user%d", i);
        ASSERT_INT_EQ(put(s, key, LEASE, 1000), 0);
    }
    ASSERT_INT_EQ(put(s, "u/h/one-too-many", LEASE, 1000), 1);
    ASSERT_INT_EQ(api_pset_online(s, "one-too-many", 1500), 0);
    ASSERT_INT_EQ(api_pset_entries(s), 3000);
    for (i = 0; i < 3000; i += 7) {
        snprintf(key, sizeof(key), "user%d", i);
        ASSERT_INT_EQ(api_pset_online(s, key, 1500), 1);
    }
    /* room again once one leaves */
    ASSERT_INT_EQ(put(s, "u/h/user0", NULL, 1100), 0);
    ASSERT_INT_EQ(put(s, "u/h/one-too-many", LEASE, 1100), 0);
    ASSERT_INT_EQ(api_pset_online(s, "one-too-many", 1500), 1);
    api_pset_free(s);
}

static void
test_bad_records(void)
{
    struct api_pset *s = api_pset_new(10);
    char big[300];

    ASSERT_INT_EQ(put(s, "x/h/a", LEASE, 1), -1);
    ASSERT_INT_EQ(put(s, "u/", LEASE, 1), -1);
    ASSERT_INT_EQ(put(s, "u/h", LEASE, 1), -1);  /* no user */
    ASSERT_INT_EQ(put(s, "u/h/", LEASE, 1), -1); /* empty user */
    ASSERT_INT_EQ(put(s, "u//a", LEASE, 1), -1); /* empty hub */
    ASSERT_INT_EQ(put(s, "h/a/b", LEASE, 1), -1);
    ASSERT_INT_EQ(put(s, "u/h/a", "not json", 1), -1);
    ASSERT_INT_EQ(put(s, "u/h/a", "[1]", 1), -1);
    ASSERT_INT_EQ(put(s, "u/h/a", "{}", 1), -1);
    ASSERT_INT_EQ(put(s, "u/h/a", "{\"lease_ms\":\"5\"}", 1), -1);
    ASSERT_INT_EQ(put(s, "u/h/a", "{\"lease_ms\":0}", 1), -1);
    memset(big, 'x', sizeof(big));
    memcpy(big, "u/h/", 4);
    big[sizeof(big) - 1] = '\0';
    ASSERT_INT_EQ(put(s, big, LEASE, 1), -1); /* user id too long */
    ASSERT_INT_EQ(api_pset_entries(s), 0);
    ASSERT_INT_EQ(api_pset_hubs(s), 0);
    api_pset_free(s);
}

/* The request record carries skip_online; absent means 0. */
static void
test_request_skip_online(void)
{
    struct hd_msg_request r = {0}, back = {0};
    struct hd_err err = {0};
    struct hd_buf b;

    r.uid = (char *)(uintptr_t) "u1";
    r.app = (char *)(uintptr_t) "default";
    r.kind = HD_RCPT_USERS;
    r.values = json_pack("[s]", "alice");
    r.notification = json_pack("{s:{}}", "fcm");
    r.skip_online = 1;
    hd_buf_init(&b, 1 << 20);
    ASSERT_INT_EQ(hd_msg_request_encode(&r, &b, &err), 0);
    ASSERT_TRUE(strstr(b.data, "\"skip_online\":true") != NULL);
    ASSERT_INT_EQ(hd_msg_request_decode(b.data, b.len, &back, &err), 0);
    ASSERT_INT_EQ(back.skip_online, 1);
    hd_msg_request_release(&back);
    r.skip_online = 0;
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_msg_request_encode(&r, &b, &err), 0);
    ASSERT_TRUE(strstr(b.data, "skip_online") == NULL);
    ASSERT_INT_EQ(hd_msg_request_decode(b.data, b.len, &back, &err), 0);
    ASSERT_INT_EQ(back.skip_online, 0);
    hd_msg_request_release(&back);
    ASSERT_STR_EQ(hd_outcome_name(HD_OUTCOME_SKIPPED), "skipped");
    json_decref(r.values);
    json_decref(r.notification);
    hd_buf_release(&b);
}

int
main(void)
{
    RUN_TEST(test_online_offline);
    RUN_TEST(test_lease_expires);
    RUN_TEST(test_hub_stops);
    RUN_TEST(test_replayed_tombstone_keeps_later_users);
    RUN_TEST(test_cap_and_growth);
    RUN_TEST(test_bad_records);
    RUN_TEST(test_request_skip_online);
    return UNIT_DONE();
}
