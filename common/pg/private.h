/* private.h -- the pool's structs and one query's round trip
 * (roundtrip.c), shared by pg.c, batch.c and migrate.c.
 *
 * Not part of the contract: only the parts of common/pg/pg.h include it. The
 * invariants of pg.c hold here too: a slot is touched only by the thread
 * holding it, and no mutex is held across network I/O. */
#ifndef HD_PG_PRIVATE_H
#define HD_PG_PRIVATE_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "pg/pg.h"

/* PQconnectStartParams keywords, their terminating NULL included. */
#define HD_PG_NKW 10

struct hd_pgconn {
    struct hd_pg *pg;
    PGconn *conn;         /* NULL until connected */
    int in_use;           /* guarded by pg->mu */
    int broken;           /* drop instead of reuse */
    unsigned gen;         /* pg->gen when connected */
    unsigned fails;       /* consecutive failed connects */
    uint64_t retry_at_ms; /* no connect attempt before (monotonic) */
    enum hd_errcode last_code;
    char last_err[HD_ERR_MSG_LEN]; /* why the last connect failed */
    char sqlstate[6];
};

struct hd_pg {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const struct hd_pg_stmt *stmts;
    size_t nstmts;
    int size;
    int connect_timeout_ms;
    int statement_timeout_ms;
    unsigned gen; /* bumped after migrations: stale plans reconnect */
    const char *val[HD_PG_NKW]; /* for pg.c's keyword table */
    char *dsn;
    char *options;
    char connect_timeout_s[16];
    char tcp_user_timeout_ms[16];
    struct hd_pgconn slots[];
};

/* The parameters of one hd_pg_exec, so their text never reaches an error
 * message. */
struct hd_pg_params {
    int n;
    const char *const *values;
    const int *formats;
};

/* Waits until fd is ready for events, up to the deadline (0: none; TCP
 * keepalives still end a dead connection): 1 ready, 0 deadline passed, -1
 * error. */
int hd_pg_wait_fd(int fd, short events, uint64_t deadline_ms);

/* Copies the first line of s (a libpq message) into out. */
void hd_pg_first_line(const char *s, char *out, size_t outlen);

/* Waits for input on conn up to the deadline (0: none), counting bytes
 * OpenSSL already decrypted: 1 ready, 0 deadline passed, -1 error. */
int hd_pg_wait_input(PGconn *conn, uint64_t deadline_ms);

/* Sends everything libpq has buffered for conn, reading input meanwhile so
 * the server never blocks on us: 1 sent, 0 deadline passed, -1 failed. */
int hd_pg_flush(PGconn *conn, uint64_t deadline_ms);

/* Maps a result that is not a success into err and c->sqlstate, marking
 * c broken when the connection is gone. p's values never reach the
 * message. Returns -1. */
int hd_pg_map_error(struct hd_pgconn *c, const PGresult *r, const char *what,
                    const struct hd_pg_params *p, struct hd_err *err);

/* Finishes the round trip of a query just sent (sent != 0): 0 with *res
 * (new) when res is not NULL, or -1 with err. */
int hd_pg_finish(struct hd_pgconn *c, int sent, const char *what,
                 uint64_t deadline_ms, const struct hd_pg_params *p,
                 PGresult **res, struct hd_err *err);

/* One statement given as constant SQL text (never user input). */
int hd_pg_run(struct hd_pgconn *c, const char *what, const char *sql, int n,
              const char *const *values, uint64_t deadline_ms, PGresult **res,
              struct hd_err *err);

#endif
