/* fuzz_apns_classify.c -- APNs answers (services/worker-apns/apns.c): any
 * body with a status from the first byte is classified; the result must be
 * a known action with a terminated code. */
#include <stdlib.h>
#include <string.h>

#include "push/worker.h"
#include "services/worker-apns/apns.h"
#include "tests/fuzz/fuzz.h"

static const int statuses[] = {200, 400, 401, 403, 404, 429, 500, 503};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hd_push_result res;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    memset(&res, 0, sizeof(res));
    apns_classify(statuses[data[0] % 8], (const char *)data + 1, size - 1,
                  data[0] & 8 ? 1000 : 0, 1 + (data[0] >> 4), &res);
    if (memchr(res.code, '\0', sizeof(res.code)) == NULL ||
        hd_push_action_name(res.action) == NULL)
        abort();
    return 0;
}
