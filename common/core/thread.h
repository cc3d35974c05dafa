/* thread.h -- what every worker thread with a stop flag repeats: a
 * condition variable on the monotonic clock, and stopping the thread.
 *
 * It owns nothing: the mutex, the condition variable and the flag stay in
 * the caller's struct beside what else they guard. Either function may be
 * called from any thread; hd_thread_stop() never from the thread it
 * stops. */
#ifndef HD_THREAD_H
#define HD_THREAD_H

#include <pthread.h>

/* Initialises cv on CLOCK_MONOTONIC, so a pthread_cond_timedwait()
 * deadline comes from hd_now_mono_ms() and a step of the wall clock never
 * stretches or cuts a wait. Release it with pthread_cond_destroy(). */
void hd_thread_cond_init(pthread_cond_t *cv);

/* Sets *stop under mu, wakes every waiter on cv and joins t. The thread
 * must read *stop under mu before each wait on cv, so the wake-up cannot
 * fall between its check and its wait. */
void hd_thread_stop(pthread_t t, pthread_mutex_t *mu, pthread_cond_t *cv,
                    int *stop);

#endif
