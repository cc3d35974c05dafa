/* guard.c -- the endpoint and address checks of guard.h.
 *
 * Address ranges follow the IANA special-purpose registries; anything in
 * them is refused, whatever a resolver answered, so a name that resolves
 * (or later re-resolves) to an internal address gets no connection. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "webpush/guard.h"
#include "core/banned.h"

struct rule {
    char host[HD_WEBPUSH_HOST_MAX + 1]; /* without "*." for a wildcard */
    int wildcard;
    int port;
};

struct hd_webpush_guard {
    struct rule rules[HD_WEBPUSH_RULES_MAX];
    size_t n;
    int sim; /* a simulator address is allowed */
    struct sockaddr_storage sim_addr;
    char sim_connect[HD_WEBPUSH_HOST_MAX + 96]; /* HOST:PORT:IP:PORT */
};

/* ---- addresses ----------------------------------------------------------- */

static int
v4_public(uint32_t a)
{
    static const struct {
        uint32_t net, mask;
    } deny[] = {
        {0x00000000, 0xff000000}, /* 0/8 "this network" */
        {0x0a000000, 0xff000000}, /* 10/8 */
        {0x64400000, 0xffc00000}, /* 100.64/10 CGNAT */
        {0x7f000000, 0xff000000}, /* 127/8 loopback */
        {0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local, metadata */
        {0xac100000, 0xfff00000}, /* 172.16/12 */
        {0xc0000000, 0xffffff00}, /* 192.0.0/24 IETF */
        {0xc0000200, 0xffffff00}, /* 192.0.2/24 TEST-NET-1 */
        {0xc0586300, 0xffffff00}, /* 192.88.99/24 6to4 relay */
        {0xc0a80000, 0xffff0000}, /* 192.168/16 */
        {0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
        {0xc6336400, 0xffffff00}, /* 198.51.100/24 TEST-NET-2 */
        {0xcb007100, 0xffffff00}, /* 203.0.113/24 TEST-NET-3 */
        {0xe0000000, 0xf0000000}, /* 224/4 multicast */
        {0xf0000000, 0xf0000000}, /* 240/4 reserved, broadcast */
    };
    size_t i;

    for (i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
        if ((a & deny[i].mask) == deny[i].net)
            return 0;
    return 1;
}

static uint32_t
v4_at(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int
v6_public(const unsigned char *a)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    static const unsigned char zero[16];

    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_public(v4_at(a + 12)); /* ::ffff:a.b.c.d, 64:ff9b::/96 */
    if (memcmp(a, zero, 12) == 0)
        return 0; /* ::, ::1 and the old IPv4-compatible ::/96 */
    if ((a[0] & 0xfe) == 0xfc)
        return 0; /* fc00::/7 unique local */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return 0; /* fe80::/10 link-local */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return 0; /* fec0::/10 old site-local */
    if (a[0] == 0xff)
        return 0; /* multicast */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return 0; /* 2001:db8::/32 documentation */
    if (a[0] == 0x20 && a[1] == 0x02)
        return v4_public(v4_at(a + 2)); /* 6to4 embeds an IPv4 address */
    if (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, zero, 6) == 0)
        return 0; /* 100::/64 discard */
    return 1;
}

int
hd_webpush_addr_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s =
            (const struct sockaddr_in *)(const void *)sa;

        return v4_public(ntohl(s->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s =
            (const struct sockaddr_in6 *)(const void *)sa;

        return v6_public(s->sin6_addr.s6_addr);
    }
    return 0;
}

static int
same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    if (a->sa_family != b->ss_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x =
            (const struct sockaddr_in *)(const void *)a;
        const struct sockaddr_in *y =
            (const struct sockaddr_in *)(const void *)b;

        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x =
            (const struct sockaddr_in6 *)(const void *)a;
        const struct sockaddr_in6 *y =
            (const struct sockaddr_in6 *)(const void *)b;

        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
    }
    return 0;
}

int
hd_webpush_guard_addr(void *ud, const struct sockaddr *sa)
{
    const struct hd_webpush_guard *g = ud;

    if (g->sim && same_addr(sa, &g->sim_addr))
        return 1;
    return hd_webpush_addr_public(sa);
}

/* ---- hosts and origins --------------------------------------------------- */

int
hd_webpush_host_is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    struct in_addr in;
    const char *last;

    if (host[0] == '[' || strchr(host, ':') != NULL)
        return 1; /* IPv6, bracketed or not */
    /* inet_aton() takes every legacy IPv4 spelling: 2130706433,
     * 0x7f000001, 0177.0.0.1, 127.1 */
    if (inet_aton(host, &in) != 0 || inet_pton(AF_INET, host, buf) == 1)
        return 1;
    /* a URL parser reads a host whose last label is numeric as IPv4 */
    last = strrchr(host, '.');
    last = last ? last + 1 : host;
    if (*last != '\0' && strspn(last, "0123456789") == strlen(last))
        return 1;
    if (strncmp(last, "0x", 2) == 0 &&
        strspn(last + 2, "0123456789abcdef") == strlen(last + 2))
        return 1;
    return 0;
}

