/* fuzz_hub_signalr.c -- the SignalR bytes a hub client controls or feeds:
 * the JSON handshake request (the one message the hub parses), and a
 * notification of any shape encoded as a MessagePack and a JSON
 * invocation (hub_signalr.c, hub_msgpack.c). The first byte picks the
 * part; an encoded MessagePack frame is read back with libmsgpack to check
 * it is well formed and as long as its VarInt prefix says. libmsgpack's
 * reader stops at 32 levels of nesting (MSGPACK_EMBED_STACK_SIZE, fixed
 * when the library is built), so a notification nested deeper than it can
 * read inside the invocation's two arrays gets the length check only. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "services/hub/hub_msgpack.h"
#include "services/hub/hub_signalr.h"
#include "tests/fuzz/fuzz.h"

/* the deepest notification libmsgpack can read back inside an invocation:
 * its array, the arguments' array, then the value */
#define CHECK_DEPTH_MAX (32 - 2)

static int
json_depth(json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;
    int d = 0, sub;

    if (json_is_object(v)) {
        json_object_foreach(v, key, item)
        {
            sub = json_depth(item);
            d = sub > d ? sub : d;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, item)
        {
            sub = json_depth(item);
            d = sub > d ? sub : d;
        }
        return d + 1;
    }
    return 0;
}

static void
check_msgpack_frame(const struct hd_buf *b, int readable)
{
    const unsigned char *p = (const unsigned char *)b->data;
    size_t n = 0, off = 0;
    int shift = 0;
    msgpack_unpacked u;

    while (off < b->len && off < 5) {
        n |= (size_t)(p[off] & 0x7f) << shift;
        shift += 7;
        if (!(p[off++] & 0x80))
            break;
    }
    if (off + n != b->len)
        abort();
    if (!readable)
        return;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, (const char *)p + off, n, NULL) !=
        MSGPACK_UNPACK_SUCCESS)
        abort();
    msgpack_unpacked_destroy(&u);
}

static void
encode(const uint8_t *data, size_t size)
{
    json_t *v = fuzz_json(data, size);
    struct hd_buf b;
    struct hd_err err = {0};
    int p, readable;

    if (v == NULL)
        return;
    readable = json_depth(v) <= CHECK_DEPTH_MAX;
    for (p = 0; p < HUB_PROTO__COUNT; p++) {
        hd_buf_init(&b, 1 << 20);
        if (hub_signalr_invocation(&b, (enum hub_proto)p, "ReceiveMessage", v,
                                   &err) == 0) {
            if (p == HUB_PROTO_MSGPACK)
                check_msgpack_frame(&b, readable);
            else if (b.len == 0 || b.data[b.len - 1] != HUB_RS)
                abort();
        }
        hd_buf_release(&b);
    }
    json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum hub_proto proto;
    struct hd_err err = {0};
    struct hd_buf b;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    if (data[0] & 1) {
        encode(data + 1, size - 1);
        return 0;
    }
    hd_buf_init(&b, 4096);
    if (hub_signalr_handshake((const char *)data + 1, size - 1, &proto, &err) ==
        0) {
        if (proto >= HUB_PROTO__COUNT)
            abort();
        hub_signalr_handshake_reply(&b, NULL, &err);
    } else {
        if (strlen(err.msg) == 0)
            abort();
        hub_signalr_handshake_reply(&b, err.msg, &err);
    }
    hd_buf_release(&b);
    return 0;
}
