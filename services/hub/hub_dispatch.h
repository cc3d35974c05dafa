/* hub_dispatch.h -- the routing layer: an event goes to every service
 * thread's inbox (hub_dispatch, any thread), and on each thread to the
 * open connections of the group it targets (hub_route).
 *
 * It calls down into the connection layer (hub_conn_push) and reads the
 * thread's group index; nothing below calls it. */
#ifndef HUB_DISPATCH_H
#define HUB_DISPATCH_H

#include "services/hub/hub.h"

/* Hands e to every thread (the caller's hold is consumed). With block = 0
 * (service threads), a thread whose inbox is full misses the event and
 * -1 is returned; with block = 1 the caller waits for room. Any thread. */
int hub_dispatch(struct hub_ctx *hub, struct hub_event *e, int block);

/* hub_dispatch for n events at once: one lock and at most one wake-up
 * per thread for the batch. failed[i] (n of them) is set to 1 for an
 * event some thread missed; returns how many did. */
size_t hub_dispatch_batch(struct hub_ctx *hub, struct hub_event *const *ev,
                          size_t n, int block, unsigned char *failed);

/* Routes e to this thread's connections (service thread only). */
void hub_route(struct hub_thread *th, struct hub_event *e);

#endif
