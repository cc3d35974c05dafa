/* send.h -- the push engine's requests: ready batches cut into jobs of
 * tokens_per_request targets, the concurrency limit, credential waits,
 * configuration-error pauses with a single probe, answers, and the
 * hand-back at shutdown. Not an API outside common/push/; engine thread. */
#ifndef HD_PUSH_SEND_H
#define HD_PUSH_SEND_H

#include "push/engine_state.h"

/* Starts requests until the limit, a pause or a credential wait stops it,
 * or nothing is ready. */
void pe_pump(struct hd_pushengine *e);

/* Hands back every target of a started batch that no request holds, so
 * the batch can finish; unstarted batches stay undone. */
void pe_hand_back(struct hd_pushengine *e);

/* Frees the jobs waiting for a resend and the pooled ones. */
void pe_jobs_free(struct hd_pushengine *e);

#endif
