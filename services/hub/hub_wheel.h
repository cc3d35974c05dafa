/* hub_wheel.h -- one hashed timer wheel per service thread: handshake
 * timeouts, hub pings and client timeouts of every connection, with no
 * per-connection timer.
 *
 * Time is in ticks (HUB_WHEEL_TICK_MS each) from an arbitrary origin. A
 * node sits in slot deadline % HUB_WHEEL_SLOTS; advancing the wheel visits
 * only the slots between the last visit and now, and fires the nodes whose
 * deadline has passed (a node further away than one turn simply waits for
 * its turn). Callers re-arm lazily: activity only updates a timestamp, and
 * the callback computes the next deadline when the node fires. Not
 * thread-safe: one wheel per thread. */
#ifndef HUB_WHEEL_H
#define HUB_WHEEL_H

#include <stdint.h>

#define HUB_WHEEL_TICK_MS 250
#define HUB_WHEEL_SLOTS 512 /* one turn = 128 s */

struct hub_wheel_node {
    struct hub_wheel_node *next, *prev; /* NULL when not armed */
    uint32_t deadline;
};

struct hub_wheel {
    struct hub_wheel_node slots[HUB_WHEEL_SLOTS]; /* list heads */
    uint32_t now;                                 /* last tick visited */
    uint32_t armed;                               /* nodes in the wheel */
};

/* fn is called with the node already removed; it may re-add it. */
typedef void hub_wheel_fn(struct hub_wheel_node *n, void *ud);

void hub_wheel_init(struct hub_wheel *w, uint32_t now);

/* Arms (or re-arms) n for deadline; a deadline in the past fires at the
 * next advance. */
void hub_wheel_add(struct hub_wheel *w, struct hub_wheel_node *n,
                   uint32_t deadline);

/* Disarms n; a no-op when it is not armed. */
void hub_wheel_del(struct hub_wheel *w, struct hub_wheel_node *n);

/* Fires every node whose deadline is <= now. Returns how many fired. */
unsigned hub_wheel_advance(struct hub_wheel *w, uint32_t now, hub_wheel_fn *fn,
                           void *ud);

/* Milliseconds (monotonic) to ticks. */
static inline uint32_t
hub_wheel_ticks(uint64_t ms)
{
    return (uint32_t)(ms / HUB_WHEEL_TICK_MS);
}

#endif
