/* ruleset.h -- the fault rules in force and the match each provider runs
 * on its request path: a rule matches requests by provider, endpoint
 * kind, device-token prefix, path prefix and one header, skips its first
 * `skip` matches, fires at most `count` times (-1: forever) with a given
 * probability (seeded RNG, so runs repeat), and yields an outcome
 * (outcome.h). Rules are tried in the order they were added; the first
 * that fires wins. Rules are made from JSON by rules.h. All functions are
 * thread-safe (one mutex; the hot path takes it only when at least one
 * rule exists). */
#ifndef SIM_RULESET_H
#define SIM_RULESET_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "tools/sim/endpoint.h"
#include "tools/sim/faults/outcome.h"

#define SIM_RULES_MAX 256

/* One rule, as rules.h parsed it. */
struct sim_rule {
    uint64_t id;
    int provider;       /* -1: any */
    int kind;           /* enum sim_ep_kind, -1: any */
    char *token_prefix; /* NULL: any (new) */
    char *path_prefix;
    char *hdr_name;
    char *hdr_value;
    long long skip;     /* matches to let through first */
    long long count;    /* times left to fire, -1 forever */
    double probability; /* 0..1 */
    uint64_t matched;
    uint64_t fired;
    json_t *spec; /* as posted, for listing */
    struct sim_outcome out;
};

struct sim_rules;

/* new: an empty rule set whose probabilities draw from seed. */
struct sim_rules *sim_rules_new(uint64_t seed);
void sim_rules_free(struct sim_rules *r);

/* Adds u (steals it: freed on failure) after the rules in force. Returns
 * 0 and its id in *id, or -1 with err (HD_ETOOBIG past SIM_RULES_MAX). */
int sim_rules_insert(struct sim_rules *r, struct sim_rule *u, uint64_t *id,
                     struct hd_err *err);
/* Frees a rule that was never inserted. NULL is a no-op. */
void sim_rule_free(struct sim_rule *u);

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
