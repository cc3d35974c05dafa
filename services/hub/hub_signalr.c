/* hub_signalr.c -- SignalR handshake parsing and message framing.
 *
 * The handshake is parsed with jansson rather than matched byte for byte
 * (Vaultwarden's exact match makes JSON clients hang); the error texts are
 * ASP.NET's, which the JS client surfaces to the application. */
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "services/hub/hub_msgpack.h"
#include "services/hub/hub_signalr.h"
#include "core/banned.h"

static const char *const proto_names[HUB_PROTO__COUNT] = {"messagepack",
                                                          "json"};

/* [6] and [7, nil, true], each behind its one-byte length. */
static const unsigned char mp_ping[] = {0x02, 0x91, 0x06};
static const unsigned char mp_close[] = {0x04, 0x93, 0x07, 0xc0, 0xc3};
static const char json_ping[] = "{\"type\":6}\x1e";
static const char json_close[] = "{\"type\":7,\"allowReconnect\":true}\x1e";

const char *
hub_proto_name(enum hub_proto p)
{
    return (unsigned)p < HUB_PROTO__COUNT ? proto_names[p] : "unknown";
}

int
hub_signalr_handshake(const char *data, size_t len, enum hub_proto *proto,
                      struct hd_err *err)
{
    const char *end = memchr(data, HUB_RS, len);
    json_t *doc, *pv, *vv;
    const char *name;
    int rc = -1;
    int i;

    if (end)
        len = (size_t)(end - data);
    if (len > HD_HUB_HANDSHAKE_MAX)
        return hd_err_set(err, HD_EINVAL, "Handshake request too large.");
    doc = json_loadb(data, len, 0, NULL);
    if (!json_is_object(doc)) {
        hd_err_set(err, HD_EINVAL,
                   "An unexpected error occurred during connection "
                   "handshake. InvalidDataException: Handshake request is "
                   "not a JSON object.");
        goto out;
    }
    pv = json_object_get(doc, "protocol");
    vv = json_object_get(doc, "version");
    if (!json_is_string(pv) || !json_is_integer(vv)) {
        hd_err_set(err, HD_EINVAL,
                   "An unexpected error occurred during connection "
                   "handshake. InvalidDataException: Missing required "
                   "property 'protocol' or 'version'.");
        goto out;
    }
    name = json_string_value(pv);
    for (i = 0; i < HUB_PROTO__COUNT; i++) {
        if (strcmp(name, proto_names[i]) == 0)
            break;
    }
    if (i == HUB_PROTO__COUNT) {
        hd_err_set(err, HD_EINVAL,
                   "Requested protocol '%.64s' is not available.", name);
        goto out;
    }
    if (json_integer_value(vv) != 1) {
        hd_err_set(err, HD_EINVAL,
                   "The server does not support version %lld of the "
                   "'%s' protocol.",
                   (long long)json_integer_value(vv), name);
        goto out;
    }
    *proto = (enum hub_proto)i;
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

int
hub_signalr_handshake_reply(struct hd_buf *out, const char *msg,
                            struct hd_err *err)
{
    if (msg == NULL)
        return hd_buf_append(out, "{}\x1e", 3, err);
    if (hd_buf_puts(out, "{\"error\":\"", err) < 0 ||
        hd_buf_json_escape(out, msg, strlen(msg), err) < 0 ||
        hd_buf_append(out, "\"}\x1e", 3, err) < 0)
        return -1;
    return 0;
}

static int
mp_invocation(struct hd_buf *out, const char *target, json_t *arg,
              struct hd_err *err)
{
    struct hd_buf body;
    int rc = -1;

    hd_buf_init(&body, HD_HUB_FRAME_MAX);
    if (hub_mp_array(&body, 6, err) < 0 || hub_mp_int(&body, 1, err) < 0 ||
        hub_mp_map(&body, 0, err) < 0 || hub_mp_nil(&body, err) < 0 ||
        hub_mp_str(&body, target, strlen(target), err) < 0 ||
        hub_mp_array(&body, 1, err) < 0 ||
        hub_mp_from_json(&body, arg, err) < 0 ||
        hub_mp_array(&body, 0, err) < 0)
        goto out;
    if (hub_mp_varint(out, (uint32_t)body.len, err) < 0 ||
        hd_buf_append(out, body.data, body.len, err) < 0)
        goto out;
    rc = 0;
out:
    hd_buf_release(&body);
    return rc;
}

static int
json_invocation(struct hd_buf *out, const char *target, json_t *arg,
                struct hd_err *err)
{
    char *dump;
    int rc;

    dump = json_dumps(arg, JSON_COMPACT | JSON_ENCODE_ANY);
    if (dump == NULL)
        return hd_err_set(err, HD_EINVAL, "argument cannot be serialised");
    rc = hd_buf_puts(out, "{\"type\":1,\"target\":\"", err) < 0 ||
                 hd_buf_json_escape(out, target, strlen(target), err) < 0 ||
                 hd_buf_puts(out, "\",\"arguments\":[", err) < 0 ||
                 hd_buf_puts(out, dump, err) < 0 ||
                 hd_buf_append(out, "]}\x1e", 3, err) < 0
             ? -1
             : 0;
    free(dump);
    return rc;
}

int
hub_signalr_invocation(struct hd_buf *out, enum hub_proto p, const char *target,
                       json_t *arg, struct hd_err *err)
{
    if (p == HUB_PROTO_MSGPACK)
        return mp_invocation(out, target, arg, err);
    return json_invocation(out, target, arg, err);
}

const unsigned char *
hub_signalr_ping(enum hub_proto p, size_t *len)
{
    if (p == HUB_PROTO_MSGPACK) {
        *len = sizeof(mp_ping);
        return mp_ping;
    }
    *len = sizeof(json_ping) - 1;
    return (const unsigned char *)json_ping;
}

const unsigned char *
hub_signalr_close(enum hub_proto p, size_t *len)
{
    if (p == HUB_PROTO_MSGPACK) {
        *len = sizeof(mp_close);
        return mp_close;
    }
    *len = sizeof(json_close) - 1;
    return (const unsigned char *)json_close;
}
