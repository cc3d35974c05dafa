/* thread.c -- a monotonic condition variable and the stop of a worker
 * thread (thread.h).
 *
 * Broadcast rather than signal on stop: a struct's condition variable may
 * have other waiters than its thread (a first load, a free slot), and
 * each of them re-checks its own condition after waking. */
#include <pthread.h>
#include <time.h>

#include "core/thread.h"
#include "core/banned.h"

void
hd_thread_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

void
hd_thread_stop(pthread_t t, pthread_mutex_t *mu, pthread_cond_t *cv, int *stop)
{
    pthread_mutex_lock(mu);
    *stop = 1;
    pthread_cond_broadcast(cv);
    pthread_mutex_unlock(mu);
    pthread_join(t, NULL);
}
