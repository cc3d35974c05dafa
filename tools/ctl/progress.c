/* progress.c -- heraldctl import's progress on stderr: on a terminal one
 * line redrawn in place (a bar, lines, rate, ETA, bad lines); otherwise
 * a plain line every --progress seconds, for logs.
 *
 * The share done is measured in bytes of the input, so it needs no
 * first pass to count lines; without a size (a pipe) there is no bar and
 * no ETA. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "tools/ctl/import.h"
#include "core/banned.h"

#define BAR 24

void
import_progress_init(struct import_progress *p, const struct ctl *c,
                     long long total, long long start_off, int interval_ms)
{
    memset(p, 0, sizeof(*p));
    p->c = c;
    p->tty = c->err_tty;
    p->total = total;
    p->start_off = start_off;
    p->t0_ms = hd_now_mono_ms();
    p->last_ms = p->t0_ms;
    p->interval_ms = interval_ms;
}

static void
eta(char *buf, size_t len, double s)
{
    long long t = (long long)(s + 0.5);

    if (t >= 3600)
        snprintf(buf, len, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%lld:%02lld", t / 60, t % 60);
}

void
import_progress_tick(struct import_progress *p, long long offset,
                     long long done, long long ok, long long bad, int force)
{
    uint64_t now = hd_now_mono_ms();
    double secs = (double)(now - p->t0_ms) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    double share = p->total > 0 ? (double)offset / (double)p->total : -1;
    double left = -1;
    char when[32] = "?";

    if (!force && now - p->last_ms < (uint64_t)(p->tty ? 200 : p->interval_ms))
        return;
    p->last_ms = now;
    if (share > 1)
        share = 1;
    if (share >= 0 && offset > p->start_off && secs > 0) {
        double bps = (double)(offset - p->start_off) / secs;

        left = bps > 0 ? (double)(p->total - offset) / bps : -1;
        if (left >= 0)
            eta(when, sizeof(when), left);
    }
    if (p->tty) {
        char bar[BAR * 3 + 1];
        size_t i, n = 0, full = share >= 0 ? (size_t)(share * BAR) : 0;

        for (i = 0; i < BAR; i++) {
            const char *g = i < full ? "█" : "░";

            memcpy(bar + n, g, strlen(g));
            n += strlen(g);
        }
        bar[n] = '\0';
        fprintf(stderr, "\r\033[K");
        if (share >= 0)
            fprintf(stderr, "%s%s%s %3.0f%%  ", ctl_ecol(p->c, CTL_C_CYAN), bar,
                    ctl_ecol(p->c, CTL_C_NONE), share * 100);
        fprintf(stderr, "%lld lines  %.0f/s", done, rate);
        if (left >= 0)
            fprintf(stderr, "  ETA %s", when);
        if (bad > 0)
            fprintf(stderr, "  %s%lld bad%s", ctl_ecol(p->c, CTL_C_RED), bad,
                    ctl_ecol(p->c, CTL_C_NONE));
        fflush(stderr);
        p->drawn = 1;
        return;
    }
    fprintf(stderr, "heraldctl import: %lld lines done", done);
    if (share >= 0)
        fprintf(stderr, " (%.1f%%)", share * 100);
    fprintf(stderr, ", %lld registered, %lld bad, %.0f lines/s", ok, bad, rate);
    if (left >= 0)
        fprintf(stderr, ", ETA %s", when);
    fputc('\n', stderr);
}

void
import_progress_clear(struct import_progress *p)
{
    if (p->tty && p->drawn) {
        fprintf(stderr, "\r\033[K");
        p->drawn = 0;
    }
}
