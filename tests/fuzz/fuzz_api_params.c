/* fuzz_api_params.c -- server-API params validation (services/api/
 * api_params.c and the parsers built on it): any JSON as the params of
 * device_register and send_push_notification, and through every typed
 * reader (strings of each kind, lists, maps, flags, limit, app) and every
 * provider's token check. The first byte picks the entry point. */
#include <stdlib.h>
#include <string.h>

#include "services/api/api.h"
#include "tests/fuzz/fuzz.h"

/* the defaults: unknown params ignored, no Web Push origins (subscriptions
 * refused) */
static const struct api_rules rules = {0};

static void
readers(json_t *p)
{
    static const char *const known[] = {"a", "b", "list", "map", NULL};
    struct hd_err err;
    const char *s;
    json_t *out;
    int k, n, pr;

    api_params_known(&rules, p, "params", known, &err);
    for (k = API_K_ID; k <= API_K_CURSOR; k++) {
        api_get_str(p, "params", "a", (enum api_kind)k, k & 1, &s, &err);
        api_get_list(p, "params", "list", (enum api_kind)k, 8, k & 1, &out,
                     &err);
    }
    api_get_map(p, "params", "map", &out, &err);
    api_get_flag(p, "params", "b", &n, &err);
    api_get_limit(p, "params", 100, 1000, &n, &err);
    api_get_app(p, "params", &s, &err);
    api_json_size(p);
    s = json_string_value(json_object_get(p, "a"));
    if (s != NULL)
        for (pr = 0; pr < HD_PROVIDER__COUNT; pr++)
            api_check_token(&rules, (enum hd_provider)pr, s, strlen(s),
                            "params.a", &err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_register reg;
    struct hd_msg_request req;
    struct hd_err err;
    json_t *p;
    int which;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    which = data[0] % 3;
    p = fuzz_json(data + 1, size - 1);
    if (p == NULL)
        return 0;
    if (which == 0) {
        if (api_register_parse(&rules, p, &reg, &err) == 0 &&
            (reg.token == NULL || reg.user == NULL))
            abort();
    } else if (which == 1) {
        int64_t send_at_s = -1;

        if (api_send_parse(&rules, p, 1700000000000LL, &req, &send_at_s,
                           &err) == 0) {
            if (req.uid == NULL || req.values == NULL || send_at_s < 0)
                abort();
            hd_msg_request_release(&req);
        }
    } else if (json_is_object(p)) {
        readers(p);
    }
    json_decref(p);
    return 0;
}
