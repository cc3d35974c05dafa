/* credential.c -- struct hd_pushauth: the credential, its generation, and
 * the refresh schedule, under one mutex.
 *
 * The fetch runs without the lock, so readers always get the previous
 * credential while a new one is being fetched. Only one fetch ever runs
 * (the thread, or the caller of hd_pushauth_tick()): single-flight by
 * construction. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/alloc.h"
#include "http/client.h"
#include "core/json.h"
#include "push/credential.h"
#include "core/thread.h"
#include "core/banned.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000
#define CONFIG_RETRY_MS 300000
#define IDLE_WAIT_MS 1000

struct hd_pushauth {
    struct hd_pushauth_opts o;
    const struct hd_clock *clock;
    pthread_mutex_t m;
    pthread_cond_t cv;
    struct hd_buf value;
    int have; /* value holds a credential not rejected */
    unsigned gen;
    int64_t expires_ms;
    int64_t fetched_ms;  /* last successful fetch */
    int64_t next_try_ms; /* after a failure */
    unsigned failures;
    int config_error;
    struct hd_err last;
    unsigned long nok, nfail;
    int stop;
    int threaded;
    pthread_t thread;
};

#define OAUTH_TIMEOUT_MS 10000

/* When the next fetch is due (wall ms); <= now means now. Locked. */
static int64_t
due_at(const struct hd_pushauth *a)
{
    int64_t at, life, before;

    if (!a->have) {
        at = 0;
    } else {
        /* a credential shorter-lived than the margin refreshes at half
         * its life, so a tiny expires_in cannot make us spin */
        life = a->expires_ms - a->fetched_ms;
        before = a->o.refresh_before_ms;
        if (before > life / 2)
            before = life / 2;
        at = a->expires_ms - before;
    }
    return at > a->next_try_ms ? at : a->next_try_ms;
}

static int64_t
backoff_ms(unsigned failures, int config)
{
    int64_t d = RETRY_MIN_MS;
    unsigned i;

    if (config)
        return CONFIG_RETRY_MS;
    for (i = 1; i < failures && d < RETRY_MAX_MS; i++)
        d *= 2;
    return d < RETRY_MAX_MS ? d : RETRY_MAX_MS;
}

/* Fetches once (no lock held on entry) and stores the outcome. */
static void
fetch_once(struct hd_pushauth *a)
{
    struct hd_buf v;
    struct hd_err err = {0};
    int64_t exp = 0;
    int64_t now;
    int rc;

    hd_buf_init(&v, HD_PUSHAUTH_MAX);
    rc = a->o.fetch(a->o.ud, &v, &exp, &err);
    now = hd_clock_wall_ms(a->clock);
    pthread_mutex_lock(&a->m);
    if (rc == 0 && v.len > 0) {
        hd_buf_reset(&a->value);
        hd_buf_append(&a->value, v.data, v.len, NULL);
        a->have = 1;
        a->gen++;
        a->expires_ms = exp;
        a->fetched_ms = now;
        a->next_try_ms = now + RETRY_MIN_MS; /* at most one fetch a second */
        a->failures = 0;
        a->config_error = 0;
        hd_err_clear(&a->last);
        a->nok++;
    } else {
        if (rc == 0)
            hd_err_set(&err, HD_EUPSTREAM, "empty credential");
        a->failures++;
        a->config_error = err.code == HD_EAUTH || err.code == HD_EINVAL;
        a->last = err;
        a->next_try_ms = now + backoff_ms(a->failures, a->config_error);
        a->nfail++;
    }
    pthread_mutex_unlock(&a->m);
    hd_buf_release(&v);
    if (a->o.on_change)
        a->o.on_change(a->o.change_ud);
}

int
hd_pushauth_tick(struct hd_pushauth *a)
{
    int due;

    pthread_mutex_lock(&a->m);
    due = due_at(a) <= hd_clock_wall_ms(a->clock);
    pthread_mutex_unlock(&a->m);
    if (!due)
        return 0;
    fetch_once(a);
    return 1;
}

static void *
auth_main(void *arg)
{
    struct hd_pushauth *a = arg;

    pthread_mutex_lock(&a->m);
    while (!a->stop) {
        int64_t now = hd_clock_wall_ms(a->clock);
        int64_t wait = due_at(a) - now;
        struct timespec ts;

        if (wait <= 0) {
            pthread_mutex_unlock(&a->m);
            fetch_once(a);
            pthread_mutex_lock(&a->m);
            continue;
        }
        if (wait > IDLE_WAIT_MS)
            wait = IDLE_WAIT_MS;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&a->cv, &a->m, &ts);
    }
    pthread_mutex_unlock(&a->m);
    return NULL;
}

struct hd_pushauth *
hd_pushauth_new(const struct hd_pushauth_opts *o, struct hd_err *err)
{
    struct hd_pushauth *a = hd_xcalloc(1, sizeof(*a));
    int rc;

    a->o = *o;
    a->clock = o->clock ? o->clock : &hd_clock_system;
    hd_buf_init(&a->value, HD_PUSHAUTH_MAX);
    pthread_mutex_init(&a->m, NULL);
    hd_thread_cond_init(&a->cv);
    if (o->threaded) {
        rc = pthread_create(&a->thread, NULL, auth_main, a);
        if (rc != 0) {
            hd_err_set(err, HD_EIO, "pthread_create: %s", strerror(rc));
            hd_pushauth_free(a);
            return NULL;
        }
        a->threaded = 1;
    }
    return a;
}

