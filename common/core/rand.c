/* rand.c -- xorshift64* per thread, getrandom(2) for secrets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "core/rand.h"
#include "core/banned.h"

static _Thread_local uint64_t rstate;

static uint64_t
sys_next(void *ud)
{
    (void)ud;
    return hd_rand_u64();
}

const struct hd_rand hd_rand_system = {sys_next, NULL};

void
hd_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr,
                    "{\"level\":\"fatal\",\"msg\":\"getrandom failed\"}\n");
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

uint64_t
hd_rand_u64(void)
{
    uint64_t x;

    if (rstate == 0) {
        hd_random_bytes(&rstate, sizeof(rstate));
        rstate |= 1;
    }
    x = rstate;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rstate = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void
hd_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    size_t i;

    while (nbytes > sizeof(b)) {
        hd_random_hex(out, sizeof(b));
        out += 2 * sizeof(b);
        nbytes -= sizeof(b);
    }
    hd_random_bytes(b, nbytes);
    for (i = 0; i < nbytes; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

void
hd_uuid4(char out[37])
{
    unsigned char b[16];

    hd_random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}
