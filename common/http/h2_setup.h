/* h2_setup.h -- what h2_setup.c gives h2.c: the transport state's life
 * (create, destroy), its TLS context and connect-to rules, and the origin
 * of a URL. Not part of any public interface; the client's loop thread
 * only. */
#ifndef HD_HTTP_H2_SETUP_H
#define HD_HTTP_H2_SETUP_H

#include "core/err.h"
#include "http/h2_state.h"

/* new: the transport state (httpc_transport.create). NULL with err. */
void *h2_create(const struct httpc_host *host, struct hd_err *err);

/* Frees it after h2.c's cancel(); NULL is a no-op. */
void h2_destroy(void *t);

/* TLS context (CA file or system store, ALPN h2, client certificate PEM or
 * .p12) and connect-to rules from cfg into h. 0, or -1 with err. */
int h2_setup(struct h2 *h, const struct hd_httpc_config *cfg,
             struct hd_err *err);

/* The origin of an https:// URL, created on first use with its connect-to
 * target. Borrowed (freed by h2_free()); NULL for a bad URL or more than
 * MAX_ORIGINS hosts. */
struct h2_origin *h2_origin_of(struct h2 *h, const char *url);

#endif
