/* h1.h -- HTTP/1.1 for the simulator's connections: sim_h1_proto for the
 * connection layer. I/O thread of the connection only. */
#ifndef SIM_H1_H
#define SIM_H1_H

#include "tools/sim/net/conn.h"

extern const struct sim_proto sim_h1_proto;

/* Parses and dispatches buffered HTTP/1.1 requests from c->in. 0, or -1
 * when the connection must close. */
int sim_h1_process(struct sim_conn *c);

/* Writes st's response into c->out and resumes parsing. 0 or -1. */
int sim_h1_answer(struct sim_conn *c, struct sim_stream *st);

/* Appends the bytes APNs sends to an HTTP/1.x client: an HTTP/2 SETTINGS
 * and a GOAWAY whose debug data names the request. */
void sim_h1_apns_goaway(struct sim_conn *c, const char *method,
                        const char *path);

#endif
