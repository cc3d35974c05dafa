/* test_pg.c -- unit tests for common/pg/pg.c against a real PostgreSQL.
 *
 * HERALD_TEST_PG_DSN names a throwaway server (scripts/pg.sh). Each test
 * works in a schema of its own, dropped and recreated at the start, so the
 * tests are independent and can run again against the same database. A
 * small TCP relay stands in for a server that goes away and comes back. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tests/unit/unit.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/limits.h"
#include "pg/pg.h"
#include "tests/unit/pg_fixture.h"
#include "core/banned.h"

/* The first cell of a statement without parameters, -1 on error. */
static long long
num(struct hd_pgconn *c, const char *stmt)
{
    PGresult *r = NULL;
    long long v = -1;

    if (hd_pg_exec(c, stmt, 0, NULL, NULL, NULL, &r, NULL) == 0)
        hd_parse_ll(PQgetvalue(r, 0, 0), 0, INT64_MAX, &v);
    PQclear(r);
    return v;
}

static int
put_item(struct hd_pgconn *c, const char *id, const char *name,
         struct hd_err *err)
{
    const char *v[3] = {id, name, NULL};

    return hd_pg_exec(c, "item_put", 3, v, NULL, NULL, NULL, err);
}

static void
test_config_fields(void)
{
    struct hd_pg_config cfg;
    struct hd_config_section s = {hd_pg_config_fields, &cfg};
    struct hd_err err = {0};

    unsetenv("HERALD_PG_POOL_SIZE");
    unsetenv("HERALD_PG_CONNECT_TIMEOUT_MS");
    unsetenv("HERALD_PG_STATEMENT_TIMEOUT_MS");
    unsetenv("HERALD_PG_DSN");
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HERALD_PG_DSN");
    setenv("HERALD_PG_DSN", "postgresql://u:pw@h/db", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), 0);
    ASSERT_INT_EQ(cfg.pool_size, 8);
    ASSERT_INT_EQ(cfg.connect_timeout_ms, 3000);
    ASSERT_INT_EQ(cfg.statement_timeout_ms, 10000);
    ASSERT_TRUE(hd_pg_config_fields[0].flags & HD_CFG_SECRET);
    hd_config_release(&s, 1);
    setenv("HERALD_PG_POOL_SIZE", "65", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HERALD_PG_POOL_SIZE");
    unsetenv("HERALD_PG_POOL_SIZE");
    unsetenv("HERALD_PG_DSN");
}

static void
test_new_rejects_bad_arguments(void)
{
    static const struct hd_pg_stmt dup[] = {
        {"a", "SELECT 1", 0},
        {"a", "SELECT 2", 0},
    };
    static const struct hd_pg_stmt many[] = {
        {"a", "SELECT 1", HD_PG_MAX_PARAMS + 1},
    };
    char bad[] = "host=127.0.0.1 password=s3cr3t-pw bogus=1";
    char good[] = "host=127.0.0.1 dbname=x";
    struct hd_pg_config cfg = {NULL, 2, 1000, 1000};
    struct hd_err err = {0};

    ASSERT_NONE(hd_pg_new(&cfg, NULL, 0, &err), HD_EINVAL);
    cfg.dsn = bad;
    ASSERT_NONE(hd_pg_new(&cfg, NULL, 0, &err), HD_EINVAL);
    ASSERT_STR_LACKS(err.msg, "s3cr3t");
    cfg.dsn = good;
    ASSERT_NULL(hd_pg_new(&cfg, dup, 2, &err));
    ASSERT_STR_CONTAINS(err.msg, "twice");
    ASSERT_NONE(hd_pg_new(&cfg, many, 1, &err), HD_EINVAL);
    cfg.pool_size = HD_PG_POOL_MAX + 1;
    ASSERT_NONE(hd_pg_new(&cfg, NULL, 0, &err), HD_EINVAL);
    hd_pg_free(NULL);
    hd_pg_release(NULL, NULL);
}

