/* roundtrip.c -- one round trip on a libpq connection: wait, flush,
 * collect the result, map a failure to an hd_err.
 *
 * Every wait is poll(2) with a deadline, so a server that stops answering
 * costs a bounded wait. It knows nothing of the pool (pg.c) beyond the
 * slot it is handed: it never connects, reconnects or retries. Invariant:
 * the text of a query's parameters never reaches an error message. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "core/clock.h"
#include "core/limits.h"
#include "pg/pg.h"
#include "pg/private.h"
#include "core/banned.h"

/* 1 ready, 0 deadline passed, -1 error. deadline_ms 0 waits without limit
 * (keepalives still end a dead connection). */
int
hd_pg_wait_fd(int fd, short events, uint64_t deadline_ms)
{
    struct pollfd p;
    uint64_t now;
    int ms;
    int rc;

    if (fd < 0)
        return -1;
    for (;;) {
        ms = -1;
        if (deadline_ms != 0) {
            now = hd_now_mono_ms();
            if (now >= deadline_ms)
                return 0;
            ms = deadline_ms - now > INT_MAX ? INT_MAX
                                             : (int)(deadline_ms - now);
        }
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        rc = poll(&p, 1, ms);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

/* Waits until conn has input. Bytes OpenSSL has already decrypted are
 * invisible to poll(2), so they count as ready. */
int
hd_pg_wait_input(PGconn *conn, uint64_t deadline_ms)
{
    SSL *ssl = PQsslInUse(conn) ? PQsslStruct(conn, "OpenSSL") : NULL;

    if (ssl != NULL && SSL_pending(ssl) > 0)
        return 1;
    return hd_pg_wait_fd(PQsocket(conn), POLLIN, deadline_ms);
}

int
hd_pg_flush(PGconn *conn, uint64_t deadline_ms)
{
    int rc;

    while ((rc = PQflush(conn)) == 1) {
        rc = hd_pg_wait_fd(PQsocket(conn), POLLIN | POLLOUT, deadline_ms);
        if (rc <= 0)
            return rc;
        if (!PQconsumeInput(conn))
            return -1;
    }
    return rc == 0 ? 1 : -1;
}
/* Copies the first line of s into out. */
void
hd_pg_first_line(const char *s, char *out, size_t outlen)
{
    size_t n = strcspn(s, "\r\n");

    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Length of the text parameter value found at `at`, 0 if none: any value
 * of 3+ bytes, or a shorter one the server put in double quotes. */
static size_t
param_at(const char *msg, const char *at, size_t rest,
         const struct hd_pg_params *p, const size_t *lens)
{
    size_t best = 0;
    int i;

    for (i = 0; i < p->n; i++) {
        size_t n = lens[i];

        if (n == 0 || n <= best || n > rest || memcmp(at, p->values[i], n))
            continue;
        if (n >= 3 || (at > msg && at[-1] == '"' && at[n] == '"'))
            best = n;
    }
    return best;
}

/* Copies the server's message into out on one line, with every parameter
 * value it repeats (invalid input syntax ... "value") replaced by "...". */
static void
scrub(const char *msg, const struct hd_pg_params *p, char *out, size_t outlen)
{
    size_t lens[HD_PG_MAX_PARAMS] = {0};
    size_t len = strlen(msg);
    size_t i = 0, o = 0, m;
    int k;

    for (k = 0; p != NULL && k < p->n && k < HD_PG_MAX_PARAMS; k++)
        if (p->values != NULL && p->values[k] != NULL &&
            (p->formats == NULL || p->formats[k] == 0))
            lens[k] = strlen(p->values[k]);
    while (i < len && o + 1 < outlen) {
        m = p != NULL ? param_at(msg, msg + i, len - i, p, lens) : 0;
        if (m > 0) {
            if (o + 3 >= outlen)
                break;
            memcpy(out + o, "...", 3);
            o += 3;
            i += m;
            continue;
        }
        out[o++] = (msg[i] == '\n' || msg[i] == '\r') ? ' ' : msg[i];
        i++;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static int
conn_lost_state(const char *st)
{
    return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
           strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0;
}

static enum hd_errcode
code_for(const char *st)
{
    if (strcmp(st, "23505") == 0 || strcmp(st, "23P01") == 0)
        return HD_ECONFLICT;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
        return HD_EINVAL;
    if (strcmp(st, "57014") == 0)
        return HD_ETIMEDOUT;
    return HD_EUPSTREAM;
}

/* Waits for every result of the query just sent and keeps the last one,
 * or the first error. NULL when the connection failed or the deadline
 * passed (*timed_out = 1); the connection is then unusable. */
static PGresult *
await_result(PGconn *conn, uint64_t deadline_ms, int *timed_out)
{
    PGresult *keep = NULL;
    PGresult *r;
    int lost = 0;
    int rc;

    *timed_out = 0;
    rc = hd_pg_flush(conn, deadline_ms);
    if (rc <= 0) {
        *timed_out = rc == 0;
        return NULL;
    }
    for (;;) {
        while (!PQisBusy(conn)) {
            r = PQgetResult(conn);
            if (r == NULL)
                return keep;
            if (PQresultStatus(r) == PGRES_COPY_IN ||
                PQresultStatus(r) == PGRES_COPY_OUT ||
                PQresultStatus(r) == PGRES_COPY_BOTH) {
                /* never used by Herald: the caller drops the connection */
                PQclear(keep);
                return r;
            }
            if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
                PQclear(r);
            } else {
                PQclear(keep);
                keep = r;
            }
        }
        if (lost)
            break;
        rc = hd_pg_wait_input(conn, deadline_ms);
        if (rc == 0) {
            *timed_out = 1;
            break;
        }
        if (rc < 0 || !PQconsumeInput(conn))
            lost = 1; /* PQisBusy() now turns false: collect the error */
    }
    PQclear(keep);
    return NULL;
}

/* Maps a result that is not a success into err (and c->sqlstate; c is
 * marked broken when the connection is gone). Returns -1. */
int
hd_pg_map_error(struct hd_pgconn *c, const PGresult *r, const char *what,
                const struct hd_pg_params *p, struct hd_err *err)
{
    char line[HD_ERR_MSG_LEN];
    ExecStatusType s = PQresultStatus(r);
    const char *st;
    const char *prim;

    st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    st = st != NULL ? st : "";
    snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", st);
    prim = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    scrub(prim != NULL ? prim : PQresultErrorMessage(r), p, line, sizeof(line));
    if (s != PGRES_FATAL_ERROR && s != PGRES_NONFATAL_ERROR) {
        c->broken = 1;
        return hd_err_set(err, HD_EUPSTREAM, "pg %s: unexpected result %s",
                          what, PQresStatus(s));
    }
    if (PQstatus(c->conn) != CONNECTION_OK || conn_lost_state(st)) {
        c->broken = 1;
        return hd_err_set(err, HD_EUPSTREAM, "pg %s: connection lost: %s", what,
                          line);
    }
    return hd_err_set(err, code_for(st), "pg %s: %s (SQLSTATE %s)", what, line,
                      st[0] ? st : "none");
}

/* Finishes one round trip on c (the query was sent when sent != 0) and
 * maps its outcome. what names it in messages ("exec put_device"). Returns
 * 0 with *res (new) when res is not NULL, or -1 with err. */
int
hd_pg_finish(struct hd_pgconn *c, int sent, const char *what,
             uint64_t deadline_ms, const struct hd_pg_params *p, PGresult **res,
             struct hd_err *err)
{
    char line[HD_ERR_MSG_LEN];
    PGresult *r = NULL;
    ExecStatusType s;
    int timed_out = 0;
    int rc;

    if (sent)
        r = await_result(c->conn, deadline_ms, &timed_out);
    if (r == NULL) {
        c->broken = 1;
        if (timed_out)
            return hd_err_set(err, HD_ETIMEDOUT, "pg %s: no reply in time",
                              what);
        hd_pg_first_line(PQerrorMessage(c->conn), line, sizeof(line));
        return hd_err_set(err, HD_EUPSTREAM, "pg %s: connection lost: %s", what,
                          line[0] ? line : "no result");
    }
    s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        if (res != NULL) {
            *res = r;
            r = NULL;
        }
        rc = 0;
    } else {
        rc = hd_pg_map_error(c, r, what, p, err);
    }
    PQclear(r);
    return rc;
}

/* One parameterised statement given as text (transaction control and
 * migration bookkeeping: constant SQL, never user input). */
int
hd_pg_run(struct hd_pgconn *c, const char *what, const char *sql, int n,
          const char *const *values, uint64_t deadline_ms, PGresult **res,
          struct hd_err *err)
{
    int sent;

    if (c->broken || c->conn == NULL)
        return hd_err_set(err, HD_EUPSTREAM, "pg %s: connection is broken",
                          what);
    sent = PQsendQueryParams(c->conn, sql, n, NULL, values, NULL, NULL, 0);
    return hd_pg_finish(c, sent, what, deadline_ms, NULL, res, err);
}
