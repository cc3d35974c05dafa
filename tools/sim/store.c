/* store.c -- record ring, counters and waiters.
 *
 * Each record is one allocation: a fixed header followed by the packed
 * strings (request headers, body, tokens, response headers and body), so
 * recording costs one malloc and a few memcpy on the request path. JSON is
 * built only when the control API queries. Waiter callbacks are collected
 * under the lock and run after it is released. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/json.h"
#include "tools/sim/store.h"
#include "core/banned.h"

struct rec {
    uint64_t seq;
    int64_t time_ms;
    const struct sim_endpoint *ep;
    uint64_t conn;
    int32_t stream;
    const char *proto;
    char alpn[16];
    int status;
    int action;
    int delay_ms;
    int accepted;
    int delivered;
    int ntokens;
    char outcome[SIM_OUTCOME_MAX];
    char identity[SIM_IDENTITY_MAX];
    size_t body_total; /* bytes received, before cutting */
    size_t hdr_len;    /* request "name\0value\0" bytes */
    size_t body_len;
    size_t tok_len;
    size_t rhdr_len; /* response headers */
    size_t rbody_len;
    char data[]; /* hdr | body | tokens | rhdr | rbody */
};

struct waiter {
    struct sim_filter f;
    uint64_t want;
    uint64_t seen;
    uint64_t deadline;
    sim_wait_fn *fn;
    void *ud;
};

struct okey {
    int provider;
    int kind;
    char outcome[SIM_OUTCOME_MAX];
    uint64_t n;
};

struct pcount {
    uint64_t requests;
    uint64_t accepted;
    uint64_t delivered;
    uint64_t issued;
};

struct fired {
    sim_wait_fn *fn;
    void *ud;
    int ok;
    uint64_t seen;
};

struct sim_store {
    pthread_mutex_t mu;
    struct rec **ring;
    size_t cap;
    size_t head; /* next slot */
    size_t n;
    size_t body_max;
    uint64_t seq;
    struct pcount pc[SIM_NPROV][2];
    struct okey keys[SIM_OUTCOME_KEYS_MAX];
    int nkeys;
    struct waiter w[SIM_WAITERS_MAX];
    int nw;
};

struct sim_store *
sim_store_new(size_t max_records, size_t body_max)
{
    struct sim_store *s = hd_xcalloc(1, sizeof(*s));

    pthread_mutex_init(&s->mu, NULL);
    s->cap = max_records ? max_records : 1;
    s->ring = hd_xcalloc(s->cap, sizeof(*s->ring));
    s->body_max = body_max;
    return s;
}

static void
drop_records(struct sim_store *s)
{
    size_t i;

    for (i = 0; i < s->cap; i++) {
        free(s->ring[i]);
        s->ring[i] = NULL;
    }
    s->head = 0;
    s->n = 0;
}

