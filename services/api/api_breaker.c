/* api_breaker.c -- sliding-window counts per (app, provider) and the
 * open/closed decision.
 *
 * Each slot remembers which period it counts (its start time), so a slot
 * left over from a lap ago is recognised as stale and reset instead of
 * being summed; nothing needs a timer. Memory is fixed: API_BREAKER_KEYS
 * entries of API_BREAKER_SLOTS slots. An entry with nothing inside the
 * window holds no information and is reused for a new pair, so every pair
 * seen within the window has its own state until more than
 * API_BREAKER_KEYS pairs are active at once. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "services/api/api_breaker.h"
#include "core/banned.h"

struct slot {
    int64_t start_ms; /* period start; -1 unused */
    long sends;
    long invalid;
    long ok;
};

struct entry {
    char app[HD_ID_MAX + 1];
    enum hd_provider provider;
    int used;
    int open; /* last answer given */
    struct slot slots[API_BREAKER_SLOTS];
};

struct api_breaker {
    struct api_breaker_cfg cfg;
    int64_t slot_ms;
    size_t n;
    struct entry e[API_BREAKER_KEYS + 1]; /* the last one: overflow */
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
    return b;
}

void
api_breaker_free(struct api_breaker *b)
{
    free(b);
}

static void
entry_init(struct entry *e, const char *app, enum hd_provider p)
{
    size_t i;

    memset(e, 0, sizeof(*e));
    strncat(e->app, app, sizeof(e->app) - 1);
    e->provider = p;
    e->used = 1;
    for (i = 0; i < API_BREAKER_SLOTS; i++)
        e->slots[i].start_ms = -1;
}

/* 1 when no slot of e counts a period inside the window ending at now. */
static int
stale(const struct api_breaker *b, const struct entry *e, int64_t now_ms)
{
    int64_t oldest = now_ms - (int64_t)b->cfg.window_s * 1000;
    size_t i;

    if (e->open)
        return 0; /* keep an open breaker until it is seen closed */
    for (i = 0; i < API_BREAKER_SLOTS; i++)
        if (e->slots[i].start_ms >= 0 &&
            e->slots[i].start_ms + b->slot_ms > oldest)
            return 0;
    return 1;
}

static struct entry *
find(struct api_breaker *b, const char *app, enum hd_provider p, int64_t now_ms)
{
    struct entry *ov = &b->e[API_BREAKER_KEYS];
    size_t i;

    for (i = 0; i < b->n; i++)
        if (b->e[i].provider == p && strcmp(b->e[i].app, app) == 0)
            return &b->e[i];
    if (b->n < API_BREAKER_KEYS) {
        entry_init(&b->e[b->n], app, p);
        return &b->e[b->n++];
    }
    for (i = 0; i < b->n; i++)
        if (stale(b, &b->e[i], now_ms)) {
            entry_init(&b->e[i], app, p);
            return &b->e[i];
        }
    if (!ov->used)
        entry_init(ov, "_overflow", HD_PROVIDER_FCM);
    return ov;
}

void
api_breaker_record(struct api_breaker *b, const char *app, enum hd_provider p,
                   enum hd_outcome o, int64_t now_ms)
{
    struct entry *e;
    struct slot *s;
    int64_t start = now_ms - now_ms % b->slot_ms;

    if (o == HD_OUTCOME_EXPIRED)
        return;
    e = find(b, app, p, now_ms);
    s = &e->slots[(size_t)((start / b->slot_ms) % API_BREAKER_SLOTS)];
    if (s->start_ms != start) {
        memset(s, 0, sizeof(*s));
        s->start_ms = start;
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
    int64_t oldest = now_ms - (int64_t)b->cfg.window_s * 1000;
    long sends = 0, invalid = 0, ok = 0;
    struct entry *e = find(b, app, p, now_ms);
    size_t i;
    int open;

    for (i = 0; i < API_BREAKER_SLOTS; i++) {
        const struct slot *s = &e->slots[i];

        if (s->start_ms < 0 || s->start_ms + b->slot_ms <= oldest ||
            s->start_ms > now_ms)
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
