/* conns.c -- hub_load's connections: tokens minted, connections opened
 * at a rate from several source addresses, one epoll loop, the client's
 * keep-alive pings, retries of those that never opened, a JSON line of
 * counters every --stats-ms. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "bench/hub_load/hub_load.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/banned.h"

static char *
mint(const struct opts *o, struct hd_jwt_key *k, int i)
{
    json_t *c = json_object();
    struct hd_buf out;
    char sub[64];

    if (o->nuser_ids > 0)
        snprintf(sub, sizeof(sub), "%s", o->user_ids[i % o->nuser_ids]);
    else
        snprintf(sub, sizeof(sub), "load-%d", i % o->users);
    json_object_set_new(c, "sub", json_string(sub));
    json_object_set_new(c, "exp", json_integer(time(NULL) + 86400));
    json_object_set_new(c, "devicetype", json_string("ChromeBrowser"));
    json_object_set_new(c, "scope", json_pack("[s]", "api"));
    if (o->org)
        json_object_set_new(c, "orgowner", json_string(o->org));
    hd_buf_init(&out, 16384);
    hd_jwt_sign(k, NULL, c, &out, NULL);
    json_decref(c);
    return hd_buf_detach(&out, NULL);
}

int
load_run_conns(const struct opts *o, const load_stop_flag *stop)
{
    struct lconn *cs = hd_xcalloc((size_t)o->conns, sizeof(*cs));
    struct epoll_event evs[1024];
    unsigned char *rbuf = hd_xmalloc(RBUF);
    struct hd_jwt_key *key;
    struct stats s;
    int64_t t0 = load_mono_ms(), last_stats = t0, last_ping_s = 0, now;
    int64_t last_retry_s = 0;
    int ep = epoll_create1(EPOLL_CLOEXEC), opened = 0, n, i;
    char **toks;

    memset(&s, 0, sizeof(s));
    toks = hd_xcalloc((size_t)o->conns, sizeof(*toks));
    if (o->secret) {
        key = hd_jwt_key_hmac(o->secret, strlen(o->secret), NULL);
        for (i = 0; i < o->conns; i++)
            toks[i] = mint(o, key, i);
        hd_jwt_key_free(key);
    } else {
        for (i = 0; i < o->conns; i++)
            toks[i] = hd_xstrdup("none");
    }
    t0 = load_mono_ms();
    while (!*stop) {
        now = load_mono_ms();
        /* open at the configured rate */
        while (opened < o->conns &&
               opened < (int)((now - t0 + 1) * o->rate / 1000) + 1) {
            if (load_open(&cs[opened], o, opened, ep) < 0) {
                s.failed++;
                cs[opened].state = L_DEAD;
                cs[opened].fd = -1;
            }
            opened++;
        }
        if (o->batch_ms > 0) /* let reads accumulate: fewer, larger reads */
            usleep((useconds_t)o->batch_ms * 1000);
        n = epoll_wait(ep, evs, 1024, 10);
        for (i = 0; i < n; i++) {
            uint32_t idx = evs[i].data.u32;
            struct lconn *c = &cs[idx];

            if (c->state == L_DEAD)
                continue;
            if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
                c->state == L_CONNECTING) {
                s.failed++;
                c->state = L_DEAD;
            } else if (c->state == L_CONNECTING && (evs[i].events & EPOLLOUT)) {
                load_upgrade(c, o, toks[idx], ep, (int)idx);
            } else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                load_on_readable(c, &s, o, rbuf);
            }
            if (c->state == L_DEAD) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                free(c->pend);
                c->pend = NULL;
            }
        }
        now = load_mono_ms();
        /* the client's keep-alive: each connection every o->ping s; the
         * seconds a slow pass skipped are caught up, or their connections
         * would miss a ping and time out on a loaded machine */
        if (o->ping > 0 && now / 1000 != last_ping_s) {
            int64_t from = last_ping_s ? last_ping_s + 1 : now / 1000;
            int64_t span;

            last_ping_s = now / 1000;
            span = last_ping_s - from; /* seconds due: from .. now */
            for (i = 0; i < opened; i++) {
                if (cs[i].state == L_OPEN &&
                    (span >= o->ping ||
                     ((cs[i].ping_slot - from) % o->ping + o->ping) % o->ping <=
                         span))
                    load_ws_send(&cs[i], o->json ? 0x1 : 0x2,
                                 o->json ? "{\"type\":6}\x1e" : "\x02\x91\x06",
                                 o->json ? 11 : 3);
            }
        }
        /* a connection that failed before opening is retried each second,
         * up to 5 times, as a real client reconnects */
        if (now / 1000 != last_retry_s) {
            last_retry_s = now / 1000;
            for (i = 0; i < opened; i++) {
                if (cs[i].state != L_DEAD || cs[i].ever || cs[i].tries >= 5)
                    continue;
                cs[i].tries++;
                s.retries++;
                s.failed--;
                if (load_open(&cs[i], o, i, ep) < 0) {
                    s.failed++;
                    cs[i].state = L_DEAD;
                    cs[i].fd = -1;
                }
            }
        }
        if (now - last_stats >= o->stats_ms) {
            last_stats = now;
            load_report(&s, t0, 0);
        }
        if (o->expect > 0 && s.deliveries >= o->expect)
            break;
        if (now - t0 >= (int64_t)o->duration * 1000)
            break;
    }
    load_report(&s, t0, 1);
    for (i = 0; i < o->conns; i++) {
        if (cs[i].fd > 0 && cs[i].state != L_DEAD)
            close(cs[i].fd);
        free(cs[i].pend);
        free(toks[i]);
    }
    free(toks);
    free(cs);
    free(rbuf);
    free(s.lat);
    close(ep);
    return 0;
}
