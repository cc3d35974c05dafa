/* fuzz_relay_model.c -- relay request bodies (services/relay/
 * relay_model.c): any JSON as a device registration, device, update and
 * send request of one installation, and any bytes as the form body of
 * POST /connect/token. The first byte picks the parser. */
#include <stdlib.h>
#include <string.h>

#include "services/relay/relay.h"
#include "tests/fuzz/fuzz.h"

#define INST "3d5a2f1e-8b7c-4e6d-9a0b-1c2d3e4f5a6b"

static void
form(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"grant_type", "client_id",
                                        "client_secret", "scope"};
    char out[256];
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (relay_form_get((const char *)data, size, names[i], out,
                           sizeof(out)) == 1 &&
            strlen(out) >= sizeof(out))
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct relay_register reg;
    struct hd_msg_request req;
    struct relay_fail f;
    char id[HD_ID_MAX + 1], ch[HD_CHANNEL_MAX + 1];
    json_t *body, *ids = NULL, *e;
    int which, type;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    which = data[0] % 5;
    if (which == 4) {
        form(data + 1, size - 1);
        return 0;
    }
    body = fuzz_json(data + 1, size - 1);
    if (body == NULL)
        return 0;
    memset(&f, 0, sizeof(f));
    switch (which) {
    case 0:
        if (relay_register_parse(body, INST, &reg, &f) == 0)
            relay_register_release(&reg);
        break;
    case 1:
        relay_device_parse(body, INST, id, &f);
        break;
    case 2:
        if (relay_update_parse(body, INST, &ids, ch, &f) == 0)
            json_decref(ids);
        break;
    default:
        if (relay_send_parse(body, INST, "relay." INST, 1700000000000LL, &req,
                             &type, &f) == 0)
            hd_msg_request_release(&req);
        break;
    }
    if (f.status != 0) {
        e = relay_error_body(&f);
        if (e == NULL)
            abort();
        json_decref(e);
    }
    json_decref(body);
    return 0;
}