static void
test_exec_text_binary_and_null_params(void)
{
    static const unsigned char blob[5] = {0x00, 0x01, 0xfe, 0x00, 0xff};
    uint32_t id_be = htonl(42);
    const char *v[3] = {(const char *)&id_be, "forty-two", (const char *)blob};
    const int len[3] = {4, 0, 5};
    const int fmt[3] = {1, 0, 1};
    const char *v2[3] = {"43", "no-data", NULL};
    const char *get[1] = {"42"};
    struct hd_err err = {0};
    struct hd_pgconn *c;
    PGresult *r = NULL;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "exec", 2, 5000), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(hd_pg_sqlstate(c), "");
    ASSERT_INT_EQ(hd_pg_exec(c, "item_put", 3, v, len, fmt, NULL, &err), 0);
    ASSERT_INT_EQ(hd_pg_exec(c, "item_get", 1, get, NULL, NULL, &r, &err), 0);
    ASSERT_INT_EQ(PQntuples(r), 1);
    ASSERT_STR_EQ(PQgetvalue(r, 0, 0), "forty-two");
    ASSERT_STR_EQ(PQgetvalue(r, 0, 1), "0001fe00ff");
    ASSERT_STR_EQ(PQgetvalue(r, 0, 2), "f");
    PQclear(r);
    /* SQL NULL in a nullable column */
    ASSERT_INT_EQ(hd_pg_exec(c, "item_put", 3, v2, NULL, NULL, NULL, &err), 0);
    get[0] = "43";
    ASSERT_INT_EQ(hd_pg_exec(c, "item_get", 1, get, NULL, NULL, &r, &err), 0);
    ASSERT_INT_EQ(PQgetisnull(r, 0, 1), 1);
    ASSERT_STR_EQ(PQgetvalue(r, 0, 2), "t");
    PQclear(r);
    ASSERT_INT_EQ(num(c, "item_count"), 2);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"), 2);
    hd_pg_release(fx.pg, c);
    ASSERT_INT_EQ(hd_pg_ping(fx.pg, 1000, &err), 0);
    fx_close(&fx);
}

static void
test_errors_map_to_codes(void)
{
    const char *nul[3] = {"2", NULL, NULL};
    struct hd_err err = {0};
    struct hd_pgconn *c;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "errors", 1, 5000), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(put_item(c, "1", "unique-name-zz9", &err), 0);

    /* unique violation: the value is in DETAIL, which is never copied */
    ASSERT_FAILS(put_item(c, "1", "other-name-qq7", &err), HD_ECONFLICT);
    ASSERT_STR_EQ(hd_pg_sqlstate(c), "23505");
    ASSERT_STR_CONTAINS(err.msg, "item_put");
    ASSERT_STR_CONTAINS(err.msg, "duplicate key");
    ASSERT_STR_LACKS(err.msg, "other-name-qq7");

    /* bad input: the server quotes the value in the primary message */
    ASSERT_FAILS(put_item(c, "not-a-number-xyz", "n", &err), HD_EINVAL);
    ASSERT_STR_EQ(hd_pg_sqlstate(c), "22P02");
    ASSERT_STR_CONTAINS(err.msg, "item_put");
    ASSERT_STR_CONTAINS(err.msg, "invalid input syntax");
    ASSERT_STR_LACKS(err.msg, "not-a-number-xyz");
    ASSERT_FAILS(put_item(c, "x", "n", &err), HD_EINVAL);
    ASSERT_STR_LACKS(err.msg, "\"x\"");

    /* NULL into NOT NULL: a constraint error */
    ASSERT_FAILS(hd_pg_exec(c, "item_put", 3, nul, NULL, NULL, NULL, &err),
                 HD_EINVAL);
    ASSERT_STR_EQ(hd_pg_sqlstate(c), "23502");

    /* caller mistakes never reach the server */
    ASSERT_FAILS(hd_pg_exec(c, "no_such", 0, NULL, NULL, NULL, NULL, &err),
                 HD_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "no_such");
    ASSERT_FAILS(hd_pg_exec(c, "item_put", 1, nul, NULL, NULL, NULL, &err),
                 HD_EINVAL);

    /* the connection survived all of it */
    ASSERT_INT_EQ(num(c, "item_count"), 1);
    ASSERT_STR_EQ(hd_pg_sqlstate(c), "23502"); /* the last failure */
    hd_pg_release(fx.pg, c);
    fx_close(&fx);
}

