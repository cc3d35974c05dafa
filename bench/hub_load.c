/* hub_load.c -- load client for herald-hub: opens N SignalR connections
 * with real HS256 tokens (from several source addresses), holds them with
 * the client's 15 s keep-alive, counts every notification received and
 * measures its latency from the "BenchTs" field (Unix microseconds) the
 * sender put in the payload. With --send it is the sender instead: it
 * POSTs notifications to /send over one keep-alive connection.
 *
 * Not a SignalR implementation: it speaks just enough of RFC 6455 and the
 * hub protocol to count messages, with one epoll loop and no per-message
 * allocation, so one process holds ~19,000 connections (the descriptor
 * limit), far more than a Node client. Prints JSON lines on stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/config.h"
#include "auth/jwt.h"
#include "core/banned.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define RBUF (256 * 1024)
#define MAX_SRC 32
#define PEND_MAX (1024 * 1024) /* a partial frame we keep per connection */

enum lstate { L_CONNECTING, L_UPGRADING, L_HANDSHAKE, L_OPEN, L_DEAD };

struct lconn {
    int fd;
    uint8_t state;
    uint8_t ping_slot;
    uint8_t tries;       /* connection attempts that failed */
    uint8_t ever;        /* was open once (a later close is not retried) */
    unsigned char *pend; /* bytes of an incomplete frame, or NULL */
    uint32_t plen;
};

struct opts {
    const char *host;
    int port;
    const char *path;
    int conns;
    char *src[MAX_SRC];
    int nsrc;
    const char *secret;
    int users;
    const char *org;
    int json;
    int rate;
    int duration;
    long long expect;
    int ping;
    int stats_ms;
    int batch_ms; /* at least this long between two epoll sweeps */
    int raw;      /* plain WebSocket (no SignalR): every message counts */
    const char *send_path;
    /* sender */
    int send;
    int send_rate;
    const char *key;
    int type;
    int pad;
    const char *user;
    char **user_ids; /* --user-file, nuser_ids of them */
    int nuser_ids;
    const char *auth; /* --auth: "Bearer" (hub /send) or "apikey" (api) */
};

struct stats {
    long long open, failed, closed, deliveries, pings, bytes, retries;
    uint32_t *lat; /* microseconds */
    size_t nlat, caplat;
};

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(void)
{
    fprintf(
        stderr,
        "usage: hub_load --port P [--host H] [--path /notifications/hub]\n"
        "  --conns N --secret S [--users U | --user-file F] [--org O] "
        "[--json]\n"
        "  [--src a,b,...] [--rate conns/s] [--duration s] [--expect N]\n"
        "  [--ping s] [--stats-ms ms] [--batch-ms ms]\n"
        "or: hub_load --send K --key KEY --port P [--send-rate n/s]\n"
        "  [--type T] [--org O | --user U | --users U] [--pad bytes]\n"
        "  [--auth Bearer|apikey] (apikey: herald-api's POST /events)\n"
        "--raw: plain WebSocket peer (e.g. nchan), every message is a\n"
        "  delivery; with --send, --send-path P posts {\"BenchTs\",\"Pad\"}\n"
        "  to P instead of a Bitwarden notification to /send\n"
        "--user-file F: the users' ids, one a line (connection i is the\n"
        "  user of line i modulo their number); else load-0 .. load-(U-1)\n");
    exit(2);
}

static int
num(const char *s, int min, int max)
{
    int v;

    if (s == NULL || hd_parse_int(s, min, max, &v) < 0)
        usage();
    return v;
}

