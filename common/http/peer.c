/* peer.c -- the client's address behind trusted proxies: the trusted
 * list, address and CIDR parsing, and the right-to-left walk over
 * X-Forwarded-For or Forwarded hops.
 *
 * It never allocates and never logs. One pass over the header keeps the
 * last HD_PEER_MAX_HOPS hops in a ring, so a header of any length costs
 * linear time and constant memory; only the hops a trusted proxy wrote
 * are ever parsed, and any doubt about one of them gives the TCP peer. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http/peer.h"
#include "core/banned.h"

const struct hd_config_field hd_peer_config_fields[] = {
    HD_CFG_STR("HERALD_TRUSTED_PROXIES", struct hd_peer_config, trusted_proxies,
               "", 0,
               "reverse proxies whose forwarding header names the client: "
               "comma-separated IPv4/IPv6 addresses and CIDRs (10.0.0.0/8, "
               "fd00::/8); empty: the TCP peer is the client"),
    HD_CFG_ENUM("HERALD_FORWARDED_HEADER", struct hd_peer_config, header,
                "x-forwarded-for", "x-forwarded-for|forwarded",
                "the header the trusted proxies append the client to"),
    HD_CFG_END,
};

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};

/* Parses n bytes of s as one IPv4 or IPv6 address into a: also "[v6]",
 * and with port_ok "[v6]:port" and "v4:port". Returns 0 or -1. */
static int
parse_ip(const char *s, size_t n, int port_ok, struct hd_peer_net *a)
{
    char buf[HD_PEER_HOP_MAX];
    const char *port = NULL;
    char *colon;
    size_t i;

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(a, 0, sizeof(*a));
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');

        if (close == NULL)
            return -1;
        *close = '\0';
        if (close[1] == ':' && port_ok)
            port = close + 2;
        else if (close[1] != '\0')
            return -1;
        if (inet_pton(AF_INET6, buf + 1, a->addr) != 1)
            return -1;
        a->family = AF_INET6;
    } else if (inet_pton(AF_INET, buf, a->addr) == 1) {
        a->family = AF_INET;
    } else if (inet_pton(AF_INET6, buf, a->addr) == 1) {
        a->family = AF_INET6;
    } else {
        colon = strchr(buf, ':');
        if (!port_ok || colon == NULL || strchr(colon + 1, ':'))
            return -1;
        *colon = '\0';
        if (inet_pton(AF_INET, buf, a->addr) != 1)
            return -1;
        a->family = AF_INET;
        port = colon + 1;
    }
    if (port) {
        for (i = 0; port[i]; i++)
            if (port[i] < '0' || port[i] > '9' || i == 5)
                return -1;
        if (i == 0)
            return -1;
    }
    if (a->family == AF_INET6 && memcmp(a->addr, v4_mapped, 12) == 0) {
        memmove(a->addr, a->addr + 12, 4);
        memset(a->addr + 4, 0, 12);
        a->family = AF_INET;
    }
    a->bits = a->family == AF_INET ? 32 : 128;
    return 0;
}

static int
in_net(const struct hd_peer_net *net, const struct hd_peer_net *a)
{
    unsigned full = net->bits / 8;
    unsigned rest = net->bits % 8;
    unsigned char mask;

    if (net->family != a->family || memcmp(net->addr, a->addr, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    mask = (unsigned char)(0xffu << (8 - rest));
    return (net->addr[full] & mask) == (a->addr[full] & mask);
}

static int
trusted_net(const struct hd_peer_trust *t, const struct hd_peer_net *a)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (in_net(&t->net[i], a))
            return 1;
    return 0;
}

static int
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional whitespace from both ends of [*s, *s + *n). */
static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && is_ows(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_ows((*s)[*n - 1]))
        (*n)--;
}

/* One "addr[/bits]" entry of the trusted list. */
static int
parse_entry(const char *s, size_t n, struct hd_peer_net *net)
{
    const char *slash = memchr(s, '/', n);
    unsigned bits = 0;
    size_t i;

    if (parse_ip(s, slash ? (size_t)(slash - s) : n, 0, net) < 0)
        return -1;
    if (slash == NULL)
        return 0;
    i = (size_t)(slash - s) + 1;
    if (i == n || n - i > 3)
        return -1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        bits = bits * 10 + (unsigned)(s[i] - '0');
    }
    /* an IPv4-mapped entry was turned into IPv4 by parse_ip */
    if (net->family == AF_INET && memchr(s, ':', n)) {
        if (bits < 96)
            return -1;
        bits -= 96;
    }
    if (bits > net->bits)
        return -1;
    net->bits = bits;
    return 0;
}

int
hd_peer_trust_init(struct hd_peer_trust *t, const struct hd_peer_config *cfg,
                   struct hd_err *err)
{
    const char *p = cfg && cfg->trusted_proxies ? cfg->trusted_proxies : "";

