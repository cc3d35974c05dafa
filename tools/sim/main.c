/* main.c -- herald-sim: wiring only.
 *
 * `herald-sim gen DIR` writes credentials and exits; otherwise the
 * simulator serves every provider on HERALD_SIM_PORT (TLS) and the control
 * API on HERALD_SIM_CONTROL_PORT until SIGTERM/SIGINT. main()'s thread
 * only times out control-API waits. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "service/runtime.h"
#include "core/shutdown.h"
#include "tools/sim/control.h"
#include "tools/sim/creds.h"
#include "tools/sim/gen.h"
#include "tools/sim/net/server.h"
#include "tools/sim/ctx.h"
#include "tools/sim/store.h"
#include "core/banned.h"

#define TICK_MS 20

static int
gen_command(int argc, char **argv, int argi)
{
    struct hd_err err = {0};

    if (argi + 2 != argc || strcmp(argv[argi], "gen") != 0) {
        hd_log(HD_LOG_FATAL, 0, "usage: herald-sim [gen DIR] (try --help)");
        return HD_EXIT_CONFIG;
    }
    if (sim_gen(argv[argi + 1], &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "gen %s: %s", argv[argi + 1], err.msg);
        return 1;
    }
    printf("credentials in %s (variables: %s/%s)\n", argv[argi + 1],
           argv[argi + 1], SIM_FILE_ENV);
    return 0;
}

int
main(int argc, char **argv)
{
    struct sim_ctx ctx;
    struct hd_config_section secs[1];
    struct hd_runtime_desc desc;
    struct sim_control control;
    struct sim_server *srv = NULL;
    struct hd_runtime rt;
    struct hd_err err = {0};
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    secs[0] = (struct hd_config_section){sim_config_fields, &ctx.cfg};
    desc = (struct hd_runtime_desc){
        "herald-sim",
        "FCM, APNs and HMS simulator (TLS, HTTP/2) with a control API",
        "  gen DIR   write a test CA, the server certificate and provider\n"
        "            credentials into DIR, keeping files that exist\n",
        "HERALD_SIM_CONTROL_PORT",
        8444,
        secs,
        1,
        "the control API (/control/...)",
        NULL, /* a test tool: metrics and readiness details on the control
                 port, never public */
        0,
    };
    rc = hd_runtime_init(&rt, &desc, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : HD_EXIT_CONFIG;
    if (rt.svc.argi < argc) {
        rc = gen_command(argc, argv, rt.svc.argi);
        hd_runtime_release(&rt);
        return rc;
    }
    if (sim_ctx_init(&ctx, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        hd_runtime_release(&rt);
        return HD_EXIT_CONFIG;
    }
    srv = sim_server_new(&ctx, &err);
    if (srv == NULL) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        rc = 1;
        goto out;
    }
    control = (struct sim_control){&ctx, srv, 0};
    if (hd_runtime_serve(&rt, sim_control_routes, sim_control_nroutes, &control,
                         NULL) < 0) {
        rc = 1;
        goto out;
    }
    control.control_port = rt.port;
    if (sim_server_start(srv, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        rc = 1;
        goto out;
    }
    hd_log(HD_LOG_INFO, 0,
           "serving APNs, FCM, HMS and OAuth on TLS port %d, control API on "
           "port %d",
           sim_server_port(srv), rt.port);
    while (!hd_shutdown_wait(TICK_MS))
        sim_store_tick(ctx.store, hd_now_mono_ms());
    hd_runtime_drain(&rt);
    rc = 0;
out:
    /* I/O threads first (they read the configuration), then the control
     * API (its handlers may still wake the server), then the rest */
    if (srv != NULL)
        sim_server_stop(srv);
    if (ctx.store != NULL)
        sim_store_cancel_waits(ctx.store);
    hd_runtime_release(&rt);
    sim_server_free(srv);
    sim_ctx_release(&ctx);
    return rc;
}
