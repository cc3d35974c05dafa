/* main.c -- herald-worker-apns: delivers herald.deliver.apns through
 * Apple's HTTP/2 provider API. All the work is in the shared engine
 * (common/pushworker.h) and the provider (apns.c, apns_auth.c). */
#include "common/pushworker.h"
#include "services/worker-apns/apns.h"
#include "common/banned.h"

int
main(int argc, char **argv)
{
    return hd_pushworker_main(argc, argv, &apns_provider);
}
