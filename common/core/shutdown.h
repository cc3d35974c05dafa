/* shutdown.h -- SIGTERM/SIGINT to a flag and a wake-up fd; SIGPIPE ignored.
 *
 * The shutdown flag is one of the two process-wide mutable globals
 * (CONVENTIONS.md 25). Any thread may poll hd_shutdown_requested(), sleep
 * in hd_shutdown_wait(), or add hd_shutdown_fd() to its poll set: the fd
 * becomes readable (and stays readable) once shutdown is requested. */
#ifndef HD_SHUTDOWN_H
#define HD_SHUTDOWN_H

/* Installs the handlers and creates the fd. Call once from main().
 * Returns 0 or -1 (errno set). */
int hd_shutdown_install(void);

/* 1 once SIGTERM/SIGINT arrived or hd_shutdown_request() was called. */
int hd_shutdown_requested(void);

/* Requests shutdown from code (async-signal-safe). */
void hd_shutdown_request(void);

/* An fd that polls readable after shutdown is requested, or -1. */
int hd_shutdown_fd(void);

/* Sleeps up to timeout_ms (-1 = forever) or until shutdown is requested.
 * Returns 1 if shutdown was requested, 0 on timeout. */
int hd_shutdown_wait(int timeout_ms);

/* The signal that triggered shutdown, 0 if none or requested by code. */
int hd_shutdown_signal(void);

#endif
