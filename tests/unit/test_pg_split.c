/* test_pg_split.c -- hd_pg_send/hd_pg_recv (common/pg/batch.c) against a
 * real PostgreSQL: the caller gets control back while the statement runs,
 * failures map as hd_pg_exec maps them, and a connection given back with
 * a statement still running is dropped, not reused. HERALD_TEST_PG_DSN
 * names a throwaway server (scripts/pg.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tests/unit/unit.h"
#include "core/clock.h"
#include "pg/pg.h"
#include "tests/unit/pg_fixture.h"
#include "core/banned.h"

static long long
first(PGresult *r)
{
    long long v = -1;

    if (r != NULL && PQntuples(r) > 0)
        hd_parse_ll(PQgetvalue(r, 0, 0), 0, INT64_MAX, &v);
    return v;
}

static void
test_send_returns_before_the_result(void)
{
    const char *secs[1] = {"0.3"};
    struct hd_err err = {0};
    struct hd_pgconn *c;
    PGresult *r = NULL;
    uint64_t t0, sent_ms, done_ms;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "split", 1, 5000), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    t0 = hd_now_mono_ms();
    ASSERT_INT_EQ(hd_pg_send(c, "sleep", 1, secs, &err), 0);
    sent_ms = hd_now_mono_ms() - t0;
    ASSERT_INT_EQ(hd_pg_recv(c, "sleep", 1, secs, &r, &err), 0);
    done_ms = hd_now_mono_ms() - t0;
    ASSERT_TRUE(sent_ms < 250);
    ASSERT_TRUE(done_ms >= 300);
    ASSERT_INT_EQ(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    /* the connection goes on as usual */
    ASSERT_INT_EQ(hd_pg_exec(c, "item_count", 0, NULL, NULL, NULL, &r, &err),
                  0);
    ASSERT_INT_EQ(first(r), 0);
    PQclear(r);
    hd_pg_release(fx.pg, c);
    fx_close(&fx);
}

static void
test_failures_map_as_exec_maps_them(void)
{
    const char *bad[3] = {"not-a-number-xyz", "n", NULL};
    struct hd_err err = {0};
    struct hd_pgconn *c;
    PGresult *r = NULL;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "split_err", 1, 5000), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(hd_pg_send(c, "item_put", 3, bad, &err), 0);
    ASSERT_FAILS(hd_pg_recv(c, "item_put", 3, bad, &r, &err), HD_EINVAL);
    ASSERT_NULL(r);
    ASSERT_STR_EQ(hd_pg_sqlstate(c), "22P02");
    ASSERT_STR_CONTAINS(err.msg, "item_put");
    ASSERT_STR_LACKS(err.msg, "not-a-number-xyz");
    /* caller mistakes never reach the server */
    ASSERT_FAILS(hd_pg_send(c, "no_such", 0, NULL, &err), HD_EINVAL);
    ASSERT_FAILS(hd_pg_send(c, "item_put", 1, bad, &err), HD_EINVAL);
    /* and the connection survived */
    ASSERT_INT_EQ(hd_pg_exec(c, "item_count", 0, NULL, NULL, NULL, &r, &err),
                  0);
    ASSERT_INT_EQ(first(r), 0);
    PQclear(r);
    hd_pg_release(fx.pg, c);
    fx_close(&fx);
}

static void
test_release_mid_statement_drops_the_connection(void)
{
    const char *secs[1] = {"5"};
    struct hd_err err = {0};
    struct hd_pgconn *c;
    PGresult *r = NULL;
    long long pid1, pid2;
    uint64_t t0;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "split_drop", 1, 10000), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(hd_pg_exec(c, "pid", 0, NULL, NULL, NULL, &r, &err), 0);
    pid1 = first(r);
    PQclear(r);
    ASSERT_INT_EQ(hd_pg_send(c, "sleep", 1, secs, &err), 0);
    t0 = hd_now_mono_ms();
    hd_pg_release(fx.pg, c); /* without waiting for the 5 s sleep */
    ASSERT_TRUE(hd_now_mono_ms() - t0 < 2000);
    c = hd_pg_acquire(fx.pg, 5000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(hd_pg_exec(c, "pid", 0, NULL, NULL, NULL, &r, &err), 0);
    pid2 = first(r);
    PQclear(r);
    ASSERT_TRUE(pid1 > 0 && pid2 > 0 && pid1 != pid2);
    hd_pg_release(fx.pg, c);
    fx_close(&fx);
}

int
main(void)
{
    RUN_TEST(test_dsn_is_set);
    if (unit_failed > 0)
        return UNIT_DONE();
    RUN_TEST(test_send_returns_before_the_result);
    RUN_TEST(test_failures_map_as_exec_maps_them);
    RUN_TEST(test_release_mid_statement_drops_the_connection);
    return UNIT_DONE();
}