    memset(t, 0, sizeof(*t));
    if (cfg && cfg->header && strcasecmp(cfg->header, "forwarded") == 0)
        t->header = HD_PEER_FORWARDED;
    else if (cfg && cfg->header && cfg->header[0] &&
             strcasecmp(cfg->header, "x-forwarded-for") != 0)
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_FORWARDED_HEADER: %s is neither "
                          "x-forwarded-for nor forwarded",
                          cfg->header);
    while (*p) {
        const char *end = strchr(p, ',');
        const char *s = p;
        size_t n = end ? (size_t)(end - p) : strlen(p);

        p += n + (end ? 1 : 0);
        trim(&s, &n);
        if (n == 0)
            continue;
        if (t->n == HD_TRUSTED_PROXIES_MAX) {
            memset(t, 0, sizeof(*t));
            return hd_err_set(err, HD_EINVAL,
                              "HERALD_TRUSTED_PROXIES: more than %d entries",
                              HD_TRUSTED_PROXIES_MAX);
        }
        if (parse_entry(s, n, &t->net[t->n]) < 0) {
            memset(t, 0, sizeof(*t));
            return hd_err_set(err, HD_EINVAL,
                              "HERALD_TRUSTED_PROXIES: %.*s is not an IP "
                              "address or CIDR",
                              (int)(n > 64 ? 64 : n), s);
        }
        t->n++;
    }
    return 0;
}

int
hd_peer_trusted(const struct hd_peer_trust *t, const char *addr)
{
    struct hd_peer_net a;

    if (addr == NULL || t->n == 0 ||
        parse_ip(addr, strnlen(addr, HD_PEER_HOP_MAX), 0, &a) < 0)
        return 0;
    return trusted_net(t, &a);
}

/* The "for" value of one Forwarded element ("for=a;proto=https;by=b"),
 * unquoted, into [*v, *v + *vn). Returns 0, or -1: none, two, or bad
 * quoting. */
static int
forwarded_for(const char *s, size_t n, const char **v, size_t *vn)
{
    int found = 0;

    while (n > 0) {
        const char *semi = memchr(s, ';', n);
        size_t len = semi ? (size_t)(semi - s) : n;
        const char *pair = s;
        size_t pn = len;

        s += len + (semi ? 1 : 0);
        n -= len + (semi ? 1 : 0);
        trim(&pair, &pn);
        if (pn < 4 || strncasecmp(pair, "for=", 4) != 0)
            continue;
        if (found++)
            return -1;
        *v = pair + 4;
        *vn = pn - 4;
    }
    if (!found)
        return -1;
    if (*vn > 0 && (*v)[0] == '"') {
        if (*vn < 2 || (*v)[*vn - 1] != '"' || memchr(*v + 1, '\\', *vn - 2) ||
            memchr(*v + 1, '"', *vn - 2))
            return -1;
        (*v)++;
        *vn -= 2;
    }
    return 0;
}

/* One hop [s, s + n) of the configured header as an address. */
static int
parse_hop(const struct hd_peer_trust *t, const char *s, size_t n,
          struct hd_peer_net *a)
{
    trim(&s, &n);
    if (t->header == HD_PEER_FORWARDED && forwarded_for(s, n, &s, &n) < 0)
        return -1;
    return parse_ip(s, n, 1, a);
}

static void
write_addr(const struct hd_peer_net *a, char out[HD_PEER_ADDR_MAX])
{
    if (inet_ntop(a->family, a->addr, out, HD_PEER_ADDR_MAX) == NULL)
        out[0] = '\0';
}

/* Walks the hops of h right to left. Returns 1 with the client in *a, or
 * 0: the peer it is. A comma inside a quoted Forwarded value is not a
 * separator; a backslash there escapes the next character. */
static int
walk(const struct hd_peer_trust *t, const char *h, struct hd_peer_net *a)
{
    size_t start[HD_PEER_MAX_HOPS];
    size_t len[HD_PEER_MAX_HOPS];
    size_t nhops = 0;
    size_t from = 0;
    size_t i, k;
    int quoted = 0;

    for (i = 0;; i++) {
        char c = h[i];

        if (quoted && c == '\\' && h[i + 1]) {
            i++;
            continue;
        }
        if (c == '"' && t->header == HD_PEER_FORWARDED)
            quoted = !quoted;
        if (c == '\0' || (c == ',' && !quoted)) {
            start[nhops % HD_PEER_MAX_HOPS] = from;
            len[nhops % HD_PEER_MAX_HOPS] = i - from;
            nhops++;
            from = i + 1;
        }
        if (c == '\0')
            break;
    }
    if (quoted)
        return 0;
    for (k = 0; k < nhops && k < HD_PEER_MAX_HOPS; k++) {
        size_t j = (nhops - 1 - k) % HD_PEER_MAX_HOPS;

        if (parse_hop(t, h + start[j], len[j], a) < 0)
            return 0;
        if (!trusted_net(t, a))
            return 1;
    }
    /* every hop is one of ours: the first of them met the client */
    return k == nhops;
}

int
hd_peer_client(const struct hd_peer_trust *t, const char *peer, const char *xff,
               const char *fwd, char out[HD_PEER_ADDR_MAX])
{
    const char *h = t->header == HD_PEER_FORWARDED ? fwd : xff;
    struct hd_peer_net p, a;

    if (peer == NULL)
        peer = "";
    if (parse_ip(peer, strnlen(peer, HD_PEER_HOP_MAX), 0, &p) < 0) {
        snprintf(out, HD_PEER_ADDR_MAX, "%s", peer);
        return 0;
    }
    if (h && h[0] && trusted_net(t, &p) && walk(t, h, &a)) {
        write_addr(&a, out);
        return 1;
    }
    write_addr(&p, out);
    return 0;
}
