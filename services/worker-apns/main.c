/* main.c -- herald-worker-apns: delivers herald.deliver.apns through
 * Apple's HTTP/2 provider API. All the work is in the shared engine
 * (common/push/worker.h) and the provider (apns.c, apns_auth.c). */
#include "push/worker.h"
#include "services/worker-apns/apns.h"
#include "core/banned.h"

int
main(int argc, char **argv)
{
    return hd_pushworker_main(argc, argv, &apns_provider);
}
