/* ctl.h -- heraldctl: what its files share. The run's context (settings,
 * terminal, the HTTP client), the exit codes, server-API calls, and the
 * output helpers (tables, colour, errors).
 *
 * One struct ctl is made in main() and passed to every command; nothing
 * is global. Output goes to stdout (results) and stderr (errors and
 * progress); colour only when that stream is a terminal and NO_COLOR is
 * unset. Single-threaded: the HTTP client is driven from the caller. */
#ifndef CTL_H
#define CTL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/client.h"

/* Exit codes (docs/operations.md, heraldctl --help). */
enum ctl_exit {
    CTL_OK = 0,
    CTL_EAPI = 1,      /* the API refused the request (its message shown) */
    CTL_EUSAGE = 2,    /* bad command line, bad input file, missing setting */
    CTL_ENET = 3,      /* no answer: connection, TLS, timeout, HTTP 5xx */
    CTL_EAUTH = 4,     /* the key was refused (HTTP 401/403) */
    CTL_ENOTFOUND = 5, /* the device, uid or installation does not exist */
    CTL_EPARTIAL = 6,  /* import done, but some lines were skipped */
    CTL_EINTR = 130,   /* interrupted by SIGINT or SIGTERM */
};

#define CTL_MSG_MAX 512
#define CTL_ENV_FILE "var/stack.env" /* what make run writes */

/* Settings from the environment (or var/stack.env). */
struct ctl_config {
    char *api_url;
    char *api_key;
    char *relay_url;
    char *relay_admin_url;
    char *relay_admin_key;
    char *relay_ca_file;
    char *app;
    char *no_color;
};

struct ctl {
    struct ctl_config cfg;
    /* effective settings: the option, else the environment, else the
     * env file (borrowed from argv or cfg) */
    const char *url, *key, *relay_url, *relay_admin_url, *admin_key, *ca_file,
        *app;
    const char *env_file; /* settings missing from the environment */
    int env_loaded;       /* env_file was looked at */
    int timeout_ms;
    int connections;       /* HTTP connections (import), 0: 4 */
    int dry_run;           /* print the request instead of sending it */
    int out_tty;           /* stdout is a terminal */
    int err_tty;           /* stderr is a terminal */
    int color;             /* colour on stdout */
    int ecolor;            /* colour on stderr */
    int width;             /* terminal columns (0: not a terminal) */
    struct hd_httpc *http; /* made on first use (ctl_http) */
    struct hd_buf auth;    /* "Authorization: apikey <key>" */
};

/* ---- settings (settings.c) -------------------------------------------- */

/* Reads c->cfg from the environment. 0, or -1 with err naming the
 * variable. */
int ctl_config_load(struct ctl *c, struct hd_err *err);
/* Fills the settings the environment left unset from an env file
 * (hd_config_load_file's contract: 1 read, 0 absent, -1 with err). */
int ctl_config_load_file(struct ctl *c, const char *path, struct hd_err *err);
void ctl_config_release(struct ctl *c);
/* The variables, for --help. */
void ctl_config_help(FILE *out);

/* ---- commands (one file each) ------------------------------------------ */

int ctl_cmd_send(struct ctl *c, int argc, char **argv);
int ctl_cmd_devices(struct ctl *c, int argc, char **argv);
int ctl_cmd_topics(struct ctl *c, int argc, char **argv);
int ctl_cmd_status(struct ctl *c, int argc, char **argv);
int ctl_cmd_installations(struct ctl *c, int argc, char **argv);
int ctl_cmd_import(struct ctl *c, int argc, char **argv);

/* ---- options (opt.c) --------------------------------------------------- */

/* One command's options for getopt_long; the global options (--url,
 * --key, --app, ...) are accepted by every command too. */
struct ctl_opt {
    const char *name;
    int has_arg; /* 0 or 1 */
    int id;      /* returned by ctl_opt_next */
};

#define CTL_OPT_HELP 'h'
#define CTL_OPT_END (-1)
#define CTL_OPT_BAD '?'

struct ctl_opts {
    struct ctl *c;
    const char *name; /* "devices list", for messages */
    int argc;
    char **argv;
    const struct ctl_opt *own;
    void *longopts;  /* struct option[], new */
    const char *arg; /* the current option's value */
    int stop;        /* 1: stop at the first word that is no option */
};

/* Starts parsing argv[1..argc) of the command called name (borrowed). */
void ctl_opts_init(struct ctl_opts *o, struct ctl *c, const char *name,
                   int argc, char **argv, const struct ctl_opt *own);
/* The next own option's id, CTL_OPT_HELP, CTL_OPT_BAD (already reported)
 * or CTL_OPT_END. Global options are applied to c here. */
