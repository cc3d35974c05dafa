/* migrations.h -- the SQL migrations compiled into every binary.
 *
 * scripts/embed-migrations.sh generates the table from db/migrations/, one
 * row per NNNN_name.sql file in version order, ending with a NULL name.
 * common/pg/pg.c applies them (hd_pg_migrate). */
#ifndef HD_MIGRATIONS_H
#define HD_MIGRATIONS_H

struct hd_migration {
    long version;     /* NNNN from the file name */
    const char *name; /* file name without .sql */
    const char *sql;  /* the file's text */
};

extern const struct hd_migration hd_migrations[];

#endif