static void
test_statement_timeout(void)
{
    const char *secs[1] = {"3"};
    struct hd_err err = {0};
    struct hd_pgconn *c;
    PGresult *r = NULL;
    struct fx fx;
    uint64_t t0;

    ASSERT_INT_EQ(fx_open(&fx, "timeout", 1, 200), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    t0 = hd_now_mono_ms();
    ASSERT_FAILS(hd_pg_exec(c, "sleep", 1, secs, NULL, NULL, NULL, &err),
                 HD_ETIMEDOUT);
    ASSERT_STR_EQ(hd_pg_sqlstate(c), "57014");
    ASSERT_INT_LE(hd_now_mono_ms() - t0, 2000);
    /* still usable; the DSN's own options (search_path) survived ours */
    ASSERT_INT_EQ(hd_pg_exec(c, "settings", 0, NULL, NULL, NULL, &r, &err), 0);
    ASSERT_STR_EQ(PQgetvalue(r, 0, 0), "200ms");
    ASSERT_STR_EQ(PQgetvalue(r, 0, 1), fx.schema);
    PQclear(r);
    hd_pg_release(fx.pg, c);
    fx_close(&fx);
}

static int
terminate(struct fx *fx, long long pid)
{
    char sql[96];

    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld, 5000)::int",
             pid);
    return admin(fx, sql) == 1 ? 0 : -1;
}

static void
test_reconnect_after_backend_killed(void)
{
    struct hd_err err = {0};
    struct hd_pgconn *c;
    long long pid1, pid2;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "reconnect", 1, 5000), 0);
    /* killed while idle in the pool: the next acquire notices */
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    pid1 = num(c, "pid");
    hd_pg_release(fx.pg, c);
    ASSERT_INT_EQ(terminate(&fx, pid1), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    pid2 = num(c, "pid");
    ASSERT_TRUE(pid2 > 0 && pid2 != pid1);
    ASSERT_INT_EQ(num(c, "item_count"), 0); /* statements prepared again */

    /* killed while held: that query fails, the next acquire reconnects */
    ASSERT_INT_EQ(terminate(&fx, pid2), 0);
    ASSERT_FAILS(put_item(c, "1", "a", &err), HD_EUPSTREAM);
    ASSERT_STR_CONTAINS(err.msg, "item_put");
    ASSERT_FAILS(put_item(c, "1", "a", &err), HD_EUPSTREAM);
    hd_pg_release(fx.pg, c);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(put_item(c, "1", "a", &err), 0);
    ASSERT_TRUE(num(c, "pid") != pid2);
    hd_pg_release(fx.pg, c);
    fx_close(&fx);
}

/* A TCP relay from 127.0.0.1:port to the test server for one connection
 * at a time. Stopping it cuts that connection; in drop mode it accepts and
 * hangs up at once, like a server refusing work. */
struct relay {
    int drop;
    int accepts; /* read after relay_stop() */
    int port;    /* 0 until the first start, then kept */
    struct sockaddr_in up;
    int lfd;
    int stop[2];
    int fd[2]; /* client, server */
    pthread_t th;
};

/* A socket listening on 127.0.0.1:*port (0 = any); *port gets the port. */
static int
listen_on(int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)*port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void
relay_cut(struct relay *rl)
{
    if (rl->fd[0] >= 0)
        close(rl->fd[0]);
    if (rl->fd[1] >= 0)
        close(rl->fd[1]);
    rl->fd[0] = rl->fd[1] = -1;
}

