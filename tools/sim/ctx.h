/* ctx.h -- the configuration table of herald-sim and the creation of its
 * shared context (struct sim_ctx, sim.h). Call from main() only. */
#ifndef SIM_CTX_H
#define SIM_CTX_H

#include "core/config.h"
#include "core/err.h"
#include "tools/sim/sim.h"

extern const struct hd_config_field sim_config_fields[];

/* Loads credentials from cfg.creds_dir plus the extra-key variables and
 * creates the shared state. cfg must already be loaded. Returns 0, or -1
 * with err (missing or unreadable credentials). On failure nothing needs
 * releasing beyond the configuration. Call from main() only. */
int sim_ctx_init(struct sim_ctx *ctx, struct hd_err *err);

/* Frees everything sim_ctx_init() created; cfg strings stay (they belong
 * to hd_config_release()). */
void sim_ctx_release(struct sim_ctx *ctx);

#endif