/* The user ids of F, one a line (blank lines skipped). */
static void
read_user_file(struct opts *o, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    size_t n;

    if (f == NULL) {
        perror(path);
        exit(2);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        n = strcspn(line, "\r\n");
        if (n == 0)
            continue;
        line[n] = '\0';
        o->user_ids = hd_xrealloc(o->user_ids, ((size_t)o->nuser_ids + 1) *
                                                   sizeof(*o->user_ids));
        o->user_ids[o->nuser_ids++] = hd_xstrdup(line);
    }
    fclose(f);
    if (o->nuser_ids == 0) {
        fprintf(stderr, "%s: no user ids\n", path);
        exit(2);
    }
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
    char *list, *tok, *save;
    int i;

    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->path = "/notifications/hub";
    o->rate = 5000;
    o->duration = 60;
    o->ping = 15;
    o->stats_ms = 1000;
    o->send_rate = 0;
    o->type = 18;
    o->pad = 40;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--raw") == 0) {
            o->raw = 1;
            o->json = 1;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--host") == 0)
            o->host = v;
        else if (strcmp(a, "--port") == 0)
            o->port = num(v, 1, 65535);
        else if (strcmp(a, "--path") == 0)
            o->path = v;
        else if (strcmp(a, "--conns") == 0)
            o->conns = num(v, 0, 1000000);
        else if (strcmp(a, "--secret") == 0)
            o->secret = v;
        else if (strcmp(a, "--users") == 0)
            o->users = num(v, 1, 100000000);
        else if (strcmp(a, "--org") == 0)
            o->org = v;
        else if (strcmp(a, "--user") == 0)
            o->user = v;
        else if (strcmp(a, "--user-file") == 0)
            read_user_file(o, v);
        else if (strcmp(a, "--rate") == 0)
            o->rate = num(v, 1, 1000000);
        else if (strcmp(a, "--duration") == 0)
            o->duration = num(v, 1, 86400);
        else if (strcmp(a, "--expect") == 0)
            o->expect = num(v, 0, 2000000000);
        else if (strcmp(a, "--ping") == 0)
            o->ping = num(v, 0, 3600);
        else if (strcmp(a, "--stats-ms") == 0)
            o->stats_ms = num(v, 100, 60000);
        else if (strcmp(a, "--batch-ms") == 0)
            o->batch_ms = num(v, 0, 1000);
        else if (strcmp(a, "--send") == 0)
            o->send = num(v, 1, 100000000);
        else if (strcmp(a, "--send-rate") == 0)
            o->send_rate = num(v, 0, 10000000);
        else if (strcmp(a, "--key") == 0)
            o->key = v;
        else if (strcmp(a, "--send-path") == 0)
            o->send_path = v;
        else if (strcmp(a, "--auth") == 0)
            o->auth = v;
        else if (strcmp(a, "--type") == 0)
            o->type = num(v, 0, 255);
        else if (strcmp(a, "--pad") == 0)
            o->pad = num(v, 0, 1000000);
        else if (strcmp(a, "--src") == 0) {
            list = hd_xstrdup(v);
            for (tok = strtok_r(list, ",", &save); tok && o->nsrc < MAX_SRC;
                 tok = strtok_r(NULL, ",", &save))
                o->src[o->nsrc++] = hd_xstrdup(tok);
            free(list);
        } else
            usage();
    }
    if (o->port == 0 ||
        (o->send == 0 && (o->conns == 0 || (!o->secret && !o->raw))) ||
        (o->send && !o->key))
        usage();
    if (o->users == 0)
        o->users = o->conns;
}

/* ---- the sender --------------------------------------------------------- */

static int
tcp_connect(const char *host, int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Reads one HTTP response (Content-Length bodies only). Returns status. */
static int
read_response(int fd, char *buf, size_t cap, size_t *have)
{
    char *end;
    size_t hlen, clen = 0;
    ssize_t n;
    int status;

    for (;;) {
        buf[*have] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "content-length:");

            hlen = (size_t)(end - buf) + 4;
            if (cl && cl < end)
                clen = (size_t)strtoul(cl + 15, NULL, 10);
            if (*have >= hlen + clen)
                break;
        }
        n = read(fd, buf + *have, cap - 1 - *have);
        if (n < 0 && errno == EINTR && !stop_flag)
            continue;
        if (n <= 0) {
            fprintf(stderr, "send: connection closed\n");
            exit(1);
        }
        *have += (size_t)n;
    }
    status = (int)strtol(buf + 9, NULL, 10);
    memmove(buf, buf + hlen + clen, *have - hlen - clen);
    *have -= hlen + clen;
    return status;
}