static void *
relay_main(void *arg)
{
    struct relay *rl = arg;
    struct pollfd p[4];
    char buf[16384];
    int i, n;

    for (;;) {
        p[0].fd = rl->stop[0];
        p[1].fd = rl->lfd;
        p[2].fd = rl->fd[0];
        p[3].fd = rl->fd[1];
        for (i = 0; i < 4; i++)
            p[i].events = POLLIN;
        if (poll(p, 4, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        for (i = 0; i < 2; i++) {
            if (!p[2 + i].revents || rl->fd[i] < 0)
                continue;
            n = (int)read(rl->fd[i], buf, sizeof(buf));
            if (n <= 0 || write(rl->fd[1 - i], buf, (size_t)n) != n)
                relay_cut(rl);
        }
        if (!p[1].revents)
            continue;
        relay_cut(rl);
        rl->fd[0] = accept(rl->lfd, NULL, NULL);
        rl->accepts++;
        rl->fd[1] = socket(AF_INET, SOCK_STREAM, 0);
        if (rl->drop || rl->fd[0] < 0 ||
            connect(rl->fd[1], (struct sockaddr *)&rl->up, sizeof(rl->up)))
            relay_cut(rl);
    }
    relay_cut(rl);
    return NULL;
}

static int
relay_start(struct relay *rl, int drop)
{
    rl->drop = drop;
    rl->accepts = 0;
    rl->fd[0] = rl->fd[1] = -1;
    rl->lfd = listen_on(&rl->port);
    if (rl->lfd < 0 || pipe(rl->stop) < 0)
        return -1;
    return pthread_create(&rl->th, NULL, relay_main, rl) == 0 ? 0 : -1;
}

static void
relay_stop(struct relay *rl)
{
    (void)!write(rl->stop[1], "x", 1);
    pthread_join(rl->th, NULL);
    close(rl->stop[0]);
    close(rl->stop[1]);
    close(rl->lfd);
}

static void
test_recovers_when_server_returns(void)
{
    struct hd_err err = {0};
    struct hd_pgconn *c;
    struct relay rl;
    struct hd_pg *pg;
    struct fx fx;
    int calls, port;
    uint64_t t0;
    char *dsn;

    ASSERT_INT_EQ(fx_open(&fx, "recover", 0, 0), 0);
    memset(&rl, 0, sizeof(rl));
    rl.up.sin_family = AF_INET;
    ASSERT_INT_EQ(inet_pton(AF_INET, PQhost(fx.admin), &rl.up.sin_addr), 1);
    ASSERT_INT_EQ(hd_parse_int(PQport(fx.admin), 1, 65535, &port), 0);
    rl.up.sin_port = htons((uint16_t)port);
    ASSERT_INT_EQ(relay_start(&rl, 0), 0);
    dsn = make_dsn(&fx, rl.port);
    pg = pool(dsn, 1, 5000, stmts, NSTMTS);
    ASSERT_NOT_NULL(pg);
    c = hd_pg_acquire(pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(put_item(c, "1", "before", &err), 0);
    hd_pg_release(pg, c);

    /* the connection is cut and the server answers but hangs up, for 2 s
     * of callers asking every 5 ms: every call fails at once, and the
     * pool's backoff keeps its attempts far below the 400 calls */
    relay_stop(&rl);
    ASSERT_INT_EQ(relay_start(&rl, 1), 0);
    t0 = hd_now_mono_ms();
    for (calls = 0; hd_now_mono_ms() - t0 < 2000; calls++) {
        ASSERT_NONE(hd_pg_acquire(pg, 1000, &err), HD_EUPSTREAM);
        sleep_ms(5);
    }
    ASSERT_INT_EQ(hd_pg_ping(pg, 500, &err), -1);
    relay_stop(&rl);
    ASSERT_TRUE(calls > 100);
    ASSERT_TRUE(rl.accepts >= 2);
    ASSERT_INT_LE(rl.accepts, 25);

    /* it comes back on the same address: the same pool recovers */
    ASSERT_INT_EQ(relay_start(&rl, 0), 0);
    t0 = hd_now_mono_ms();
    while ((c = hd_pg_acquire(pg, 1000, &err)) == NULL &&
           hd_now_mono_ms() - t0 < 5000)
        sleep_ms(10);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_LE(hd_now_mono_ms() - t0, 1500);
    ASSERT_INT_EQ(put_item(c, "2", "after", &err), 0);
    ASSERT_INT_EQ(num(c, "item_count"), 2);
    hd_pg_release(pg, c);
    hd_pg_free(pg);
    relay_stop(&rl);
    free(dsn);
    fx_close(&fx);
}

static void *
wait_for_conn(void *pg)
{
    return hd_pg_acquire(pg, 5000, NULL);
}

static void
test_pool_exhaustion_times_out(void)
{
    struct hd_err err = {0};
    struct hd_pgconn *a, *b, *got;
    void *ret;
    struct fx fx;
    pthread_t th;
    uint64_t t0;

    ASSERT_INT_EQ(fx_open(&fx, "exhaust", 2, 5000), 0);
    a = hd_pg_acquire(fx.pg, 1000, &err);
    b = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_TRUE(a != NULL && b != NULL && a != b);
    t0 = hd_now_mono_ms();
    ASSERT_NONE(hd_pg_acquire(fx.pg, 200, &err), HD_ETIMEDOUT);
    ASSERT_TRUE(hd_now_mono_ms() - t0 >= 190);
    ASSERT_INT_LE(hd_now_mono_ms() - t0, 1500);
    ASSERT_NULL(hd_pg_acquire(fx.pg, 0, &err)); /* no wait at all */
    ASSERT_INT_EQ(err.code, HD_ETIMEDOUT);
    ASSERT_FAILS(hd_pg_ping(fx.pg, 100, &err), HD_ETIMEDOUT);

    /* a waiter is handed the connection as soon as it is released */
    t0 = hd_now_mono_ms();
    ASSERT_INT_EQ(pthread_create(&th, NULL, wait_for_conn, fx.pg), 0);
    sleep_ms(100); /* let it block; the assertions hold either way */
    hd_pg_release(fx.pg, a);
    pthread_join(th, &ret);
    got = ret;
    ASSERT_NOT_NULL(got);
    ASSERT_INT_LE(hd_now_mono_ms() - t0, 2000);
    ASSERT_TRUE(num(got, "pid") > 0);
    hd_pg_release(fx.pg, got);
    hd_pg_release(fx.pg, b);
    fx_close(&fx);
}

static void
test_release_rolls_back_open_transaction(void)
{
    struct hd_err err = {0};
    struct hd_pgconn *c;
    struct fx fx;
    long long pid;

    ASSERT_INT_EQ(fx_open(&fx, "rollback", 1, 5000), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    pid = num(c, "pid");
    ASSERT_INT_EQ(hd_pg_begin(c, &err), 0);
    ASSERT_INT_EQ(put_item(c, "1", "uncommitted", &err), 0);
    hd_pg_release(fx.pg, c); /* no commit */
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(num(c, "pid"), pid); /* kept, not reconnected */
    ASSERT_INT_EQ(num(c, "item_count"), 0);

    /* a transaction that failed is rolled back too */
    ASSERT_INT_EQ(hd_pg_begin(c, &err), 0);
    ASSERT_FAILS(put_item(c, "bad", "x", &err), HD_EINVAL);
    ASSERT_INT_EQ(num(c, "item_count"), -1); /* aborted transaction */
    hd_pg_release(fx.pg, c);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(num(c, "pid"), pid);
    ASSERT_INT_EQ(num(c, "item_count"), 0);

    /* commit, and an explicit rollback */
    ASSERT_INT_EQ(hd_pg_begin(c, &err), 0);
    ASSERT_INT_EQ(put_item(c, "1", "kept", &err), 0);
    ASSERT_INT_EQ(hd_pg_commit(c, &err), 0);
    ASSERT_INT_EQ(hd_pg_begin(c, &err), 0);
    ASSERT_INT_EQ(put_item(c, "2", "dropped", &err), 0);
    hd_pg_rollback(c);
    ASSERT_INT_EQ(num(c, "item_count"), 1);
    hd_pg_release(fx.pg, c);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"), 1);
    fx_close(&fx);
}

static void *
use_pool(void *arg)
{
    struct hd_pg *pg = arg;
    struct hd_pgconn *c;
    long failures = 0;
    int i;

    for (i = 0; i < 40; i++) {
        c = hd_pg_acquire(pg, 5000, NULL);
        failures += c == NULL || num(c, "pid") < 0;
        hd_pg_release(pg, c);
    }
    return (void *)(intptr_t)failures;
}

static void
test_threads_share_a_small_pool(void)
{
    struct hd_pg *pg;
    pthread_t th[6];
    void *failures;
    struct fx fx;
    char *dsn;
    int i;

    ASSERT_INT_EQ(fx_open(&fx, "threads", 0, 0), 0);
    dsn = hd_xasprintf("%s%sapplication_name=herald_pg_threads", fx.dsn,
                       strstr(fx.dsn, "://") ? "&" : " ");
    pg = pool(dsn, 2, 5000, stmts, NSTMTS);
    ASSERT_NOT_NULL(pg);
    for (i = 0; i < 6; i++)
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, use_pool, pg), 0);
    for (i = 0; i < 6; i++) {
        pthread_join(th[i], &failures);
        ASSERT_NULL(failures);
    }
    /* every session the pool opened is still open: never more than 2 */
    ASSERT_INT_LE(admin(&fx, "SELECT count(*) FROM pg_stat_activity WHERE "
                             "application_name = 'herald_pg_threads'"),
                  2);
    hd_pg_free(pg);
    free(dsn);
    fx_close(&fx);
}

static const struct hd_migration mig_good[] = {
    {1, "0001_log", "CREATE TABLE mlog (v int); INSERT INTO mlog VALUES (1);"},
    {2, "0002_more", "INSERT INTO mlog VALUES (2);"},
    {3, "0003_alter",
     "ALTER TABLE mlog ADD COLUMN w int;\nINSERT INTO mlog VALUES (3, 3);"},
    {0, NULL, NULL},
};

static const struct hd_migration mig_bad[] = {
    {1, "0001_log", "CREATE TABLE mlog (v int); INSERT INTO mlog VALUES (1);"},
    {2, "0002_more", "INSERT INTO mlog VALUES (2);"},
    {3, "0003_broken",
     "CREATE TABLE half (v int); INSERT INTO mlog VALUES (30); "
     "SELECT no_such_function();"},
    {4, "0004_after", "INSERT INTO mlog VALUES (4);"},
    {0, NULL, NULL},
};

static const struct hd_migration mig_fixed[] = {
    {1, "0001_log", ""},
    {2, "0002_more", ""},
    {3, "0003_broken", "CREATE TABLE half (v int);"},
    {4, "0004_after", "INSERT INTO mlog VALUES (4);"},
    {0, NULL, NULL},
};

/* 0005 runs, then sabotages its own bookkeeping row: everything it did
 * must go with it. */
static const struct hd_migration mig_trap[] = {
    {4, "0004_after", ""},
    {5, "0005_trap",
     "CREATE TABLE trapped (v int);\n"
     "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
     "$$BEGIN RAISE EXCEPTION 'refused by trigger'; END$$;\n"
     "CREATE TRIGGER refuse BEFORE INSERT ON schema_migrations "
     "FOR EACH ROW EXECUTE FUNCTION refuse();"},
    {0, NULL, NULL},
};

static void
test_migrate_applies_each_once(void)
{
    static const struct hd_pg_stmt mstmts[] = {
        {"pid", "SELECT pg_backend_pid()", 0},
        {"mlog_sum", "SELECT sum(v) FROM mlog", 0},
    };
    static const struct hd_migration unordered[] = {
        {2, "0002_b", "SELECT 1"},
        {1, "0001_a", "SELECT 1"},
        {0, NULL, NULL},
    };
    static const struct hd_migration one_more[] = {
        {3, "0003_alter", ""},
        {4, "0004_index", "CREATE INDEX mlog_v ON mlog (v);"},
        {0, NULL, NULL},
    };
    struct hd_err err = {0};
    struct hd_pgconn *c;
    struct hd_pg *pg;
    int applied = -1;
    long long pid;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "migrate", 0, 0), 0);
    /* the pool's statements name a table the migrations create: until
     * then a connection cannot be prepared, and the error says which */
    pg = pool(fx.dsn, 2, 5000, mstmts, 2);
    ASSERT_NOT_NULL(pg);
    ASSERT_NULL(hd_pg_acquire(pg, 1000, &err));
    ASSERT_STR_CONTAINS(err.msg, "prepare mlog_sum: relation \"mlog\"");
    ASSERT_INT_EQ(hd_pg_migrate(pg, mig_good, &applied, &err), 0);
    ASSERT_INT_EQ(applied, 3);
    ASSERT_INT_EQ(hd_pg_migrate(pg, mig_good, &applied, &err), 0);
    ASSERT_INT_EQ(applied, 0);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM mlog"), 3);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM schema_migrations "
                             "WHERE (version, name) IN ((1, '0001_log'), "
                             "(2, '0002_more'), (3, '0003_alter')) AND "
                             "applied_at <= now()"),
                  3);
    c = hd_pg_acquire(pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    pid = num(c, "pid");
    ASSERT_INT_EQ(num(c, "mlog_sum"), 6);
    hd_pg_release(pg, c);

    /* a later migration: pooled connections start over afterwards */
    ASSERT_INT_EQ(hd_pg_migrate(pg, one_more, &applied, &err), 0);
    ASSERT_INT_EQ(applied, 1);
    c = hd_pg_acquire(pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_TRUE(num(c, "pid") != pid);
    hd_pg_release(pg, c);

    /* the table is checked before anything runs */
    ASSERT_FAILS(hd_pg_migrate(pg, unordered, &applied, &err), HD_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "0001_a");
    ASSERT_FAILS(hd_pg_migrate(pg, NULL, NULL, &err), HD_EINVAL);
    hd_pg_free(pg);
    fx_close(&fx);
}

static void
test_migrate_failure_is_atomic(void)
{
    struct hd_err err = {0};
    int applied = -1;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "migfail", 1, 5000), 0);
    ASSERT_INT_EQ(hd_pg_migrate(fx.pg, mig_bad, &applied, &err), -1);
    ASSERT_INT_EQ(applied, 2);
    ASSERT_STR_CONTAINS(err.msg, "0003_broken");
    ASSERT_STR_CONTAINS(err.msg, "no_such_function");
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM schema_migrations"), 2);
    ASSERT_INT_EQ(admin(&fx, "SELECT (to_regclass('half') IS NULL)::int"), 1);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM mlog"), 2);
    /* the lock was let go: a fixed table finishes the job */
    ASSERT_INT_EQ(hd_pg_migrate(fx.pg, mig_fixed, &applied, &err), 0);
    ASSERT_INT_EQ(applied, 2);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM schema_migrations"), 4);
    ASSERT_INT_EQ(admin(&fx, "SELECT sum(v) FROM mlog"), 7);
    /* the bookkeeping row is written in the migration's transaction */
    ASSERT_INT_EQ(hd_pg_migrate(fx.pg, mig_trap, &applied, &err), -1);
    ASSERT_INT_EQ(applied, 0);
    ASSERT_STR_CONTAINS(err.msg, "0005_trap");
    ASSERT_STR_CONTAINS(err.msg, "refused by trigger");
    ASSERT_INT_EQ(admin(&fx, "SELECT (to_regclass('trapped') IS NULL)::int"),
                  1);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM pg_trigger WHERE "
                             "tgname = 'refuse'"),
                  0);
    fx_close(&fx);
}

