/* pg_migrate.c -- hd_pg_migrate: the schema migrations, each applied once
 * and in its own transaction, on a connection of their own under an
 * advisory lock, so replicas starting together apply each exactly once. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pg/pg.h"
#include "pg/pool_private.h"
#include "pg/private.h"
#include "core/banned.h"

/* pg_advisory_lock key serialising migrations ("HRLD"). */
#define PG_MIGRATE_LOCK "1213353028"

/* Applies m unless schema_migrations has it: 1 applied, 0 already there,
 * -1 failed (rolled back). The migration text may hold several statements,
 * so it goes through the simple protocol with no client-side deadline;
 * the server applies statement_timeout to each statement. */
static int
apply_one(struct hd_pgconn *c, const struct hd_migration *m, struct hd_err *err)
{
    char ver[24];
    char what[96];
    const char *vals[2] = {ver, m->name};
    PGresult *r = NULL;
    int have, sent;

    snprintf(ver, sizeof(ver), "%ld", m->version);
    snprintf(what, sizeof(what), "migration %.64s", m->name);
    if (hd_pg_run(c, what, "SELECT 1 FROM schema_migrations WHERE version = $1",
                  1, vals, hd_pg_stmt_deadline(c->pg), &r, err) < 0)
        return -1;
    have = PQntuples(r) > 0;
    PQclear(r);
    if (have)
        return 0;
    if (hd_pg_run(c, what, "BEGIN", 0, NULL, hd_pg_stmt_deadline(c->pg), NULL,
                  err) < 0)
        return -1;
    sent = PQsendQuery(c->conn, m->sql);
    if (hd_pg_finish(c, sent, what, 0, NULL, NULL, err) < 0 ||
        hd_pg_run(
            c, what,
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
            vals, hd_pg_stmt_deadline(c->pg), NULL, err) < 0 ||
        hd_pg_run(c, what, "COMMIT", 0, NULL, hd_pg_stmt_deadline(c->pg), NULL,
                  err) < 0) {
        hd_pg_rollback(c);
        return -1;
    }
    return 1;
}

int
hd_pg_migrate(struct hd_pg *pg, const struct hd_migration *migrations,
              int *applied, struct hd_err *err)
{
    const struct hd_migration *m;
    struct hd_pgconn mc;
    int locked = 0;
    int rc = -1;
    int n = 0;
    int r;

    if (applied != NULL)
        *applied = 0;
    if (migrations == NULL)
        return hd_err_set(err, HD_EINVAL, "pg migrate: no migration table");
    for (m = migrations; m->name != NULL; m++)
        if (m->sql == NULL || m->version <= 0 ||
            (m != migrations && m->version <= m[-1].version))
            return hd_err_set(err, HD_EINVAL,
                              "pg migrate: migration %.64s is out of order "
                              "or empty",
                              m->name);
    /* A connection of its own, outside the pool: the pool's statements may
     * name tables these very migrations create. */
    memset(&mc, 0, sizeof(mc));
    mc.pg = pg;
    if (hd_pg_open_conn(pg, &mc, hd_pg_deadline_after(pg->connect_timeout_ms),
                        err) < 0)
        return -1;
    /* the lock waits for a concurrent starter, up to statement_timeout */
    if (hd_pg_run(&mc, "migrate lock",
                  "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK ")", 0, NULL,
                  hd_pg_stmt_deadline(pg), NULL, err) < 0)
        goto out;
    locked = 1;
    if (hd_pg_run(&mc, "migrate",
                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  "version bigint PRIMARY KEY, name text NOT NULL, "
                  "applied_at timestamptz NOT NULL DEFAULT now())",
                  0, NULL, hd_pg_stmt_deadline(pg), NULL, err) < 0)
        goto out;
    for (m = migrations; m->name != NULL; m++) {
        r = apply_one(&mc, m, err);
        if (r < 0)
            goto out;
        n += r;
    }
    rc = 0;
out:
    if (locked && !mc.broken)
        (void)hd_pg_run(&mc, "migrate unlock",
                        "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")", 0,
                        NULL, hd_pg_stmt_deadline(pg), NULL, NULL);
    PQfinish(mc.conn); /* also ends the lock if unlocking failed */
    if (n > 0) {
        /* pooled connections prepared against the old schema start over */
        pthread_mutex_lock(&pg->mu);
        pg->gen++;
        pthread_mutex_unlock(&pg->mu);
    }
    if (applied != NULL)
        *applied = n;
    return rc;
}
