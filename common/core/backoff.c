/* backoff.c -- full jitter ("Exponential Backoff And Jitter", AWS
 * architecture blog) and RFC 9110 Retry-After parsing. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/backoff.h"
#include "core/config.h"
#include "core/banned.h"

uint64_t
hd_backoff_delay(const struct hd_backoff *b, unsigned attempt,
                 const struct hd_rand *rnd)
{
    uint64_t ceil = b->base_ms;
    unsigned i;

    for (i = 0; i < attempt && ceil < b->cap_ms; i++)
        ceil *= 2;
    if (ceil > b->cap_ms)
        ceil = b->cap_ms;
    if (ceil == 0)
        return 0;
    return rnd->next(rnd->ud) % (ceil + 1);
}

static int
month_index(const char *m)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec"};
    int i;

    for (i = 0; i < 12; i++)
        if (strncasecmp(m, names[i], 3) == 0)
            return i;
    return -1;
}

/* Parses the three HTTP-date forms into seconds since the epoch. */
static int
parse_http_date(const char *v, int64_t *secs)
{
    char wday[16], mon[4], zone[4];
    int d, y, hh, mm, ss;
    struct tm tm;
    int n = 0;

    memset(&tm, 0, sizeof(tm));
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    if (sscanf(v, "%15[A-Za-z], %d %3s %d %d:%d:%d %3s%n", wday, &d, mon, &y,
               &hh, &mm, &ss, zone, &n) == 8 &&
        v[n] == '\0') {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    } else if (sscanf(v, "%15[A-Za-z], %d-%3s-%d %d:%d:%d %3s%n", wday, &d, mon,
                      &y, &hh, &mm, &ss, zone, &n) == 8 &&
               v[n] == '\0') {
        y += (y < 70) ? 2000 : (y < 100 ? 1900 : 0);
        /* asctime: Sun Nov  6 08:49:37 1994 */
    } else if (sscanf(v, "%15s %3s %d %d:%d:%d %d%n", wday, mon, &d, &hh, &mm,
                      &ss, &y, &n) == 7 &&
               v[n] == '\0') {
        memcpy(zone, "GMT", 4);
    } else {
        return -1;
    }
    if (strcmp(zone, "GMT") != 0 || month_index(mon) < 0 || d < 1 || d > 31 ||
        hh > 23 || mm > 59 || ss > 60 || y < 1970 || hh < 0 || mm < 0 || ss < 0)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = month_index(mon);
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    *secs = (int64_t)timegm(&tm);
    return 0;
}

int
hd_retry_after_parse(const char *value, int64_t now_wall_ms, uint64_t *delay_ms)
{
    long long secs;
    int64_t at;

    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (hd_parse_ll(value, 0, 365LL * 24 * 3600, &secs) == 0) {
        *delay_ms = (uint64_t)secs * 1000u;
        return 0;
    }
    if (parse_http_date(value, &at) < 0)
        return -1;
    at *= 1000;
    *delay_ms = at > now_wall_ms ? (uint64_t)(at - now_wall_ms) : 0;
    return 0;
}

int
hd_backoff_next(const struct hd_backoff *b, unsigned attempt,
                uint64_t retry_after_ms, int64_t now_wall_ms,
                int64_t expire_at_ms, const struct hd_rand *rnd,
                int64_t *at_wall_ms)
{
    uint64_t delay = hd_backoff_delay(b, attempt, rnd);
    int64_t at;

    if (retry_after_ms > delay)
        delay = retry_after_ms;
    at = now_wall_ms + (int64_t)delay;
    if (expire_at_ms > 0 && at >= expire_at_ms)
        return -1;
    *at_wall_ms = at;
    return 0;
}
