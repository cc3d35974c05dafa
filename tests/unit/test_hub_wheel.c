/* test_hub_wheel.c -- unit tests for services/hub/hub_wheel.c and
 * hub_registry.c / hub_limits.c: timers fire once, on time, and can re-arm
 * themselves; groups and limits count and clean up. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "services/hub/hub_limits.h"
#include "services/hub/hub_registry.h"
#include "services/hub/hub_wheel.h"
#include "core/banned.h"

struct rec {
    struct hub_wheel_node node;
    int fired;
    uint32_t at;
    int rearm; /* ticks to re-arm by, 0 = no */
};

struct env {
    struct hub_wheel *w;
    uint32_t now;
};

static void
on_fire(struct hub_wheel_node *n, void *ud)
{
    struct env *e = ud;
    struct rec *r = (struct rec *)n;

    r->fired++;
    r->at = e->now;
    if (r->rearm)
        hub_wheel_add(e->w, n, e->now + (uint32_t)r->rearm);
}

static void
test_fires_on_time(void)
{
    static struct hub_wheel w;
    struct rec a = {0}, b = {0}, c = {0};
    struct env e = {&w, 100};

    hub_wheel_init(&w, 100);
    hub_wheel_add(&w, &a.node, 105);
    hub_wheel_add(&w, &b.node, 100 + HUB_WHEEL_SLOTS + 3); /* > one turn */
    hub_wheel_add(&w, &c.node, 50);                        /* past: next */
    ASSERT_INT_EQ(w.armed, 3);
    for (e.now = 101; e.now <= 104; e.now++)
        hub_wheel_advance(&w, e.now, on_fire, &e);
    ASSERT_INT_EQ(a.fired, 0);
    ASSERT_INT_EQ(c.fired, 1);
    ASSERT_INT_EQ(c.at, 101);
    e.now = 105;
    ASSERT_INT_EQ(hub_wheel_advance(&w, 105, on_fire, &e), 1);
    ASSERT_INT_EQ(a.fired, 1);
    /* a jump past one turn still fires b once, and only when due */
    e.now = 100 + HUB_WHEEL_SLOTS + 2;
    hub_wheel_advance(&w, e.now, on_fire, &e);
    ASSERT_INT_EQ(b.fired, 0);
    e.now += 1;
    hub_wheel_advance(&w, e.now, on_fire, &e);
    ASSERT_INT_EQ(b.fired, 1);
    ASSERT_INT_EQ(w.armed, 0);
}

static void
test_rearm_and_delete(void)
{
    static struct hub_wheel w;
    struct rec a = {0}, b = {0};
    struct env e = {&w, 0};

    hub_wheel_init(&w, 0);
    a.rearm = 60; /* a 15 s ping at 250 ms ticks */
    hub_wheel_add(&w, &a.node, 60);
    hub_wheel_add(&w, &b.node, 30);
    hub_wheel_del(&w, &b.node);
    hub_wheel_del(&w, &b.node); /* twice is a no-op */
    for (e.now = 1; e.now <= 600; e.now++)
        hub_wheel_advance(&w, e.now, on_fire, &e);
    ASSERT_INT_EQ(a.fired, 10);
    ASSERT_INT_EQ(a.at, 600);
    ASSERT_INT_EQ(b.fired, 0);
    ASSERT_INT_EQ(w.armed, 1);
    hub_wheel_del(&w, &a.node);
    ASSERT_INT_EQ(w.armed, 0);
}

static void
test_registry_groups(void)
{
    struct hub_registry r;
    struct hub_member m[3000];
    struct hub_member *it;
    char key[32];
    int i, n, seen[3] = {0, 0, 0};

    hub_registry_init(&r);
    for (i = 0; i < 3; i++) {
        m[i].owner = &seen[i];
        hub_registry_join(&r, "u:alice", 7, &m[i]);
    }
    ASSERT_INT_EQ(hub_registry_count(&r, "u:alice", 7), 3);
    for (it = hub_registry_members(&r, "u:alice", 7); it; it = it->next)
        (*(int *)it->owner)++;
    ASSERT_INT_EQ(seen[0] + seen[1] + seen[2], 3);
    hub_registry_leave(&r, &m[1]);
    hub_registry_leave(&r, &m[1]); /* not in a group: no-op */
    ASSERT_INT_EQ(hub_registry_count(&r, "u:alice", 7), 2);
    ASSERT_NULL(hub_registry_members(&r, "u:bob", 5));
    /* many groups force the table to grow */
    for (i = 3; i < 3000; i++) {
        n = snprintf(key, sizeof(key), "o:%d", i);
        m[i].owner = NULL;
        hub_registry_join(&r, key, (size_t)n, &m[i]);
    }
    ASSERT_INT_EQ(r.ngroups, 1 + 2997);
    ASSERT_INT_EQ(hub_registry_count(&r, "o:2999", 6), 1);
    for (i = 3; i < 3000; i++)
        hub_registry_leave(&r, &m[i]);
    hub_registry_leave(&r, &m[0]);
    hub_registry_leave(&r, &m[2]);
    ASSERT_INT_EQ(r.ngroups, 0);
    hub_registry_release(&r);
    ASSERT_NULL(r.buckets);
}

