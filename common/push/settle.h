/* settle.h -- what the push engine does once a target's fate is known:
 * one feedback record per final outcome, the re-queue, hand-back and
 * dead-letter records of a finished batch, their acknowledgements, and
 * the end of a batch. Not an API outside common/push/; engine thread
 * unless said otherwise. */
#ifndef HD_PUSH_SETTLE_H
#define HD_PUSH_SETTLE_H

#include "push/engine_state.h"

/* Applies one provider result to target t of b: decides (outcome.c) and
 * reports, re-queues or dead-letters it. */
void pe_apply(struct hd_pushengine *e, struct pe_batch *b, size_t t,
              const struct hd_push_result *r);

/* Reports target t final without a request: expired or failed. */
void pe_final(struct hd_pushengine *e, struct pe_batch *b, size_t t,
              enum hd_outcome o, const char *code, int http_status);

/* Reports targets [from, to) that are still pending or sending as
 * expired. */
void pe_expire_range(struct hd_pushengine *e, struct pe_batch *b, size_t from,
                     size_t to);

/* Finishes b when every target is settled and no job is open: produces
 * the re-queue, hand-back and dead-letter records, drops the engine's
 * reference. */
void pe_maybe_finalize(struct hd_pushengine *e, struct pe_batch *b);

/* Dead-letters an undecodable record, then finishes it. */
void pe_dead_letter_raw(struct hd_pushengine *e, struct pe_batch *b);

/* Calls done() and frees b. */
void pe_batch_done(struct hd_pushengine *e, struct pe_batch *b);

/* Frees b without calling done(). */
void pe_batch_free(struct hd_pushengine *e, struct pe_batch *b);

/* Sends rec again (after a failed produce). */
void pe_resend(struct hd_pushengine *e, struct pe_rec *rec);

#endif