static int
host_chars_ok(const char *h)
{
    size_t n = strlen(h);

    if (n == 0 || n > HD_WEBPUSH_HOST_MAX || h[0] == '.' || h[0] == '-' ||
        h[n - 1] == '.' || strstr(h, "..") != NULL)
        return 0;
    return strspn(h, "abcdefghijklmnopqrstuvwxyz0123456789-.") == n;
}

/* "https://host[:port]" followed by "/...", "" or (for rules) nothing:
 * host lower-cased into host, port into *port (443 when absent). */
static int
split(const char *url, int rule, char *host, int *port, const char **rest,
      struct hd_err *err)
{
    const char *p, *end;
    size_t n, i;

    if (strncasecmp(url, "https://", 8) != 0)
        return hd_err_set(err, HD_EINVAL, "not an https:// URL");
    p = url + 8;
    end = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(end - p)) != NULL)
        return hd_err_set(err, HD_EINVAL, "user info in the URL");
    if (*p == '[')
        return hd_err_set(err, HD_EINVAL, "IP address as host");
    n = strcspn(p, ":/?#");
    if (n == 0 || n > HD_WEBPUSH_HOST_MAX)
        return hd_err_set(err, HD_EINVAL, "no host or host too long");
    for (i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[n] = '\0';
    *port = 443;
    if (p[n] == ':') {
        char *e;
        long v = strtol(p + n + 1, &e, 10);

        if (e == p + n + 1 || v < 1 || v > 65535 || e != end)
            return hd_err_set(err, HD_EINVAL, "bad port");
        *port = (int)v;
    }
    if (rule && *end != '\0' && strcmp(end, "/") != 0)
        return hd_err_set(err, HD_EINVAL, "an origin has no path");
    *rest = end;
    return 0;
}

static int
add_rule(struct hd_webpush_guard *g, const char *text, struct hd_err *err)
{
    char host[HD_WEBPUSH_HOST_MAX + 1];
    const char *rest;
    struct rule *r;
    int port, wild;

    if (split(text, 1, host, &port, &rest, err) < 0)
        return hd_err_wrap(err, "origin \"%s\"", text);
    wild = strncmp(host, "*.", 2) == 0;
    if (!host_chars_ok(wild ? host + 2 : host) ||
        hd_webpush_host_is_ip(wild ? host + 2 : host))
        return hd_err_set(err, HD_EINVAL,
                          "origin \"%s\": host must be a DNS name", text);
    if (g->n >= HD_WEBPUSH_RULES_MAX)
        return hd_err_set(err, HD_EINVAL, "more than %d origins",
                          HD_WEBPUSH_RULES_MAX);
    r = &g->rules[g->n++];
    snprintf(r->host, sizeof(r->host), "%s", wild ? host + 2 : host);
    r->wildcard = wild;
    r->port = port;
    return 0;
}

static int
add_list(struct hd_webpush_guard *g, const char *list, struct hd_err *err)
{
    char item[HD_WEBPUSH_ORIGIN_MAX + 8];
    const char *p = list;

    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, ",");
        size_t s = 0;

        while (s < n && p[s] == ' ')
            s++;
        while (n > s && p[n - 1] == ' ')
            n--;
        if (n - s >= sizeof(item))
            return hd_err_set(err, HD_EINVAL, "origin too long");
        if (n > s) {
            memcpy(item, p + s, n - s);
            item[n - s] = '\0';
            if (add_rule(g, item, err) < 0)
                return -1;
        }
        p = strchr(p, ',');
        if (p != NULL)
            p++;
    }
    return 0;
}

/* The simulator's ADDRESS into g->sim_addr: an IP literal, or a name
 * (the simulator's service name in a container network) resolved once,
 * here, whose first address is then the only one allowed. */
static int
sim_address(struct hd_webpush_guard *g, const char *addr, int aport,
            struct hd_err *err)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&g->sim_addr;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&g->sim_addr;
    struct addrinfo hints, *res = NULL;
    char v6[64];
    size_t n = strlen(addr);

    memset(&g->sim_addr, 0, sizeof(g->sim_addr));
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)aport);
        return 0;
    }
    if (n > 2 && n < sizeof(v6) && addr[0] == '[' && addr[n - 1] == ']') {
        snprintf(v6, sizeof(v6), "%.*s", (int)n - 2, addr + 1);
        if (inet_pton(AF_INET6, v6, &s6->sin6_addr) != 1)
            goto bad;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)aport);
        return 0;
    }
    if (n < sizeof(v6) && inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)aport);
        return 0;
    }
    if (!host_chars_ok(addr))
        goto bad;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(addr, NULL, &hints, &res) != 0 || res == NULL ||
        res->ai_addrlen > sizeof(g->sim_addr)) {
        if (res != NULL)
            freeaddrinfo(res);
        return hd_err_set(err, HD_EINVAL, "simulator \"%s\": does not resolve",
                          addr);
    }
    memcpy(&g->sim_addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (g->sim_addr.ss_family == AF_INET6)
        s6->sin6_port = htons((uint16_t)aport);
    else
        s4->sin_port = htons((uint16_t)aport);
    return 0;
bad:
    return hd_err_set(err, HD_EINVAL,
                      "simulator address \"%s\": not an IP address or host "
                      "name",
                      addr);
}