struct migrator {
    char *dsn;
    pthread_barrier_t *go;
    int rc;
    int applied;
};

static void *
migrate_thread(void *arg)
{
    struct migrator *m = arg;
    struct hd_pg *pg = pool(m->dsn, 1, 5000, NULL, 0);

    pthread_barrier_wait(m->go);
    m->rc = pg != NULL ? hd_pg_migrate(pg, mig_good, &m->applied, NULL) : -1;
    hd_pg_free(pg);
    return NULL;
}

static void
test_migrate_concurrently_applies_once(void)
{
    struct migrator m[2];
    pthread_barrier_t go;
    pthread_t th[2];
    struct fx fx;
    int i;

    ASSERT_INT_EQ(fx_open(&fx, "migrace", 0, 0), 0);
    pthread_barrier_init(&go, NULL, 2);
    for (i = 0; i < 2; i++) {
        m[i] = (struct migrator){fx.dsn, &go, -1, 0};
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, migrate_thread, &m[i]), 0);
    }
    for (i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    ASSERT_INT_EQ(m[0].rc, 0);
    ASSERT_INT_EQ(m[1].rc, 0);
    ASSERT_INT_EQ(m[0].applied + m[1].applied, 3);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM mlog"), 3);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM schema_migrations"), 3);
    fx_close(&fx);
}