static int
run_sender(const struct opts *o)
{
    char *pad = hd_xmalloc((size_t)o->pad + 1), resp[8192];
    struct hd_buf body, req;
    int64_t t0 = mono_ms(), due;
    size_t have;
    int i, st, fd, bad = 0;

    memset(pad, 'x', (size_t)o->pad);
    pad[o->pad] = '\0';
    hd_buf_init(&body, 2 * 1024 * 1024);
    hd_buf_init(&req, 4 * 1024 * 1024);
    for (i = 0; i < o->send && !stop_flag; i++) {
        if (o->send_rate > 0) {
            due = t0 + (int64_t)i * 1000 / o->send_rate;
            while (mono_ms() < due)
                usleep(200);
        }
        hd_buf_reset(&body);
        if (o->raw)
            hd_buf_printf(&body, NULL, "{\"BenchTs\":%lld,\"Pad\":\"%s\"}",
                          (long long)now_us(), pad);
        else if (o->user)
            hd_buf_printf(&body, NULL,
                          "{\"Type\":%d,\"Payload\":{\"UserId\":\"%s\","
                          "\"BenchTs\":%lld,\"Pad\":\"%s\"}}",
                          o->type, o->user, (long long)now_us(), pad);
        else if (o->users > 0 && !o->org) /* round robin: load-0.. */
            hd_buf_printf(&body, NULL,
                          "{\"Type\":%d,\"Payload\":{\"UserId\":\"load-%d\","
                          "\"BenchTs\":%lld,\"Pad\":\"%s\"}}",
                          o->type, i % o->users, (long long)now_us(), pad);
        else
            hd_buf_printf(&body, NULL,
                          "{\"Type\":%d,\"Payload\":{\"OrganizationId\":\"%s\","
                          "\"BenchTs\":%lld,\"Pad\":\"%s\"}}",
                          o->type, o->org ? o->org : "bench",
                          (long long)now_us(), pad);
        hd_buf_reset(&req);
        hd_buf_printf(&req, NULL,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s "
                      "%s\r\nContent-Type: application/json\r\n"
                      "Connection: close\r\nContent-Length: %zu\r\n\r\n",
                      o->send_path ? o->send_path : "/send", o->host,
                      o->auth ? o->auth : "Bearer", o->key, body.len);
        hd_buf_append(&req, body.data, body.len, NULL);
        /* the hub answers "connection: close": one connection each */
        fd = tcp_connect(o->host, o->port);
        if (write(fd, req.data, req.len) != (ssize_t)req.len) {
            perror("write");
            return 1;
        }
        have = 0;
        st = read_response(fd, resp, sizeof(resp), &have);
        close(fd);
        if (st < 200 || st > 202)
            bad++;
    }
    printf("{\"sent\":%d,\"non_200\":%d,\"seconds\":%.3f}\n", i, bad,
           (double)(mono_ms() - t0) / 1000.0);
    hd_buf_release(&body);
    hd_buf_release(&req);
    free(pad);
    return bad ? 1 : 0;
}

/* ---- the connections ---------------------------------------------------- */

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

static void
ws_send(struct lconn *c, int opcode, const void *p, size_t n)
{
    unsigned char f[256];
    size_t i;

    static const unsigned char mask[4] = {0x5a, 0xa5, 0x3c, 0xc3};

    /* client frames are masked (RFC 6455 5.3) */
    f[0] = (unsigned char)(0x80 | opcode);
    f[1] = (unsigned char)(0x80 | n);
    memcpy(f + 2, mask, 4);
    for (i = 0; i < n; i++)
        f[6 + i] = ((const unsigned char *)p)[i] ^ mask[i % 4];
    if (write(c->fd, f, 6 + n) < 0)
        c->state = L_DEAD;
}

static void
record(struct stats *s, const unsigned char *p, size_t n, int json)
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
    lat = now_us() - ts;
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

