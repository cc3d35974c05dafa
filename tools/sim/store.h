/* store.h -- the recording: every request the providers answered, the
 * counts per provider and outcome, and waiters that block until enough
 * matching requests arrived.
 *
 * Records live in a ring of the last max_records requests (the oldest is
 * dropped first); counts are never dropped, only reset. Rendering to JSON
 * happens when the control API asks, not on the request path. All
 * functions are thread-safe (one mutex, held briefly). Wait callbacks are
 * always called outside the mutex. */
#ifndef SIM_STORE_H
#define SIM_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "tools/sim/exchange.h"
#include "tools/sim/endpoint.h"

#define SIM_WAITERS_MAX 256
#define SIM_OUTCOME_KEYS_MAX 512
#define SIM_FILTER_STR_MAX 512

/* Which records a query or a wait is about. Zeroed fields with
 * provider/kind/accepted at -1 match everything. */
struct sim_filter {
    int provider;                          /* enum sim_provider, -1 any */
    int kind;                              /* enum sim_ep_kind, -1 any */
    int accepted;                          /* 0/1, -1 any */
    uint64_t since;                        /* only records with seq > since */
    char token[SIM_FILTER_STR_MAX];        /* "" any: exact device token */
    char token_prefix[SIM_FILTER_STR_MAX]; /* "" any */
    char outcome[SIM_OUTCOME_MAX];         /* "" any */
};

/* Called once per wait: satisfied 1 when `count` matching records were
 * seen, 0 on timeout or cancellation; matched is how many were seen. */
typedef void sim_wait_fn(void *ud, int satisfied, uint64_t matched);

struct sim_store;

/* new: a store keeping the last max_records records, each body cut to
 * body_max bytes. */
struct sim_store *sim_store_new(size_t max_records, size_t body_max);

/* Frees the store; pending waiters are cancelled first. NULL is a no-op. */
void sim_store_free(struct sim_store *s);

void sim_filter_init(struct sim_filter *f);

/* Records one answered request (copies what it needs) and wakes the
 * waiters it satisfies. now_ms is the virtual wall clock. */
void sim_store_add(struct sim_store *s, const struct sim_endpoint *ep,
                   const struct sim_peer *peer, const struct sim_req *req,
                   const struct sim_resp *resp, int64_t now_ms);

/* new: {"records":[...oldest first...],"matched":n,"last_seq":n} with
 * at most limit records (the newest ones that match). */
json_t *sim_store_query(struct sim_store *s, const struct sim_filter *f,
                        size_t limit);

/* new: counts per provider (requests, accepted, delivered, outcomes) and
 * per token endpoint (requests, issued, outcomes). */
json_t *sim_store_counts(struct sim_store *s);

/* Number of stored records that match f. */
uint64_t sim_store_count(struct sim_store *s, const struct sim_filter *f);

/* Forgets records and counts (waiters stay). Sequence numbers continue. */
void sim_store_reset(struct sim_store *s);

/* Waits until `count` records matching f (copied) exist, counting the
 * stored ones now and every new one, or until the monotonic deadline.
 * fn runs exactly once: possibly before this returns (already satisfied),
 * on the thread that adds the satisfying record, or in sim_store_tick().
 * Returns 0, or -1 with err when SIM_WAITERS_MAX waits are pending (fn is
 * then not called). */
int sim_store_wait(struct sim_store *s, const struct sim_filter *f,
                   uint64_t count, uint64_t deadline_mono_ms, sim_wait_fn *fn,
                   void *ud, struct hd_err *err);

/* Times out the waits whose deadline passed. */
void sim_store_tick(struct sim_store *s, uint64_t now_mono_ms);

/* Ends every pending wait with satisfied = 0 (shutdown). */
void sim_store_cancel_waits(struct sim_store *s);

#endif
