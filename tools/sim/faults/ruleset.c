/* ruleset.c -- the fault rules in force: kept in the order they were
 * added, listed, deleted, and matched against each request on the I/O
 * threads. The rule count is also kept in an atomic so a simulator
 * without rules never takes the mutex on the request path. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tools/sim/faults/ruleset.h"
#include "core/banned.h"

struct sim_rules {
    pthread_mutex_t mu;
    struct sim_rule *v[SIM_RULES_MAX];
    int n;
    atomic_int live;
    uint64_t next_id;
    uint64_t seed;
    uint64_t rng;
};

struct sim_rules *
sim_rules_new(uint64_t seed)
{
    struct sim_rules *r = hd_xcalloc(1, sizeof(*r));

    pthread_mutex_init(&r->mu, NULL);
    r->seed = seed ? seed : 1;
    r->rng = r->seed;
    r->next_id = 1;
    return r;
}

void
sim_rule_free(struct sim_rule *u)
{
    if (u == NULL)
        return;
    free(u->token_prefix);
    free(u->path_prefix);
    free(u->hdr_name);
    free(u->hdr_value);
    json_decref(u->spec);
    sim_outcome_release(&u->out);
    free(u);
}

void
sim_rules_clear(struct sim_rules *r)
{
    int i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++)
        sim_rule_free(r->v[i]);
    r->n = 0;
    r->rng = r->seed;
    atomic_store(&r->live, 0);
    pthread_mutex_unlock(&r->mu);
}

void
sim_rules_free(struct sim_rules *r)
{
    if (r == NULL)
        return;
    sim_rules_clear(r);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* xorshift64*: reproducible draws for a given seed. */
static double
draw(struct sim_rules *r)
{
    uint64_t x = r->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

int
sim_rules_insert(struct sim_rules *r, struct sim_rule *u, uint64_t *id,
                 struct hd_err *err)
{
    pthread_mutex_lock(&r->mu);
    if (r->n >= SIM_RULES_MAX) {
        pthread_mutex_unlock(&r->mu);
        sim_rule_free(u);
        return hd_err_set(err, HD_ETOOBIG, "at most %d rules", SIM_RULES_MAX);
    }
    u->id = r->next_id++;
    r->v[r->n++] = u;
    atomic_store(&r->live, r->n);
    *id = u->id;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

int
sim_rules_delete(struct sim_rules *r, uint64_t id)
{
    int i;
    int rc = -1;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++) {
        if (r->v[i]->id != id)
            continue;
        sim_rule_free(r->v[i]);
        memmove(&r->v[i], &r->v[i + 1],
                (size_t)(r->n - i - 1) * sizeof(r->v[0]));
        r->n--;
        atomic_store(&r->live, r->n);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

json_t *
sim_rules_list(struct sim_rules *r)
{
    json_t *a = json_array();
    int i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++) {
        struct sim_rule *u = r->v[i];
        json_t *o = json_deep_copy(u->spec);

        json_object_set_new(o, "id", json_integer((json_int_t)u->id));
        json_object_set_new(o, "matched", json_integer((json_int_t)u->matched));
        json_object_set_new(o, "fired", json_integer((json_int_t)u->fired));
        json_object_set_new(o, "remaining", json_integer((json_int_t)u->count));
        json_array_append_new(a, o);
    }
    pthread_mutex_unlock(&r->mu);
    return a;
}

static int
prefixed(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
matches(const struct sim_rule *u, const struct sim_endpoint *ep,
        const char *token, const struct sim_req *req)
{
    if (u->provider >= 0 && u->provider != (int)ep->provider)
        return 0;
    if (u->kind >= 0 && u->kind != (int)ep->kind)
        return 0;
    if (u->token_prefix && !prefixed(token, u->token_prefix))
        return 0;
    if (u->path_prefix &&
        !prefixed(sim_req_header(req, ":path"), u->path_prefix))
        return 0;
    if (u->hdr_name) {
        const char *v = sim_req_header(req, u->hdr_name);

        if (v == NULL || (u->hdr_value && strcmp(v, u->hdr_value) != 0))
            return 0;
    }
    return 1;
}

int
sim_rules_match(struct sim_rules *r, const struct sim_endpoint *ep,
                const char *token, const struct sim_req *req,
                struct sim_outcome *out)
{
    int fired = 0;
    int i;

    if (atomic_load_explicit(&r->live, memory_order_relaxed) == 0)
        return 0;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n && !fired; i++) {
        struct sim_rule *u = r->v[i];

        if (u->count == 0 || !matches(u, ep, token, req))
            continue;
        u->matched++;
        if (u->matched <= (uint64_t)u->skip)
            continue;
        if (u->probability < 1.0 && draw(r) >= u->probability)
            continue;
        u->fired++;
        if (u->count > 0)
            u->count--;
        /* an error from another endpoint's table (provider-wide rule that
         * names a send error, request to a token endpoint) cannot render:
         * fall back to the transport part only */
        sim_outcome_copy(out, &u->out);
        if (out->kind == SIM_OUT_ERROR &&
            sim_error_lookup(ep, out->error) != out->error)
            out->kind = SIM_OUT_NONE;
        fired = 1;
    }
    pthread_mutex_unlock(&r->mu);
    return fired;
}
