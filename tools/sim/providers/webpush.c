/* webpush.c -- the Web Push endpoint: checks a send as a push service
 * does (TTL, Content-Encoding, Urgency, Topic, the VAPID JWT against the
 * key the subscription was made with, the 4096-byte limit), then decrypts
 * the body with the subscription's private key (common/webpush/ece.c) and
 * answers 201 with a Location header and, for the recording, the
 * plaintext as the response body. Outcomes by id prefix or rule, as for
 * the other providers; "weNN" picks error #NN of the table below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/base64.h"
#include "tools/sim/faults/outcome.h"
#include "tools/sim/faults/ruleset.h"
#include "tools/sim/providers/webpush.h"
#include "webpush/ece.h"
#include "webpush/vapid.h"
#include "core/banned.h"

#define ID_MAX 512
#define FP_HEX 16 /* fingerprint of the application server key */

static const struct werr {
    const char *name;
    int status;
} werrs[] = {
    {"BadRequest", 400},
    {"Unauthorized", 401},
    {"Forbidden", 403},
    {"NotFound", 404},
    {"Gone", 410},
    {"PayloadTooLarge", 413},
    {"TooManyRequests", 429},
    {"InternalServerError", 500},
    {"ServiceUnavailable", 503},
    {"Redirect", 301},
};
#define NWERRS (sizeof(werrs) / sizeof(werrs[0]))

static const char *
error_at(int i)
{
    return i >= 0 && (size_t)i < NWERRS ? werrs[i].name : NULL;
}

static void
named_error(struct sim_resp *resp, const char *name, const char *why,
            int retry_after, const char *id)
{
    char body[320], v[32];
    size_t i;
    int n;

    for (i = 0; i < NWERRS - 1 && strcmp(werrs[i].name, name) != 0; i++)
        ;
    n = snprintf(body, sizeof(body), "%s%s%s\n", werrs[i].name, why ? ": " : "",
                 why ? why : "");
    sim_resp_set(resp, werrs[i].status, "text/plain; charset=utf-8", body,
                 (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1);
    sim_resp_outcome(resp, werrs[i].name);
    if (retry_after >= 0) {
        snprintf(v, sizeof(v), "%d", retry_after);
        sim_resp_header(resp, "retry-after", v);
    }
    if (werrs[i].status == 301) {
        char loc[ID_MAX + 64];

        snprintf(loc, sizeof(loc),
                 "https://fcm.googleapis.com/fcm/send/redirected-%s", id);
        sim_resp_header(resp, "location", loc);
    }
}

/* ---- subscription keys ----------------------------------------------------
 */

static void
derive(int seed, const char *label, const char *id, size_t idlen,
       unsigned char out[32])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char s[4] = {(unsigned char)(seed >> 24),
                          (unsigned char)(seed >> 16),
                          (unsigned char)(seed >> 8), (unsigned char)seed};
    unsigned int n = 32;

    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    EVP_DigestUpdate(m, label, strlen(label) + 1);
    EVP_DigestUpdate(m, s, sizeof(s));
    EVP_DigestUpdate(m, id, idlen);
    EVP_DigestFinal_ex(m, out, &n);
    EVP_MD_CTX_free(m);
}

/* The key pair and auth secret of subscription id (the part before '~').
 * new key, NULL if the derived scalar is out of range (~2^-32). */
static EVP_PKEY *
sub_keys(const struct sim_ctx *ctx, const char *id, size_t idlen,
         unsigned char auth[HD_ECE_AUTH_LEN])
{
    unsigned char d[32];
    EVP_PKEY *k;

    derive(ctx->cfg.seed, "herald-sim webpush auth", id, idlen, d);
    memcpy(auth, d, HD_ECE_AUTH_LEN);
    derive(ctx->cfg.seed, "herald-sim webpush key", id, idlen, d);
    k = hd_p256_private(d, sizeof(d), NULL);
    OPENSSL_cleanse(d, sizeof(d));
    return k;
}

