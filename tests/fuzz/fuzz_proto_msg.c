/* fuzz_proto_msg.c -- every Kafka record decoder (common/proto/msg.c):
 * events, requests, deliveries and feedback. The first byte picks the
 * decoder (bits 0-1); a record that decodes is encoded again and must
 * decode to the same bytes (encode is the inverse of decode). With bit 2
 * set the record, valid or not, is wrapped as a dead letter instead, which
 * must succeed: one JSON parse and dump an input rather than two. */
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"
#include "tests/fuzz/fuzz.h"

#define OUT_MAX (4 * 1024 * 1024)

/* enc(decoded) -> a, decode(a) -> enc -> b: a and b must be equal. */
#define ROUNDTRIP(type, dec, enc, rel)                                         \
    do {                                                                       \
        struct type m1, m2;                                                    \
        struct hd_buf a, b;                                                    \
        if (dec(data, size, &m1, &err) < 0)                                    \
            break;                                                             \
        hd_buf_init(&a, OUT_MAX);                                              \
        hd_buf_init(&b, OUT_MAX);                                              \
        if (enc(&m1, &a, &err) == 0) {                                         \
            if (dec(a.data, a.len, &m2, &err) < 0)                             \
                abort();                                                       \
            if (enc(&m2, &b, &err) < 0 || a.len != b.len ||                    \
                memcmp(a.data, b.data, a.len) != 0)                            \
                abort();                                                       \
            rel(&m2);                                                          \
        }                                                                      \
        hd_buf_release(&a);                                                    \
        hd_buf_release(&b);                                                    \
        rel(&m1);                                                              \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hd_err err;
    struct hd_buf dlq;
    int which;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    which = data[0] & 7;
    data++;
    size--;
    if (which & 4) {
        hd_buf_init(&dlq, OUT_MAX);
        if (hd_msg_dlq_encode("herald.requests", "fuzz", NULL, data, size, 1,
                              &dlq, &err) < 0 &&
            size < 64 * 1024)
            abort();
        hd_buf_release(&dlq);
        return 0;
    }
    switch (which) {
    case 0:
        ROUNDTRIP(hd_msg_event, hd_msg_event_decode, hd_msg_event_encode,
                  hd_msg_event_release);
        break;
    case 1:
        ROUNDTRIP(hd_msg_request, hd_msg_request_decode, hd_msg_request_encode,
                  hd_msg_request_release);
        break;
    case 2:
        ROUNDTRIP(hd_msg_delivery, hd_msg_delivery_decode,
                  hd_msg_delivery_encode, hd_msg_delivery_release);
        break;
    default:
        ROUNDTRIP(hd_msg_feedback, hd_msg_feedback_decode,
                  hd_msg_feedback_encode, hd_msg_feedback_release);
        break;
    }
    return 0;
}
