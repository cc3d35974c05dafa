/* hub_msgpack.c -- MessagePack encoding, big-endian by hand.
 *
 * Each writer assembles at most 9 header bytes on the stack and appends
 * them with one hd_buf_append(), so the buffer's ceiling is checked in one
 * place. */
#include <string.h>

#include "services/hub/hub_msgpack.h"
#include "core/banned.h"

static int
put_be(struct hd_buf *b, unsigned char tag, uint64_t v, int nbytes,
       struct hd_err *err)
{
    unsigned char tmp[9];
    int i;

    tmp[0] = tag;
    for (i = 0; i < nbytes; i++)
        tmp[1 + i] = (unsigned char)(v >> (8 * (nbytes - 1 - i)));
    return hd_buf_append(b, tmp, (size_t)nbytes + 1, err);
}

int
hub_mp_nil(struct hd_buf *b, struct hd_err *err)
{
    return hd_buf_putc(b, (char)0xc0, err);
}

int
hub_mp_bool(struct hd_buf *b, int v, struct hd_err *err)
{
    return hd_buf_putc(b, (char)(v ? 0xc3 : 0xc2), err);
}

int
hub_mp_int(struct hd_buf *b, int64_t v, struct hd_err *err)
{
    if (v >= 0) {
        uint64_t u = (uint64_t)v;

        if (u < 128)
            return hd_buf_putc(b, (char)u, err);
        if (u <= 0xff)
            return put_be(b, 0xcc, u, 1, err);
        if (u <= 0xffff)
            return put_be(b, 0xcd, u, 2, err);
        if (u <= 0xffffffffu)
            return put_be(b, 0xce, u, 4, err);
        return put_be(b, 0xcf, u, 8, err);
    }
    if (v >= -32)
        return hd_buf_putc(b, (char)(0xe0 | (v + 32)), err);
    if (v >= -128)
        return put_be(b, 0xd0, (uint64_t)v & 0xff, 1, err);
    if (v >= -32768)
        return put_be(b, 0xd1, (uint64_t)v & 0xffff, 2, err);
    if (v >= -2147483647LL - 1)
        return put_be(b, 0xd2, (uint64_t)v & 0xffffffffu, 4, err);
    return put_be(b, 0xd3, (uint64_t)v, 8, err);
}

int
hub_mp_double(struct hd_buf *b, double v, struct hd_err *err)
{
    uint64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    return put_be(b, 0xcb, bits, 8, err);
}

int
hub_mp_str(struct hd_buf *b, const char *s, size_t n, struct hd_err *err)
{
    int rc;

    if (n > 0xffffffffu)
        return hd_err_set(err, HD_ETOOBIG, "string of %zu bytes", n);
    if (n < 32)
        rc = hd_buf_putc(b, (char)(0xa0 | n), err);
    else if (n <= 0xff)
        rc = put_be(b, 0xd9, n, 1, err);
    else if (n <= 0xffff)
        rc = put_be(b, 0xda, n, 2, err);
    else
        rc = put_be(b, 0xdb, n, 4, err);
    if (rc < 0)
        return -1;
    return hd_buf_append(b, s, n, err);
}

int
hub_mp_array(struct hd_buf *b, uint32_t n, struct hd_err *err)
{
    if (n < 16)
        return hd_buf_putc(b, (char)(0x90 | n), err);
    if (n <= 0xffff)
        return put_be(b, 0xdc, n, 2, err);
    return put_be(b, 0xdd, n, 4, err);
}

int
hub_mp_map(struct hd_buf *b, uint32_t n, struct hd_err *err)
{
    if (n < 16)
        return hd_buf_putc(b, (char)(0x80 | n), err);
    if (n <= 0xffff)
        return put_be(b, 0xde, n, 2, err);
    return put_be(b, 0xdf, n, 4, err);
}

static int
from_json(struct hd_buf *b, json_t *v, int depth, struct hd_err *err)
{
    const char *key;
    json_t *item;
    size_t i;

    if (depth > HUB_MP_MAX_DEPTH)
        return hd_err_set(err, HD_EINVAL, "JSON nested deeper than %d",
                          HUB_MP_MAX_DEPTH);
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (hub_mp_map(b, (uint32_t)json_object_size(v), err) < 0)
            return -1;
        json_object_foreach(v, key, item)
        {
            if (hub_mp_str(b, key, strlen(key), err) < 0 ||
                from_json(b, item, depth + 1, err) < 0)
                return -1;
        }
        return 0;
    case JSON_ARRAY:
        if (hub_mp_array(b, (uint32_t)json_array_size(v), err) < 0)
            return -1;
        json_array_foreach(v, i, item)
        {
            if (from_json(b, item, depth + 1, err) < 0)
                return -1;
        }
        return 0;
    case JSON_STRING:
        return hub_mp_str(b, json_string_value(v), json_string_length(v), err);
    case JSON_INTEGER:
        return hub_mp_int(b, json_integer_value(v), err);
    case JSON_REAL:
        return hub_mp_double(b, json_real_value(v), err);
    case JSON_TRUE:
        return hub_mp_bool(b, 1, err);
    case JSON_FALSE:
        return hub_mp_bool(b, 0, err);
    case JSON_NULL:
    default:
        return hub_mp_nil(b, err);
    }
}

int
hub_mp_from_json(struct hd_buf *b, json_t *v, struct hd_err *err)
{
    return from_json(b, v, 0, err);
}

int
hub_mp_varint(struct hd_buf *b, uint32_t n, struct hd_err *err)
{
    unsigned char tmp[5];
    size_t k = 0;

    do {
        tmp[k] = (unsigned char)(n & 0x7f);
        n >>= 7;
        if (n)
            tmp[k] |= 0x80;
        k++;
    } while (n);
    return hd_buf_append(b, tmp, k, err);
}
