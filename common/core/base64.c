/* base64.c -- RFC 4648 Base64 and base64url over struct hd_buf.
 *
 * Strict on input: one alphabet per call, no whitespace, no stray '=',
 * no leftover bits set in the last character (so every byte string has
 * exactly one accepted encoding, which matters for signed tokens). The
 * output size is checked against out->max before anything is written, and
 * a decode that fails part-way leaves out as it was. */
#include <stdint.h>
#include <string.h>

#include "core/base64.h"
#include "core/banned.h"

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Fails with HD_ETOOBIG unless n more bytes fit under out->max. */
static int
check_room(const struct hd_buf *out, size_t n, struct hd_err *err)
{
    if (n > out->max || out->len > out->max - n)
        return hd_err_set(err, HD_ETOOBIG, "buffer limit %zu bytes exceeded",
                          out->max);
    return 0;
}

static int
encode(const unsigned char *in, size_t len, const char *alphabet, int pad,
       struct hd_buf *out, struct hd_err *err)
{
    char chunk[256];
    size_t full = len / 3;
    size_t rest = len % 3;
    size_t need;
    size_t n = 0;
    size_t i;

    if (full > SIZE_MAX / 4 - 1)
        return hd_err_set(err, HD_ETOOBIG, "input too large to encode");
    need = full * 4;
    if (rest)
        need += pad ? 4 : rest + 1;
    if (check_room(out, need, err) < 0)
        return -1;
    for (i = 0; i < full; i++, in += 3) {
        uint32_t v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];

        chunk[n++] = alphabet[v >> 18 & 63];
        chunk[n++] = alphabet[v >> 12 & 63];
        chunk[n++] = alphabet[v >> 6 & 63];
        chunk[n++] = alphabet[v & 63];
        if (n == sizeof(chunk)) {
            hd_buf_append(out, chunk, n, NULL); /* room checked above */
            n = 0;
        }
    }
    if (rest) {
        uint32_t v = (uint32_t)in[0] << 16;

        if (rest == 2)
            v |= (uint32_t)in[1] << 8;
        chunk[n++] = alphabet[v >> 18 & 63];
        chunk[n++] = alphabet[v >> 12 & 63];
        if (rest == 2)
            chunk[n++] = alphabet[v >> 6 & 63];
        else if (pad)
            chunk[n++] = '=';
        if (pad)
            chunk[n++] = '=';
    }
    if (n)
        hd_buf_append(out, chunk, n, NULL);
    return 0;
}

int
hd_base64_encode(const void *data, size_t len, struct hd_buf *out,
                 struct hd_err *err)
{
    return encode(data, len, std_alphabet, 1, out, err);
}

int
hd_base64url_encode(const void *data, size_t len, struct hd_buf *out,
                    struct hd_err *err)
{
    return encode(data, len, url_alphabet, 0, out, err);
}

/* The 6-bit value of c in the chosen alphabet, or -1. */
static int
sextet(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static int
decode(const char *text, size_t len, int url, struct hd_buf *out,
       struct hd_err *err)
{
    const char *name = url ? "base64url" : "base64";
    unsigned char chunk[192];
    size_t start = out->len;
    size_t npad = 0;
    size_t body;
    size_t outlen;
    size_t n = 0;
    uint32_t acc = 0;
    size_t i;
    int last = 0;

    /* Padding: only at the end, at most two, and then the length must be
     * a multiple of four. base64url may also simply stop. */
    while (npad < 2 && npad < len && text[len - 1 - npad] == '=')
        npad++;
    if (npad > 0 && len % 4 != 0)
        return hd_err_set(err, HD_EINVAL, "%s: bad padding", name);
    if (npad == 0 && !url && len % 4 != 0)
        return hd_err_set(err, HD_EINVAL, "%s: length %zu not a multiple of 4",
                          name, len);
    body = len - npad;
    if (body % 4 == 1)
        return hd_err_set(err, HD_EINVAL, "%s: bad length %zu", name, len);
    if (npad > 0 && body % 4 != 4 - npad)
        return hd_err_set(err, HD_EINVAL, "%s: bad padding", name);
    outlen = body / 4 * 3 + (body % 4 ? body % 4 - 1 : 0);
    if (check_room(out, outlen, err) < 0)
        return -1;

    for (i = 0; i < body; i++) {
        last = sextet((unsigned char)text[i], url);
        if (last < 0) {
            hd_err_set(err, HD_EINVAL, "%s: bad character at offset %zu", name,
                       i);
            goto fail;
        }
        acc = acc << 6 | (uint32_t)last;
        if (i % 4 == 3) {
            chunk[n++] = (unsigned char)(acc >> 16);
            chunk[n++] = (unsigned char)(acc >> 8);
            chunk[n++] = (unsigned char)acc;
            acc = 0;
            if (n == sizeof(chunk)) {
                hd_buf_append(out, chunk, n, NULL); /* room checked */
                n = 0;
            }
        }
    }
    /* A final group of 2 or 3 characters carries 12 or 18 bits for 8 or 16
     * bits of data: the unused low bits must be zero. */
    if (body % 4 == 2) {
        if (last & 0x0f)
            goto noncanonical;
        chunk[n++] = (unsigned char)(acc >> 4);
    } else if (body % 4 == 3) {
        if (last & 0x03)
            goto noncanonical;
        chunk[n++] = (unsigned char)(acc >> 10);
        chunk[n++] = (unsigned char)(acc >> 2);
    }
    if (n)
        hd_buf_append(out, chunk, n, NULL);
    return 0;

noncanonical:
    hd_err_set(err, HD_EINVAL, "%s: non-canonical trailing bits", name);
fail:
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return -1;
}

int
hd_base64_decode(const char *text, size_t len, struct hd_buf *out,
                 struct hd_err *err)
{
    return decode(text, len, 0, out, err);
}

int
hd_base64url_decode(const char *text, size_t len, struct hd_buf *out,
                    struct hd_err *err)
{
    return decode(text, len, 1, out, err);
}
