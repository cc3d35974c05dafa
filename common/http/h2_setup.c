/* h2_setup.c -- configuration of hd_httpc's native HTTP/2 transport:
 * the TLS context (CA bundle or system store, ALPN h2 only, TLS >= 1.2,
 * an optional client certificate as PEM or PKCS#12, which APNs
 * certificate authentication uses), libcurl-style connect-to rules, and
 * the origin (SNI host, :authority, connect target) of each URL.
 *
 * It opens no connection: h2.c does; it creates and frees the transport
 * state (h2_create(), h2_destroy()). Invariant: the real host name
 * stays in SNI, :authority and certificate checks; connect-to only moves
 * the TCP target. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>

#include "core/alloc.h"
#include "http/h2_setup.h"
#include "core/banned.h"

static int
load_client_cert(SSL_CTX *ctx, const struct hd_httpc_config *cfg,
                 struct hd_err *err)
{
    const char *type = cfg->cert_type ? cfg->cert_type : "PEM";
    const char *pw = cfg->key_password ? cfg->key_password : "";

    if (strcasecmp(type, "P12") == 0) {
        FILE *f = fopen(cfg->cert_file, "rb");
        PKCS12 *p12 = f ? d2i_PKCS12_fp(f, NULL) : NULL;
        EVP_PKEY *pkey = NULL;
        X509 *cert = NULL;
        STACK_OF(X509) *ca = NULL;
        int ok;

        if (f)
            fclose(f);
        ok = p12 && PKCS12_parse(p12, pw, &pkey, &cert, &ca) == 1 &&
             SSL_CTX_use_certificate(ctx, cert) == 1 &&
             SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
        while (ok && ca && sk_X509_num(ca) > 0)
            SSL_CTX_add_extra_chain_cert(ctx, sk_X509_shift(ca));
        sk_X509_pop_free(ca, X509_free);
        X509_free(cert);
        EVP_PKEY_free(pkey);
        PKCS12_free(p12);
        if (!ok)
            return hd_err_set(err, HD_EINVAL,
                              "client certificate %s: not a "
                              "readable PKCS#12 file",
                              cfg->cert_file);
        return 0;
    }
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)(uintptr_t)pw);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(
            ctx, cfg->key_file ? cfg->key_file : cfg->cert_file,
            SSL_FILETYPE_PEM) != 1)
        return hd_err_set(err, HD_EINVAL,
                          "client certificate %s: not a readable PEM "
                          "certificate and key",
                          cfg->cert_file);
    return 0;
}

/* "HOST:PORT:CONNECT-HOST:CONNECT-PORT,..." (libcurl's CONNECT_TO). */
static int
parse_map(struct h2 *h, const char *list, struct hd_err *err)
{
    const char *p = list;

    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[2 * HOST_MAX + 16];
        char *f[4];
        char *q;
        int i;

        while (n > 0 && *p == ' ')
            p++, n--;
        if (n == 0 || n >= sizeof(item) || h->nmap >= MAX_MAP)
            return hd_err_set(err, HD_EINVAL, "connect-to: bad entry");
        memcpy(item, p, n);
        item[n] = '\0';
        f[0] = item;
        for (i = 1, q = item; i < 4; i++) {
            q = strchr(q, ':');
            if (q == NULL)
                return hd_err_set(err, HD_EINVAL,
                                  "connect-to \"%s\": want "
                                  "HOST:PORT:CONNECT-HOST:CONNECT-PORT",
                                  item);
            *q++ = '\0';
            f[i] = q;
        }
        snprintf(h->map[h->nmap].host, HOST_MAX, "%.*s", HOST_MAX - 1, f[0]);
        h->map[h->nmap].port = (int)strtol(f[1], NULL, 10);
        snprintf(h->map[h->nmap].chost, HOST_MAX, "%.*s", HOST_MAX - 1, f[2]);
        h->map[h->nmap].cport = (int)strtol(f[3], NULL, 10);
        h->nmap++;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int
h2_setup(struct h2 *h, const struct hd_httpc_config *cfg, struct hd_err *err)
{
    static const unsigned char alpn[] = {2, 'h', '2'};

    if (parse_map(h, cfg->connect_to, err) < 0)
        return -1;
    h->ctx = SSL_CTX_new(TLS_client_method());
    if (h->ctx == NULL)
        return hd_err_set(err, HD_EIO, "SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(h->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(h->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(h->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_protos(h->ctx, alpn, sizeof(alpn));
    if ((cfg->ca_file && *cfg->ca_file)
            ? SSL_CTX_load_verify_locations(h->ctx, cfg->ca_file, NULL) != 1
            : SSL_CTX_set_default_verify_paths(h->ctx) != 1)
        return hd_err_set(err, HD_EINVAL, "CA bundle %s: not readable",
                          cfg->ca_file ? cfg->ca_file : "(system)");
    if (cfg->cert_file && *cfg->cert_file &&
        load_client_cert(h->ctx, cfg, err) < 0)
        return -1;
    return 0;
}

/* Splits "https://host[:port]/..." into the origin's host and port. */
static int
parse_origin(const char *url, char *host, size_t hostlen, int *port)
{
    const char *p = url + 8, *end = p, *colon = NULL;
    size_t n;

    if (strncasecmp(url, "https://", 8) != 0)
        return -1;
    if (*p == '[') { /* IPv6 literal */
        end = strchr(p, ']');
        if (end == NULL)
            return -1;
        n = (size_t)(end - p - 1);
        if (n >= hostlen)
            return -1;
        memcpy(host, p + 1, n);
        host[n] = '\0';
        end++;
        colon = *end == ':' ? end : NULL;
        while (*end && *end != '/')
            end++;
    } else {
        while (*end && *end != '/' && *end != '?') {
            if (*end == ':')
                colon = end;
            end++;
        }
        n = (size_t)((colon ? colon : end) - p);
        if (n == 0 || n >= hostlen)
            return -1;
        memcpy(host, p, n);
        host[n] = '\0';
    }
    *port = 443;
    if (colon) {
        long v = strtol(colon + 1, NULL, 10);

        if (v <= 0 || v > 65535)
            return -1;
        *port = (int)v;
    }
    return 0;
}

struct h2_origin *
h2_origin_of(struct h2 *h, const char *url)
{
    struct h2_origin *o;
    char host[HOST_MAX];
    int port;
    size_t i;

    if (parse_origin(url, host, sizeof(host), &port) < 0)
        return NULL;
    for (o = h->origins; o; o = o->next)
        if (o->port == port && strcasecmp(o->host, host) == 0)
            return o;
    if (h->norigins >= MAX_ORIGINS)
        return NULL;
    o = hd_xcalloc(1, sizeof(*o));
    snprintf(o->host, sizeof(o->host), "%s", host);
    o->port = port;
    if (port == 443)
        snprintf(o->authority, sizeof(o->authority), "%s", host);
    else
        snprintf(o->authority, sizeof(o->authority), "%s:%d", host, port);
    snprintf(o->chost, sizeof(o->chost), "%s", host);
    o->cport = port;
    for (i = 0; i < h->nmap; i++) {
        const struct h2_map *m = &h->map[i];

        if ((m->host[0] && strcasecmp(m->host, host) != 0) ||
            (m->port && m->port != port))
            continue;
        if (m->chost[0])
            snprintf(o->chost, sizeof(o->chost), "%s", m->chost);
        if (m->cport)
            o->cport = m->cport;
        break;
    }
    o->next = h->origins;
    h->origins = o;
    h->norigins++;
    return o;
}

/* ---- the transport's state --------------------------------------------- */

void *
h2_create(const struct httpc_host *host, struct hd_err *err)
{
    const struct hd_httpc_config *cfg = host->cfg;
    struct h2 *h = hd_xcalloc(1, sizeof(*h));

    h->host = *host;
    h->max_conns = cfg->max_connections;
    h->max_streams = cfg->max_streams;
    h->timeout_ms = cfg->timeout_ms;
    h->connect_timeout_ms = cfg->connect_timeout_ms;
    if (h2_setup(h, cfg, err) < 0)
        goto fail;
    ERR_clear_error();
    return h;
fail:
    ERR_clear_error();
    h2_destroy(h);
    return NULL;
}

void
h2_destroy(void *t)
{
    struct h2 *h = t;
    struct h2_origin *o;

    if (h == NULL)
        return;
    while ((o = h->origins) != NULL) {
        h->origins = o->next;
        free(o);
    }
    free(h->heap);
    SSL_CTX_free(h->ctx);
    free(h);
}
