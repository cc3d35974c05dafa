/* http_client.h -- the libcurl client and server set-up shared by the
 * HTTP unit tests (test_http_server.c, test_http_async.c).
 *
 * Header-only, like unit.h: every helper is static inline, so a test that
 * does not use one does not warn. Each request has a 10 s ceiling, so a
 * server that never answers fails the test instead of hanging it. */
#ifndef HD_TEST_HTTP_CLIENT_H
#define HD_TEST_HTTP_CLIENT_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/clock.h"
#include "http/server.h"

/* The port of the server the test started last (see start()). */
static int port_of_server;

/* ---- client side ---- */

struct resp {
    long status;
    char body[16384];
    size_t len;
    char hdrs[8192];
    size_t hlen;
    CURLcode rc;
};

static inline size_t
on_data(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = size * n;
    size_t room = sizeof(r->body) - 1 - r->len;

    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return k;
}

static inline size_t
on_hdr(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = size * n;
    size_t room = sizeof(r->hdrs) - 1 - r->hlen;

    memcpy(r->hdrs + r->hlen, p, k < room ? k : room);
    r->hlen += k < room ? k : room;
    r->hdrs[r->hlen] = '\0';
    return k;
}

/* The value of a response header (last one), or "" if absent. */
static inline const char *
hdr(const struct resp *r, const char *name, char *out, size_t n)
{
    const char *p = r->hdrs;
    size_t nl = strlen(name);

    out[0] = '\0';
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t len = strcspn(v, "\r\n");

            while (*v == ' ') {
                v++;
                len--;
            }
            snprintf(out, n, "%.*s", (int)len, v);
        }
    }
    return out;
}

struct upload {
    size_t left;
};

static inline size_t
on_read(char *p, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = size * n < u->left ? size * n : u->left;

    memset(p, 'u', k);
    u->left -= k;
    return k;
}

/* One request on handle c (reused for keep-alive when the caller keeps
 * it). body NULL: no body; chunked > 0: that many bytes, chunked. */
static inline void
req_on(CURL *c, const char *method, const char *url, const char *hdr1,
       const char *body, size_t chunked, struct resp *out)
{
    struct curl_slist *h = NULL;
    struct upload up = {chunked};

    memset(out, 0, sizeof(*out));
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    h = curl_slist_append(h, "Expect:");
    if (hdr1)
        h = curl_slist_append(h, hdr1);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (chunked) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    out->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(h);
}

static inline void
req(const char *method, const char *path, const char *hdr1, const char *body,
    struct resp *out)
{
    CURL *c = curl_easy_init();
    char url[512];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port_of_server, path);
    req_on(c, method, url, hdr1, body, 0, out);
    curl_easy_cleanup(c);
}

/* ---- server side ---- */

static inline struct hd_http_config
test_config(int workers)
{
    struct hd_http_config c;

    memset(&c, 0, sizeof(c));
    c.bind = (char *)(uintptr_t) "127.0.0.1";
    c.io_threads = 2;
    c.workers = workers;
    c.max_connections = 512;
    c.timeout_s = 10;
    c.access_log = 0;
    return c;
}

static inline struct hd_http_server *
start(const struct hd_http_config *cfg, const struct hd_http_route *routes,
      size_t n, void *ud, struct hd_metrics *m)
{
    struct hd_err err = {0};
    struct hd_http_server *s = hd_http_server_new(cfg, 0, NULL, m, &err);

    if (s == NULL)
        return NULL;
    if (hd_http_server_add_routes(s, routes, n, ud, &err) < 0 ||
        hd_http_server_start(s, &err) < 0) {
        fprintf(stderr, "start: %s\n", err.msg);
        hd_http_server_free(s, 0);
        return NULL;
    }
    port_of_server = hd_http_server_port(s);
    return s;
}

/* Echoes what the server saw as JSON. */

struct one_call {
    int port;
    const char *path;
    atomic_int done;
    struct resp rs;
};

static inline void *
one_call_main(void *p)
{
    struct one_call *oc = p;
    CURL *c = curl_easy_init();
    char url[128];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", oc->port, oc->path);
    req_on(c, "GET", url, NULL, NULL, 0, &oc->rs);
    curl_easy_cleanup(c);
    atomic_store(&oc->done, 1);
    return NULL;
}

static inline int
wait_done(struct one_call *oc, int ms)
{
    uint64_t t0 = hd_now_mono_ms();

    while (!atomic_load(&oc->done) && hd_now_mono_ms() - t0 < (uint64_t)ms)
        usleep(1000);
    return atomic_load(&oc->done);
}

#endif
