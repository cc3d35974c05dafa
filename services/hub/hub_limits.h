/* hub_limits.h -- the process-wide connection limits: total connections,
 * connections per user, anonymous-hub connections per client address.
 *
 * A user's connections may land on any service thread, so the counts are
 * shared: a mutex-protected table of (key, count), touched only when a
 * connection is admitted or closed, never on the delivery path. A slot is
 * taken before the WebSocket upgrade (so a refusal is an HTTP status) and
 * given back when the connection closes. Thread-safe. */
#ifndef HUB_LIMITS_H
#define HUB_LIMITS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct hub_lent; /* one counted key */

struct hub_limits {
    pthread_mutex_t mu;
    struct hub_lent **buckets;
    size_t nbuckets; /* power of two */
    size_t nkeys;
    atomic_long total;
    long max_total;
    /* called, under mu, when a "u:<user>" key goes from 0 to 1 slot
     * (online 1) or back to 0 (online 0): presence; NULL: none */
    void (*on_user)(void *ud, const char *user, size_t len, int online);
    void *on_user_ud;
};

void hub_limits_init(struct hub_limits *l, long max_total);
/* Frees every entry (all slots should have been given back). */
void hub_limits_release(struct hub_limits *l);

/* Takes one connection slot. Returns 0, or -1 when max_total are open. */
int hub_limits_conn_acquire(struct hub_limits *l);
void hub_limits_conn_release(struct hub_limits *l);

/* Takes one slot of key (len bytes, e.g. "u:<id>" or "ip:<addr>") if fewer
 * than max are taken. Returns the entry (borrowed until released) or NULL
 * when the key is at max. */
struct hub_lent *hub_limits_acquire(struct hub_limits *l, const char *key,
                                    size_t len, long max);

/* Gives back one slot of e; the entry is freed at zero. NULL: no-op. */
void hub_limits_put(struct hub_limits *l, struct hub_lent *e);

#endif
