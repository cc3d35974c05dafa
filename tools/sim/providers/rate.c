/* rate.c -- per-key sliding windows of one-second buckets.
 *
 * A bucket remembers which second it counts; a stale bucket (older than
 * the window) reads as empty and is reused, so there is no background
 * sweeping. Keys are few (projects, apps): linear search is enough. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tools/sim/providers/rate.h"
#include "core/banned.h"

struct bucket {
    int64_t sec;
    long n;
};

struct key {
    char name[SIM_RATE_KEY_MAX];
    struct bucket *b; /* window buckets */
};

struct sim_rate {
    pthread_mutex_t mu;
    long limit;
    int window;
    struct key keys[SIM_RATE_KEYS];
    int nkeys;
};

struct sim_rate *
sim_rate_new(long limit, int window_s)
{
    struct sim_rate *r = hd_xcalloc(1, sizeof(*r));

    pthread_mutex_init(&r->mu, NULL);
    r->limit = limit;
    r->window = window_s < 1                     ? 1
                : window_s > SIM_RATE_WINDOW_MAX ? SIM_RATE_WINDOW_MAX
                                                 : window_s;
    return r;
}

void
sim_rate_free(struct sim_rate *r)
{
    int i;

    if (r == NULL)
        return;
    for (i = 0; i < r->nkeys; i++)
        free(r->keys[i].b);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void
sim_rate_reset(struct sim_rate *r)
{
    int i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->nkeys; i++)
        free(r->keys[i].b);
    r->nkeys = 0;
    pthread_mutex_unlock(&r->mu);
}

static struct key *
key_get(struct sim_rate *r, const char *name)
{
    size_t len = strlen(name);
    int i;

    if (len >= SIM_RATE_KEY_MAX)
        len = SIM_RATE_KEY_MAX - 1;
    for (i = 0; i < r->nkeys; i++)
        if (strncmp(r->keys[i].name, name, len) == 0 &&
            r->keys[i].name[len] == '\0')
            return &r->keys[i];
    if (r->nkeys == SIM_RATE_KEYS)
        return NULL;
    memcpy(r->keys[r->nkeys].name, name, len);
    r->keys[r->nkeys].name[len] = '\0';
    r->keys[r->nkeys].b = hd_xcalloc((size_t)r->window, sizeof(struct bucket));
    return &r->keys[r->nkeys++];
}

int
sim_rate_take(struct sim_rate *r, const char *key, long n, int64_t now_ms,
              int *retry_after_s)
{
    int64_t now = now_ms / 1000;
    struct key *k;
    long used = 0;
    int rc = 1;
    int i;

    if (r->limit <= 0)
        return 1;
    pthread_mutex_lock(&r->mu);
    k = key_get(r, key);
    if (k == NULL)
        goto out;
    for (i = 0; i < r->window; i++)
        if (k->b[i].sec > now - r->window && k->b[i].sec <= now)
            used += k->b[i].n;
    if (used + n <= r->limit) {
        struct bucket *b = &k->b[now % r->window];

        if (b->sec != now) {
            b->sec = now;
            b->n = 0;
        }
        b->n += n;
        goto out;
    }
    rc = 0;
    /* walk the window from its oldest second until enough has expired */
    *retry_after_s = r->window;
    for (i = 0; i < r->window; i++) {
        int64_t sec = now - r->window + 1 + i;
        const struct bucket *b =
            &k->b[((sec % r->window) + r->window) % r->window];

        if (b->sec == sec)
            used -= b->n;
        if (used + n <= r->limit) {
            *retry_after_s = i + 1;
            break;
        }
    }
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}
