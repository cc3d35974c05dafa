/* api_presence_set.c -- the presence state: hubs with their lease, and
 * (hub, user) entries in a hash table by user, so "is this user online"
 * walks one chain. The table doubles with the entries and never shrinks;
 * hubs are few (a list). No locking here: api_presence.c holds its mutex
 * around every call. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/limits.h"
#include "services/api/api_presence.h"
#include "core/banned.h"

#define HUB_ID_MAX 128
#define LEASE_MAX_MS (24LL * 3600 * 1000)

struct phub {
    struct phub *next;
    int64_t deadline_ms; /* newest record's time + its lease */
    int64_t lease_ms;
    size_t nusers;
    char id[];
};

struct pent {
    struct pent *next;
    struct phub *hub;
    int64_t ts_ms; /* its newest online record's time */
    uint32_t hash; /* of the user */
    size_t ulen;
    char user[];
};

struct api_pset {
    struct pent **buckets;
    size_t nbuckets; /* power of two */
    size_t n;
    size_t max;
    struct phub *hubs;
    size_t nhubs;
};

struct api_pset *
api_pset_new(size_t max_entries)
{
    struct api_pset *s = hd_xcalloc(1, sizeof(*s));

    s->nbuckets = 1024;
    s->buckets = hd_xcalloc(s->nbuckets, sizeof(*s->buckets));
    s->max = max_entries;
    return s;
}

void
api_pset_free(struct api_pset *s)
{
    struct pent *e, *en;
    struct phub *h, *hn;
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->nbuckets; i++)
        for (e = s->buckets[i]; e; e = en) {
            en = e->next;
            free(e);
        }
    for (h = s->hubs; h; h = hn) {
        hn = h->next;
        free(h);
    }
    free(s->buckets);
    free(s);
}

size_t
api_pset_entries(const struct api_pset *s)
{
    return s->n;
}

size_t
api_pset_hubs(const struct api_pset *s)
{
    return s->nhubs;
}

/* ---- hubs --------------------------------------------------------------- */

static struct phub *
hub_find(struct api_pset *s, const char *id, size_t len, int create)
{
    struct phub *h;

    for (h = s->hubs; h; h = h->next)
        if (strlen(h->id) == len && memcmp(h->id, id, len) == 0)
            return h;
    if (!create)
        return NULL;
    h = hd_xcalloc(1, sizeof(*h) + len + 1);
    memcpy(h->id, id, len);
    h->next = s->hubs;
    s->hubs = h;
    s->nhubs++;
    return h;
}

static void
hub_touch(struct phub *h, int64_t ts_ms, int64_t lease_ms)
{
    if (ts_ms + lease_ms > h->deadline_ms)
        h->deadline_ms = ts_ms + lease_ms;
    h->lease_ms = lease_ms;
}