void
sim_store_free(struct sim_store *s)
{
    if (s == NULL)
        return;
    sim_store_cancel_waits(s);
    drop_records(s);
    free(s->ring);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void
sim_filter_init(struct sim_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->provider = -1;
    f->kind = -1;
    f->accepted = -1;
}

/* 1 if the NUL-separated list holds s. */
static int
list_has(const char *list, size_t len, const char *s, int prefix)
{
    size_t n = strlen(s);
    const char *p = list;
    const char *end = list + len;

    while (p < end) {
        size_t l = strlen(p);

        if (prefix ? (l >= n && memcmp(p, s, n) == 0)
                   : (l == n && memcmp(p, s, n) == 0))
            return 1;
        p += l + 1;
    }
    return 0;
}

static int
rec_matches(const struct rec *r, const struct sim_filter *f)
{
    const char *toks = r->data + r->hdr_len + r->body_len;

    if (r->seq <= f->since)
        return 0;
    if (f->provider >= 0 && (int)r->ep->provider != f->provider)
        return 0;
    if (f->kind >= 0 && (int)r->ep->kind != f->kind)
        return 0;
    if (f->accepted >= 0 && (r->accepted != 0) != (f->accepted != 0))
        return 0;
    if (f->outcome[0] && strcmp(r->outcome, f->outcome) != 0)
        return 0;
    if (f->token[0] && !list_has(toks, r->tok_len, f->token, 0))
        return 0;
    if (f->token_prefix[0] && !list_has(toks, r->tok_len, f->token_prefix, 1))
        return 0;
    return 1;
}

static struct okey *
find_key(struct sim_store *s, const struct sim_endpoint *ep,
         const char *outcome)
{
    int i;

    for (i = 0; i < s->nkeys; i++) {
        struct okey *k = &s->keys[i];

        if (k->provider == (int)ep->provider && k->kind == (int)ep->kind &&
            strcmp(k->outcome, outcome) == 0)
            return k;
    }
    return NULL;
}

static void
count_outcome(struct sim_store *s, const struct sim_endpoint *ep,
              const char *outcome)
{
    struct okey *k = find_key(s, ep, outcome);

    if (k == NULL && s->nkeys >= SIM_OUTCOME_KEYS_MAX - SIM_NPROV * 2) {
        /* bounded: past the limit new labels fold into "other" (the
         * last slots are kept for those) */
        outcome = "other";
        k = find_key(s, ep, outcome);
    }
    if (k == NULL) {
        k = &s->keys[s->nkeys++];
        k->provider = (int)ep->provider;
        k->kind = (int)ep->kind;
        memcpy(k->outcome, outcome, strlen(outcome) + 1);
        k->n = 0;
    }
    k->n++;
}

static struct rec *
rec_build(const struct sim_endpoint *ep, const struct sim_peer *peer,
          const struct sim_req *req, const struct sim_resp *resp,
          size_t body_max)
{
    size_t blen = req->body.len < body_max ? req->body.len : body_max;
    size_t rblen = resp->body.len < body_max ? resp->body.len : body_max;
    size_t total =
        req->hbuf.len + blen + resp->tokens.len + resp->hbuf.len + rblen;
    struct rec *r = hd_xmalloc(sizeof(*r) + total + 1);
    char *p = r->data;

    memset(r, 0, sizeof(*r));
    r->ep = ep;
    r->conn = req->conn_id;
    r->stream = req->stream_id;
    r->proto = req->proto;
    memcpy(r->alpn, peer->alpn, sizeof(r->alpn));
    r->status = resp->status;
    r->action = (int)resp->action;
    r->delay_ms = resp->delay_ms;
    r->accepted = resp->accepted;
    r->delivered = resp->delivered;
    r->ntokens = resp->ntokens;
    memcpy(r->outcome, resp->outcome, sizeof(r->outcome));
    memcpy(r->identity, resp->identity, sizeof(r->identity));
    r->body_total = req->body.len;
    r->hdr_len = req->hbuf.len;
    r->body_len = blen;
    r->tok_len = resp->tokens.len;
    r->rhdr_len = resp->hbuf.len;
    r->rbody_len = rblen;
    if (r->hdr_len)
        memcpy(p, req->hbuf.data, r->hdr_len);
    p += r->hdr_len;
    if (blen)
        memcpy(p, req->body.data, blen);
    p += blen;
    if (r->tok_len)
        memcpy(p, resp->tokens.data, r->tok_len);
    p += r->tok_len;
    if (r->rhdr_len)
        memcpy(p, resp->hbuf.data, r->rhdr_len);
    p += r->rhdr_len;
    if (rblen)
        memcpy(p, resp->body.data, rblen);
    p[rblen] = '\0';
    return r;
}

void
sim_store_add(struct sim_store *s, const struct sim_endpoint *ep,
              const struct sim_peer *peer, const struct sim_req *req,
              const struct sim_resp *resp, int64_t now_ms)
{
    struct rec *r = rec_build(ep, peer, req, resp, s->body_max);
    struct fired fire[SIM_WAITERS_MAX];
    struct pcount *pc;
    int nf = 0;
    int i;

    r->time_ms = now_ms;
    pthread_mutex_lock(&s->mu);
    r->seq = ++s->seq;
    pc = &s->pc[ep->provider][ep->kind];
    pc->requests++;
    if (resp->accepted)
        pc->accepted++;
    pc->delivered += (uint64_t)resp->delivered;
    if (resp->oauth_issued)
        pc->issued++;
    count_outcome(s, ep, resp->outcome);
    free(s->ring[s->head]);
    s->ring[s->head] = r;
    s->head = (s->head + 1) % s->cap;
    if (s->n < s->cap)
        s->n++;
    for (i = 0; i < s->nw;) {
        struct waiter *w = &s->w[i];

        if (rec_matches(r, &w->f) && ++w->seen >= w->want) {
            fire[nf++] = (struct fired){w->fn, w->ud, 1, w->seen};
            s->w[i] = s->w[--s->nw];
            continue;
        }
        i++;
    }
    pthread_mutex_unlock(&s->mu);
    for (i = 0; i < nf; i++)
        fire[i].fn(fire[i].ud, fire[i].ok, fire[i].seen);
}

/* The i-th stored record, oldest first. Caller holds the lock. */
static struct rec *
rec_at(struct sim_store *s, size_t i)
{
    return s->ring[(s->head + s->cap - s->n + i) % s->cap];
}

/* A string as JSON: text when it is valid UTF-8, else base64 under
 * key_b64. */
static void
set_text(json_t *o, const char *key, const char *key_b64, const char *p,
         size_t len)
{
    json_t *v = json_stringn(p, len);
    struct hd_buf b;

    if (v != NULL) {
        json_object_set_new(o, key, v);
        return;
    }
    hd_buf_init(&b, 4 * len + 16);
    if (hd_base64_encode(p, len, &b, NULL) == 0)
        json_object_set_new(o, key_b64, json_stringn(b.data, b.len));
    hd_buf_release(&b);
}

static json_t *
headers_json(const char *p, size_t len)
{
    json_t *o = json_object();
    const char *end = p + len;

    while (p < end) {
        const char *name = p;
        const char *value = name + strlen(name) + 1;
        json_t *v = json_string(value);

        if (v != NULL)
            json_object_set_new(o, name, v);
        p = value + strlen(value) + 1;
    }
    return o;
}

static json_t *
rec_json(const struct rec *r)
{
    static const char *const actions[] = {"respond", "stall", "rst_stream",
                                          "goaway", "close"};
    const char *hdr = r->data;
    const char *body = hdr + r->hdr_len;
    const char *toks = body + r->body_len;
    const char *rhdr = toks + r->tok_len;
    const char *rbody = rhdr + r->rhdr_len;
    json_t *o = json_object();
    json_t *h = headers_json(hdr, r->hdr_len);
    json_t *tl = json_array();
    json_t *resp = json_object();
    const char *p = toks;
    json_t *parsed;

    json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    json_object_set_new(o, "time_ms", json_integer(r->time_ms));
    json_object_set_new(o, "provider",
                        json_string(sim_provider_name(r->ep->provider)));
    json_object_set_new(o, "endpoint", json_string(r->ep->name));
    json_object_set_new(o, "conn", json_integer((json_int_t)r->conn));
    json_object_set_new(o, "stream", json_integer(r->stream));
    json_object_set_new(o, "proto", json_string(r->proto ? r->proto : ""));
    json_object_set_new(o, "alpn", json_string(r->alpn));
    json_object_set_new(o, "method",
                        json_incref(json_object_get(h, ":method")));
    json_object_set_new(o, "path", json_incref(json_object_get(h, ":path")));
    json_object_set_new(o, "authority",
                        json_incref(json_object_get(h, ":authority")));
    json_object_set_new(o, "headers", h);
    set_text(o, "body", "body_base64", body, r->body_len);
    json_object_set_new(o, "body_bytes",
                        json_integer((json_int_t)r->body_total));
    parsed = json_loadb(body, r->body_len, 0, NULL);
    json_object_set_new(o, "json", parsed ? parsed : json_null());
    while (p < toks + r->tok_len) {
        json_array_append_new(tl, json_string(p));
        p += strlen(p) + 1;
    }
    json_object_set_new(o, "token",
                        r->ntokens > 0 ? json_string(toks) : json_null());
    json_object_set_new(o, "tokens", tl);
    json_object_set_new(o, "identity", json_string(r->identity));
    json_object_set_new(o, "status", json_integer(r->status));
    json_object_set_new(o, "action", json_string(actions[r->action]));
    json_object_set_new(o, "outcome", json_string(r->outcome));
    json_object_set_new(o, "accepted", json_boolean(r->accepted));
    json_object_set_new(o, "delivered", json_integer(r->delivered));
    json_object_set_new(o, "delay_ms", json_integer(r->delay_ms));
    json_object_set_new(resp, "headers", headers_json(rhdr, r->rhdr_len));
    set_text(resp, "body", "body_base64", rbody, r->rbody_len);
    json_object_set_new(o, "response", resp);
    return o;
}

json_t *
sim_store_query(struct sim_store *s, const struct sim_filter *f, size_t limit)
{
    json_t *arr = json_array();
    json_t *out = json_object();
    size_t matched = 0;
    size_t i;
    size_t start = 0;

    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->n; i++)
        if (rec_matches(rec_at(s, i), f))
            matched++;
    /* skip the oldest matches so that the newest `limit` remain */
    for (i = 0; i < s->n; i++) {
        struct rec *r = rec_at(s, i);

        if (!rec_matches(r, f))
            continue;
        if (matched - start > limit) {
            start++;
            continue;
        }
        json_array_append_new(arr, rec_json(r));
    }
    json_object_set_new(out, "last_seq", json_integer((json_int_t)s->seq));
    pthread_mutex_unlock(&s->mu);
    json_object_set_new(out, "matched", json_integer((json_int_t)matched));
    json_object_set_new(out, "records", arr);
    return out;
}

