/* ws.c -- one hub_load connection: connect, the WebSocket upgrade, the
 * SignalR handshake, frames parsed and messages counted. Just enough of
 * RFC 6455 and the hub protocol, with no per-message allocation. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/hub_load/hub_load.h"
#include "core/alloc.h"
#include "core/banned.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

void
load_ws_send(struct lconn *c, int opcode, const void *p, size_t n)
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
        load_record(s, p, n, 1);
        return;
    }
    if (o->json) {
        while (off < n) {
            const unsigned char *e = memchr(p + off, 0x1e, n - off);

            len = e ? (size_t)(e - (p + off)) : n - off;
            if (len >= 9 && memcmp(p + off, "{\"type\":1", 9) == 0)
                load_record(s, p + off, len, 1);
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
            load_record(s, p + off, len, 0);
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

void
load_on_readable(struct lconn *c, struct stats *s, const struct opts *o,
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
            load_ws_send(c, 0x1, hs, strlen(hs));
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

int
load_open(struct lconn *c, const struct opts *o, int i, int ep)
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

void
load_upgrade(struct lconn *c, const struct opts *o, const char *tok, int ep,
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