/* Unlinks and frees h (its entries must be gone). */
static void
hub_free(struct api_pset *s, struct phub *h)
{
    struct phub **pp;

    for (pp = &s->hubs; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    s->nhubs--;
    free(h);
}

/* ---- entries ------------------------------------------------------------ */

static void
grow(struct api_pset *s)
{
    size_t n = s->nbuckets * 2, i;
    struct pent **b = hd_xcalloc(n, sizeof(*b));
    struct pent *e, *en;

    for (i = 0; i < s->nbuckets; i++)
        for (e = s->buckets[i]; e; e = en) {
            en = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static struct pent **
ent_find(struct api_pset *s, const struct phub *h, const char *user,
         size_t ulen)
{
    uint32_t hash = hd_hash(user, ulen);
    struct pent **pp;

    for (pp = &s->buckets[hash & (s->nbuckets - 1)]; *pp; pp = &(*pp)->next)
        if ((*pp)->hub == h && (*pp)->ulen == ulen &&
            memcmp((*pp)->user, user, ulen) == 0)
            return pp;
    return pp;
}

static void
ent_remove(struct api_pset *s, struct pent **pp)
{
    struct pent *e = *pp;

    *pp = e->next;
    e->hub->nusers--;
    s->n--;
    free(e);
}

/* ---- records ------------------------------------------------------------ */

/* The lease of a record's value, or -1. */
static int64_t
lease_of(const void *value, size_t len, struct hd_err *err)
{
    json_t *o = hd_json_parse((const char *)value, len, err);
    long long v = 0;

    if (o == NULL || !json_is_object(o) ||
        hd_json_int(o, "", "lease_ms", 1, 1, LEASE_MAX_MS, &v, err) < 0) {
        if (o != NULL && !json_is_object(o))
            hd_err_set(err, HD_EINVAL, "presence value: not an object");
        json_decref(o);
        return -1;
    }
    json_decref(o);
    return v;
}

static int
apply_user(struct api_pset *s, const char *hid, size_t hlen, const char *user,
           size_t ulen, int64_t lease, int64_t ts_ms)
{
    struct phub *h = hub_find(s, hid, hlen, lease >= 0);
    struct pent **pp, *e;
    uint32_t hash;

    if (h == NULL)
        return 0; /* a tombstone of a hub already forgotten */
    pp = ent_find(s, h, user, ulen);
    if (lease < 0) {
        if (*pp)
            ent_remove(s, pp);
        return 0;
    }
    hub_touch(h, ts_ms, lease);
    if (*pp) {
        if (ts_ms > (*pp)->ts_ms)
            (*pp)->ts_ms = ts_ms;
        return 0;
    }
    if (s->n >= s->max)
        return 1;
    if (s->n >= s->nbuckets) {
        grow(s);
        pp = ent_find(s, h, user, ulen);
    }
    hash = hd_hash(user, ulen);
    e = hd_xmalloc(sizeof(*e) + ulen + 1);
    e->hub = h;
    e->ts_ms = ts_ms;
    e->hash = hash;
    e->ulen = ulen;
    memcpy(e->user, user, ulen);
    e->user[ulen] = '\0';
    e->next = NULL;
    *pp = e;
    h->nusers++;
    s->n++;
    return 0;
}

/* Drops every entry of h from up to until_ms, calling tomb for each key;
 * then h, when no entry is left. */
static void
hub_forget(struct api_pset *s, struct phub *h, int64_t until_ms,
           api_pset_tomb_fn *tomb, void *ud)
{
    char key[2 + HUB_ID_MAX + 1 + HD_ID_MAX + 1];
    struct pent **pp;
    size_t i;
    int n;

    for (i = 0; i < s->nbuckets && h->nusers > 0; i++) {
        pp = &s->buckets[i];
        while (*pp) {
            if ((*pp)->hub != h || (*pp)->ts_ms > until_ms) {
                pp = &(*pp)->next;
                continue;
            }
            n = snprintf(key, sizeof(key), "u/%s/%s", h->id, (*pp)->user);
            if (tomb && n > 0 && (size_t)n < sizeof(key))
                tomb(ud, key, (size_t)n);
            ent_remove(s, pp);
        }
    }
    if (h->nusers > 0)
        return;
    n = snprintf(key, sizeof(key), "h/%s", h->id);
    if (tomb && n > 0 && (size_t)n < sizeof(key))
        tomb(ud, key, (size_t)n);
    hub_free(s, h);
}

int
api_pset_apply(struct api_pset *s, const void *key, size_t keylen,
               const void *value, size_t len, int64_t ts_ms, struct hd_err *err)
{
    const char *k = key, *slash;
    int64_t lease = -1;
    size_t hlen;

    if (keylen < 3 || k[1] != '/' || (k[0] != 'h' && k[0] != 'u'))
        return hd_err_set(err, HD_EINVAL, "presence key: not h/ or u/");
    if (value != NULL) {
        lease = lease_of(value, len, err);
        if (lease < 0)
            return -1;
    }
    k += 2;
    keylen -= 2;
    slash = memchr(k, '/', keylen);
    if (*(const char *)key == 'h') {
        struct phub *h;

        if (slash != NULL || keylen > HUB_ID_MAX)
            return hd_err_set(err, HD_EINVAL, "presence key: bad hub id");
        h = hub_find(s, k, keylen, lease >= 0);
        if (h == NULL)
            return 0;
        if (lease >= 0)
            hub_touch(h, ts_ms, lease);
        else
            /* stopped, or written off by a reader: its users went too;
             * not those online after it (a replay reads a user's record,
             * on another partition, before a tombstone older than it) */
            hub_forget(s, h, ts_ms, NULL, NULL);
        return 0;
    }
    if (slash == NULL || slash == k || (size_t)(slash - k) > HUB_ID_MAX)
        return hd_err_set(err, HD_EINVAL, "presence key: bad hub id");
    hlen = (size_t)(slash - k);
    if (keylen - hlen - 1 == 0 || keylen - hlen - 1 > HD_ID_MAX)
        return hd_err_set(err, HD_EINVAL, "presence key: bad user id");
    return apply_user(s, k, hlen, slash + 1, keylen - hlen - 1, lease, ts_ms);
}

int
api_pset_online(const struct api_pset *s, const char *user, int64_t now_ms)
{
    size_t ulen = strlen(user);
    uint32_t hash = hd_hash(user, ulen);
    const struct pent *e;

    for (e = s->buckets[hash & (s->nbuckets - 1)]; e; e = e->next)
        if (e->hash == hash && e->ulen == ulen &&
            memcmp(e->user, user, ulen) == 0 && e->hub->deadline_ms > now_ms)
            return 1;
    return 0;
}

size_t
api_pset_expire(struct api_pset *s, int64_t now_ms, api_pset_tomb_fn *tomb,
                void *ud)
{
    struct phub *h, *hn;
    size_t n = 0;

    for (h = s->hubs; h; h = hn) {
        hn = h->next;
        if (h->deadline_ms + h->lease_ms < now_ms) {
            hub_forget(s, h, INT64_MAX, tomb, ud);
            n++;
        }
    }
    return n;
}
