/* webpush_crypto.c -- the CPU cost of one Web Push message in
 * herald-worker-webpush's build step: the subscription parsed from the
 * device token, its endpoint through the SSRF guard, the VAPID header
 * (cached per origin) and the RFC 8291 encryption. bench/webpush.sh runs
 * it beside the npm web-push library on the same machine.
 *
 *   webpush_crypto [MESSAGES] [PAYLOAD_BYTES]
 *
 * Prints one line per phase: the messages, the process CPU seconds and
 * the messages per CPU-second, for the whole build step and for each part
 * alone (the VAPID signature both cached and signed anew per message, to
 * show what the cache saves). One thread; no network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/rand.h"
#include "webpush/ece.h"
#include "webpush/guard.h"
#include "webpush/sub.h"
#include "webpush/vapid.h"
#include "core/banned.h"

#define ORIGINS_DISTINCT 1024 /* more than the VAPID cache holds */

static double
cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
report(const char *what, long n, double s)
{
    printf("%-28s %8ld msgs %8.3f cpu-s %10.0f /cpu-s\n", what, n, s,
           s > 0 ? (double)n / s : 0.0);
    fflush(stdout);
}

static void
die(const char *what, const struct hd_err *err)
{
    fprintf(stderr, "webpush_crypto: %s: %s\n", what, err->msg);
    exit(1);
}

/* A subscription token as the API stores it, for a fresh browser key. */
static void
make_token(struct hd_buf *tok)
{
    struct hd_buf priv, pub, auth;
    unsigned char secret[HD_ECE_AUTH_LEN];
    struct hd_err err = {0};

    hd_buf_init(&priv, 256);
    hd_buf_init(&pub, 256);
    hd_buf_init(&auth, 64);
    hd_random_bytes(secret, sizeof(secret));
    if (hd_vapid_keygen(&priv, &pub, &err) < 0 ||
        hd_base64url_encode(secret, sizeof(secret), &auth, &err) < 0 ||
        hd_buf_printf(tok, &err,
                      "{\"endpoint\":\"https://fcm.googleapis.com/fcm/send/"
                      "bench-0123456789\",\"keys\":{\"p256dh\":\"%s\","
                      "\"auth\":\"%s\"}}",
                      pub.data, auth.data) < 0)
        die("subscription", &err);
    hd_buf_release(&priv);
    hd_buf_release(&pub);
    hd_buf_release(&auth);
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    long size = argc > 2 ? strtol(argv[2], NULL, 10) : 200;
    struct hd_buf tok, priv, pub, out, plain;
    struct hd_webpush_guard *guard;
    struct hd_webpush_sub sub;
    struct hd_err err = {0};
    struct hd_vapid *vapid;
    struct hd_ece *ece;
    char origin[HD_WEBPUSH_ORIGIN_MAX], other[64];
    EVP_PKEY *ua = NULL;
    double t0;
    long i;

    if (n <= 0 || size < 0 || size > HD_ECE_PLAIN_MAX) {
        fprintf(stderr, "usage: webpush_crypto [MESSAGES] [0..%d]\n",
                HD_ECE_PLAIN_MAX);
        return 2;
    }
    hd_buf_init(&tok, 4096);
    hd_buf_init(&priv, 256);
    hd_buf_init(&pub, 256);
    hd_buf_init(&out, 8192);
    hd_buf_init(&plain, HD_ECE_PLAIN_MAX + 1);
    make_token(&tok);
    for (i = 0; i < size; i++)
        hd_buf_append(&plain, "x", 1, NULL);
    if (hd_vapid_keygen(&priv, &pub, &err) < 0)
        die("vapid keygen", &err);
    vapid = hd_vapid_new(priv.data, pub.data, "mailto:bench@herald.test", &err);
    guard = hd_webpush_guard_new(HD_WEBPUSH_DEFAULT_ORIGINS, "", "", &err);
    ece = hd_ece_new(&err);
    if (vapid == NULL || guard == NULL || ece == NULL)
        die("setup", &err);
    printf("payload %ld bytes, %ld messages, one thread\n", size, n);

    /* the worker's build step, per message */
    t0 = cpu_s();
    for (i = 0; i < n; i++) {
        hd_buf_reset(&out);
        if (hd_webpush_sub_parse(tok.data, tok.len, 0, &sub, &ua, &err) < 0 ||
            hd_webpush_guard_endpoint(guard, sub.endpoint, origin,
                                      sizeof(origin), &err) < 0 ||
            hd_vapid_header(vapid, origin, time(NULL), &out, &err) < 0 ||
            hd_ece_encrypt(ece, ua, sub.auth, plain.data, plain.len, 0, &out,
                           &err) < 0)
            die("build", &err);
        EVP_PKEY_free(ua);
        ua = NULL;
    }
    report("build (worker path)", n, cpu_s() - t0);

    /* the parts alone */
    t0 = cpu_s();
    for (i = 0; i < n; i++) {
        if (hd_webpush_sub_parse(tok.data, tok.len, 0, &sub, &ua, &err) < 0)
            die("parse", &err);
        EVP_PKEY_free(ua);
    }
    report("  subscription parse", n, cpu_s() - t0);
    if (hd_webpush_sub_parse(tok.data, tok.len, 0, &sub, &ua, &err) < 0)
        die("parse", &err);
    t0 = cpu_s();
    for (i = 0; i < n; i++) {
        hd_buf_reset(&out);
        if (hd_ece_encrypt(ece, ua, sub.auth, plain.data, plain.len, 0, &out,
                           &err) < 0)
            die("encrypt", &err);
    }
    report("  encryption (RFC 8291)", n, cpu_s() - t0);
    t0 = cpu_s();
    for (i = 0; i < n; i++) {
        hd_buf_reset(&out);
        if (hd_vapid_header(vapid, origin, time(NULL), &out, &err) < 0)
            die("vapid", &err);
    }
    report("  VAPID header, cached", n, cpu_s() - t0);
    t0 = cpu_s();
    for (i = 0; i < n; i++) {
        hd_buf_reset(&out);
        snprintf(other, sizeof(other), "https://p%ld.push.services.mozilla.com",
                 i % ORIGINS_DISTINCT);
        if (hd_vapid_header(vapid, other, time(NULL), &out, &err) < 0)
            die("vapid", &err);
    }
    report("  VAPID header, signed each", n, cpu_s() - t0);

    EVP_PKEY_free(ua);
    hd_ece_free(ece);
    hd_webpush_guard_free(guard);
    hd_vapid_free(vapid);
    hd_buf_release(&tok);
    hd_buf_release(&priv);
    hd_buf_release(&pub);
    hd_buf_release(&out);
    hd_buf_release(&plain);
    return 0;
}