void
hd_pushauth_free(struct hd_pushauth *a)
{
    if (a == NULL)
        return;
    if (a->threaded) {
        hd_thread_stop(a->thread, &a->m, &a->cv, &a->stop);
    }
    hd_buf_release(&a->value);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->m);
    free(a);
}

int
hd_pushauth_get(struct hd_pushauth *a, struct hd_buf *out, unsigned *gen,
                struct hd_err *err)
{
    int64_t now = hd_clock_wall_ms(a->clock);
    int rc;

    hd_buf_reset(out);
    pthread_mutex_lock(&a->m);
    if (a->have && now < a->expires_ms) {
        if (hd_buf_append(out, a->value.data, a->value.len, err) < 0)
            rc = -1;
        else
            rc = 1;
        *gen = a->gen;
    } else if (a->config_error) {
        if (err)
            *err = a->last;
        rc = -1;
    } else {
        rc = 0;
    }
    pthread_mutex_unlock(&a->m);
    return rc;
}

int
hd_pushauth_ready(struct hd_pushauth *a, struct hd_err *err)
{
    int64_t now = hd_clock_wall_ms(a->clock);
    int rc = 0;

    pthread_mutex_lock(&a->m);
    if (a->have && now < a->expires_ms) {
        rc = 1;
    } else if (a->config_error) {
        if (err)
            *err = a->last;
        rc = -1;
    }
    pthread_mutex_unlock(&a->m);
    return rc;
}

int
hd_pushauth_reject(struct hd_pushauth *a, unsigned gen)
{
    int64_t now = hd_clock_wall_ms(a->clock);
    int rc = 1;

    pthread_mutex_lock(&a->m);
    if (gen == a->gen && a->have) {
        if (now - a->fetched_ms < a->o.min_interval_ms) {
            rc = 0;
        } else {
            a->have = 0;
            a->next_try_ms = 0;
            pthread_cond_signal(&a->cv);
        }
    }
    pthread_mutex_unlock(&a->m);
    return rc;
}

void
hd_pushauth_counts(struct hd_pushauth *a, unsigned long *ok,
                   unsigned long *failed)
{
    pthread_mutex_lock(&a->m);
    *ok = a->nok;
    *failed = a->nfail;
    pthread_mutex_unlock(&a->m);
}

int
hd_pushauth_oauth(struct hd_httpc *c, const char *url, const char *form,
                  int64_t now_ms, struct hd_buf *value, int64_t *expires_ms,
                  struct hd_err *err)
{
    struct hd_httpc_req q;
    struct hd_httpc_reply r;
    struct hd_err jerr = {0};
    const char *tok = NULL, *e1 = NULL, *e2 = NULL;
    long long ttl = 0;
    json_t *j = NULL, *ev;
    char etext[64] = "";
    int rc = -1;

    memset(&q, 0, sizeof(q));
    q.method = "POST";
    q.url = url;
    q.headers[0] = "Content-Type: application/x-www-form-urlencoded";
    q.headers[1] = "Accept: application/json";
    q.nheaders = 2;
    q.body = form;
    q.len = strlen(form);
    q.timeout_ms = OAUTH_TIMEOUT_MS;
    if (hd_httpc_call(c, &q, &r, err) < 0)
        goto out; /* transport: transient */
    j = hd_json_parse(r.body.data ? r.body.data : "", r.body.len, &jerr);
    if (r.status != 200) {
        if (j != NULL) {
            hd_json_str(j, "", "error_description", 0, 256, &e2, NULL);
            ev = json_object_get(j, "error");
            if (json_is_string(ev))
                e1 = json_string_value(ev);
            else if (json_is_integer(ev))
                snprintf(etext, sizeof(etext), "%lld/%lld",
                         (long long)json_integer_value(ev),
                         (long long)json_integer_value(
                             json_object_get(j, "sub_error")));
        }
        hd_err_set(err,
                   r.status >= 500 || r.status == 429 ? HD_EUPSTREAM : HD_EAUTH,
                   "token endpoint %s: HTTP %d %s %s", url, r.status,
                   e1 ? e1 : etext, e2 ? e2 : "");
        goto out;
    }
    if (j == NULL ||
        hd_json_str(j, "", "access_token", 1, HD_PUSHAUTH_MAX - 32, &tok,
                    &jerr) < 0 ||
        hd_json_int(j, "", "expires_in", 1, 1, 31536000, &ttl, &jerr) < 0) {
        hd_err_set(err, HD_EAUTH, "token endpoint %s: unusable answer: %s", url,
                   jerr.msg);
        goto out;
    }
    hd_buf_reset(value);
    if (hd_buf_printf(value, err, "Authorization: Bearer %s", tok) < 0)
        goto out;
    *expires_ms = now_ms + ttl * 1000;
    rc = 0;
out:
    json_decref(j);
    hd_httpc_reply_release(&r);
    return rc;
}
