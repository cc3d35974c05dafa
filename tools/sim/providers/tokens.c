/* tokens.c -- issued access tokens: a FIFO ring of entries indexed by a
 * chained hash table.
 *
 * The ring bounds memory and gives eviction order for free; the index is
 * an array of ring positions (-1 empty) with per-entry next links. All
 * storage is allocated once, in sim_tokens_new(). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "tools/sim/providers/tokens.h"
#include "core/banned.h"

#define NBUCKETS (SIM_TOKENS_MAX * 2)

struct entry {
    char token[SIM_TOKEN_LEN_MAX];
    struct sim_token_info info;
    int32_t next; /* next entry in the same bucket, -1 */
    int used;
};

struct sim_tokens {
    pthread_mutex_t mu;
    struct entry *e; /* SIM_TOKENS_MAX */
    int32_t *bucket; /* NBUCKETS */
    size_t head;     /* next ring slot to fill */
    size_t n;
};

static uint32_t
hash(const char *s)
{
    return hd_hash_str(s) % NBUCKETS;
}

struct sim_tokens *
sim_tokens_new(void)
{
    struct sim_tokens *t = hd_xcalloc(1, sizeof(*t));

    pthread_mutex_init(&t->mu, NULL);
    t->e = hd_xcalloc(SIM_TOKENS_MAX, sizeof(*t->e));
    t->bucket = hd_xmalloc(NBUCKETS * sizeof(*t->bucket));
    sim_tokens_clear(t);
    return t;
}

void
sim_tokens_free(struct sim_tokens *t)
{
    if (t == NULL)
        return;
    free(t->e);
    free(t->bucket);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void
sim_tokens_clear(struct sim_tokens *t)
{
    size_t i;

    pthread_mutex_lock(&t->mu);
    for (i = 0; i < NBUCKETS; i++)
        t->bucket[i] = -1;
    for (i = 0; i < SIM_TOKENS_MAX; i++) {
        t->e[i].used = 0;
        t->e[i].next = -1;
    }
    t->head = 0;
    t->n = 0;
    pthread_mutex_unlock(&t->mu);
}

/* Unlinks ring slot i from its bucket. Caller holds the lock. */
static void
unlink_slot(struct sim_tokens *t, size_t i)
{
    int32_t *pp = &t->bucket[hash(t->e[i].token)];

    while (*pp != -1) {
        if ((size_t)*pp == i) {
            *pp = t->e[i].next;
            break;
        }
        pp = &t->e[*pp].next;
    }
    t->e[i].used = 0;
    t->n--;
}

void
sim_tokens_put(struct sim_tokens *t, const char *token,
               const struct sim_token_info *info)
{
    size_t len = strlen(token);
    size_t i;
    uint32_t h;

    if (len >= SIM_TOKEN_LEN_MAX)
        return;
    h = hash(token);
    pthread_mutex_lock(&t->mu);
    i = t->head;
    if (t->e[i].used)
        unlink_slot(t, i);
    memcpy(t->e[i].token, token, len + 1);
    t->e[i].info = *info;
    t->e[i].used = 1;
    t->e[i].next = t->bucket[h];
    t->bucket[h] = (int32_t)i;
    t->head = (t->head + 1) % SIM_TOKENS_MAX;
    t->n++;
    pthread_mutex_unlock(&t->mu);
}

int
sim_tokens_get(struct sim_tokens *t, const char *token,
               struct sim_token_info *info)
{
    int32_t i;
    int found = 0;

    if (strlen(token) >= SIM_TOKEN_LEN_MAX)
        return 0;
    pthread_mutex_lock(&t->mu);
    for (i = t->bucket[hash(token)]; i != -1; i = t->e[i].next) {
        if (strcmp(t->e[i].token, token) == 0) {
            *info = t->e[i].info;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

size_t
sim_tokens_count(struct sim_tokens *t)
{
    size_t n;

    pthread_mutex_lock(&t->mu);
    n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}
