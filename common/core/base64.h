/* base64.h -- Base64 (RFC 4648 section 4) and base64url (section 5).
 *
 * Encoders append to a struct hd_buf; decoders refuse bad characters and
 * bad lengths instead of skipping them. base64url is written without '='
 * padding (as JOSE requires) and read with or without it. Thread-safe. */
#ifndef HD_BASE64_H
#define HD_BASE64_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

int hd_base64_encode(const void *data, size_t len, struct hd_buf *out,
                     struct hd_err *err);
int hd_base64url_encode(const void *data, size_t len, struct hd_buf *out,
                        struct hd_err *err);

/* Append the decoded bytes to out. Return 0 or -1 with err (HD_EINVAL for
 * bad input, HD_ETOOBIG when out would pass its max). */
int hd_base64_decode(const char *text, size_t len, struct hd_buf *out,
                     struct hd_err *err);
int hd_base64url_decode(const char *text, size_t len, struct hd_buf *out,
                        struct hd_err *err);

#endif
