/* main.c -- herald-worker-fcm: delivers herald.deliver.fcm through
 * Firebase Cloud Messaging HTTP v1. All the work is in the shared engine
 * (common/push/worker.h) and the provider (fcm.c, fcm_auth.c). */
#include "push/worker.h"
#include "services/worker-fcm/fcm.h"
#include "core/banned.h"

int
main(int argc, char **argv)
{
    return hd_pushworker_main(argc, argv, &fcm_provider);
}
