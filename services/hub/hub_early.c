/* hub_early.c -- a service thread's half-open connections.
 *
 * The ranking is a bucket list: ranks[k] links the addresses holding
 * exactly k connections. A count only ever moves by one, so when the
 * highest bucket empties the next one down is not empty (the address that
 * just left it is there): the top is kept exact with no scan. Address
 * entries are freed at zero, so a flood of distinct addresses leaves
 * nothing behind once it is gone; the table grows by doubling and never
 * shrinks (its size tracks the peak of distinct addresses). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "services/hub/hub_early.h"
#include "core/banned.h"

struct hub_early_addr {
    struct hub_early_addr *hnext;         /* hash chain */
    struct hub_early_addr *rnext, *rprev; /* ranks[n] */
    struct hub_early_node *head, *tail;   /* its connections, oldest first */
    uint32_t ip;
    uint32_t n;
};

void
hub_early_init(struct hub_early *e, uint32_t max)
{
    memset(e, 0, sizeof(*e));
    e->max = max ? max : 1;
    e->nbuckets = 64;
    e->table = hd_xcalloc(e->nbuckets, sizeof(*e->table));
    e->ranks = hd_xcalloc((size_t)e->max + 1, sizeof(*e->ranks));
}

void
hub_early_release(struct hub_early *e)
{
    struct hub_early_addr *a, *next;
    size_t i;

    for (i = 0; i < e->nbuckets; i++) {
        for (a = e->table[i]; a; a = next) {
            next = a->hnext;
            free(a);
        }
    }
    free(e->table);
    free(e->ranks);
    memset(e, 0, sizeof(*e));
}

static size_t
bucket(const struct hub_early *e, uint32_t ip)
{
    return hd_hash(&ip, sizeof(ip)) & (e->nbuckets - 1);
}

static struct hub_early_addr *
find(const struct hub_early *e, uint32_t ip)
{
    struct hub_early_addr *a;

    for (a = e->table[bucket(e, ip)]; a; a = a->hnext) {
        if (a->ip == ip)
            return a;
    }
    return NULL;
}

static void
grow(struct hub_early *e)
{
    struct hub_early_addr **old = e->table, *a, *next;
    size_t i, nold = e->nbuckets;

    e->nbuckets *= 2;
    e->table = hd_xcalloc(e->nbuckets, sizeof(*e->table));
    for (i = 0; i < nold; i++) {
        for (a = old[i]; a; a = next) {
            next = a->hnext;
            a->hnext = e->table[bucket(e, a->ip)];
            e->table[bucket(e, a->ip)] = a;
        }
    }
    free(old);
}

static void
rank_unlink(struct hub_early *e, struct hub_early_addr *a)
{
    if (a->rprev)
        a->rprev->rnext = a->rnext;
    else
        e->ranks[a->n] = a->rnext;
    if (a->rnext)
        a->rnext->rprev = a->rprev;
    a->rnext = a->rprev = NULL;
}

static void
rank_link(struct hub_early *e, struct hub_early_addr *a)
{
    a->rprev = NULL;
    a->rnext = e->ranks[a->n];
    if (a->rnext)
        a->rnext->rprev = a;
    e->ranks[a->n] = a;
}

void
hub_early_add(struct hub_early *e, struct hub_early_node *n, uint32_t ip,
              uint32_t now)
{
    struct hub_early_addr *a;

    if (e->n >= e->max) /* the caller made no room: a bug, not a client */
        abort();
    a = find(e, ip);
    if (a == NULL) {
        if (e->naddrs >= e->nbuckets)
            grow(e);
        a = hd_xcalloc(1, sizeof(*a));
        a->ip = ip;
        a->hnext = e->table[bucket(e, ip)];
        e->table[bucket(e, ip)] = a;
        e->naddrs++;
    } else {
        rank_unlink(e, a);
    }
    a->n++;
    rank_link(e, a);
    if (a->n > e->top)
        e->top = a->n;
    n->addr = a;
    n->since = now;
    n->anext = NULL;
    n->aprev = a->tail;
    if (a->tail)
        a->tail->anext = n;
    else
        a->head = n;
    a->tail = n;
    n->next = NULL;
    n->prev = e->tail;
    if (e->tail)
        e->tail->next = n;
    else
        e->head = n;
    e->tail = n;
    e->n++;
}

static void
addr_free(struct hub_early *e, struct hub_early_addr *a)
{
    struct hub_early_addr **pp;

    for (pp = &e->table[bucket(e, a->ip)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == a) {
            *pp = a->hnext;
            break;
        }
    }
    e->naddrs--;
    free(a);
}

void
hub_early_del(struct hub_early *e, struct hub_early_node *n)
{
    struct hub_early_addr *a = n->addr;

    if (a == NULL)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        e->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        e->tail = n->prev;
    if (n->aprev)
        n->aprev->anext = n->anext;
    else
        a->head = n->anext;
    if (n->anext)
        n->anext->aprev = n->aprev;
    else
        a->tail = n->aprev;
    n->next = n->prev = n->anext = n->aprev = NULL;
    n->addr = NULL;
    e->n--;
    rank_unlink(e, a);
    if (e->top == a->n && e->ranks[a->n] == NULL)
        e->top--; /* a itself now ranks there (or has left) */
    a->n--;
    if (a->n == 0)
        addr_free(e, a);
    else
        rank_link(e, a);
}

struct hub_early_node *
hub_early_oldest_of(const struct hub_early *e, uint32_t ip)
{
    struct hub_early_addr *a = find(e, ip);

    return a ? a->head : NULL;
}

struct hub_early_node *
hub_early_victim(const struct hub_early *e)
{
    if (e->top <= 1) /* one each (or none): the oldest of all */
        return e->head;
    return e->ranks[e->top]->head;
}

struct hub_early_node *
hub_early_expired(const struct hub_early *e, uint32_t cutoff)
{
    if (e->head == NULL || (int32_t)(e->head->since - cutoff) > 0)
        return NULL;
    return e->head;
}

uint32_t
hub_early_count(const struct hub_early *e, uint32_t ip)
{
    struct hub_early_addr *a = find(e, ip);

    return a ? a->n : 0;
}
