/* hub_dispatch.c -- from an event to the connections: handing it to
 * every service thread's inbox, and routing it on each to the members of
 * its group (specs/bitwarden.md 3.4-3.5).
 *
 * The notification is encoded once per protocol when the event is built;
 * each thread wraps the shared frames in its own lframe only if one of its
 * connections receives it. ContextId is never filtered here: clients drop
 * their own echoes (specs/bitwarden.md 1.8). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/limits.h"
#include "services/hub/hub_conn.h"
#include "services/hub/hub_dispatch.h"
#include "core/banned.h"

static void
observe_lag(struct hub_ctx *hub, const struct hub_event *e, int64_t now_ms)
{
    int64_t lag;

    if (e->created_ms <= 0)
        return;
    lag = now_ms - e->created_ms;
    hd_histogram_observe(hub->m.lag, lag > 0 ? (double)lag / 1000.0 : 0);
}

/* Caller holds th->mu: waits (block) up to 10 ms at a time while the
 * inbox is full, waking the thread first if what this batch added has
 * not been announced yet. Returns 1 if there is room. */
static int
room(struct hub_thread *th, int block, int *announce)
{
    struct timespec ts;

    while (block && !th->gone && th->ninbox >= HD_HUB_INBOX_MAX) {
        if (*announce) {
            lws_cancel_service(th->lws);
            *announce = 0;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&th->cond, &th->mu, &ts);
    }
    return !th->gone && th->ninbox < HD_HUB_INBOX_MAX;
}

/* Appends the n events to th's inbox under one lock, and wakes the
 * thread once: when the first of them lands in an empty inbox (a
 * non-empty one already has a wake-up pending). A missed event is
 * released and flagged in failed[]. */
static void
hand_to(struct hub_thread *th, struct hub_event *const *ev, size_t n, int block,
        unsigned char *failed)
{
    int announce = 0;
    size_t i;

    pthread_mutex_lock(&th->mu);
    for (i = 0; i < n; i++) {
        if (!room(th, block, &announce)) {
            hub_event_release(ev[i]);
            failed[i] = 1;
            continue;
        }
        if (th->ninbox == th->capinbox) {
            th->capinbox = th->capinbox ? th->capinbox * 2 : 16;
            th->inbox =
                hd_xrealloc(th->inbox, th->capinbox * sizeof(*th->inbox));
        }
        if (th->ninbox == 0)
            announce = 1;
        th->inbox[th->ninbox++] = ev[i];
    }
    if (announce)
        lws_cancel_service(th->lws);
    pthread_mutex_unlock(&th->mu);
}

size_t
hub_dispatch_batch(struct hub_ctx *hub, struct hub_event *const *ev, size_t n,
                   int block, unsigned char *failed)
{
    int64_t now = hd_now_wall_ms();
    size_t i, nfailed = 0;
    int t;

    memset(failed, 0, n);
    for (i = 0; i < n; i++) {
        observe_lag(hub, ev[i], now);
        hub_event_hold(ev[i], hub->nthreads);
    }
    for (t = 0; t < hub->nthreads; t++)
        hand_to(&hub->threads[t], ev, n, block, failed);
    for (i = 0; i < n; i++) {
        nfailed += failed[i];
        hub_event_release(ev[i]);
    }
    return nfailed;
}

int
hub_dispatch(struct hub_ctx *hub, struct hub_event *e, int block)
{
    unsigned char failed;

    return hub_dispatch_batch(hub, &e, 1, block, &failed) ? -1 : 0;
}

/* ---- routing on a service thread -------------------------------------- */

struct route {
    struct hub_thread *th;
    struct hub_event *e;
    struct hub_lframe *lf[HUB_PROTO__COUNT];
};

static void
deliver(struct route *r, struct hub_conn *c)
{
    struct hub_lframe *lf;

    if (c->state != HUB_CS_OPEN)
        return;
    if (r->e->client_type != 0 && c->client_type != r->e->client_type)
        return;
    lf = r->lf[c->proto];
    if (lf == NULL) {
        lf = hub_lframe_new(r->e->frames[c->proto]);
        r->lf[c->proto] = lf;
    }
    hub_conn_push(r->th, c, lf);
}

static void
deliver_group(struct route *r, char prefix, const char *id)
{
    struct hub_member *m, *next;
    char key[HD_ID_MAX + 8];
    int n;

    n = snprintf(key, sizeof(key), "%c:%s", prefix, id);
    if (n < 0 || (size_t)n >= sizeof(key))
        return;
    for (m = hub_registry_members(&r->th->reg, key, (size_t)n); m; m = next) {
        next = m->next; /* pushes never leave groups, but be safe */
        deliver(r, m->owner);
    }
}

void
hub_route(struct hub_thread *th, struct hub_event *e)
{
    const char *inst = th->hub->cfg.installation_id;
    struct route r = {th, e, {NULL, NULL}};
    struct hub_conn *c, *next;
    int p;

    if (e->target_id == NULL)
        return;
    switch (e->target) {
    case HD_TARGET_USER:
        deliver_group(&r, 'u', e->target_id);
        break;
    case HD_TARGET_ORGANIZATION:
        deliver_group(&r, 'o', e->target_id);
        break;
    case HD_TARGET_AUTH_REQUEST:
        deliver_group(&r, 'a', e->target_id);
        break;
    case HD_TARGET_INSTALLATION:
        /* every main-hub connection is in Installation_<own id> */
        if (inst == NULL || strcmp(inst, e->target_id) != 0)
            break;
        for (c = th->conns; c; c = next) {
            next = c->next;
            if (c->kind == HUB_KIND_MAIN)
                deliver(&r, c);
        }
        break;
    default:
        break;
    }
    for (p = 0; p < HUB_PROTO__COUNT; p++) {
        if (r.lf[p])
            hub_lframe_unref(r.lf[p]);
    }
}
