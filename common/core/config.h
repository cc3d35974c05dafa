/* config.h -- table-driven configuration from HERALD_* environment variables.
 *
 * Each module or service declares its variables once, as a table of
 * struct hd_config_field rows (name, type, offset into its struct, default,
 * range, flags, help). hd_config_load() fills the structs, range-checks
 * every value and fails naming the variable; hd_config_help() prints the
 * tables for --help; hd_config_dump() renders the effective values with
 * secrets redacted. This is the only file that reads the environment.
 * Not thread-safe: call from main() before starting threads. */
#ifndef HD_CONFIG_H
#define HD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/err.h"

enum hd_config_type {
    HD_CFG_T_END = 0,
    HD_CFG_T_INT,  /* int, min..max */
    HD_CFG_T_BOOL, /* int 0/1: true/false/1/0/yes/no/on/off */
    HD_CFG_T_STR,  /* char * (new, freed by hd_config_release), max = len */
};

#define HD_CFG_REQUIRED 0x1u /* no default: must be set */
#define HD_CFG_SECRET 0x2u   /* never shown: "(set)" or "(unset)" */

/* The words a boolean takes, as --help and error messages list them;
 * defaults and dumps use true/false only. */
#define HD_CFG_BOOL_WORDS "true/false, yes/no, on/off or 1/0"

struct hd_config_field {
    const char *name; /* HERALD_... */
    enum hd_config_type type;
    size_t offset;   /* into the section's struct */
    const char *def; /* default as text, NULL for none */
    long long min;   /* INT: minimum value */
    long long max;   /* INT: maximum value; STR: max length */
    unsigned flags;
    const char *choices; /* STR: "a|b|c" allowed values, or NULL */
    const char *help;
};

#define HD_CFG_INT(env, T, field, def, lo, hi, help)                           \
    {                                                                          \
        env, HD_CFG_T_INT, offsetof(T, field), #def, lo, hi, 0, NULL, help     \
    }
#define HD_CFG_BOOL(env, T, field, def, help)                                  \
    {                                                                          \
        env, HD_CFG_T_BOOL, offsetof(T, field), #def, 0, 1, 0, NULL, help      \
    }
#define HD_CFG_STR(env, T, field, def, flags, help)                            \
    {                                                                          \
        env, HD_CFG_T_STR, offsetof(T, field), def, 0, 4096, flags, NULL, help \
    }
#define HD_CFG_ENUM(env, T, field, def, choices, help)                         \
    {                                                                          \
        env, HD_CFG_T_STR, offsetof(T, field), def, 0, 64, 0, choices, help    \
    }
#define HD_CFG_END                                                             \
    {                                                                          \
        NULL, HD_CFG_T_END, 0, NULL, 0, 0, 0, NULL, NULL                       \
    }

/* One table and the struct it fills. */
struct hd_config_section {
    const struct hd_config_field *fields;
    void *base;
};

/* Fills every section from the environment (defaults first). Returns 0, or
 * -1 with err naming the variable, the rule and the (non-secret) value.
 * On failure everything already allocated is released. */
int hd_config_load(const struct hd_config_section *secs, size_t n,
                   struct hd_err *err);

/* Fills the string fields that are still unset (NULL: not in the
 * environment and without a default) from a file of NAME=value lines,
 * the var/stack.env that `make run` writes: blank lines and # comments
 * are skipped, an "export " prefix is allowed, the value runs to the end
 * of the line, shell-quoted or not ('a'\''b' and "a b" are unquoted). Lines
 * naming no such field are ignored. Returns 1 when the file was read, 0 when it
 * does not exist, -1 with err (unreadable, a line over HD_CONFIG_STR_MAX, a bad
 * value). */
int hd_config_load_file(const struct hd_config_section *secs, size_t n,
                        const char *path, struct hd_err *err);

/* Frees the strings hd_config_load() allocated and zeroes those fields. */
void hd_config_release(const struct hd_config_section *secs, size_t n);

/* Prints "NAME  type  default  range  help" for every variable: an empty
 * default as "", a secret's default as (set) or (unset). */
void hd_config_help(FILE *out, const struct hd_config_section *secs, size_t n);

/* Appends the effective configuration as a JSON object, secrets shown as
 * "(set)" when they hold a non-empty value, "(unset)" otherwise. Returns 0
 * or -1 (HD_ETOOBIG). */
int hd_config_dump(const struct hd_config_section *secs, size_t n,
                   struct hd_buf *out, struct hd_err *err);

/* Calls fn(name, value, ud) for every environment variable that starts
 * with prefix and is not declared in any section (used to pass librdkafka
 * properties through). Stops and returns -1 if fn returns -1. */
int hd_config_each_extra(
    const char *prefix, const struct hd_config_section *secs, size_t n,
    int (*fn)(const char *name, const char *value, void *ud), void *ud);

/* Strict number parsing for the rest of the tree (no atoi). Return 0 or
 * -1 when s is empty, has trailing junk or is out of range. */
int hd_parse_ll(const char *s, long long min, long long max, long long *out);
int hd_parse_int(const char *s, int min, int max, int *out);

#endif
