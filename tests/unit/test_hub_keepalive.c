/* test_hub_keepalive.c -- unit tests for services/hub/hub_keepalive.h: a
 * connection simulated tick by tick (the timer as the wheel runs it, the
 * client's messages as they arrive) never goes longer than the interval
 * plus a second without the hub's Ping, and a client pinging every
 * interval, late or early, gets every hub Ping in its own wake-up once
 * the two are in step. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "services/hub/hub_keepalive.h"
#include "core/banned.h"

#define PING (15 * HUB_KA_GRACE) /* 15 s in ticks */

struct sim {
    uint32_t last_tx, last_rx;
    int in_step;
    uint32_t max_gap;    /* longest time without a hub write */
    unsigned timer;      /* pings the timer sent (a wake-up of their own) */
    unsigned with_msg;   /* pings written with a client message */
    unsigned timer_late; /* timer pings after the first settle ticks */
};

static void
hub_write(struct sim *s, uint32_t now)
{
    if (now - s->last_tx > s->max_gap)
        s->max_gap = now - s->last_tx;
    s->last_tx = now;
}

/* Runs ticks [0, ticks): the timer as hub_conn_timer() does, then the
 * client's message when next_msg(k) says one arrives at that tick. */
static void
run(struct sim *s, uint32_t ticks, uint32_t settle,
    int (*msg_at)(uint32_t t, void *ud), void *ud)
{
    uint32_t t;

    memset(s, 0, sizeof(*s));
    for (t = 1; t < ticks; t++) {
        if (t - s->last_tx >= hub_ka_due(PING, s->in_step)) {
            s->in_step = 0;
            hub_write(s, t);
            s->timer++;
            if (t > settle)
                s->timer_late++;
        }
        if (msg_at(t, ud)) {
            uint32_t prev = s->last_rx;

            s->last_rx = t;
            if (hub_ka_on_message(PING, t, s->last_tx, prev, &s->in_step)) {
                hub_write(s, t);
                s->with_msg++;
            }
        }
    }
}

/* A client pinging every period ticks from phase, each ping late by a
 * pseudo-random 0 .. jitter ticks (a loaded client's timer). */
struct periodic {
    uint32_t period, phase, jitter;
    uint32_t next;
    unsigned seed;
};

static int
periodic_at(uint32_t t, void *ud)
{
    struct periodic *p = ud;

    if (p->next == 0)
        p->next = p->phase;
    if (t != p->next)
        return 0;
    p->seed = p->seed * 1103515245u + 12345u;
    p->phase += p->period;
    p->next = p->phase + (p->jitter ? (p->seed >> 16) % (p->jitter + 1) : 0);
    return 1;
}

static int
never(uint32_t t, void *ud)
{
    (void)t;
    (void)ud;
    return 0;
}

static void
test_silent_client_pinged_every_interval(void)
{
    struct sim s;

    run(&s, 100 * PING, 0, never, NULL);
    ASSERT_INT_EQ(s.with_msg, 0);
    ASSERT_INT_EQ(s.max_gap, PING - 1);
    ASSERT_INT_LE(100, s.timer);
}

/* The default SignalR client: a ping every 15 s, at every phase against
 * the hub's, on time or up to 0.75 s late each time. */
static void
test_client_every_interval_takes_the_hubs_along(void)
{
    uint32_t phase, jitter;
    struct sim s;

    for (jitter = 0; jitter <= 3; jitter++) {
        for (phase = 1; phase <= PING; phase++) {
            struct periodic p = {PING, phase, jitter, 0, phase};

            run(&s, 200 * PING, phase + 3 * PING, periodic_at, &p);
            ASSERT_INT_LE(s.max_gap, PING + HUB_KA_GRACE);
            /* in step after at most two client pings: one wake-up per
             * connection per interval from then on */
            ASSERT_INT_EQ(s.timer_late, 0);
            ASSERT_INT_LE(s.timer, 2);
            ASSERT_INT_LE(195, s.with_msg);
            ASSERT_INT_LE(s.timer + s.with_msg, 202);
        }
    }
}

/* A client that pings only when the hub does (right after it) stays in
 * step with the timer's pings and never brings more. */
struct echo {
    struct sim *s;
    uint32_t seen;
};

static int
echo_at(uint32_t t, void *ud)
{
    struct echo *e = ud;

    if (e->s->last_tx == t && e->seen != t && e->s->last_tx != 0) {
        e->seen = t;
        return 1;
    }
    return 0;
}

static void
test_echoing_client(void)
{
    struct sim s;
    struct echo e = {&s, 0};

    run(&s, 100 * PING, 0, echo_at, &e);
    ASSERT_INT_LE(s.max_gap, PING + HUB_KA_GRACE);
    ASSERT_INT_EQ(s.with_msg, 0);
    ASSERT_INT_LE(100 * PING / (PING + HUB_KA_GRACE), s.timer);
}

/* A chatty client (a message a second) gets a Ping at most every half
 * interval; a client pinging every 20 s gets no more than the timer's. */
static void
test_chatty_and_slow_clients(void)
{
    struct periodic chatty = {HUB_KA_GRACE, 1, 0, 0, 1};
    struct periodic slow = {20 * HUB_KA_GRACE, 7, 2, 0, 7};
    struct sim s;

    run(&s, 100 * PING, 0, periodic_at, &chatty);
    ASSERT_INT_LE(s.max_gap, PING + HUB_KA_GRACE);
    ASSERT_INT_LE(s.timer + s.with_msg, 2 * 100 + 2);
    ASSERT_INT_LE(180, s.with_msg);

    run(&s, 100 * PING, 0, periodic_at, &slow);
    ASSERT_INT_LE(s.max_gap, PING + HUB_KA_GRACE);
    ASSERT_INT_LE(s.timer + s.with_msg, 100 * PING / (PING - 1) + 1);
}

int
main(void)
{
    RUN_TEST(test_silent_client_pinged_every_interval);
    RUN_TEST(test_client_every_interval_takes_the_hubs_along);
    RUN_TEST(test_echoing_client);
    RUN_TEST(test_chatty_and_slow_clients);
    return UNIT_DONE();
}
