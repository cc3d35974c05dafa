/* hub_admit.h -- the authenticated WebSocket upgrade: which hub the path
 * names, who the client is (user token or anonymous token), and the
 * connection slots it holds, decided before the upgrade so that a refusal
 * is an HTTP status (401, 404, 429, 503).
 *
 * The verdict, struct hub_pending, goes to the connection layer with the
 * established connection, which frees it once the SignalR handshake is
 * answered. Service thread only; the limits and the token verifier it
 * uses are thread-safe. */
#ifndef HUB_ADMIT_H
#define HUB_ADMIT_H

#include <stddef.h>

#include "core/buf.h"
#include "services/hub/hub.h"

/* What the upgrade decided, kept until the handshake completes: who the
 * client is, the slots it holds and the handshake in progress. */
struct hub_pending {
    enum hub_kind kind;
    int client_type;
    char *key;   /* "u:<sub>" or "a:<token>": new */
    char **orgs; /* new, norgs of them */
    size_t norgs;
    struct hub_lent *slot; /* per-user or per-address slot */
    struct hub_lent *addr; /* client address slot (behind a proxy) */
    int conn_slot;         /* holds a hub_limits connection slot */
    struct hd_buf hs;      /* handshake bytes so far */
    char *reply;           /* handshake reply to write: new */
    size_t reply_len;
    int reply_error; /* close after writing the reply */
    int wrong_shard; /* the owning shard + 1 when it is not this one */
};

/* Decides an upgrade request on wsi. Returns 0 and *verdict (new) when the
 * client may connect, 1 when it was refused with an HTTP status, -1 when
 * lws must drop the socket. */
int hub_admit_upgrade(struct hub_thread *th, struct lws *wsi,
                      struct hub_pending **verdict);
/* Frees p and gives back the slots it still holds. NULL is a no-op. */
void hub_pending_free(struct hub_ctx *hub, struct hub_pending *p);
/* hub_pending_free() for an upgrade that never became a connection. */
void hub_admit_drop(struct hub_thread *th, struct hub_pending *p);

#endif
