/* main.c -- herald-worker-fcm: delivers herald.deliver.fcm through
 * Firebase Cloud Messaging HTTP v1. All the work is in the shared engine
 * (common/pushworker.h) and the provider (fcm.c, fcm_auth.c). */
#include "common/pushworker.h"
#include "services/worker-fcm/fcm.h"
#include "common/banned.h"

int
main(int argc, char **argv)
{
    return hd_pushworker_main(argc, argv, &fcm_provider);
}
