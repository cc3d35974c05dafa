/* hub_signalr.h -- the SignalR hub protocol bytes (specs/bitwarden.md 1.4-1.7):
 * the JSON handshake, and the server-to-client messages of the MessagePack
 * and JSON hub protocols, each a complete frame ready to be written.
 *
 * No I/O and no connection state: hub_ws.c decides when to send what.
 * MessagePack messages carry their VarInt length prefix; JSON messages end
 * with the 0x1e record separator. Several framed messages may be
 * concatenated into one WebSocket message. Pure functions, thread-safe. */
#ifndef HUB_SIGNALR_H
#define HUB_SIGNALR_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

enum hub_proto {
    HUB_PROTO_MSGPACK = 0,
    HUB_PROTO_JSON = 1,
    HUB_PROTO__COUNT,
};

#define HUB_RS 0x1e /* record separator ending every JSON message */

/* "messagepack" / "json". */
const char *hub_proto_name(enum hub_proto p);

/* Parses a handshake request: len bytes that end at (and may include) the
 * first 0x1e. Accepts {"protocol":"messagepack"|"json","version":1} in any
 * key order, with any whitespace and extra keys. Returns 0 with *proto set;
 * or -1 with err->msg holding the text for the client's error reply
 * ("Requested protocol 'x' is not available.", ...). */
int hub_signalr_handshake(const char *data, size_t len, enum hub_proto *proto,
                          struct hd_err *err);

/* Appends the handshake reply: "{}\x1e", or {"error":msg}\x1e when msg is
 * not NULL. */
int hub_signalr_handshake_reply(struct hd_buf *out, const char *msg,
                                struct hd_err *err);

/* Appends a non-blocking invocation of target with one argument:
 * MessagePack [1, {}, nil, target, [arg], []] behind its length, or JSON
 * {"type":1,"target":target,"arguments":[arg]} + 0x1e. arg is passed
 * through as it is (keys and values untouched). */
int hub_signalr_invocation(struct hd_buf *out, enum hub_proto p,
                           const char *target, json_t *arg, struct hd_err *err);

/* The constant messages, framed: Ping, and Close with allowReconnect
 * true and no error. Borrowed static bytes. */
const unsigned char *hub_signalr_ping(enum hub_proto p, size_t *len);
const unsigned char *hub_signalr_close(enum hub_proto p, size_t *len);

#endif
