/* main.c -- herald-worker-webpush: delivers herald.deliver.webpush to
 * browsers' push services. All the work is in the shared engine
 * (common/push/worker.h) and the provider (webpush.c); `vapid-keygen`
 * prints a new VAPID key pair. */
#include <string.h>

#include "push/worker.h"
#include "services/worker-webpush/webpush.h"
#include "core/banned.h"

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "vapid-keygen") == 0)
        return webpush_keygen_main();
    return hd_pushworker_main(argc, argv, &webpush_provider);
}