/* One WebSocket message from the hub: count what it carries. */
static void
on_message(struct lconn *c, struct stats *s, const struct opts *o,
           const unsigned char *p, size_t n)
{
    size_t off = 0, len, k;
    int shift;

    if (c->state == L_HANDSHAKE) {
        if (n >= 3 && memcmp(p, "{}\x1e", 3) == 0) {
            c->state = L_OPEN;
            c->ever = 1;
            s->open++;
        } else {
            c->state = L_DEAD;
            s->failed++;
        }
        return;
    }
    if (o->raw) {
        record(s, p, n, 1);
        return;
    }
    if (o->json) {
        while (off < n) {
            const unsigned char *e = memchr(p + off, 0x1e, n - off);

            len = e ? (size_t)(e - (p + off)) : n - off;
            if (len >= 9 && memcmp(p + off, "{\"type\":1", 9) == 0)
                record(s, p + off, len, 1);
            else if (len >= 9 && memcmp(p + off, "{\"type\":6", 9) == 0)
                s->pings++;
            off += len + 1;
        }
        return;
    }
    while (off < n) {
        len = 0;
        shift = 0;
        for (k = 0; k < 5 && off < n; k++) {
            len |= (size_t)(p[off] & 0x7f) << shift;
            shift += 7;
            if (!(p[off++] & 0x80))
                break;
        }
        if (off + len > n || len < 2)
            return;
        if (p[off + 1] == 0x01)
            record(s, p + off, len, 0);
        else if (p[off + 1] == 0x06)
            s->pings++;
        off += len;
    }
}

/* Parses whole frames from p; returns the bytes consumed. */
static size_t
parse_frames(struct lconn *c, struct stats *s, const struct opts *o,
             const unsigned char *p, size_t n)
{
    size_t off = 0, hl, pl;

    while (n - off >= 2) {
        const unsigned char *f = p + off;
        int opcode = f[0] & 0x0f;

        pl = f[1] & 0x7f;
        hl = 2;
        if (pl == 126) {
            if (n - off < 4)
                break;
            pl = ((size_t)f[2] << 8) | f[3];
            hl = 4;
        } else if (pl == 127) {
            if (n - off < 10)
                break;
            pl = 0;
            for (int i = 0; i < 8; i++)
                pl = (pl << 8) | f[2 + i];
            hl = 10;
        }
        if (n - off < hl + pl)
            break;
        if (opcode == 0x8) {
            c->state = L_DEAD;
            s->closed++;
            return n;
        }
        if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0)
            on_message(c, s, o, f + hl, pl);
        off += hl + pl;
    }
    return off;
}

static void
on_readable(struct lconn *c, struct stats *s, const struct opts *o,
            unsigned char *rbuf)
{
    const char *hs;
    ssize_t n;
    size_t used;

    for (;;) {
        n = read(c->fd, rbuf, RBUF);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            if (c->state == L_OPEN)
                s->closed++;
            else if (c->state != L_DEAD)
                s->failed++;
            c->state = L_DEAD;
            return;
        }
        s->bytes += n;
        if (c->state == L_UPGRADING) {
            if (n < 12 || memcmp(rbuf + 9, "101", 3) != 0) {
                s->failed++;
                c->state = L_DEAD;
                return;
            }
            if (o->raw) {
                c->state = L_OPEN;
                c->ever = 1;
                s->open++;
                continue;
            }
            c->state = L_HANDSHAKE;
            hs = o->json ? "{\"protocol\":\"json\",\"version\":1}\x1e"
                         : "{\"protocol\":\"messagepack\",\"version\":1}\x1e";
            ws_send(c, 0x1, hs, strlen(hs));
            continue;
        }
        if (c->pend) {
            if (c->plen + (size_t)n > PEND_MAX) {
                c->state = L_DEAD;
                s->failed++;
                return;
            }
            c->pend = hd_xrealloc(c->pend, c->plen + (size_t)n);
            memcpy(c->pend + c->plen, rbuf, (size_t)n);
            c->plen += (uint32_t)n;
            used = parse_frames(c, s, o, c->pend, c->plen);
            if (used == c->plen) {
                free(c->pend);
                c->pend = NULL;
                c->plen = 0;
            } else {
                memmove(c->pend, c->pend + used, c->plen - used);
                c->plen -= (uint32_t)used;
            }
        } else {
            used = parse_frames(c, s, o, rbuf, (size_t)n);
            if (used < (size_t)n && c->state != L_DEAD) {
                c->plen = (uint32_t)((size_t)n - used);
                c->pend = hd_xmemdup(rbuf + used, c->plen);
            }
        }
        if (c->state == L_DEAD)
            return;
    }
}

