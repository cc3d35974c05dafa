/* ring.h -- the offsets a consumer handed out on one partition and has not
 * yet seen committable (ring.c), for consumer.c only.
 *
 * Ascending by offset: done() finds one by binary search and pops the
 * done prefix at once, so the first entry is the offset to commit and
 * out-of-order completion costs O(log n). Not thread-safe: the consumer
 * holds its lock. */
#ifndef HD_KAFKA_RING_H
#define HD_KAFKA_RING_H

#include <stddef.h>
#include <stdint.h>

#define HD_KRING_MIN 64
/* A ring never holds more than this (a power of two); the consumer pauses
 * far below it, so reaching it means back-pressure failed. */
#define HD_KRING_MAX ((size_t)1 << 18)

struct hd_kring_ent {
    int64_t off;
    int done;
};

struct hd_kring {
    struct hd_kring_ent *ent;
    size_t cap; /* a power of two, or 0 */
    size_t head;
    size_t len;
    int64_t next; /* offset after the last one pushed, -1: none yet */
};

void hd_kring_init(struct hd_kring *r);
void hd_kring_release(struct hd_kring *r);

/* Appends off. Returns 1 if now tracked, 0 if not trackable (not beyond
 * what was pushed before: a re-delivery), -1 if the ring is full. */
int hd_kring_push(struct hd_kring *r, int64_t off);

/* Marks off done. Returns 1 if it was in flight, 0 otherwise. */
int hd_kring_done(struct hd_kring *r, int64_t off);

/* The offset to commit: the first one not done, or the one after the
 * last pushed when all are done; -1 before anything was pushed. */
int64_t hd_kring_commit_offset(const struct hd_kring *r);

/* The offsets pushed and not done. */
size_t hd_kring_undone(const struct hd_kring *r);

#endif
