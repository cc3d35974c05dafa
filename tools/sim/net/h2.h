/* h2.h -- HTTP/2 for the simulator's connections, over nghttp2's memory
 * API: sim_h2_proto for the connection layer, and the GOAWAY calls the
 * server (control API, shutdown) and HTTP/1.1 (APNs' answer) make. I/O
 * thread of the connection only. */
#ifndef SIM_H2_H
#define SIM_H2_H

#include "tools/sim/net/conn.h"

extern const struct sim_proto sim_h2_proto;

/* Creates the nghttp2 session and queues the server SETTINGS. 0 or -1. */
int sim_h2_start(struct sim_conn *c);

/* Feeds received bytes. 0, or -1 when the connection must close. */
int sim_h2_recv(struct sim_conn *c, const unsigned char *p, size_t n);

/* Submits st's response (or its RST/GOAWAY/close action). */
void sim_h2_answer(struct sim_conn *c, struct sim_stream *st);

/* Moves nghttp2's pending frames into c->out. 0 or -1. */
int sim_h2_pull(struct sim_conn *c);

/* Sends MAX_CONCURRENT_STREAMS again when the providers changed it. */
void sim_h2_sync_settings(struct sim_conn *c);

/* Queues GOAWAY; graceful (in-flight streams finish) unless hard. */
void sim_h2_goaway(struct sim_conn *c, uint32_t code, const char *debug,
                   size_t len, int hard);

/* Appends a GOAWAY frame built by hand (no nghttp2 session needed). */
void sim_h2_raw_goaway(struct hd_buf *out, int32_t last_stream_id,
                       uint32_t code, const char *debug, size_t len);

/* 1 when nghttp2 has nothing left to read or write (close the conn). */
int sim_h2_done(struct sim_conn *c);

/* Frees the session. Streams must already be released. */
void sim_h2_free(struct sim_conn *c);

#endif
