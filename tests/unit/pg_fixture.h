/* pg_fixture.h -- a throwaway schema on the test PostgreSQL for the unit
 * tests of common/pg*.c.
 *
 * HERALD_TEST_PG_DSN names a throwaway server (scripts/pg.sh). Each test
 * works in a schema of its own, dropped and recreated at the start, so the
 * tests are independent and can run again against the same database.
 * Header-only (static inline functions) so each test stays one binary. */
#ifndef HD_TEST_PG_FIXTURE_H
#define HD_TEST_PG_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/alloc.h"
#include "core/config.h"
#include "pg/pg.h"

struct test_env {
    char *dsn;
};

static const struct hd_config_field env_fields[] = {
    HD_CFG_STR("HERALD_TEST_PG_DSN", struct test_env, dsn, NULL,
               HD_CFG_REQUIRED | HD_CFG_SECRET, "throwaway test server"),
    HD_CFG_END,
};

static const struct hd_pg_stmt stmts[] = {
    {"item_put", "INSERT INTO items (id, name, data) VALUES ($1, $2, $3)", 3},
    {"item_get",
     "SELECT name, encode(data, 'hex'), data IS NULL FROM items WHERE id = $1",
     1},
    {"item_count", "SELECT count(*) FROM items", 0},
    {"item_add",
     "INSERT INTO items (id, name) VALUES ($1, $2) RETURNING id * 10", 2},
    /* item_add for a group at once ($1, $2 arrays), each row numbered */
    {"item_add_many",
     "WITH a AS (SELECT * FROM unnest($1::int[], $2::text[]) WITH ORDINALITY "
     "AS a(id, name, n)), ins AS (INSERT INTO items (id, name) "
     "SELECT id, name FROM a RETURNING id) "
     "SELECT ins.id * 10, a.n FROM ins JOIN a ON a.id = ins.id",
     2},
    /* the same, answering only the odd ids */
    {"item_add_odd",
     "WITH a AS (SELECT * FROM unnest($1::int[], $2::text[]) WITH ORDINALITY "
     "AS a(id, name, n)), ins AS (INSERT INTO items (id, name) "
     "SELECT id, name FROM a RETURNING id) "
     "SELECT ins.id * 10, a.n FROM ins JOIN a ON a.id = ins.id "
     "WHERE ins.id % 2 = 1",
     2},
    {"sleep", "SELECT pg_sleep($1)", 1},
    {"pid", "SELECT pg_backend_pid()", 0},
    {"settings",
     "SELECT current_setting('statement_timeout'), "
     "current_setting('search_path')",
     0},
};
#define NSTMTS (sizeof(stmts) / sizeof(stmts[0]))

/* The call fails with the given code (in the test's local err). */
#define ASSERT_FAILS(call, want)                                               \
    do {                                                                       \
        ASSERT_INT_EQ((call), -1);                                             \
        ASSERT_INT_EQ(err.code, (want));                                       \
    } while (0)

/* The call returns NULL with the given code (in the test's local err). */
#define ASSERT_NONE(call, want)                                                \
    do {                                                                       \
        ASSERT_NULL(call);                                                     \
        ASSERT_INT_EQ(err.code, (want));                                       \
    } while (0)

/* One test's schema, an admin session in it, a DSN whose sessions land in
 * it, and (when asked) a pool of stmts on that DSN. */
struct fx {
    struct test_env env;
    struct hd_config_section sec;
    PGconn *admin;
    char schema[64];
    char *dsn;
    struct hd_pg *pg;
};

static inline void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Runs sql in the admin session: the first cell as a number (0 for a
 * command), -1 on error. */
static inline long long
admin(struct fx *fx, const char *sql)
{
    PGresult *r = PQexec(fx->admin, sql);
    long long v = -1;

    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        v = 0;
    else if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        hd_parse_ll(PQgetvalue(r, 0, 0), -1, INT64_MAX, &v);
    else
        fprintf(stderr, "  admin: %s: %s", sql, PQerrorMessage(fx->admin));
    PQclear(r);
    return v;
}

/* new: a DSN whose sessions work in fx's schema: the test DSN with an
 * options parameter added, or with port > 0, the admin session's user and
 * database on 127.0.0.1:port (key=value form). */
static inline char *
make_dsn(struct fx *fx, int port)
{
    const char *base = fx->env.dsn;

    if (port > 0)
        return hd_xasprintf("host=127.0.0.1 port=%d user=%s dbname=%s "
                            "options='-c search_path=%s'",
                            port, PQuser(fx->admin), PQdb(fx->admin),
                            fx->schema);
    if (strstr(base, "://") != NULL)
        return hd_xasprintf("%s%soptions=-c%%20search_path%%3D%s", base,
                            strchr(base, '?') ? "&" : "?", fx->schema);
    return hd_xasprintf("%s options='-c search_path=%s'", base, fx->schema);
}

static inline struct hd_pg *
pool(char *dsn, int size, int statement_timeout_ms, const struct hd_pg_stmt *st,
     size_t n)
{
    struct hd_pg_config cfg = {dsn, size, 2000, statement_timeout_ms};
    struct hd_err err = {0};
    struct hd_pg *pg = hd_pg_new(&cfg, st, n, &err);

    if (pg == NULL)
        fprintf(stderr, "  hd_pg_new: %s\n", err.msg);
    return pg;
}

/* A fresh schema holding the items table; a pool when size > 0. */
static inline int
fx_open(struct fx *fx, const char *name, int size, int statement_timeout_ms)
{
    struct hd_err err = {0};
    char sql[384];

    memset(fx, 0, sizeof(*fx));
    fx->sec.fields = env_fields;
    fx->sec.base = &fx->env;
    if (hd_config_load(&fx->sec, 1, &err) < 0) {
        fprintf(stderr, "  %s\n", err.msg);
        return -1;
    }
    snprintf(fx->schema, sizeof(fx->schema), "herald_test_pg_%s", name);
    fx->admin = PQconnectdb(fx->env.dsn);
    if (PQstatus(fx->admin) != CONNECTION_OK) {
        fprintf(stderr, "  admin connect: %s", PQerrorMessage(fx->admin));
        return -1;
    }
    snprintf(sql, sizeof(sql),
             "SET client_min_messages = warning; "
             "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; "
             "SET search_path = %s",
             fx->schema, fx->schema, fx->schema);
    if (admin(fx, sql) < 0 ||
        admin(fx, "CREATE TABLE items (id int PRIMARY KEY, "
                  "name text NOT NULL UNIQUE, data bytea)") < 0)
        return -1;
    fx->dsn = make_dsn(fx, 0);
    if (size > 0)
        fx->pg = pool(fx->dsn, size, statement_timeout_ms, stmts, NSTMTS);
    return size == 0 || fx->pg != NULL ? 0 : -1;
}

static inline void
fx_close(struct fx *fx)
{
    char sql[128];

    hd_pg_free(fx->pg);
    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", fx->schema);
    if (PQstatus(fx->admin) == CONNECTION_OK)
        admin(fx, sql);
    PQfinish(fx->admin);
    free(fx->dsn);
    hd_config_release(&fx->sec, 1);
    memset(fx, 0, sizeof(*fx));
}

/* First in every test program: the rest need the server. */
static inline void
test_dsn_is_set(void)
{
    struct test_env env;
    struct hd_config_section s = {env_fields, &env};
    struct hd_err err = {0};

    if (hd_config_load(&s, 1, &err) < 0)
        fprintf(stderr, "  %s: start a server with scripts/pg.sh\n", err.msg);
    ASSERT_INT_EQ(err.code, HD_EOK);
    hd_config_release(&s, 1);
}

#endif
