/* api_breaker.c -- sliding-window counts per (app, provider) and the
 * open/closed decision.
 *
 * Each pair has its own state in a hash table (chained, doubled when the
 * chains grow long). A slot remembers which period it counts, so a slot
 * left over from a lap ago is recognised as stale and reset instead of
 * being summed; nothing needs a timer. A state with nothing inside the
 * window holds no information: once per window the table drops those, so
 * memory follows the pairs active within a window, up to
 * API_BREAKER_MAX_KEYS. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "services/api/api_breaker.h"
#include "core/banned.h"

#define BUCKETS_MIN 256

struct slot {
    uint32_t period; /* now_ms / slot_ms + 1; 0 unused */
    uint32_t sends;
    uint32_t invalid;
    uint32_t ok;
};

struct entry {
    struct entry *next;
    uint32_t hash;
    enum hd_provider provider;
    int open; /* last answer given */
    struct slot slots[API_BREAKER_SLOTS];
    char app[]; /* NUL-terminated */
};

struct api_breaker {
    struct api_breaker_cfg cfg;
    int64_t slot_ms;
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t n;
    int64_t swept_ms;
    int full_logged;
};

struct api_breaker *
api_breaker_new(const struct api_breaker_cfg *cfg)
{
    struct api_breaker *b = hd_xcalloc(1, sizeof(*b));

    b->cfg = *cfg;
    if (b->cfg.window_s < 1)
        b->cfg.window_s = 1;
    b->slot_ms = (int64_t)b->cfg.window_s * 1000 / API_BREAKER_SLOTS;
    if (b->slot_ms < 1)
        b->slot_ms = 1;
    b->nbuckets = BUCKETS_MIN;
    b->buckets = hd_xcalloc(b->nbuckets, sizeof(*b->buckets));
    return b;
}

void
api_breaker_free(struct api_breaker *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; i < b->nbuckets; i++) {
        struct entry *e = b->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(b->buckets);
    free(b);
}

size_t
api_breaker_size(const struct api_breaker *b)
{
    return b->n;
}

static uint32_t
period_of(const struct api_breaker *b, int64_t now_ms)
{
    return (uint32_t)(now_ms / b->slot_ms) + 1;
}

/* 1 when slot s counts a period inside the window ending at period now. */
static int
in_window(const struct slot *s, uint32_t now)
{
    return s->period != 0 && now - s->period < API_BREAKER_SLOTS;
}

/* 1 when e holds nothing inside the window and is closed. */
static int
idle(const struct entry *e, uint32_t now)
{
    size_t i;

    if (e->open)
        return 0; /* kept until it is seen closed, so the flip is told */
    for (i = 0; i < API_BREAKER_SLOTS; i++)
        if (in_window(&e->slots[i], now))
            return 0;
    return 1;
}

/* Drops every idle state. */
static void
sweep(struct api_breaker *b, int64_t now_ms)
{
    uint32_t now = period_of(b, now_ms);
    size_t i;

    for (i = 0; i < b->nbuckets; i++) {
        struct entry **pp = &b->buckets[i];

        while (*pp != NULL) {
            struct entry *e = *pp;

            if (idle(e, now)) {
                *pp = e->next;
                free(e);
                b->n--;
            } else {
                pp = &e->next;
            }
        }
    }
    b->swept_ms = now_ms;
}

static void
grow(struct api_breaker *b)
{
    size_t n = b->nbuckets * 2, i;
    struct entry **nb = hd_xcalloc(n, sizeof(*nb));

    for (i = 0; i < b->nbuckets; i++) {
        struct entry *e = b->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    }
    free(b->buckets);
    b->buckets = nb;
    b->nbuckets = n;
}

/* The state of (app, p), made when absent; NULL when the table is full of
 * active pairs. */
static struct entry *
find(struct api_breaker *b, const char *app, enum hd_provider p, int64_t now_ms)
{
    uint32_t h = hd_hash_str(app) ^ ((uint32_t)p * 0x9e3779b1u);
    size_t len = strlen(app);
    struct entry *e;

    for (e = b->buckets[h & (b->nbuckets - 1)]; e != NULL; e = e->next)
        if (e->hash == h && e->provider == p && strcmp(e->app, app) == 0)
            return e;
    if (b->n >= API_BREAKER_MAX_KEYS ||
        now_ms - b->swept_ms >= (int64_t)b->cfg.window_s * 1000)
        sweep(b, now_ms);
    if (b->n >= API_BREAKER_MAX_KEYS) {
        if (!b->full_logged)
            hd_log(HD_LOG_ERROR, 0,
                   "token cleanup: %d app/provider pairs active at once; "
                   "removals of further pairs wait until states free up",
                   API_BREAKER_MAX_KEYS);
        b->full_logged = 1;
        return NULL;
    }
    b->full_logged = 0;
    if (b->n >= b->nbuckets * 2)
        grow(b);
    e = hd_xcalloc(1, sizeof(*e) + len + 1);
    memcpy(e->app, app, len + 1);
    e->hash = h;
    e->provider = p;
    e->next = b->buckets[h & (b->nbuckets - 1)];
    b->buckets[h & (b->nbuckets - 1)] = e;
    b->n++;
    return e;
}

void
api_breaker_record(struct api_breaker *b, const char *app, enum hd_provider p,
                   enum hd_outcome o, int64_t now_ms)
{
    uint32_t now = period_of(b, now_ms);
    struct entry *e;
    struct slot *s;

    if (o == HD_OUTCOME_EXPIRED || o == HD_OUTCOME_SKIPPED)
        return;
    e = find(b, app, p, now_ms);
    if (e == NULL)
        return;
    s = &e->slots[now % API_BREAKER_SLOTS];
    if (s->period != now) {
        memset(s, 0, sizeof(*s));
        s->period = now;
    }
    s->sends++;
    if (o == HD_OUTCOME_TOKEN_INVALID)
        s->invalid++;
    else if (o == HD_OUTCOME_SENT)
        s->ok++;
}

int
api_breaker_open(struct api_breaker *b, const char *app, enum hd_provider p,
                 int64_t now_ms, int *changed)
{
    uint32_t now = period_of(b, now_ms);
    long sends = 0, invalid = 0, ok = 0;
    struct entry *e = find(b, app, p, now_ms);
    size_t i;
    int open;

    if (changed != NULL)
        *changed = 0;
    if (e == NULL)
        return 1;
    for (i = 0; i < API_BREAKER_SLOTS; i++) {
        const struct slot *s = &e->slots[i];

        if (!in_window(s, now))
            continue;
        sends += s->sends;
        invalid += s->invalid;
        ok += s->ok;
    }
    open = sends >= b->cfg.min_sends && ok == 0 &&
           invalid * 100 >= (long)b->cfg.ratio_pct * sends;
    if (changed != NULL)
        *changed = open != e->open;
    e->open = open;
    return open;
}
