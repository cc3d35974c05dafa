/* hub_keepalive.h -- when the hub sends a connection its keep-alive Ping.
 *
 * The hub writes to every open connection at least every ping interval
 * (HERALD_HUB_PING_INTERVAL_S, 15 s; a SignalR client closes after its
 * serverTimeout, 30 s by default, without a message), and every SignalR
 * client pings the hub every 15 s on its own. Two independent pings
 * wake the hub twice per connection per interval; the hub's Ping goes
 * out with the client's instead, in the wake-up that reads it:
 *
 *  - when a message from the client arrives and the hub has not written
 *    for half an interval, the Ping is written at once (unless the
 *    client writes less often than the hub pings);
 *  - a connection whose last Ping went with its client's ("in step")
 *    waits for the client's next message up to one second past the
 *    interval (as ASP.NET Core's SignalR server, whose keep-alive check
 *    runs once a second), so a client ping a little late still takes the
 *    hub's along; out of step, the timer pings when the interval is up;
 *  - after a timer Ping, the next message of a client that pings at
 *    least as often as the hub brings the two in step: a Ping goes with
 *    it unless the client's came right after the timer's.
 *
 * So the hub never goes longer than the interval plus one second without
 * writing, and a client pinging every interval gets the hub's Ping in the
 * same wake-up, one wake-up per connection per interval. Times are wheel
 * ticks; everything here is arithmetic, for hub_conn.c and its test. */
#ifndef HUB_KEEPALIVE_H
#define HUB_KEEPALIVE_H

#include <stdint.h>

#include "services/hub/hub_wheel.h"

#define HUB_KA_GRACE (1000 / HUB_WHEEL_TICK_MS) /* one second, in ticks */

/* Ticks after the last write at which the timer pings (ping: the interval
 * in ticks). Out of step, one tick early, so that none is ever late. */
static inline uint32_t
hub_ka_due(uint32_t ping, int in_step)
{
    return in_step ? ping + HUB_KA_GRACE : ping - 1;
}

/* A whole message from the client arrived at now; the hub last wrote at
 * last_tx, the client's previous message arrived at prev_rx. Returns 1
 * when the hub's Ping is to be written now; updates *in_step. */
static inline int
hub_ka_on_message(uint32_t ping, uint32_t now, uint32_t last_tx,
                  uint32_t prev_rx, int *in_step)
{
    uint32_t age = now - last_tx;

    /* a client writing less often than the hub does not set its pace */
    if (now - prev_rx >= ping + HUB_KA_GRACE)
        return 0;
    if (age >= ping / 2) {
        *in_step = 1;
        return 1;
    }
    if (*in_step)
        return 0;
    *in_step = 1;
    return age >= HUB_KA_GRACE;
}

#endif
