/* bitwarden_unknown.h -- what a service does with a PushType it does not
 * know: count it, and log it once per type, then drop it, as upstream.
 *
 * Bitwarden adds push types over time; a server that sends a newer one
 * must get its 2xx, not a refusal. The counter family is
 * <prefix>_bitwarden_unknown_type_total{type}: the label is the type
 * number (a PushType is a byte, 0..255) or "other", so it is bounded. The
 * "logged once" bits live in the struct, one per type. Thread-safe. */
#ifndef HD_BITWARDEN_UNKNOWN_H
#define HD_BITWARDEN_UNKNOWN_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/metrics.h"

struct hd_bw_unknown {
    struct hd_metric *counter;  /* borrowed from the registry */
    _Atomic uint64_t logged[5]; /* a bit per type 0..255, and other */
};

/* Registers the counter family name (e.g.
 * "herald_hub_bitwarden_unknown_type_total") in reg. */
void hd_bw_unknown_init(struct hd_bw_unknown *u, struct hd_metrics *reg,
                        const char *name);

/* Counts type. Returns 1 the first time this type is noted (the caller
 * logs it), 0 afterwards. */
int hd_bw_unknown_note(struct hd_bw_unknown *u, long long type);

#endif
