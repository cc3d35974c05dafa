/* hub_registry.c -- chained hash table of groups, FNV-1a keyed.
 *
 * The table doubles when it holds more groups than buckets; groups carry
 * their hash so rehashing never re-reads keys. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "services/hub/hub_registry.h"
#include "core/banned.h"

struct hub_group {
    struct hub_group *hnext;
    struct hub_member *head;
    uint32_t hash;
    uint32_t count;
    uint32_t keylen;
    char key[];
};

void
hub_registry_init(struct hub_registry *r)
{
    r->nbuckets = 1024;
    r->buckets = hd_xcalloc(r->nbuckets, sizeof(*r->buckets));
    r->ngroups = 0;
}

void
hub_registry_release(struct hub_registry *r)
{
    struct hub_group *g, *next;
    size_t i;

    for (i = 0; i < r->nbuckets; i++) {
        for (g = r->buckets[i]; g; g = next) {
            next = g->hnext;
            free(g);
        }
    }
    free(r->buckets);
    memset(r, 0, sizeof(*r));
}

static struct hub_group *
find(struct hub_registry *r, const char *key, size_t len, uint32_t h)
{
    struct hub_group *g;

    for (g = r->buckets[h & (r->nbuckets - 1)]; g; g = g->hnext) {
        if (g->hash == h && g->keylen == len && memcmp(g->key, key, len) == 0)
            return g;
    }
    return NULL;
}

static void
grow(struct hub_registry *r)
{
    size_t n = r->nbuckets * 2, i;
    struct hub_group **b = hd_xcalloc(n, sizeof(*b));
    struct hub_group *g, *next;

    for (i = 0; i < r->nbuckets; i++) {
        for (g = r->buckets[i]; g; g = next) {
            next = g->hnext;
            g->hnext = b[g->hash & (n - 1)];
            b[g->hash & (n - 1)] = g;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = n;
}

void
hub_registry_join(struct hub_registry *r, const char *key, size_t len,
                  struct hub_member *m)
{
    uint32_t h = hd_hash(key, len);
    struct hub_group *g = find(r, key, len, h);

    if (g == NULL) {
        if (r->ngroups >= r->nbuckets)
            grow(r);
        g = hd_xmalloc(sizeof(*g) + len + 1);
        g->hash = h;
        g->count = 0;
        g->head = NULL;
        g->keylen = (uint32_t)len;
        memcpy(g->key, key, len);
        g->key[len] = '\0';
        g->hnext = r->buckets[h & (r->nbuckets - 1)];
        r->buckets[h & (r->nbuckets - 1)] = g;
        r->ngroups++;
    }
    m->group = g;
    m->prev = NULL;
    m->next = g->head;
    if (g->head)
        g->head->prev = m;
    g->head = m;
    g->count++;
}

void
hub_registry_leave(struct hub_registry *r, struct hub_member *m)
{
    struct hub_group *g = m->group, **pp;

    if (g == NULL)
        return;
    if (m->prev)
        m->prev->next = m->next;
    else
        g->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->next = m->prev = NULL;
    m->group = NULL;
    if (--g->count > 0)
        return;
    for (pp = &r->buckets[g->hash & (r->nbuckets - 1)]; *pp;
         pp = &(*pp)->hnext) {
        if (*pp == g) {
            *pp = g->hnext;
            break;
        }
    }
    r->ngroups--;
    free(g);
}

struct hub_member *
hub_registry_members(struct hub_registry *r, const char *key, size_t len)
{
    struct hub_group *g = find(r, key, len, hd_hash(key, len));

    return g ? g->head : NULL;
}

uint32_t
hub_registry_count(struct hub_registry *r, const char *key, size_t len)
{
    struct hub_group *g = find(r, key, len, hd_hash(key, len));

    return g ? g->count : 0;
}
