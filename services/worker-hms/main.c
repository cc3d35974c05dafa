/* main.c -- herald-worker-hms: delivers herald.deliver.hms through Huawei
 * Push Kit. All the work is in the shared engine (common/pushworker.h) and
 * the provider (hms.c, hms_auth.c). */
#include "common/pushworker.h"
#include "services/worker-hms/hms.h"
#include "common/banned.h"

int
main(int argc, char **argv)
{
    return hd_pushworker_main(argc, argv, &hms_provider);
}
