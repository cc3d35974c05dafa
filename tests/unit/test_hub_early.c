/* test_hub_early.c -- unit tests for services/hub/hub_early.c: the
 * half-open connections of a thread, in arrival order and ranked by
 * address, so that the deadline finds the oldest and a full set gives up
 * the oldest connection of the address holding the most. */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "services/hub/hub_early.h"
#include "core/banned.h"

static void
test_deadline_order(void)
{
    struct hub_early e;
    struct hub_early_node n[4];

    memset(n, 0, sizeof(n));
    hub_early_init(&e, 8);
    ASSERT_NULL(hub_early_expired(&e, 100));
    hub_early_add(&e, &n[0], 1, 10);
    hub_early_add(&e, &n[1], 2, 11);
    hub_early_add(&e, &n[2], 1, 12);
    ASSERT_INT_EQ(e.n, 3);
    ASSERT_TRUE(hub_early_has(&n[0]));
    ASSERT_NULL(hub_early_expired(&e, 9));
    ASSERT_TRUE(hub_early_expired(&e, 10) == &n[0]);
    hub_early_del(&e, &n[0]);
    ASSERT_TRUE(!hub_early_has(&n[0]));
    hub_early_del(&e, &n[0]); /* not in the set: no-op */
    ASSERT_TRUE(hub_early_expired(&e, 20) == &n[1]);
    hub_early_del(&e, &n[1]);
    ASSERT_TRUE(hub_early_expired(&e, 20) == &n[2]);
    /* ticks wrap */
    hub_early_add(&e, &n[3], 3, 0xfffffffeu);
    hub_early_del(&e, &n[2]);
    ASSERT_NULL(hub_early_expired(&e, 0xfffffffdu));
    ASSERT_TRUE(hub_early_expired(&e, 1) == &n[3]);
    hub_early_del(&e, &n[3]);
    ASSERT_INT_EQ(e.n, 0);
    ASSERT_INT_EQ(e.naddrs, 0);
    ASSERT_INT_EQ(e.top, 0);
    hub_early_release(&e);
    ASSERT_NULL(e.table);
}

static void
test_victim_is_oldest_of_heaviest(void)
{
    struct hub_early e;
    struct hub_early_node n[6];

    memset(n, 0, sizeof(n));
    hub_early_init(&e, 6);
    ASSERT_NULL(hub_early_victim(&e));
    hub_early_add(&e, &n[0], 7, 1); /* a client: one connection */
    hub_early_add(&e, &n[1], 9, 2); /* a flood: three */
    hub_early_add(&e, &n[2], 9, 3);
    hub_early_add(&e, &n[3], 9, 4);
    hub_early_add(&e, &n[4], 8, 5); /* another: two */
    hub_early_add(&e, &n[5], 8, 6);
    ASSERT_INT_EQ(hub_early_count(&e, 9), 3);
    ASSERT_INT_EQ(e.top, 3);
    ASSERT_TRUE(hub_early_victim(&e) == &n[1]);
    ASSERT_TRUE(hub_early_oldest_of(&e, 8) == &n[4]);
    ASSERT_NULL(hub_early_oldest_of(&e, 6));
    hub_early_del(&e, &n[1]);
    /* 9 and 8 hold two each: either's oldest goes, never the client's */
    ASSERT_INT_EQ(e.top, 2);
    ASSERT_TRUE(hub_early_victim(&e) == &n[2] || hub_early_victim(&e) == &n[4]);
    hub_early_del(&e, &n[2]);
    ASSERT_TRUE(hub_early_victim(&e) == &n[4]);
    hub_early_del(&e, &n[4]);
    /* everyone holds one: the top falls to 1, the oldest of all goes */
    ASSERT_INT_EQ(e.top, 1);
    ASSERT_TRUE(hub_early_victim(&e) == &n[0]);
    hub_early_del(&e, &n[0]);
    hub_early_del(&e, &n[3]);
    hub_early_del(&e, &n[5]);
    ASSERT_NULL(hub_early_victim(&e));
    ASSERT_INT_EQ(e.top, 0);
    ASSERT_INT_EQ(e.naddrs, 0);
    hub_early_release(&e);
}

/* A full set under churn: thousands of addresses (the table grows), one
 * flood address; the flood always pays and the ranking stays exact. */
static void
test_churn(void)
{
    enum { MAX = 3000 };
    struct hub_early e;
    struct hub_early_node *n = calloc(MAX * 2, sizeof(*n));
    struct hub_early_node *v;
    uint32_t i;

    ASSERT_NOT_NULL(n);
    hub_early_init(&e, MAX);
    for (i = 0; i < MAX / 2; i++) /* clients, one each */
        hub_early_add(&e, &n[i], 1000 + i, i);
    for (; i < MAX; i++) /* the flood */
        hub_early_add(&e, &n[i], 5, i);
    ASSERT_INT_EQ(e.n, MAX);
    ASSERT_INT_EQ(e.top, MAX / 2);
    for (i = MAX; i < MAX * 2; i++) {
        v = hub_early_victim(&e);
        ASSERT_NOT_NULL(v);
        if (i < MAX + MAX / 2 - 1) /* the flood holds the most */
            ASSERT_TRUE(v >= &n[MAX / 2] && v < &n[MAX]);
        else /* one each: the oldest, clients first, the flood's last */
            ASSERT_TRUE(v == e.head);
        hub_early_del(&e, v);
        hub_early_add(&e, &n[i], 2000 + i, i); /* a new client */
        ASSERT_INT_EQ(e.n, MAX);
    }
    ASSERT_INT_EQ(hub_early_count(&e, 5), 0);
    ASSERT_INT_EQ(e.top, 1);
    while (e.head)
        hub_early_del(&e, e.head);
    ASSERT_INT_EQ(e.naddrs, 0);
    hub_early_release(&e);
    free(n);
}

int
main(void)
{
    RUN_TEST(test_deadline_order);
    RUN_TEST(test_victim_is_oldest_of_heaviest);
    RUN_TEST(test_churn);
    return UNIT_DONE();
}