int ctl_opts_next(struct ctl_opts *o);
/* The positional arguments left after CTL_OPT_END. */
int ctl_opts_rest(const struct ctl_opts *o, char ***rest);
void ctl_opts_release(struct ctl_opts *o);
/* The global options' help lines, for every command's --help. */
extern const char ctl_global_help[];
/* Prints help text (the usage lines, then the global options) to stdout. */
int ctl_help(const char *text);
/* Reports a usage error and returns CTL_EUSAGE. */
int ctl_usage(struct ctl *c, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A non-negative integer option; CTL_EUSAGE reported when it is not. */
int ctl_opt_int(struct ctl *c, const char *cmd, const char *name, const char *s,
                long long min, long long max, long long *out);

/* ---- server API (api.c) ------------------------------------------------ */

/* What one answer means. */
struct ctl_answer {
    int code;       /* CTL_OK or CTL_E* */
    json_t *result; /* new, on CTL_OK */
    char msg[CTL_MSG_MAX];
};

/* Checks that the API URL and key are there (else CTL_EUSAGE, reported). */
int ctl_api_ready(struct ctl *c);
/* The run's HTTP client (NULL with err when libcurl refuses). */
struct hd_httpc *ctl_http(struct ctl *c, struct hd_err *err);
/* Fills req for POST /api/<method> with body (borrowed); url is the
 * caller's buffer. */
int ctl_api_req(struct ctl *c, const char *method, const struct hd_buf *body,
                struct hd_buf *url, struct hd_httpc_req *req);
/* Reads one answer into a (result new on CTL_OK): api 1 for the server
 * API's {"result"}/{"error"} envelope, 0 for a plain JSON document. */
void ctl_answer_parse(struct ctl_answer *a, int api, enum hd_httpc_fail fail,
                      int status, const char *body, size_t len,
                      const char *error);
void ctl_answer_release(struct ctl_answer *a);
/* An API error object {code, message}: its message into msg, and CTL_ENET
 * for the server's own trouble (code 100, worth a retry) or CTL_EAPI. */
int ctl_api_error(json_t *e, char *msg, size_t msglen);
/* Calls method with params (stolen; --app added when set). On CTL_OK
 * *result is the result object (new; NULL after a dry run); otherwise
 * the error was printed as "heraldctl: <what>: <message>". */
int ctl_call(struct ctl *c, const char *method, json_t *params,
             json_t **result);
/* Puts the filter fields (borrowed) into params: at its top level, or in
 * the object named wrap (CTL_F_FILTER, CTL_R_FILTER) when wrap is not "". */
void ctl_put_filter(json_t *params, const char *wrap, json_t *filter);
/* The cursor of the page after the answer res whose last item is last
 * (NULL when empty), id_key naming the item's cursor field in the
 * draft's paging. Returns 1 with cursor filled, 0 on the last page. */
int ctl_next_page(json_t *res, json_t *last, const char *id_key, char *cursor,
                  size_t len);
#define CTL_CURSOR_MAX 1024

/* Calls a relay endpoint: method "GET"/"POST", path, body (stolen, may be
 * NULL), with the admin key when one is set; on the relay's admin
 * listener when admin is set (listing installations, rotating keys),
 * else on its public port. Same contract as ctl_call; 404 is
 * CTL_ENOTFOUND. */
int ctl_relay_call(struct ctl *c, int admin, const char *method,
                   const char *path, json_t *body, json_t **result);

/* ---- output (out.c) ---------------------------------------------------- */

enum ctl_color {
    CTL_C_NONE,
    CTL_C_BOLD,
    CTL_C_DIM,
    CTL_C_RED,
    CTL_C_GREEN,
    CTL_C_YELLOW,
    CTL_C_CYAN
};

/* Looks at the terminal (isatty, width) and NO_COLOR. */
void ctl_out_init(struct ctl *c);
/* The escape sequence for col on stdout (or stderr), "" without colour. */
const char *ctl_col(const struct ctl *c, enum ctl_color col);
const char *ctl_ecol(const struct ctl *c, enum ctl_color col);
/* "heraldctl: error: <message>" on stderr. */
void ctl_error(const struct ctl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Pretty JSON on stdout. */
void ctl_print_json(json_t *v);
/* The colour of an outcome or state ("sent" green, "token_invalid" red). */
enum ctl_color ctl_status_color(const char *status);
/* Display width of UTF-8 text (code points; no wide-glyph table). */
size_t ctl_text_width(const char *s);

/* An aligned table: rows of strings, widths measured when printed. The
 * last column is cut to the terminal's width on a terminal. */
struct ctl_table {
    size_t ncols;
    const char *const *heads; /* borrowed */
    char **cells;             /* nrows * ncols, new */
    enum ctl_color *colors;   /* per cell */
    size_t nrows, cap;
};

void ctl_table_init(struct ctl_table *t, size_t ncols,
                    const char *const *heads);
/* Appends a row of ncols cells (copied; NULL shows as "-"). */
void ctl_table_add(struct ctl_table *t, const char *const *cells);
/* Colours the last row's cell col. */
void ctl_table_color(struct ctl_table *t, size_t col, enum ctl_color color);
void ctl_table_print(const struct ctl *c, const struct ctl_table *t);
void ctl_table_release(struct ctl_table *t);
/* The end of a list command: {"items":all,"has_more":more} on stdout with
 * json, otherwise the table and "<shown> <noun>s" on stderr, with a hint
 * to raise --limit when more is set. */
void ctl_list_print(const struct ctl *c, int json, json_t *all,
                    const struct ctl_table *t, long long shown, int more,
                    const char *noun);

/* A JSON value as table text: strings as they are, numbers, "-" for
 * null/absent, anything else compact JSON. Returns buf. */
const char *ctl_cell(json_t *v, char *buf, size_t len);
/* Unix milliseconds as "2026-12-06 12:00:00Z" (UTC). Returns buf. */
const char *ctl_time_ms(long long ms, char *buf, size_t len);

#endif
