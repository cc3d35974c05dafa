/* main.c -- herald-worker-hms: delivers herald.deliver.hms through Huawei
 * Push Kit. All the work is in the shared engine (common/push/worker.h) and
 * the provider (hms.c, hms_auth.c). */
#include "push/worker.h"
#include "services/worker-hms/hms.h"
#include "core/banned.h"

int
main(int argc, char **argv)
{
    return hd_pushworker_main(argc, argv, &hms_provider);
}
