/* hub_limits.c -- shared connection counters.
 *
 * Entries are freed at zero so a flood of distinct users or addresses
 * leaves nothing behind once they disconnect; the table grows by doubling
 * and never shrinks (its size tracks the peak of distinct keys). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "services/hub/hub_limits.h"
#include "core/banned.h"

struct hub_lent {
    struct hub_lent *next;
    unsigned hash;
    long count;
    size_t len;
    char key[];
};

/* A user's first slot taken or last given back: tell presence. */
static void
user_edge(struct hub_limits *l, const struct hub_lent *e, int online)
{
    if (l->on_user != NULL && e->len > 2 && e->key[0] == 'u' &&
        e->key[1] == ':')
        l->on_user(l->on_user_ud, e->key + 2, e->len - 2, online);
}

void
hub_limits_init(struct hub_limits *l, long max_total)
{
    pthread_mutex_init(&l->mu, NULL);
    l->nbuckets = 256;
    l->buckets = hd_xcalloc(l->nbuckets, sizeof(*l->buckets));
    l->nkeys = 0;
    atomic_init(&l->total, 0);
    l->max_total = max_total;
}

void
hub_limits_release(struct hub_limits *l)
{
    struct hub_lent *e, *next;
    size_t i;

    for (i = 0; i < l->nbuckets; i++) {
        for (e = l->buckets[i]; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(l->buckets);
    pthread_mutex_destroy(&l->mu);
    memset(l, 0, sizeof(*l));
}

int
hub_limits_conn_acquire(struct hub_limits *l)
{
    if (atomic_fetch_add(&l->total, 1) >= l->max_total) {
        atomic_fetch_sub(&l->total, 1);
        return -1;
    }
    return 0;
}

void
hub_limits_conn_release(struct hub_limits *l)
{
    atomic_fetch_sub(&l->total, 1);
}

static void
grow(struct hub_limits *l)
{
    size_t n = l->nbuckets * 2, i;
    struct hub_lent **b = hd_xcalloc(n, sizeof(*b));
    struct hub_lent *e, *next;

    for (i = 0; i < l->nbuckets; i++) {
        for (e = l->buckets[i]; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(l->buckets);
    l->buckets = b;
    l->nbuckets = n;
}

struct hub_lent *
hub_limits_acquire(struct hub_limits *l, const char *key, size_t len, long max)
{
    unsigned h = hd_hash(key, len);
    struct hub_lent *e;

    if (max <= 0)
        return NULL;
    pthread_mutex_lock(&l->mu);
    for (e = l->buckets[h & (l->nbuckets - 1)]; e; e = e->next) {
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            break;
    }
    if (e == NULL) {
        if (l->nkeys >= l->nbuckets)
            grow(l);
        e = hd_xmalloc(sizeof(*e) + len);
        e->hash = h;
        e->count = 0;
        e->len = len;
        memcpy(e->key, key, len);
        e->next = l->buckets[h & (l->nbuckets - 1)];
        l->buckets[h & (l->nbuckets - 1)] = e;
        l->nkeys++;
    }
    if (e->count >= max) {
        e = NULL; /* an entry at max has count > 0, so it is kept */
    } else if (e->count++ == 0) {
        user_edge(l, e, 1);
    }
    pthread_mutex_unlock(&l->mu);
    return e;
}

void
hub_limits_put(struct hub_limits *l, struct hub_lent *e)
{
    struct hub_lent **pp;

    if (e == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    if (--e->count == 0) {
        user_edge(l, e, 0);
        for (pp = &l->buckets[e->hash & (l->nbuckets - 1)]; *pp;
             pp = &(*pp)->next) {
            if (*pp == e) {
                *pp = e->next;
                break;
            }
        }
        l->nkeys--;
        free(e);
    }
    pthread_mutex_unlock(&l->mu);
}
