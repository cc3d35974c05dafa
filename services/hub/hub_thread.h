/* hub_thread.h -- the service threads: each runs one transport (hub_ws),
 * its connections and its routing, and is the one place where the layers
 * are wired together (the struct hub_ws_events table, the wheel's
 * callback). Another thread reaches it only through its inbox
 * (hub_dispatch) and lws_cancel_service(). */
#ifndef HUB_THREAD_H
#define HUB_THREAD_H

#include "core/err.h"
#include "services/hub/hub.h"

/* Starts the service threads and waits until each listens. Returns 0, or
 * -1 with err (threads already started are stopped). Main thread. */
int hub_threads_start(struct hub_ctx *hub, struct hd_err *err);
/* Asks every thread to send Close to its clients and stop, waits for
 * them (bounded by shutdown_timeout_s) and frees them. Main thread. */
void hub_threads_stop(struct hub_ctx *hub);

#endif
