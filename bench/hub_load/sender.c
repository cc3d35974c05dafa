/* sender.c -- hub_load --send: notifications POSTed to herald-hub's /send
 * (or herald-api's /events, or a raw path) at a steady rate, one
 * connection each, the first line of JSON on stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/hub_load/hub_load.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/banned.h"

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
read_response(int fd, char *buf, size_t cap, size_t *have,
              const load_stop_flag *stop)
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
        if (n < 0 && errno == EINTR && !*stop)
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

int
load_run_sender(const struct opts *o, const load_stop_flag *stop)
{
    char *pad = hd_xmalloc((size_t)o->pad + 1), resp[8192];
    struct hd_buf body, req;
    int64_t t0 = load_mono_ms(), due;
    size_t have;
    int i, st, fd, bad = 0;

    memset(pad, 'x', (size_t)o->pad);
    pad[o->pad] = '\0';
    hd_buf_init(&body, 2 * 1024 * 1024);
    hd_buf_init(&req, 4 * 1024 * 1024);
    for (i = 0; i < o->send && !*stop; i++) {
        if (o->send_rate > 0) {
            due = t0 + (int64_t)i * 1000 / o->send_rate;
            while (load_mono_ms() < due)
                usleep(200);
        }
        hd_buf_reset(&body);
        if (o->raw)
            hd_buf_printf(&body, NULL, "{\"BenchTs\":%lld,\"Pad\":\"%s\"}",
                          (long long)load_now_us(), pad);
        else if (o->user)
            hd_buf_printf(&body, NULL,
                          "{\"Type\":%d,\"Payload\":{\"UserId\":\"%s\","
                          "\"BenchTs\":%lld,\"Pad\":\"%s\"}}",
                          o->type, o->user, (long long)load_now_us(), pad);
        else if (o->users > 0 && !o->org) /* round robin: load-0.. */
            hd_buf_printf(&body, NULL,
                          "{\"Type\":%d,\"Payload\":{\"UserId\":\"load-%d\","
                          "\"BenchTs\":%lld,\"Pad\":\"%s\"}}",
                          o->type, i % o->users, (long long)load_now_us(), pad);
        else
            hd_buf_printf(&body, NULL,
                          "{\"Type\":%d,\"Payload\":{\"OrganizationId\":\"%s\","
                          "\"BenchTs\":%lld,\"Pad\":\"%s\"}}",
                          o->type, o->org ? o->org : "bench",
                          (long long)load_now_us(), pad);
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
        st = read_response(fd, resp, sizeof(resp), &have, stop);
        close(fd);
        if (st < 200 || st > 202)
            bad++;
    }
    printf("{\"sent\":%d,\"non_200\":%d,\"seconds\":%.3f}\n", i, bad,
           (double)(load_mono_ms() - t0) / 1000.0);
    hd_buf_release(&body);
    hd_buf_release(&req);
    free(pad);
    return bad ? 1 : 0;
}
