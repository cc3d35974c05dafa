/* sim_fixture.h -- a herald-sim context for unit tests: credentials
 * generated into a temporary directory, configuration at its defaults,
 * and helpers that build one request and dispatch it.
 *
 * Header-only (static functions) so that each test_sim_*.c stays one
 * binary without a shared support object; it drives the providers through
 * sim_dispatch(), the same entry point the transports use. */
#ifndef HD_TEST_SIM_FIXTURE_H
#define HD_TEST_SIM_FIXTURE_H

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/config.h"
#include "tools/sim/creds.h"
#include "tools/sim/ctx.h"
#include "tools/sim/exchange.h"
#include "tools/sim/gen.h"
#include "tools/sim/route.h"
#include "tools/sim/sim.h"

struct fx {
    char dir[64];
    struct sim_ctx ctx;
    struct hd_config_section sec;
    struct sim_peer peer;
    struct sim_req req;
    struct sim_resp resp;
};

static inline void
fx_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char *p;

        if (e->d_name[0] == '.')
            continue;
        p = hd_xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Creates the temporary directory and generates credentials in it. */
static inline int
fx_prepare(struct fx *f)
{
    struct hd_err err = {0};

    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/herald-sim-unit.XXXXXX");
    if (mkdtemp(f->dir) == NULL || sim_gen(f->dir, &err) < 0) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Loads the default configuration and the context over f->dir (after
 * fx_prepare). extra_apns is HERALD_SIM_APNS_KEYS (may be NULL). */
static inline int
fx_start(struct fx *f, const char *extra_apns)
{
    struct hd_err err = {0};

    f->sec.fields = sim_config_fields;
    f->sec.base = &f->ctx.cfg;
    if (hd_config_load(&f->sec, 1, &err) < 0) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        return -1;
    }
    free(f->ctx.cfg.creds_dir);
    f->ctx.cfg.creds_dir = hd_xstrdup(f->dir);
    if (extra_apns != NULL) {
        free(f->ctx.cfg.apns_keys);
        f->ctx.cfg.apns_keys = hd_xstrdup(extra_apns);
    }
    if (sim_ctx_init(&f->ctx, &err) < 0) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        return -1;
    }
    sim_peer_init(&f->peer, 1);
    sim_req_init(&f->req, (size_t)f->ctx.cfg.max_body);
    sim_resp_init(&f->resp);
    return 0;
}

/* fx_prepare + fx_start. Returns 0 or -1. */
static inline int
fx_init(struct fx *f, const char *extra_apns)
{
    if (fx_prepare(f) < 0)
        return -1;
    return fx_start(f, extra_apns);
}

static inline void
fx_release(struct fx *f)
{
    sim_req_release(&f->req);
    sim_resp_release(&f->resp);
    sim_peer_release(&f->peer);
    sim_ctx_release(&f->ctx);
    hd_config_release(&f->sec, 1);
    fx_rmdir(f->dir);
}

/* Builds a request from name/value pairs (NULL-terminated) and a body,
 * dispatches it and returns the response status. */
static inline int
fx_send(struct fx *f, const char *body, ...)
{
    va_list ap;
    const char *name;

    sim_req_reset(&f->req);
    sim_resp_reset(&f->resp);
    f->req.proto = "h2";
    va_start(ap, body);
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);

        sim_req_add_header(&f->req, name, strlen(name), value, strlen(value));
    }
    va_end(ap);
    if (body != NULL)
        sim_req_add_body(&f->req, body, strlen(body));
    sim_dispatch(&f->ctx, &f->peer, &f->req, &f->resp);
    return f->resp.status;
}

/* The response body as a C string ("" when empty). */
static inline const char *
fx_body(const struct fx *f)
{
    return f->resp.body.len ? f->resp.body.data : "";
}

/* Reads a one-line credential file of the fixture into out. */
static inline void
fx_read(const struct fx *f, const char *name, char *out, size_t outlen)
{
    char *p = hd_xasprintf("%s/%s", f->dir, name);
    char *v = sim_read_text(p, 4096, NULL);

    snprintf(out, outlen, "%s", v ? v : "");
    free(v);
    free(p);
}

#endif