uint64_t
sim_store_count(struct sim_store *s, const struct sim_filter *f)
{
    uint64_t n = 0;
    size_t i;

    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->n; i++)
        if (rec_matches(rec_at(s, i), f))
            n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

json_t *
sim_store_counts(struct sim_store *s)
{
    json_t *out = json_object();
    int p;
    int i;

    pthread_mutex_lock(&s->mu);
    for (p = 0; p < SIM_NPROV; p++) {
        const struct pcount *snd = &s->pc[p][SIM_EP_SEND];
        const struct pcount *tok = &s->pc[p][SIM_EP_TOKEN];
        json_t *po = json_object();
        json_t *so = json_object();
        json_t *to = json_object();

        json_object_set_new(po, "requests",
                            json_integer((json_int_t)snd->requests));
        json_object_set_new(po, "accepted",
                            json_integer((json_int_t)snd->accepted));
        json_object_set_new(po, "delivered",
                            json_integer((json_int_t)snd->delivered));
        json_object_set_new(po, "outcomes", so);
        json_object_set_new(to, "requests",
                            json_integer((json_int_t)tok->requests));
        json_object_set_new(to, "issued",
                            json_integer((json_int_t)tok->issued));
        json_object_set_new(to, "outcomes", json_object());
        json_object_set_new(po, "token", to);
        json_object_set_new(out, sim_provider_name((enum sim_provider)p), po);
    }
    for (i = 0; i < s->nkeys; i++) {
        const struct okey *k = &s->keys[i];
        json_t *po = json_object_get(
            out, sim_provider_name((enum sim_provider)k->provider));
        json_t *oc =
            k->kind == SIM_EP_SEND
                ? json_object_get(po, "outcomes")
                : json_object_get(json_object_get(po, "token"), "outcomes");

        json_object_set_new(oc, k->outcome, json_integer((json_int_t)k->n));
    }
    json_object_set_new(out, "last_seq", json_integer((json_int_t)s->seq));
    pthread_mutex_unlock(&s->mu);
    return out;
}

