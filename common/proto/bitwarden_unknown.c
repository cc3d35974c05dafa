/* bitwarden_unknown.c -- counting and once-per-type logging of unknown
 * Bitwarden push types. Lock-free: an atomic fetch-or decides which caller
 * sees a type first; the metrics series is looked up per call (unknown
 * types are rare, so the lookup's lock is not on a hot path). */
#include <stdio.h>

#include "proto/bitwarden_unknown.h"
#include "core/banned.h"

void
hd_bw_unknown_init(struct hd_bw_unknown *u, struct hd_metrics *reg,
                   const char *name)
{
    static const char *const labels[] = {"type"};
    int i;

    u->counter = hd_metrics_counter(
        reg, name,
        "Bitwarden pushes of a type this build does not know, "
        "accepted and dropped.",
        1, labels);
    for (i = 0; i < 5; i++)
        atomic_init(&u->logged[i], 0);
}

int
hd_bw_unknown_note(struct hd_bw_unknown *u, long long type)
{
    char label[24];
    uint64_t bit, prev;
    int slot;

    if (type < 0 || type > 255) {
        hd_counter_inc(hd_metric_with(u->counter, "other"));
        slot = 4; /* "other" has a word of its own */
        bit = 1;
    } else {
        snprintf(label, sizeof(label), "%lld", type);
        hd_counter_inc(hd_metric_with(u->counter, label));
        slot = (int)(type / 64);
        bit = (uint64_t)1 << (type % 64);
    }
    prev = atomic_fetch_or(&u->logged[slot], bit);
    return (prev & bit) == 0;
}
