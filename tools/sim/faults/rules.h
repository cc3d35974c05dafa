/* rules.h -- the faults/ folder: what the simulator does with a request
 * instead of its normal answer. outcome.h decodes device-token prefixes
 * into outcomes, ruleset.h keeps the rules in force and matches them on
 * the request path (the providers call both), and this header parses the
 * rules the control API posts.
 *
 * A rule is a JSON object naming what to match (provider, endpoint,
 * token_prefix, path_prefix, header), how often (skip, count,
 * probability) and what to do (error, status + body, action, delay_ms);
 * see docs/sim.md. sim_rules_add() parses one and adds it to a rule set
 * (ruleset.h, included here). Thread-safe. */
#ifndef SIM_RULES_H
#define SIM_RULES_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "tools/sim/faults/ruleset.h"

/* Adds a rule described by spec (see docs/sim.md for the fields). On
 * success returns 0 and the rule's id in *id; -1 with err (HD_EINVAL
 * naming the field, HD_ETOOBIG past SIM_RULES_MAX). */
int sim_rules_add(struct sim_rules *r, json_t *spec, uint64_t *id,
                  struct hd_err *err);

#endif
