/* rules.h -- fault rules posted through the control API.
 *
 * A rule matches requests by provider, endpoint kind, device-token prefix,
 * path prefix and one header, skips its first `skip` matches, fires at
 * most `count` times (-1: forever) with a given probability (seeded RNG,
 * so runs repeat), and yields an outcome (outcome.h): a provider error by
 * name, a raw status and body, a delay, a stall, RST_STREAM, GOAWAY or a
 * close. Rules are tried in the order they were added; the first that
 * fires wins. All functions are thread-safe (one mutex; the hot path
 * takes it only when at least one rule exists). */
#ifndef SIM_RULES_H
#define SIM_RULES_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "tools/sim/outcome.h"
#include "tools/sim/route.h"

#define SIM_RULES_MAX 256

struct sim_rules;

/* new: an empty rule set whose probabilities draw from seed. */
struct sim_rules *sim_rules_new(uint64_t seed);
void sim_rules_free(struct sim_rules *r);

/* Adds a rule described by spec (see docs/sim.md for the fields). On
 * success returns 0 and the rule's id in *id; -1 with err (HD_EINVAL
 * naming the field, HD_ETOOBIG past SIM_RULES_MAX). */
int sim_rules_add(struct sim_rules *r, json_t *spec, uint64_t *id,
                  struct hd_err *err);

/* Removes rule id. Returns 0, or -1 when there is no such rule. */
int sim_rules_delete(struct sim_rules *r, uint64_t id);

/* Removes every rule and reseeds the RNG. */
void sim_rules_clear(struct sim_rules *r);

/* new: the rules as a JSON array, with their hit counts. */
json_t *sim_rules_list(struct sim_rules *r);

/* Tries the rules for a request to ep about token (NULL when the request
 * has none). Returns 1 and fills *out when a rule fires, else 0. */
int sim_rules_match(struct sim_rules *r, const struct sim_endpoint *ep,
                    const char *token, const struct sim_req *req,
                    struct sim_outcome *out);

#endif
