/* sim.c -- what every simulator module may use: provider names, the
 * virtual clock, the id counter and the default latency. Nothing here
 * calls another simulator file. */
#include <string.h>

#include "core/clock.h"
#include "core/rand.h"
#include "tools/sim/sim.h"
#include "core/banned.h"

static const char *const provider_names[SIM_NPROV] = {"apns", "fcm", "hms",
                                                      "webpush"};

const char *
sim_provider_name(enum sim_provider p)
{
    return (unsigned)p < SIM_NPROV ? provider_names[p] : "unknown";
}

int
sim_provider_parse(const char *name, enum sim_provider *out)
{
    int i;

    for (i = 0; i < SIM_NPROV; i++) {
        if (strcmp(name, provider_names[i]) == 0) {
            *out = (enum sim_provider)i;
            return 0;
        }
    }
    return -1;
}

int64_t
sim_now_ms(const struct sim_ctx *ctx)
{
    return hd_now_wall_ms() +
           atomic_load_explicit(&ctx->clock_offset_ms, memory_order_relaxed);
}

uint64_t
sim_next_id(struct sim_ctx *ctx)
{
    return atomic_fetch_add_explicit(&ctx->ids, 1, memory_order_relaxed) + 1;
}

int
sim_default_delay_ms(struct sim_ctx *ctx, enum sim_provider p)
{
    int ms = atomic_load_explicit(&ctx->latency[p].ms, memory_order_relaxed);
    int j =
        atomic_load_explicit(&ctx->latency[p].jitter_ms, memory_order_relaxed);

    if (j > 0)
        ms += (int)(hd_rand_u64() % (uint64_t)(j + 1));
    return ms;
}
