/* hub_msgpack.h -- the small MessagePack encoder the hub needs: scalars,
 * containers, and a JSON value (jansson) converted as a whole.
 *
 * Only encoding: the hub never has to understand what clients send after
 * the (JSON) handshake. Every writer appends to a bounded struct hd_buf and
 * returns 0, or -1 with HD_ETOOBIG (the buffer may then hold a partial
 * value: the caller discards it). Integers and strings use the smallest
 * MessagePack form, as MessagePack-CSharp and msgpack-javascript do.
 * Pure functions, thread-safe on distinct buffers. */
#ifndef HUB_MSGPACK_H
#define HUB_MSGPACK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define HUB_MP_MAX_DEPTH 32 /* nesting accepted in a converted JSON value */

int hub_mp_nil(struct hd_buf *b, struct hd_err *err);
int hub_mp_bool(struct hd_buf *b, int v, struct hd_err *err);
int hub_mp_int(struct hd_buf *b, int64_t v, struct hd_err *err);
int hub_mp_double(struct hd_buf *b, double v, struct hd_err *err);
int hub_mp_str(struct hd_buf *b, const char *s, size_t n, struct hd_err *err);
int hub_mp_array(struct hd_buf *b, uint32_t n, struct hd_err *err);
int hub_mp_map(struct hd_buf *b, uint32_t n, struct hd_err *err);

/* Appends v: objects become maps (keys in jansson's insertion order, i.e.
 * as they arrived), arrays arrays, strings str, integers the smallest int
 * form, reals float64, true/false/null themselves. -1 with HD_EINVAL past
 * HUB_MP_MAX_DEPTH levels. */
int hub_mp_from_json(struct hd_buf *b, json_t *v, struct hd_err *err);

/* Appends the SignalR length prefix: 7 bits per byte, least significant
 * group first, high bit set while more follow (at most 5 bytes). */
int hub_mp_varint(struct hd_buf *b, uint32_t n, struct hd_err *err);

#endif
