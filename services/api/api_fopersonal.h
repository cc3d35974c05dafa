/* api_fopersonal.h -- the fan-out's per-device processing of a filter
 * page (limit_strategy, templates, localizations): api_fopersonal.c.
 * Private to the fan-out's files; worker threads. */
#ifndef API_FOPERSONAL_H
#define API_FOPERSONAL_H

#include "pg/pg.h"
#include "services/api/api_batch.h"
#include "services/api/api_fanout.h"

/* What one request's expansion keeps from page to page (renderings
 * shared by devices with the same translations). */
struct fo_pctx;
struct fo_pctx *fo_pctx_new(void);
void fo_pctx_free(struct fo_pctx *c);

/* Processes a page read with the device columns (ff_page_*: id, provider,
 * token, ok, user, timezone, locale, meta): devices due now go to b,
 * held-back ones to scheduled_pushes. The row count; -1 when stopping
 * (emit refused); -2 on a database error before anything was taken
 * (read the page again). */
int fo_personal_page(struct api_fanout *fo, struct fo_req *req,
                     struct fo_pctx *c, struct api_batcher *b, PGresult *res,
                     struct hd_err *err);

#endif
