/* fuzz_hms_classify.c -- HMS answers (services/worker-hms/hms.c): any
 * body with a status from the first byte is classified for a request of
 * 1..4 tokens; every result must be a known action with a terminated
 * code. */
#include <stdlib.h>
#include <string.h>

#include "push/worker.h"
#include "services/worker-hms/hms.h"
#include "tests/fuzz/fuzz.h"

static const int statuses[] = {200, 400, 401, 403, 404, 429, 500, 503};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tokens[] = {"tok-a", "tok-b", "tok-c", "tok-d"};
    struct hd_push_result res[4];
    size_t n, i;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    n = 1 + ((data[0] >> 4) & 3);
    memset(res, 0, sizeof(res));
    hms_classify(statuses[data[0] % 8], (const char *)data + 1, size - 1,
                 data[0] & 8 ? 1000 : 0, tokens, n, res);
    for (i = 0; i < n; i++)
        if (memchr(res[i].code, '\0', sizeof(res[i].code)) == NULL ||
            hd_push_action_name(res[i].action) == NULL)
            abort();
    return 0;
}
