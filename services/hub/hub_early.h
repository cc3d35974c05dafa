/* hub_early.h -- the half-open connections of one service thread: those
 * accepted whose request has not been read yet (the head, the WebSocket
 * upgrade, a POST's body).
 *
 * Two orders are kept. The whole set in arrival order, so the connections
 * past the head deadline are the first ones, found without a scan. And
 * per client address, the address's connections in arrival order plus
 * the addresses ranked by how many they hold, so that when the set is
 * full the connection to give up is found in O(1): the oldest one of the
 * address holding the most (the flood pays, not a client holding one).
 *
 * Plain data, no libwebsockets: the transport embeds a struct
 * hub_early_node in its record of each socket. Not thread-safe: one set
 * per service thread. */
#ifndef HUB_EARLY_H
#define HUB_EARLY_H

#include <stddef.h>
#include <stdint.h>

struct hub_early_addr; /* one client address's connections */

struct hub_early_node {
    struct hub_early_node *next, *prev;   /* the set, oldest first */
    struct hub_early_node *anext, *aprev; /* its address's, oldest first */
    struct hub_early_addr *addr;          /* NULL when not in the set */
    uint32_t since;                       /* arrival, in the caller's ticks */
};

struct hub_early {
    struct hub_early_node *head, *tail;
    uint32_t n;   /* connections in the set */
    uint32_t max; /* the most the set may hold */
    struct hub_early_addr **table;
    size_t nbuckets; /* power of two */
    size_t naddrs;
    struct hub_early_addr **ranks; /* [k]: the addresses holding k */
    uint32_t top;                  /* the most any address holds */
};

/* Sets up an empty set for at most max connections (max >= 1). */
void hub_early_init(struct hub_early *e, uint32_t max);
/* Frees the set's memory; the nodes still in it are forgotten (their
 * owner frees them). Leaves a zeroed struct. */
void hub_early_release(struct hub_early *e);

/* Adds n (not in the set) for client address ip (IPv4, network order)
 * at tick now. The caller has made room: e->n < e->max. */
void hub_early_add(struct hub_early *e, struct hub_early_node *n, uint32_t ip,
                   uint32_t now);
/* Takes n out of the set; a no-op when it is not in it. */
void hub_early_del(struct hub_early *e, struct hub_early_node *n);
/* 1 when n is in the set. */
static inline int
hub_early_has(const struct hub_early_node *n)
{
    return n->addr != NULL;
}

/* The oldest connection of ip, or NULL when it holds none. Borrowed. */
struct hub_early_node *hub_early_oldest_of(const struct hub_early *e,
                                           uint32_t ip);
/* The connection to give up when the set is full: the oldest one of an
 * address holding the most (when every address holds one, the oldest of
 * all). NULL when the set is empty. Borrowed. */
struct hub_early_node *hub_early_victim(const struct hub_early *e);
/* The oldest connection if it arrived at or before tick cutoff, else
 * NULL (wrapping tick arithmetic). Borrowed. */
struct hub_early_node *hub_early_expired(const struct hub_early *e,
                                         uint32_t cutoff);
/* How many connections ip holds. */
uint32_t hub_early_count(const struct hub_early *e, uint32_t ip);

#endif
