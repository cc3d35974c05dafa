/* h2_conn.h -- h2.c's connection pieces, also driven by the fuzz harness
 * with a session fed from memory. */
#ifndef HD_HTTP_H2_CONN_H
#define HD_HTTP_H2_CONN_H

#include "http/h2_state.h"

/* A client session with h2.c's callbacks on k: 0, or -1. */
int h2_session_new(struct h2_conn *k);

/* Submits x as a stream on k, or completes it with an error. */
void h2_stream_submit(struct h2_conn *k, struct httpc_xfer *x);

/* Closes k and completes the streams it carries with f. */
void h2_conn_close(struct h2_conn *k, enum hd_httpc_fail f, const char *why);

#endif
