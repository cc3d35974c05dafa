/* stats.c -- what hub_load counts: deliveries with their latency from the
 * sender's BenchTs, and the JSON lines it prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/hub_load/hub_load.h"
#include "core/alloc.h"
#include "core/banned.h"

int64_t
load_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
load_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
load_record(struct stats *s, const unsigned char *p, size_t n, int json)
{
    const unsigned char *m = memmem(p, n, "BenchTs", 7);
    int64_t ts = 0, lat;
    size_t i;

    s->deliveries++;
    if (m == NULL)
        return;
    m += 7;
    if (json) {
        m += 2; /* ": */
        while (m < p + n && *m >= '0' && *m <= '9')
            ts = ts * 10 + (*m++ - '0');
    } else if (m < p + n) {
        unsigned char tag = *m++;
        int bytes = tag == 0xcf ? 8 : tag == 0xce ? 4 : tag == 0xcd ? 2 : 0;

        if (tag < 0x80)
            ts = tag;
        for (i = 0; i < (size_t)bytes && m < p + n; i++)
            ts = (ts << 8) | *m++;
    }
    lat = load_now_us() - ts;
    if (ts <= 0 || lat < 0)
        return;
    if (s->nlat == s->caplat) {
        if (s->caplat >= 50000000)
            return;
        s->caplat = s->caplat ? s->caplat * 2 : 1 << 16;
        s->lat = hd_xrealloc(s->lat, s->caplat * sizeof(*s->lat));
    }
    s->lat[s->nlat++] = lat > 0xffffffffLL ? 0xffffffffu : (uint32_t)lat;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

void
load_report(struct stats *s, int64_t t0, int final)
{
    printf("{\"t\":%.3f,\"open\":%lld,\"failed\":%lld,\"closed\":%lld,"
           "\"deliveries\":%lld,\"pings\":%lld,\"bytes\":%lld,"
           "\"retries\":%lld%s",
           (double)(load_mono_ms() - t0) / 1000.0, s->open, s->failed,
           s->closed, s->deliveries, s->pings, s->bytes, s->retries,
           final ? "" : "}\n");
    if (final) {
        if (s->nlat > 0) {
            qsort(s->lat, s->nlat, sizeof(*s->lat), cmp_u32);
            printf(",\"lat_us\":{\"n\":%zu,\"p50\":%u,\"p90\":%u,\"p99\":%u,"
                   "\"p999\":%u,\"max\":%u}",
                   s->nlat, s->lat[s->nlat / 2], s->lat[s->nlat * 9 / 10],
                   s->lat[s->nlat * 99 / 100], s->lat[s->nlat * 999 / 1000],
                   s->lat[s->nlat - 1]);
        }
        printf(",\"done\":true}\n");
    }
    fflush(stdout);
}