static void
test_unreachable_server(void)
{
    struct hd_pg_config cfg = {NULL, 2, 300, 1000};
    struct hd_err err = {0};
    struct hd_pg *pg;
    int port = 0;
    uint64_t t0;
    char *dsn;
    int fd;

    /* a closed port: refused at once */
    fd = listen_on(&port);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    dsn = hd_xasprintf("host=127.0.0.1 port=%d user=herald "
                       "password=s3cr3t-pw dbname=herald",
                       port);
    cfg.dsn = dsn;
    pg = hd_pg_new(&cfg, stmts, NSTMTS, &err); /* lazy: no error yet */
    ASSERT_NOT_NULL(pg);
    t0 = hd_now_mono_ms();
    ASSERT_NONE(hd_pg_acquire(pg, 1000, &err), HD_EUPSTREAM);
    ASSERT_STR_LACKS(err.msg, "s3cr3t");
    ASSERT_INT_LE(hd_now_mono_ms() - t0, 250);
    ASSERT_NONE(hd_pg_acquire(pg, 1000, &err), HD_EUPSTREAM);
    ASSERT_INT_EQ(hd_pg_ping(pg, 1000, &err), -1);
    ASSERT_FAILS(hd_pg_migrate(pg, mig_good, NULL, &err), HD_EUPSTREAM);
    hd_pg_free(pg);
    free(dsn);

    /* a server that accepts and then says nothing: the connect timeout */
    port = 0;
    fd = listen_on(&port);
    ASSERT_TRUE(fd >= 0);
    dsn = hd_xasprintf("host=127.0.0.1 port=%d user=herald dbname=herald "
                       "connect_timeout=60",
                       port);
    cfg.dsn = dsn;
    pg = hd_pg_new(&cfg, stmts, NSTMTS, &err);
    ASSERT_NOT_NULL(pg);
    t0 = hd_now_mono_ms();
    ASSERT_NONE(hd_pg_acquire(pg, 5000, &err), HD_EUPSTREAM);
    ASSERT_STR_CONTAINS(err.msg, "no answer within");
    ASSERT_TRUE(hd_now_mono_ms() - t0 >= 290);
    ASSERT_INT_LE(hd_now_mono_ms() - t0, 1500);
    /* ping is bounded by its own, shorter, timeout (on the fresh slot) */
    t0 = hd_now_mono_ms();
    ASSERT_INT_EQ(hd_pg_ping(pg, 100, &err), -1);
    ASSERT_INT_LE(hd_now_mono_ms() - t0, 400);
    hd_pg_free(pg);
    free(dsn);
    close(fd);
}

int
main(void)
{
    RUN_TEST(test_config_fields);
    RUN_TEST(test_new_rejects_bad_arguments);
    RUN_TEST(test_dsn_is_set);
    if (unit_failed > 0)
        return UNIT_DONE();
    RUN_TEST(test_exec_text_binary_and_null_params);
    RUN_TEST(test_errors_map_to_codes);
    RUN_TEST(test_statement_timeout);
    RUN_TEST(test_reconnect_after_backend_killed);
    RUN_TEST(test_recovers_when_server_returns);
    RUN_TEST(test_pool_exhaustion_times_out);
    RUN_TEST(test_release_rolls_back_open_transaction);
    RUN_TEST(test_threads_share_a_small_pool);
    RUN_TEST(test_migrate_applies_each_once);
    RUN_TEST(test_migrate_failure_is_atomic);
    RUN_TEST(test_migrate_concurrently_applies_once);
    RUN_TEST(test_unreachable_server);
    return UNIT_DONE();
}
