/* tokens.h -- OAuth access tokens the simulator issued (Google for FCM,
 * Huawei for HMS), with who they were issued to and when they expire.
 *
 * Bounded: past SIM_TOKENS_MAX the oldest token is forgotten (a later
 * request with it gets the provider's "invalid token" answer). Expiry is
 * judged by the caller against the virtual clock. Thread-safe (one mutex;
 * lookups are a hash probe). */
#ifndef SIM_TOKENS_H
#define SIM_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "tools/sim/sim.h"

#define SIM_TOKENS_MAX 16384
#define SIM_TOKEN_LEN_MAX 256
#define SIM_TOKEN_SUBJECT_MAX 128

struct sim_token_info {
    enum sim_provider provider;
    int64_t issued_ms; /* virtual clock */
    int64_t expires_ms;
    char subject[SIM_TOKEN_SUBJECT_MAX]; /* client_email / app id */
    char scope[SIM_TOKEN_SUBJECT_MAX];   /* project id / app id */
    int can_send; /* the OAuth scopes allow sending messages */
};

struct sim_tokens;

struct sim_tokens *sim_tokens_new(void);
void sim_tokens_free(struct sim_tokens *t);

/* Remembers token (at most SIM_TOKEN_LEN_MAX - 1 bytes; longer ones are
 * ignored) with info (copied). */
void sim_tokens_put(struct sim_tokens *t, const char *token,
                    const struct sim_token_info *info);

/* Returns 1 and fills *info when token is known, else 0. */
int sim_tokens_get(struct sim_tokens *t, const char *token,
                   struct sim_token_info *info);

/* Forgets every token. */
void sim_tokens_clear(struct sim_tokens *t);

/* Number of tokens remembered. */
size_t sim_tokens_count(struct sim_tokens *t);

#endif