static int
open_one(struct lconn *c, const struct opts *o, int i, int ep)
{
    struct sockaddr_in sa, src;
    struct epoll_event ev;
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (o->nsrc > 0) {
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        inet_pton(AF_INET, o->src[i % o->nsrc], &src.sin_addr);
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                   sizeof(one));
        if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            close(c->fd);
            return -1;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    inet_pton(AF_INET, o->host, &sa.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
        errno != EINPROGRESS) {
        close(c->fd);
        return -1;
    }
    c->state = L_CONNECTING;
    c->ping_slot = (uint8_t)(i % 256);
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = (uint32_t)i;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

static void
send_upgrade(struct lconn *c, const struct opts *o, const char *tok, int ep,
             int i)
{
    char req[8192];
    struct epoll_event ev;
    int n;

    n = snprintf(req, sizeof(req),
                 "GET %s%saccess_token=%s HTTP/1.1\r\nHost: %s:%d\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 o->path, strchr(o->path, '?') ? "&" : "?", tok, o->host,
                 o->port);
    if (write(c->fd, req, (size_t)n) != n) {
        c->state = L_DEAD;
        return;
    }
    c->state = L_UPGRADING;
    ev.events = EPOLLIN;
    ev.data.u32 = (uint32_t)i;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static void
report(const struct stats *s, int64_t t0, int final)
{
    printf("{\"t\":%.3f,\"open\":%lld,\"failed\":%lld,\"closed\":%lld,"
           "\"deliveries\":%lld,\"pings\":%lld,\"bytes\":%lld,"
           "\"retries\":%lld%s",
           (double)(mono_ms() - t0) / 1000.0, s->open, s->failed, s->closed,
           s->deliveries, s->pings, s->bytes, s->retries, final ? "" : "}\n");
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

static int
run_conns(const struct opts *o)
{
    struct lconn *cs = hd_xcalloc((size_t)o->conns, sizeof(*cs));
    struct epoll_event evs[1024];
    unsigned char *rbuf = hd_xmalloc(RBUF);
    struct hd_jwt_key *key;
    struct stats s;
    int64_t t0 = mono_ms(), last_stats = t0, last_ping_s = 0, now;
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
    t0 = mono_ms();
    while (!stop_flag) {
        now = mono_ms();
        /* open at the configured rate */
        while (opened < o->conns &&
               opened < (int)((now - t0 + 1) * o->rate / 1000) + 1) {
            if (open_one(&cs[opened], o, opened, ep) < 0) {
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
                send_upgrade(c, o, toks[idx], ep, (int)idx);
            } else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                on_readable(c, &s, o, rbuf);
            }
            if (c->state == L_DEAD) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                free(c->pend);
                c->pend = NULL;
            }
        }
        now = mono_ms();
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
                    ws_send(&cs[i], o->json ? 0x1 : 0x2,
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
                if (open_one(&cs[i], o, i, ep) < 0) {
                    s.failed++;
                    cs[i].state = L_DEAD;
                    cs[i].fd = -1;
                }
            }
        }
        if (now - last_stats >= o->stats_ms) {
            last_stats = now;
            report(&s, t0, 0);
        }
        if (o->expect > 0 && s.deliveries >= o->expect)
            break;
        if (now - t0 >= (int64_t)o->duration * 1000)
            break;
    }
    report(&s, t0, 1);
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

int
main(int argc, char **argv)
{
    struct rlimit rl;
    struct opts o;
    struct sigaction sa;
    int rc, i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a blocked read returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    parse_args(argc, argv, &o);
    rc = o.send ? run_sender(&o) : run_conns(&o);
    for (i = 0; i < o.nsrc; i++)
        free(o.src[i]);
    return rc;
}
