/* ratelimit.c -- a rate limit per key (an installation id, a client
 * address): one token bucket per key in a fixed table.
 *
 * The table never grows (HD_RATELIMIT_SLOTS, linear probing over a short
 * window); when the window is full the slot refilled longest ago is
 * reused, starting full, so an eviction can only let a caller through
 * early, never block it wrongly. Time comes from an injectable clock. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/ratelimit.h"
#include "core/banned.h"

#define PROBE 16 /* slots looked at per id */

void
hd_ratelimit_init(struct hd_ratelimit *l, const struct hd_clock *clock,
                  int rate, int burst)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    l->clock = clock;
    l->rate = rate;
    l->burst = burst > 0 ? burst : 1;
    l->slots = hd_xcalloc(HD_RATELIMIT_SLOTS, sizeof(*l->slots));
}

void
hd_ratelimit_init_per_min(struct hd_ratelimit *l, const struct hd_clock *clock,
                          int per_min, int burst)
{
    hd_ratelimit_init(l, clock, 0, burst);
    l->rate = per_min / 60.0;
}

void
hd_ratelimit_release(struct hd_ratelimit *l)
{
    if (l->slots == NULL)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l->slots);
    memset(l, 0, sizeof(*l));
}

static struct hd_ratelimit_slot *
slot_for(struct hd_ratelimit *l, const char *id, uint64_t now)
{
    struct hd_ratelimit_slot *s, *oldest = NULL;
    uint32_t h = hd_hash_str(id);
    int i;

    for (i = 0; i < PROBE; i++) {
        s = &l->slots[(h + (uint32_t)i) % HD_RATELIMIT_SLOTS];
        if (strcmp(s->id, id) == 0)
            return s;
        if (s->id[0] == '\0' || oldest == NULL || s->at_ms < oldest->at_ms)
            oldest = s;
        if (s->id[0] == '\0')
            break;
    }
    snprintf(oldest->id, sizeof(oldest->id), "%s", id);
    oldest->tokens = l->burst;
    oldest->at_ms = now;
    return oldest;
}

int
hd_ratelimit_take(struct hd_ratelimit *l, const char *id)
{
    return hd_ratelimit_take_n(l, id, 1);
}

int
hd_ratelimit_take_n(struct hd_ratelimit *l, const char *id, long n)
{
    struct hd_ratelimit_slot *s;
    double cost = (double)n;
    uint64_t now;
    int wait = 0;

    if (l->rate <= 0 || n <= 0)
        return 0;
    if (cost > l->burst)
        cost = l->burst;
    now = hd_clock_mono_ms(l->clock);
    pthread_mutex_lock(&l->mu);
    s = slot_for(l, id, now);
    if (now > s->at_ms) {
        s->tokens += (double)(now - s->at_ms) * l->rate / 1000.0;
        if (s->tokens > l->burst)
            s->tokens = l->burst;
        s->at_ms = now;
    }
    if (s->tokens >= cost)
        s->tokens -= cost;
    else
        wait = (int)ceil((cost - s->tokens) / l->rate);
    pthread_mutex_unlock(&l->mu);
    return wait;
}