static void
fingerprint(const unsigned char *key, size_t len, char out[FP_HEX + 1])
{
    unsigned char md[32];
    unsigned int n = 32;
    int i;

    EVP_Digest(key, len, md, &n, EVP_sha256(), NULL);
    for (i = 0; i < FP_HEX / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
id_ok(const char *id, size_t n)
{
    return n > 0 && n <= ID_MAX &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789-_.:") >= n;
}

void
sim_webpush_subscription(struct hd_http_req *r, struct sim_ctx *ctx)
{
    const char *id = hd_http_req_query(r, "id");
    const char *key = hd_http_req_query(r, "key");
    const char *origin = hd_http_req_query(r, "origin");
    unsigned char auth[HD_ECE_AUTH_LEN], pub[HD_P256_PUB_LEN],
        priv[HD_P256_PRIV_LEN], ask[HD_P256_PUB_LEN];
    char fp[FP_HEX + 2] = "", endpoint[ID_MAX + 320];
    struct hd_buf p, a, s;
    EVP_PKEY *k;
    json_t *out;

    if (id == NULL || !id_ok(id, strlen(id)) ||
        (origin != NULL &&
         (strncmp(origin, "https://", 8) != 0 || strlen(origin) > 256))) {
        hd_http_respond_error(r, 400, "bad_request",
                              "id: 1..%d of [A-Za-z0-9-_.:]; origin: "
                              "https://HOST[:PORT]",
                              ID_MAX);
        return;
    }
    if (key != NULL) {
        if (hd_p256_b64_exact(key, strlen(key), ask, sizeof(ask), "key", NULL) <
            0) {
            hd_http_respond_error(r, 400, "bad_request",
                                  "key: base64url 65-byte public key");
            return;
        }
        fp[0] = '~';
        fingerprint(ask, sizeof(ask), fp + 1);
    }
    k = sub_keys(ctx, id, strlen(id), auth);
    if (k == NULL || hd_p256_get_public(k, pub, NULL) < 0 ||
        hd_p256_get_private(k, priv, NULL) < 0) {
        EVP_PKEY_free(k);
        hd_http_respond_error(r, 400, "bad_request", "id: pick another");
        return;
    }
    EVP_PKEY_free(k);
    hd_buf_init(&p, 128);
    hd_buf_init(&a, 64);
    hd_buf_init(&s, 64);
    hd_base64url_encode(pub, sizeof(pub), &p, NULL);
    hd_base64url_encode(auth, sizeof(auth), &a, NULL);
    hd_base64url_encode(priv, sizeof(priv), &s, NULL);
    snprintf(endpoint, sizeof(endpoint), "%s/fcm/send/%s%s",
             origin ? origin : "https://fcm.googleapis.com", id, fp);
    out = json_pack("{s:s, s:n, s:{s:s, s:s}, s:s}", "endpoint", endpoint,
                    "expirationTime", "keys", "p256dh", p.data, "auth", a.data,
                    "ua_private", s.data);
    hd_http_respond_json(r, 200, out);
    json_decref(out);
    hd_buf_release(&p);
    hd_buf_release(&a);
    hd_buf_release(&s);
}

/* ---- sends ----------------------------------------------------------------
 */

/* The subscription id and the key fingerprint from the path. */
static int
parse_path(const char *path, char *id, size_t idmax, char *fp)
{
    const char *p, *tilde;
    size_t n;

    if (strncmp(path, "/fcm/send/", 10) == 0)
        p = path + 10;
    else if (strncmp(path, "/wpush/", 7) == 0)
        p = path + 7;
    else
        return -1;
    n = strcspn(p, "?");
    tilde = memchr(p, '~', n);
    fp[0] = '\0';
    if (tilde != NULL) {
        if ((size_t)(p + n - tilde - 1) != FP_HEX)
            return -1;
        memcpy(fp, tilde + 1, FP_HEX);
        fp[FP_HEX] = '\0';
        n = (size_t)(tilde - p);
    }
    if (!id_ok(p, n) || n >= idmax)
        return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    return 0;
}

/* RFC 8030 5.2-5.4 headers. NULL when fine, else why not. */
static const char *
check_headers(const struct sim_req *req)
{
    const char *ttl = sim_req_header(req, "ttl");
    const char *ce = sim_req_header(req, "content-encoding");
    const char *u = sim_req_header(req, "urgency");
    const char *t = sim_req_header(req, "topic");

    if (ttl == NULL || *ttl == '\0' || strspn(ttl, "0123456789") != strlen(ttl))
        return "TTL header missing or not a number";
    if (ce == NULL || strcmp(ce, "aes128gcm") != 0)
        return "Content-Encoding must be aes128gcm";
    if (u != NULL && strcmp(u, "very-low") && strcmp(u, "low") &&
        strcmp(u, "normal") && strcmp(u, "high"))
        return "Urgency must be very-low, low, normal or high";
    if (t != NULL &&
        (strlen(t) == 0 || strlen(t) > 32 ||
         strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789-_") != strlen(t)))
        return "Topic must be 1..32 base64url characters";
    return NULL;
}

/* The VAPID check; 0, or -1 after answering 401/403. */
static int
check_vapid(struct sim_ctx *ctx, const struct sim_req *req,
            struct sim_resp *resp, const char *fp, const char *id)
{
    const char *h = sim_req_header(req, "authorization");
    const char *auth_host = sim_req_header(req, ":authority");
    unsigned char k[HD_P256_PUB_LEN];
    char origin[300], got[FP_HEX + 1];
    struct hd_err err = {0};

    if (auth_host == NULL)
        auth_host = sim_req_header(req, "host");
    snprintf(origin, sizeof(origin), "https://%s", auth_host ? auth_host : "");
    if (strlen(origin) > 4 && strcmp(origin + strlen(origin) - 4, ":443") == 0)
        origin[strlen(origin) - 4] = '\0';
    if (hd_vapid_verify(h, origin, sim_now_ms(ctx) / 1000, k, &err) < 0) {
        named_error(resp, "Unauthorized", err.msg, -1, id);
        return -1;
    }
    fingerprint(k, sizeof(k), got);
    if (fp[0] != '\0' && strcmp(fp, got) != 0) {
        named_error(resp, "Forbidden",
                    "the VAPID key is not the one the subscription was "
                    "made with",
                    -1, id);
        return -1;
    }
    return 0;
}

static void
decrypt_and_accept(struct sim_ctx *ctx, const struct sim_req *req,
                   struct sim_resp *resp, const char *id)
{
    unsigned char auth[HD_ECE_AUTH_LEN];
    struct hd_err err = {0};
    struct hd_ece *e = hd_ece_new(&err);
    EVP_PKEY *k = sub_keys(ctx, id, strlen(id), auth);
    struct hd_buf plain;
    char loc[ID_MAX + 96];

    hd_buf_init(&plain, HD_ECE_BODY_MAX);
    if (e == NULL || k == NULL ||
        hd_ece_decrypt(e, k, auth, req->body.data ? req->body.data : "",
                       req->body.len, &plain, &err) < 0) {
        named_error(resp, "BadRequest", err.msg, -1, id);
        goto out;
    }
    sim_resp_set(resp, 201, "text/plain; charset=utf-8",
                 plain.data ? plain.data : "", plain.len);
    snprintf(loc, sizeof(loc), "https://fcm.googleapis.com/fcm/message/%s/%llu",
             id, (unsigned long long)sim_next_id(ctx));
    sim_resp_header(resp, "location", loc);
    sim_resp_outcome(resp, "success");
    resp->accepted = 1;
    resp->delivered = 1;
out:
    hd_buf_release(&plain);
    EVP_PKEY_free(k);
    hd_ece_free(e);
}

static void
webpush_handle(struct sim_ctx *ctx, struct sim_peer *peer,
               const struct sim_req *req, struct sim_resp *resp)
{
    const char *method = sim_req_header(req, ":method");
    const char *path = sim_req_header(req, ":path");
    char id[ID_MAX + 1], fp[FP_HEX + 1];
    const char *why;
    struct sim_outcome o;

    (void)peer;
    sim_outcome_init(&o);
    if (method == NULL || strcmp(method, "POST") != 0 || path == NULL ||
        parse_path(path, id, sizeof(id), fp) < 0) {
        named_error(resp, "NotFound", NULL, -1, "");
        goto out;
    }
    sim_resp_add_token(resp, id, strlen(id));
    if (check_vapid(ctx, req, resp, fp, id) < 0)
        goto out;
    why = check_headers(req);
    if (why != NULL) {
        named_error(resp, "BadRequest", why, -1, id);
        goto out;
    }
    if (req->body.len > HD_ECE_BODY_MAX || req->body_overflow) {
        named_error(resp, "PayloadTooLarge", NULL, -1, id);
        goto out;
    }
    if (!sim_rules_match(ctx->rules, &sim_webpush_send, id, req, &o))
        sim_outcome_from_token(&sim_webpush_send, id, strlen(id), &o);
    if (sim_outcome_apply(&o, resp))
        goto out;
    if (o.kind == SIM_OUT_ERROR)
        named_error(resp, o.error, NULL, o.retry_after_s, id);
    else
        decrypt_and_accept(ctx, req, resp, id);
out:
    sim_outcome_release(&o);
}

const struct sim_endpoint sim_webpush_send = {
    "webpush.send", SIM_WEBPUSH, SIM_EP_SEND, 0, webpush_handle, error_at,
};
