/* hub_registry.h -- one service thread's group index: which of its
 * connections belong to a user, an organization or an auth request.
 *
 * A group is named by a key ("u:<user id>", "o:<org id>", "a:<token>") and
 * holds intrusive member nodes that live in the connection, so joining
 * allocates only the group itself (once per key) and an idle connection
 * costs one node per group. Client-type variants of the upstream groups
 * (UserClientType_..., OrganizationClientType_...) are not separate
 * groups: delivery filters members by their connection's client type.
 * Not thread-safe: one registry per thread, used on that thread only. */
#ifndef HUB_REGISTRY_H
#define HUB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct hub_group;

struct hub_member {
    struct hub_member *next, *prev;
    struct hub_group *group; /* NULL when not joined */
    void *owner;             /* the connection */
};

struct hub_registry {
    struct hub_group **buckets;
    size_t nbuckets; /* power of two */
    size_t ngroups;
};

void hub_registry_init(struct hub_registry *r);
/* Frees the groups; members must have left (they are not touched). */
void hub_registry_release(struct hub_registry *r);

/* Adds m (owner set by the caller) to the group named key (len bytes),
 * creating it. m must not be in a group. */
void hub_registry_join(struct hub_registry *r, const char *key, size_t len,
                       struct hub_member *m);

/* Removes m from its group, freeing the group when it empties. A no-op
 * when m is not in a group. */
void hub_registry_leave(struct hub_registry *r, struct hub_member *m);

/* The first member of the group named key, or NULL; walk with ->next.
 * Borrowed until the next join/leave. */
struct hub_member *hub_registry_members(struct hub_registry *r, const char *key,
                                        size_t len);

/* Number of members of the group named key (0 when absent). */
uint32_t hub_registry_count(struct hub_registry *r, const char *key,
                            size_t len);

#endif
