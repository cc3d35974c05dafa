/* h2_queue.h -- the bookkeeping of hd_httpc's native HTTP/2 transport
 * (h2_queue.c): the deadline heap and the stream lists. Not an API outside
 * common/http/; the client's loop thread only. */
#ifndef HD_HTTP_H2_QUEUE_H
#define HD_HTTP_H2_QUEUE_H

#include "http/h2_state.h"

/* The deadline heap (h->heap, by h2_sx(x)->deadline). */
void h2_heap_add(struct h2 *h, struct httpc_xfer *x);
void h2_heap_del(struct h2 *h, struct httpc_xfer *x); /* not in it: no-op */

/* A connection's stream list. */
void h2_list_add(struct httpc_xfer **head, struct httpc_xfer *x);
void h2_list_del(struct httpc_xfer **head, struct httpc_xfer *x);

/* An origin's queue, in order. */
void h2_queue_add(struct h2_origin *o, struct httpc_xfer *x);
void h2_queue_del(struct h2_origin *o, struct httpc_xfer *x);

#endif