void
sim_store_reset(struct sim_store *s)
{
    pthread_mutex_lock(&s->mu);
    drop_records(s);
    memset(s->pc, 0, sizeof(s->pc));
    s->nkeys = 0;
    pthread_mutex_unlock(&s->mu);
}

int
sim_store_wait(struct sim_store *s, const struct sim_filter *f, uint64_t count,
               uint64_t deadline_mono_ms, sim_wait_fn *fn, void *ud,
               struct hd_err *err)
{
    uint64_t seen = 0;
    size_t i;

    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->n; i++)
        if (rec_matches(rec_at(s, i), f))
            seen++;
    if (seen >= count) {
        pthread_mutex_unlock(&s->mu);
        fn(ud, 1, seen);
        return 0;
    }
    if (s->nw >= SIM_WAITERS_MAX) {
        pthread_mutex_unlock(&s->mu);
        return hd_err_set(err, HD_ETOOBIG, "at most %d waits at once",
                          SIM_WAITERS_MAX);
    }
    s->w[s->nw++] = (struct waiter){*f, count, seen, deadline_mono_ms, fn, ud};
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Ends the waits selected by pred (all when now is 0). */
static void
end_waits(struct sim_store *s, uint64_t now)
{
    struct fired fire[SIM_WAITERS_MAX];
    int nf = 0;
    int i;

    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->nw;) {
        struct waiter *w = &s->w[i];

        if (now == 0 || w->deadline <= now) {
            fire[nf++] = (struct fired){w->fn, w->ud, 0, w->seen};
            s->w[i] = s->w[--s->nw];
            continue;
        }
        i++;
    }
    pthread_mutex_unlock(&s->mu);
    for (i = 0; i < nf; i++)
        fire[i].fn(fire[i].ud, 0, fire[i].seen);
}

void
sim_store_tick(struct sim_store *s, uint64_t now_mono_ms)
{
    end_waits(s, now_mono_ms ? now_mono_ms : 1);
}

void
sim_store_cancel_waits(struct sim_store *s)
{
    end_waits(s, 0);
}
