/* fuzz_proto_bitwarden.c -- Bitwarden event ingest (common/proto/
 * bitwarden.c): any JSON as a notification {Type, Payload, ContextId} is
 * routed, and, when it routes, turned into the mobile notifications; device
 * type names from JWT claims are parsed from the raw bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum hd_event_target target;
    char *target_id = NULL, s[64];
    int ct, t;
    struct hd_err err;
    json_t *v, *mobile, *type, *payload;

    if (size > FUZZ_INPUT_MAX)
        return 0;
    if (size < sizeof(s)) {
        memcpy(s, data, size);
        s[size] = '\0';
        t = hd_bw_device_type_parse(s);
        if (t >= 0 &&
            hd_bw_client_type_name(hd_bw_client_type_of_device(t)) == NULL)
            abort();
    }
    v = fuzz_json(data, size);
    if (v == NULL)
        return 0;
    if (hd_bw_route(v, &target, &target_id, &ct, &err) == 0) {
        if (target != HD_TARGET_NONE && target_id == NULL)
            abort();
        free(target_id);
        type = json_object_get(v, "Type");
        payload = json_object_get(v, "Payload");
        if (json_is_object(payload)) {
            mobile = hd_bw_mobile_notification(
                json_is_integer(type) ? (int)json_integer_value(type) : 0,
                payload, "ctx", &err);
            json_decref(mobile);
        }
    }
    json_decref(v);
    return 0;
}
