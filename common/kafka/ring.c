/* ring.c -- one partition's offsets in flight, ordered (ring.h). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "kafka/ring.h"
#include "core/banned.h"

static struct hd_kring_ent *
ring_at(const struct hd_kring *r, size_t i)
{
    return &r->ent[(r->head + i) & (r->cap - 1)];
}

void
hd_kring_init(struct hd_kring *r)
{
    memset(r, 0, sizeof(*r));
    r->next = -1;
}

void
hd_kring_release(struct hd_kring *r)
{
    free(r->ent);
    hd_kring_init(r);
}

int
hd_kring_push(struct hd_kring *r, int64_t off)
{
    if (r->next >= 0 && off < r->next)
        return 0;
    if (r->len == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : HD_KRING_MIN;
        struct hd_kring_ent *nr;
        size_t i;

        if (ncap > HD_KRING_MAX)
            return -1;
        nr = hd_xmalloc(ncap * sizeof(*nr));
        for (i = 0; i < r->len; i++)
            nr[i] = *ring_at(r, i);
        free(r->ent);
        r->ent = nr;
        r->cap = ncap;
        r->head = 0;
    }
    r->ent[(r->head + r->len) & (r->cap - 1)] = (struct hd_kring_ent){off, 0};
    r->len++;
    r->next = off + 1;
    return 1;
}

/* O(log n) plus the amortised pops of the done prefix. */
int
hd_kring_done(struct hd_kring *r, int64_t off)
{
    size_t lo = 0, hi = r->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ring_at(r, mid)->off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == r->len || ring_at(r, lo)->off != off || ring_at(r, lo)->done)
        return 0;
    ring_at(r, lo)->done = 1;
    while (r->len > 0 && ring_at(r, 0)->done) {
        r->head = (r->head + 1) & (r->cap - 1);
        r->len--;
    }
    return 1;
}

int64_t
hd_kring_commit_offset(const struct hd_kring *r)
{
    return r->len > 0 ? ring_at(r, 0)->off : r->next;
}

size_t
hd_kring_undone(const struct hd_kring *r)
{
    size_t i, n = 0;

    for (i = 0; i < r->len; i++)
        n += !ring_at(r, i)->done;
    return n;
}
