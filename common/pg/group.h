/* pg_group.h -- group commit for one prepared statement: concurrent calls
 * that would each wait for a connection share one round trip instead.
 *
 * The group has `slots` threads of its own that run the calls. A call
 * runs at once on its own while one of them is free. When every one is
 * busy it queues; the next to be free takes the whole queue (up to
 * max_rows) and runs it as one pipeline and one transaction
 * (hd_pg_exec_batch), rows sorted by their key so
 * that concurrent groups take row and advisory locks in the same order.
 * If the group fails for a reason of one row (a constraint, a deadlock),
 * each row is run again alone, in its own transaction, so a bad row costs
 * the others a second round trip, never their result. Every caller gets
 * exactly what a hd_pg_exec of its own would have given.
 *
 * With hd_pg_group_set_arrays, a group goes as one call of a statement
 * taking the rows as arrays instead of a pipeline of single calls: one
 * statement's start-up and one function call for the whole group (one
 * statement for rows that may run together, another for rows that must
 * run one after the other).
 *
 * A submitted call's callback runs on the group's thread that ran it, so
 * a caller that need not wait (an HTTP handler that answers later) costs
 * no thread hand-off per call.
 *
 * Thread-safety: hd_pg_group_exec and hd_pg_group_submit may be called
 * from any thread; exec blocks, submit does not. */
#ifndef HD_PG_GROUP_H
#define HD_PG_GROUP_H

#include <stdint.h>

#include "core/err.h"
#include "pg/pg.h"

struct hd_pg_group;

struct hd_pg_group_stats {
    uint64_t calls;     /* rows run */
    uint64_t groups;    /* round trips that carried more than one row */
    uint64_t grouped;   /* rows that went in those round trips */
    uint64_t fallbacks; /* groups run again row by row */
    uint64_t arrays;    /* groups that went as one call of the arrays stmt */
    uint64_t ordered;   /* ... of the ordered stmt */
};

/* Says whether the n rows of a group (rows[i]: the i-th call's values, in
 * key order) may run as one call of the arrays statement: 1 or 0. */
typedef int (*hd_pg_group_apart_fn)(const char *const *const *rows, int n);

/* new: groups calls of stmt (nparams parameters) on pg (borrowed), at most
 * slots groups in flight and max_rows (<= HD_PG_BATCH_MAX) rows each. NULL
 * with err on bad arguments. */
struct hd_pg_group *hd_pg_group_new(struct hd_pg *pg, const char *stmt,
                                    int nparams, int slots, int max_rows,
                                    struct hd_err *err);

/* Groups that apart accepts run as one call of arrays_stmt: stmt's
 * parameters, each the array literal of the group's values in key order
 * (an element NULL for a NULL value), returning stmt's columns for each
 * row plus the row's number in the group (from 1) as a last column. Each
 * caller gets its own row as a result of its own, with stmt's columns (a
 * row the statement did not return: no row). Groups apart refuses run
 * as one call of ordered_stmt, taken the same way (NULL: as a pipeline
 * of stmt) -- a statement that runs its rows in order, for rows that
 * depend on each other, but may take their locks first. Failures are a
 * pipeline's: a failure of one row runs every row again alone. Call
 * before the first call. */
void hd_pg_group_set_arrays(struct hd_pg_group *g, const char *arrays_stmt,
                            const char *ordered_stmt,
                            hd_pg_group_apart_fn apart);

/* Runs every call still queued (their callbacks too), then stops the
 * group's threads. No caller may be waiting in exec. NULL is a no-op. */
void hd_pg_group_free(struct hd_pg_group *g);

/* Runs stmt with values (text, nparams of them), alone or in a group.
 * key (may be NULL) orders rows within a group: rows that lock the same
 * things should have keys that sort those locks the same way. wait_ms
 * bounds the wait for a slot and a connection. *res (new) receives the
 * result. Returns 0, or -1 with err as hd_pg_exec gives it. */
int hd_pg_group_exec(struct hd_pg_group *g, int wait_ms,
                     const char *const *values, const char *key, PGresult **res,
                     struct hd_err *err);

/* A submitted call's end, on one of the group's threads: rc 0 with res
 * (new: the callback owns it), or -1 with err (borrowed) and res NULL. */
typedef void hd_pg_group_done_fn(void *arg, int rc, PGresult *res,
                                 const struct hd_err *err);

/* As exec, without waiting: done(arg, ...) is called exactly once, on a
 * thread of the group, when the call has run (or its wait_ms ran out
 * while queued). values and key must stay valid until then; done may
 * run (on another thread) before submit returns. */
void hd_pg_group_submit(struct hd_pg_group *g, int wait_ms,
                        const char *const *values, const char *key,
                        hd_pg_group_done_fn *done, void *arg);

/* Counters so far. */
void hd_pg_group_stats(struct hd_pg_group *g, struct hd_pg_group_stats *out);

#endif