/* "HOST:PORT:ADDRESS:PORT": the origin https://HOST:PORT and the one
 * address that may be private. */
static int
add_sim(struct hd_webpush_guard *g, const char *sim, struct hd_err *err)
{
    char host[HD_WEBPUSH_HOST_MAX + 1], addr[HD_WEBPUSH_HOST_MAX + 1],
        origin[HD_WEBPUSH_ORIGIN_MAX], ip[INET6_ADDRSTRLEN];
    int port, aport;
    const char *a, *c;

    c = strchr(sim, ':');
    if (c == NULL || (size_t)(c - sim) > HD_WEBPUSH_HOST_MAX)
        goto bad;
    memcpy(host, sim, (size_t)(c - sim));
    host[c - sim] = '\0';
    port = (int)strtol(c + 1, NULL, 10);
    a = strchr(c + 1, ':');
    if (a == NULL || port < 1 || port > 65535)
        goto bad;
    a++;
    c = strrchr(a, ':');
    if (c == NULL || (size_t)(c - a) >= sizeof(addr))
        goto bad;
    memcpy(addr, a, (size_t)(c - a));
    addr[c - a] = '\0';
    aport = (int)strtol(c + 1, NULL, 10);
    if (aport < 1 || aport > 65535)
        goto bad;
    if (sim_address(g, addr, aport, err) < 0)
        return -1;
    g->sim = 1;
    if (g->sim_addr.ss_family == AF_INET6)
        inet_ntop(AF_INET6,
                  &((struct sockaddr_in6 *)(void *)&g->sim_addr)->sin6_addr, ip,
                  sizeof(ip));
    else
        inet_ntop(AF_INET,
                  &((struct sockaddr_in *)(void *)&g->sim_addr)->sin_addr, ip,
                  sizeof(ip));
    snprintf(g->sim_connect, sizeof(g->sim_connect),
             g->sim_addr.ss_family == AF_INET6 ? "%s:%d:[%s]:%d"
                                               : "%s:%d:%s:%d",
             host, port, ip, aport);
    if (port == 443)
        snprintf(origin, sizeof(origin), "https://%s", host);
    else
        snprintf(origin, sizeof(origin), "https://%s:%d", host, port);
    return add_rule(g, origin, err);
bad:
    return hd_err_set(err, HD_EINVAL,
                      "simulator \"%s\": want HOST:PORT:ADDRESS:PORT", sim);
}

struct hd_webpush_guard *
hd_webpush_guard_new(const char *origins, const char *extra, const char *sim,
                     struct hd_err *err)
{
    struct hd_webpush_guard *g = hd_xcalloc(1, sizeof(*g));

    if (add_list(g, origins, err) < 0 || add_list(g, extra, err) < 0 ||
        (sim != NULL && *sim != '\0' && add_sim(g, sim, err) < 0)) {
        free(g);
        return NULL;
    }
    return g;
}

void
hd_webpush_guard_free(struct hd_webpush_guard *g)
{
    free(g);
}

const char *
hd_webpush_guard_connect_to(const struct hd_webpush_guard *g)
{
    return g != NULL && g->sim ? g->sim_connect : NULL;
}

static int
allowed(const struct hd_webpush_guard *g, const char *host, int port)
{
    size_t i, hl = strlen(host);

    for (i = 0; i < g->n; i++) {
        const struct rule *r = &g->rules[i];
        size_t rl = strlen(r->host);

        if (r->port != port)
            continue;
        if (!r->wildcard && strcmp(host, r->host) == 0)
            return 1;
        if (r->wildcard && hl > rl + 1 && host[hl - rl - 1] == '.' &&
            strcmp(host + hl - rl, r->host) == 0)
            return 1;
    }
    return 0;
}

int
hd_webpush_guard_endpoint(const struct hd_webpush_guard *g, const char *url,
                          char *origin, size_t len, struct hd_err *err)
{
    char host[HD_WEBPUSH_HOST_MAX + 1];
    const char *rest;
    int port;

    if (split(url, 0, host, &port, &rest, err) < 0)
        return hd_err_wrap(err, "endpoint");
    if (hd_webpush_host_is_ip(host))
        return hd_err_set(err, HD_EINVAL, "endpoint: IP address as host");
    if (!host_chars_ok(host))
        return hd_err_set(err, HD_EINVAL, "endpoint: host is not a DNS name");
    if (!allowed(g, host, port))
        return hd_err_set(err, HD_EINVAL,
                          "endpoint: origin https://%s:%d is not an allowed "
                          "push service",
                          host, port);
    if (port == 443)
        snprintf(origin, len, "https://%s", host);
    else
        snprintf(origin, len, "https://%s:%d", host, port);
    return 0;
}