static void
test_limits(void)
{
    struct hub_limits l;
    struct hub_lent *a, *b, *c;

    hub_limits_init(&l, 2);
    ASSERT_INT_EQ(hub_limits_conn_acquire(&l), 0);
    ASSERT_INT_EQ(hub_limits_conn_acquire(&l), 0);
    ASSERT_INT_EQ(hub_limits_conn_acquire(&l), -1);
    hub_limits_conn_release(&l);
    ASSERT_INT_EQ(hub_limits_conn_acquire(&l), 0);
    a = hub_limits_acquire(&l, "ip:1.2.3.4", 10, 2);
    b = hub_limits_acquire(&l, "ip:1.2.3.4", 10, 2);
    ASSERT_NOT_NULL(a);
    ASSERT_TRUE(a == b);
    ASSERT_NULL(hub_limits_acquire(&l, "ip:1.2.3.4", 10, 2));
    c = hub_limits_acquire(&l, "ip:5.6.7.8", 10, 2);
    ASSERT_NOT_NULL(c);
    ASSERT_NULL(hub_limits_acquire(&l, "u:x", 3, 0));
    hub_limits_put(&l, a);
    ASSERT_NOT_NULL(hub_limits_acquire(&l, "ip:1.2.3.4", 10, 2));
    hub_limits_put(&l, a);
    hub_limits_put(&l, b);
    hub_limits_put(&l, c);
    hub_limits_put(&l, NULL);
    ASSERT_INT_EQ(l.nkeys, 0);
    hub_limits_release(&l);
    ASSERT_NULL(l.buckets);
}

struct edges {
    int n;
    int online[8];
    char user[8][16];
};

static void
on_user(void *ud, const char *user, size_t len, int online)
{
    struct edges *e = ud;

    if (e->n < 8 && len < 16) {
        memcpy(e->user[e->n], user, len);
        e->user[e->n][len] = '\0';
        e->online[e->n] = online;
    }
    e->n++;
}

/* presence's hook: a user's first slot and last slot only, not other
 * keys, and not a refused slot */
static void
test_limits_user_edges(void)
{
    struct hub_limits l;
    struct edges e = {0};
    struct hub_lent *a, *b, *ip;

    memset(&l, 0, sizeof(l));
    hub_limits_init(&l, 10);
    l.on_user = on_user;
    l.on_user_ud = &e;
    a = hub_limits_acquire(&l, "u:alice", 7, 2);
    ASSERT_INT_EQ(e.n, 1);
    ASSERT_STR_EQ(e.user[0], "alice");
    ASSERT_INT_EQ(e.online[0], 1);
    b = hub_limits_acquire(&l, "u:alice", 7, 2);
    ASSERT_NULL(hub_limits_acquire(&l, "u:alice", 7, 2));
    ip = hub_limits_acquire(&l, "ip:1.2.3.4", 10, 2);
    ASSERT_INT_EQ(e.n, 1);
    hub_limits_put(&l, a);
    ASSERT_INT_EQ(e.n, 1);
    hub_limits_put(&l, b);
    ASSERT_INT_EQ(e.n, 2);
    ASSERT_STR_EQ(e.user[1], "alice");
    ASSERT_INT_EQ(e.online[1], 0);
    hub_limits_put(&l, ip);
    ASSERT_INT_EQ(e.n, 2);
    hub_limits_release(&l);
}

int
main(void)
{
    RUN_TEST(test_fires_on_time);
    RUN_TEST(test_rearm_and_delete);
    RUN_TEST(test_registry_groups);
    RUN_TEST(test_limits);
    RUN_TEST(test_limits_user_edges);
    return UNIT_DONE();
}
