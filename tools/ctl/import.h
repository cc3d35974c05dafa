/* import.h -- heraldctl import's parts: the input (lines of JSON Lines
 * or CSV turned into device_register bodies), the progress display, and
 * the resume file. The driver (import.c) connects them to the HTTP
 * client.
 *
 * Line numbers count from 1 and include the CSV header and blank lines,
 * so a reported number is the one an editor shows. */
#ifndef CTL_IMPORT_H
#define CTL_IMPORT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "tools/ctl/ctl.h"

#define IMPORT_LINE_MAX HD_API_MAX_BODY /* one input line */
#define IMPORT_CSV_COLS 64              /* columns of a CSV header */

enum import_format { IMPORT_JSONL, IMPORT_CSV };

/* ---- input (import_src.c) ---------------------------------------------- */

struct import_src {
    FILE *fp;
    enum import_format format;
    const char *app;  /* added to each body when set (borrowed) */
    int check;        /* parse each JSON line: batches must stay valid */
    long long line;   /* number of the last line read */
    long long offset; /* bytes of the input consumed so far */
    char *buf;        /* the current line, IMPORT_LINE_MAX + 2 */
    size_t len;
    int toolong; /* the current line was cut */
    int eof;
    /* CSV: the columns of the header */
    int ncols;
    char *cols[IMPORT_CSV_COLS];
};

/* Opens path ("-" = stdin) at byte offset, with line numbers going on
 * from line. format < 0: from the name (.csv, else JSON Lines). Returns
 * CTL_OK or CTL_EUSAGE (reported). For CSV the header is read here (at
 * offset 0) or, when resuming, read again from the start of the file. */
int import_src_open(struct import_src *s, struct ctl *c, const char *path,
                    int format, long long offset, long long line);
void import_src_close(struct import_src *s);

/* The next line's request body into body. Returns 1 with a body, 0 at
 * the end, or -1 for a bad line (why in msg; the line is skipped).
 * Blank lines are skipped without a word. */
int import_src_next(struct import_src *s, struct hd_buf *body, char *msg,
                    size_t msglen);

/* ---- resume file (import_src.c) ---------------------------------------- */

/* The committed state: every line up to line (ending at byte offset)
 * is done; ok and bad count them. */
struct import_mark {
    long long line, offset, ok, bad;
    int complete;
};

/* Reads path; 0 when it holds a mark for input, 1 when there is none,
 * -1 with msg when it is unreadable or for another input. */
int import_mark_read(const char *path, const char *input, struct import_mark *m,
                     char *msg, size_t msglen);
/* Replaces path atomically (write, fsync, rename). 0 or -1 with msg. */
int import_mark_write(const char *path, const char *input,
                      const struct import_mark *m, char *msg, size_t msglen);

/* ---- progress (progress.c) --------------------------------------------- */

struct import_progress {
    const struct ctl *c;
    int tty;             /* redraw one line on stderr */
    long long total;     /* input bytes, 0 unknown */
    long long start_off; /* bytes already done before this run */
    uint64_t t0_ms, last_ms;
    int interval_ms; /* plain lines: every so often */
    int drawn;       /* a bar is on screen */
};

void import_progress_init(struct import_progress *p, const struct ctl *c,
                          long long total, long long start_off,
                          int interval_ms);
/* Shows the state now and then (every 200 ms on a terminal). */
void import_progress_tick(struct import_progress *p, long long offset,
                          long long done, long long ok, long long bad,
                          int force);
/* Erases the bar before other text is written to stderr. */
void import_progress_clear(struct import_progress *p);

#endif
