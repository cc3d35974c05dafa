/* import.c -- heraldctl import FILE: devices registered in bulk, lines
 * sent in batches (one batch request of device_register commands, which
 * herald-api stores in one statement and answers command by command),
 * several batches at once over kept-alive connections (the HTTP client's
 * libcurl multi), with a resume file. --batch 1 sends one device_register
 * call a line instead.
 *
 * Lines are read only as fast as batches complete: at most --concurrency
 * requests are in flight, and the reader never runs more than
 * IMPORT_WINDOW lines ahead of the oldest unfinished one. The resume file
 * records the last line before which every line is finished (registered
 * or reported bad), so --resume starts after it; lines in flight when a
 * run stopped are sent again, which registration by token makes
 * harmless. A command the server could not run (its own trouble) is sent
 * again in a later batch; every other error is that line's. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/shutdown.h"
#include "tools/ctl/import.h"
#include "tools/ctl/names.h"
#include "core/banned.h"

#define IMPORT_WINDOW 65536 /* lines read ahead of the oldest in flight */
#define IMPORT_ATTEMPTS 6   /* tries of one line when there is no answer */
#define IMPORT_MARK_EVERY_MS 1000
#define IMPORT_BATCH_MAX 1000 /* the server's most commands in a batch */
/* what a batch adds around each line and around them all */
#define CMD_OPEN "{\"" CTL_M_DEVICE_REGISTER "\":"
#define BATCH_OPEN "{\"commands\":["
#define BATCH_ROOM (sizeof(CMD_OPEN) + 2 + sizeof(BATCH_OPEN) + 2)

static const char help[] =
    "Usage: heraldctl import FILE [--resume] [options]\n"
    "\n"
    "Registers the devices of FILE, one device_register command per line,\n"
    "sent in batches, several at once. A bad line is reported with its\n"
    "number and skipped; the rest go on. A summary ends the run.\n"
    "\n"
    "FILE is JSON Lines (one device_register params object a line, exactly\n"
    "as the API takes it) or, when it ends in .csv, CSV with a header line\n"
    "naming its columns:\n"
    "  provider, token, platform   required (fcm|apns|hms, ios|android|web)\n"
    "  user, id, identifier, app   optional strings\n"
    "  device_type, client_type    optional numbers\n"
    "  topics                      the device's topics, separated by ;\n"
    "  meta.KEY, tags.KEY          one meta or tags entry per column\n"
    "An empty cell is not sent. Fields may be quoted (\"a,b\", \"\" for a\n"
    "quote) but may not span lines. - reads JSON Lines from stdin.\n"
    "\n"
    "Options:\n"
    "  --resume             go on after the last line the previous run of\n"
    "                       this FILE finished (from its progress file)\n"
    "  --progress-file P    where progress is kept (default FILE.progress;\n"
    "                       updated every second and at the end)\n"
    "  --format jsonl|csv   instead of guessing from the name\n"
    "  --batch N            lines per request (default 500, at most 1000;\n"
    "                       1: one device_register call a line)\n"
    "  --concurrency N      requests in flight, one connection each\n"
    "                       (default 4)\n"
    "  --rate N             at most N lines a second on average (default:\n"
    "                       as fast as the API answers)\n"
    "  --progress SECONDS   when stderr is not a terminal, a progress line\n"
    "                       this often (default 10; on a terminal a bar)\n"
    "\n"
    "Exit 0 when every line was registered, 6 when some lines were skipped,\n"
    "3 or 4 when the API stopped answering or refused the key, 130 when\n"
    "interrupted (Ctrl-C, SIGTERM: the calls in flight finish first); the\n"
    "progress file then says where --resume goes on.\n";

enum { O_RESUME = 1, O_MARK, O_FORMAT, O_CONC, O_PROGRESS, O_BATCH, O_RATE };

static const struct ctl_opt opts[] = {
    {"resume", 0, O_RESUME},     {"progress-file", 1, O_MARK},
    {"format", 1, O_FORMAT},     {"concurrency", 1, O_CONC},
    {"progress", 1, O_PROGRESS}, {"batch", 1, O_BATCH},
    {"rate", 1, O_RATE},         {NULL, 0, 0},
};

struct imp;

/* One line of a request: its params are body[off, off + len). */
struct item {
    long long seq;  /* its place in the window */
    long long line; /* its line number */
    size_t off, len;
};

/* One request in flight (or waiting to be retried): a batch of lines, or
 * one line's device_register call (single). */
struct slot {
    struct imp *im;
    struct item *items;
    int n, single;
    unsigned attempts;
    uint64_t retry_at; /* mono ms */
    struct hd_buf body;
    struct slot *next;
};

/* The window: what became of each line read and not yet committed. */
struct entry {
    long long line, end; /* line number, input offset after it */
    unsigned char done;  /* 0 in flight, DONE_OK or DONE_BAD */
};

#define DONE_OK 1
#define DONE_BAD 2

struct imp {
    struct ctl *c;
    struct hd_httpc *h;
    struct import_src src;
    struct import_progress prog;
    struct hd_buf url;
    struct hd_buf url_batch;
    struct hd_httpc_req tmpl;  /* POST /api/device_register, no body */
    struct hd_httpc_req tmplb; /* POST /api/batch, no body */
    const char *path, *mark_path;
    char input[PATH_MAX];
    int resume, format, conc, batch, progress_ms;
    struct slot *slots, *free, *retry;
    struct hd_buf line; /* the line just read */
    struct item held;   /* a line read that did not fit its batch */
    int holding;
    struct hd_buf scratch; /* a batch being rebuilt for a retry */
    int inflight;
    struct entry *win;
    long long seq, low;      /* next seq to give; oldest seq not committed */
    struct import_mark mark; /* what is committed (all runs) */
    long long ok, bad;       /* answers seen by this run */
    uint64_t marked_ms;
    long long rate;      /* --rate, lines a second; 0 no limit */
    long long paced;     /* lines sent by this run, against the rate */
    uint64_t started_ms; /* mono ms, when this run began to send */
    int stop;            /* CTL_* of what stopped the run, 0 while going */
};

/* ---- the window and the mark ------------------------------------------ */

static void
commit(struct imp *im)
{
    while (im->low < im->seq && im->win[im->low % IMPORT_WINDOW].done) {
        const struct entry *e = &im->win[im->low % IMPORT_WINDOW];

        im->mark.line = e->line;
        im->mark.offset = e->end;
        if (e->done == DONE_OK)
            im->mark.ok++;
        else
            im->mark.bad++;
        im->low++;
    }
}

static void
save_mark(struct imp *im, int final)
{
    char msg[CTL_MSG_MAX];

    if (im->mark_path == NULL)
        return;
    im->mark.complete = final && im->stop == 0;
    if (im->mark.complete)
        im->mark.offset = im->src.offset;
    if (import_mark_write(im->mark_path, im->input, &im->mark, msg,
                          sizeof(msg)) < 0) {
        import_progress_clear(&im->prog);
        ctl_error(im->c, "import: %s", msg);
    }
    im->marked_ms = hd_now_mono_ms();
}

static void
report_bad(struct imp *im, long long line, const char *msg)
{
    char m[CTL_MSG_MAX];

    snprintf(m, sizeof(m), "%s", msg);
    hd_log_scrub(m);
    import_progress_clear(&im->prog);
    fprintf(stderr, "heraldctl import: %sline %lld%s: %s\n",
            ctl_ecol(im->c, CTL_C_YELLOW), line, ctl_ecol(im->c, CTL_C_NONE),
            m);
    im->bad++;
}

static void
done(struct imp *im, long long seq, int how)
{
    im->win[seq % IMPORT_WINDOW].done = (unsigned char)how;
}

static void
release_slot(struct imp *im, struct slot *s)
{
    s->n = 0;
    s->next = im->free;
    im->free = s;
    commit(im);
}

/* ---- requests ---------------------------------------------------------- */

static void on_answer(void *ud, const struct hd_httpc_resp *r);

/* Starts an empty request in s. */
static void
slot_begin(struct imp *im, struct slot *s)
{
    hd_buf_reset(&s->body);
    s->n = 0;
    s->single = im->batch == 1;
    s->attempts = 0;
    if (!s->single)
        hd_buf_puts(&s->body, BATCH_OPEN, NULL);
}

/* Whether a line of len bytes still fits in s. */
static int
fits(const struct imp *im, const struct slot *s, size_t len)
{
    if (s->single)
        return s->n == 0;
    if (s->n >= im->batch)
        return 0;
    return s->body.len + len + BATCH_ROOM <= HD_API_MAX_BODY;
}

/* Appends a line's params as the next item of s. */
static void
slot_add(struct slot *s, long long seq, long long line, const char *p,
         size_t len)
{
    struct item *it = &s->items[s->n++];

    if (!s->single) {
        if (s->n > 1)
            hd_buf_putc(&s->body, ',', NULL);
        hd_buf_puts(&s->body, CMD_OPEN, NULL);
    }
    it->seq = seq;
    it->line = line;
    it->off = s->body.len;
    it->len = len;
    hd_buf_append(&s->body, p, len, NULL);
    if (!s->single)
        hd_buf_putc(&s->body, '}', NULL);
}

static void
submit(struct imp *im, struct slot *s)
{
    struct hd_httpc_req req = s->single ? im->tmpl : im->tmplb;
    struct hd_err err = {0};

    req.body = s->body.data;
    req.len = s->body.len;
    if (hd_httpc_submit(im->h, &req, on_answer, s, &err) < 0) {
        import_progress_clear(&im->prog);
        ctl_error(im->c, "import: %s", err.msg);
        im->stop = CTL_ENET;
        release_slot(im, s);
        return;
    }
    im->inflight++;
}

static void
retry_later(struct imp *im, struct slot *s)
{
    static const struct hd_backoff bo = {250, 8000};

    s->retry_at = hd_now_mono_ms() + 250 +
                  hd_backoff_delay(&bo, s->attempts, &hd_rand_system);
    s->attempts++;
    s->next = im->retry;
    im->retry = s;
}

/* The server did not answer (or had trouble): again later, or stop. */
static void
again(struct imp *im, struct slot *s, struct ctl_answer *a)
{
    if (a->code == CTL_ENET && s->attempts + 1 < IMPORT_ATTEMPTS && !im->stop) {
        retry_later(im, s);
        return;
    }
    /* the API is gone, or refuses the key: stop */
    if (!im->stop) {
        import_progress_clear(&im->prog);
        hd_log_scrub(a->msg);
        ctl_error(im->c, "import: line %lld: %s; stopping", s->items[0].line,
                  a->msg);
        im->stop = a->code;
    }
    release_slot(im, s); /* not done: --resume sends it again */
}

/* Keeps in s only the items whose keep[] is set, the request rebuilt. */
static void
keep_only(struct imp *im, struct slot *s, const unsigned char *keep)
{
    struct hd_buf t;
    int i, n = s->n;

    hd_buf_reset(&im->scratch);
    t = im->scratch;
    im->scratch = s->body;
    s->body = t; /* im->scratch holds the old body */
    s->n = 0;
    hd_buf_puts(&s->body, BATCH_OPEN, NULL);
    for (i = 0; i < n; i++)
        if (keep[i]) {
            struct item it = s->items[i];

            slot_add(s, it.seq, it.line, im->scratch.data + it.off, it.len);
        }
    hd_buf_puts(&s->body, "]}", NULL);
}

/* Every line of s is bad for one reason. */
static void
whole_bad(struct imp *im, struct slot *s, const char *msg)
{
    int i;

    for (i = 0; i < s->n; i++) {
        report_bad(im, s->items[i].line, msg);
        done(im, s->items[i].seq, DONE_BAD);
    }
    release_slot(im, s);
}

/* A batch's answer: one reply per line, in order. */
static void
batch_answer(struct imp *im, struct slot *s, struct ctl_answer *a)
{
    json_t *e = json_object_get(a->result, "error");
    json_t *replies = json_object_get(a->result, "replies");
    unsigned char keep[IMPORT_BATCH_MAX];
    char msg[CTL_MSG_MAX];
    int i, nkeep = 0, code;

    if (e != NULL || json_array_size(replies) != (size_t)s->n) {
        a->code = CTL_ENET;
        snprintf(a->msg, sizeof(a->msg),
                 "a batch answer without a reply "
                 "for each line");
        if (e != NULL)
            a->code = ctl_api_error(e, a->msg, sizeof(a->msg));
        if (a->code != CTL_EAPI) {
            again(im, s, a);
            return;
        }
        whole_bad(im, s, a->msg); /* the request refused: its lines' fault */
        return;
    }
    for (i = 0; i < s->n; i++) {
        json_t *re =
            json_object_get(json_array_get(replies, (size_t)i), "error");

        keep[i] = 0;
        if (re == NULL) {
            im->ok++;
            done(im, s->items[i].seq, DONE_OK);
            continue;
        }
        code = ctl_api_error(re, msg, sizeof(msg));
        if (code == CTL_ENET) {
            keep[i] = 1;
            nkeep++;
            snprintf(a->msg, sizeof(a->msg), "%s", msg);
            continue;
        }
        report_bad(im, s->items[i].line, msg);
        done(im, s->items[i].seq, DONE_BAD);
    }
    if (nkeep == 0) {
        release_slot(im, s);
        return;
    }
    keep_only(im, s, keep);
    commit(im);
    a->code = CTL_ENET;
    again(im, s, a);
}

static void
on_answer(void *ud, const struct hd_httpc_resp *r)
{
    struct slot *s = ud;
    struct imp *im = s->im;
    struct ctl_answer a;

    im->inflight--;
    ctl_answer_parse(&a, s->single, r->fail, r->status, r->body, r->len,
                     r->error);
    if (a.code == CTL_OK && !s->single) {
        batch_answer(im, s, &a);
    } else if (a.code == CTL_OK) {
        im->ok++;
        done(im, s->items[0].seq, DONE_OK);
        release_slot(im, s);
    } else if (a.code == CTL_EAPI) { /* the lines' fault: skip them */
        whole_bad(im, s, a.msg);
    } else {
        again(im, s, &a);
    }
    ctl_answer_release(&a);
}

/* Sends the retries that are due. */
static void
resend(struct imp *im)
{
    uint64_t now = hd_now_mono_ms();
    struct slot **pp = &im->retry;

    while (*pp != NULL) {
        struct slot *s = *pp;

        if (s->retry_at <= now || im->stop) {
            *pp = s->next;
            if (im->stop)
                release_slot(im, s);
            else
                submit(im, s);
        } else {
            pp = &s->next;
        }
    }
}

/* The next line into im->line, given its place in the window: 1, or 0 at
 * the end of the input. A bad line is reported and done here. */
static int
next_line(struct imp *im, struct item *it)
{
    char msg[CTL_MSG_MAX];
    struct entry *e;
    int rc;

    for (;;) {
        rc = import_src_next(&im->src, &im->line, msg, sizeof(msg));
        if (rc == 0)
            return 0;
        e = &im->win[im->seq % IMPORT_WINDOW];
        e->line = im->src.line;
        e->end = im->src.offset;
        e->done = 0;
        it->seq = im->seq++;
        it->line = im->src.line;
        if (rc > 0)
            return 1;
        report_bad(im, it->line, msg);
        done(im, it->seq, DONE_BAD);
        if (im->seq - im->low >= IMPORT_WINDOW)
            return -1; /* no room for another line now */
    }
}

/* Fills s with lines (the held one first); 0 at the end of the input. */
static int
fill(struct imp *im, struct slot *s)
{
    struct item it;
    int rc;

    while (im->seq - im->low < IMPORT_WINDOW || im->holding) {
        if (im->holding) {
            it = im->held;
            im->holding = 0;
        } else {
            rc = next_line(im, &it);
            if (rc <= 0)
                return rc == 0 ? 0 : 1;
            it.len = im->line.len;
            it.off = 0;
        }
        if (!fits(im, s, it.len)) {
            if (s->n == 0) { /* too big for a batch: a call of its own */
                s->single = 1;
                hd_buf_reset(&s->body);
            } else {
                im->held = it;
                im->holding = 1;
                return 1;
            }
        }
        slot_add(s, it.seq, it.line, im->line.data, it.len);
        if (s->single || s->n >= im->batch)
            return 1;
    }
    return 1;
}

/* --rate: 1 while this run has sent no more lines than the rate allows
 * by now, so a batch may start. */
static int
paced(const struct imp *im)
{
    return im->rate == 0 ||
           im->paced * 1000 <=
               im->rate * (long long)(hd_now_mono_ms() - im->started_ms);
}

/* Reads lines while there is room; returns 0 at the end of the input. */
static int
feed(struct imp *im)
{
    int more = 1;

    while (more && im->free != NULL && !im->stop && paced(im) &&
           (im->seq - im->low < IMPORT_WINDOW || im->holding)) {
        struct slot *s = im->free;

        im->free = s->next;
        slot_begin(im, s);
        more = fill(im, s);
        if (s->n == 0) {
            release_slot(im, s);
            break;
        }
        if (!s->single)
            hd_buf_puts(&s->body, "]}", NULL);
        im->paced += s->n;
        submit(im, s);
    }
    commit(im);
    return more;
}

/* ---- the run ----------------------------------------------------------- */

static int
parse(struct imp *im, int argc, char **argv)
{
    struct ctl_opts o;
    long long v;
    char **rest;
    int id, n, rc = CTL_OK;

    ctl_opts_init(&o, im->c, "import", argc, argv, opts);
    while (rc == CTL_OK && (id = ctl_opts_next(&o)) != CTL_OPT_END) {
        switch (id) {
        case CTL_OPT_HELP:
            ctl_opts_release(&o);
            ctl_help(help);
            return -1;
        case CTL_OPT_BAD:
            rc = CTL_EUSAGE;
            break;
        case O_RESUME:
            im->resume = 1;
            break;
        case O_MARK:
            im->mark_path = o.arg;
            break;
        case O_FORMAT:
            if (strcmp(o.arg, "jsonl") == 0 || strcmp(o.arg, "csv") == 0)
                im->format = o.arg[0] == 'c' ? IMPORT_CSV : IMPORT_JSONL;
            else
                rc = ctl_usage(im->c, "import", "--format jsonl or csv");
            break;
        case O_CONC:
            rc = ctl_opt_int(im->c, "import", "--concurrency", o.arg, 1, 1024,
                             &v);
            im->conc = (int)v;
            break;
        case O_BATCH:
            rc = ctl_opt_int(im->c, "import", "--batch", o.arg, 1,
                             IMPORT_BATCH_MAX, &v);
            im->batch = (int)v;
            break;
        case O_PROGRESS:
            rc =
                ctl_opt_int(im->c, "import", "--progress", o.arg, 1, 86400, &v);
            im->progress_ms = (int)v * 1000;
            break;
        case O_RATE:
            rc = ctl_opt_int(im->c, "import", "--rate", o.arg, 1, 10000000,
                             &im->rate);
            break;
        default:
            break;
        }
    }
    n = ctl_opts_rest(&o, &rest);
    if (rc == CTL_OK && n != 1)
        rc = ctl_usage(im->c, "import", "one FILE");
    else if (rc == CTL_OK)
        im->path = rest[0];
    ctl_opts_release(&o);
    return rc;
}

/* The resume file: where this run starts. */
static int
start_point(struct imp *im)
{
    char msg[CTL_MSG_MAX];
    int rc;

    if (strcmp(im->path, "-") == 0) {
        if (im->resume)
            return ctl_usage(im->c, "import", "--resume needs a FILE, not -");
        snprintf(im->input, sizeof(im->input), "-");
        return CTL_OK;
    }
    if (realpath(im->path, im->input) == NULL)
        snprintf(im->input, sizeof(im->input), "%s", im->path);
    if (!im->resume)
        return CTL_OK;
    rc =
        import_mark_read(im->mark_path, im->input, &im->mark, msg, sizeof(msg));
    if (rc < 0) {
        ctl_error(im->c, "import: --resume: %s", msg);
        return CTL_EUSAGE;
    }
    if (rc == 1) /* never started: from the beginning */
        memset(&im->mark, 0, sizeof(im->mark));
    return CTL_OK;
}

static int
setup(struct imp *im)
{
    struct hd_buf none;
    struct hd_err err = {0};
    struct stat st;
    int i, rc;

    rc = ctl_api_ready(im->c);
    if (rc == CTL_OK)
        rc = start_point(im);
    if (rc != CTL_OK)
        return rc;
    rc = import_src_open(&im->src, im->c, im->path, im->format, im->mark.offset,
                         im->mark.line);
    if (rc != CTL_OK)
        return rc;
    im->src.app = im->c->app;
    im->src.check = im->batch > 1;
    im->c->connections = im->conc;
    im->h = ctl_http(im->c, &err);
    if (im->h == NULL) {
        ctl_error(im->c, "import: %s", err.msg);
        return CTL_ENET;
    }
    hd_buf_init(&none, 1);
    ctl_api_req(im->c, CTL_M_DEVICE_REGISTER, &none, &im->url, &im->tmpl);
    ctl_api_req(im->c, CTL_M_BATCH, &none, &im->url_batch, &im->tmplb);
    hd_buf_release(&none);
    hd_buf_init(&im->line, HD_API_MAX_BODY);
    hd_buf_init(&im->scratch, HD_API_MAX_BODY);
    im->slots = hd_xcalloc((size_t)im->conc, sizeof(*im->slots));
    for (i = 0; i < im->conc; i++) {
        im->slots[i].im = im;
        im->slots[i].items =
            hd_xcalloc((size_t)im->batch, sizeof(*im->slots[i].items));
        hd_buf_init(&im->slots[i].body, HD_API_MAX_BODY);
        im->slots[i].next = im->free;
        im->free = &im->slots[i];
    }
    im->win = hd_xcalloc(IMPORT_WINDOW, sizeof(*im->win));
    import_progress_init(&im->prog, im->c,
                         im->src.fp != stdin &&
                                 fstat(fileno(im->src.fp), &st) == 0
                             ? (long long)st.st_size
                             : 0,
                         im->mark.offset, im->progress_ms);
    return CTL_OK;
}

static void
summary(struct imp *im, double secs, long long lines)
{
    printf("%s%s%s: %lld lines in %.1f s (%.0f/s); %lld devices registered, "
           "%lld bad lines skipped%s\n",
           ctl_col(im->c, CTL_C_BOLD),
           im->stop ? "import stopped" : "import done",
           ctl_col(im->c, CTL_C_NONE), lines, secs,
           secs > 0 ? (double)lines / secs : 0.0, im->mark.ok, im->mark.bad,
           im->mark.line > 0 && im->resume ? " (totals include the resumed "
                                             "run)"
                                           : "");
    if (im->stop && im->mark_path)
        printf("progress kept in %s: heraldctl import %s --resume goes on "
               "after line %lld\n",
               im->mark_path, im->path, im->mark.line);
}

static int
run(struct imp *im)
{
    uint64_t t0 = hd_now_mono_ms();
    long long first = im->mark.line;
    struct hd_err err = {0};
    int more = 1;

    if (im->mark.complete) {
        printf("import of %s is complete already (line %lld); nothing to "
               "do\n",
               im->path, im->mark.line);
        return CTL_OK;
    }
    im->started_ms = t0;
    while ((more || im->inflight > 0 || im->retry != NULL)) {
        if (hd_shutdown_requested() && !im->stop) {
            import_progress_clear(&im->prog);
            ctl_error(im->c, "import: interrupted; finishing the calls in "
                             "flight");
            im->stop = CTL_EINTR;
        }
        if (im->stop && im->inflight == 0)
            break;
        resend(im);
        if (more && !im->stop)
            more = feed(im);
        if (hd_httpc_run(im->h, 50, &err) < 0) {
            ctl_error(im->c, "import: %s", err.msg);
            im->stop = CTL_ENET;
            break;
        }
        import_progress_tick(&im->prog, im->src.offset, im->mark.line - first,
                             im->ok, im->bad, 0);
        if (hd_now_mono_ms() - im->marked_ms >= IMPORT_MARK_EVERY_MS)
            save_mark(im, 0);
    }
    commit(im);
    import_progress_tick(&im->prog, im->src.offset, im->mark.line - first,
                         im->ok, im->bad, !im->prog.tty);
    import_progress_clear(&im->prog);
    save_mark(im, 1);
    summary(im, (double)(hd_now_mono_ms() - t0) / 1000.0,
            im->mark.line - first);
    if (im->stop)
        return im->stop;
    return im->mark.bad > 0 ? CTL_EPARTIAL : CTL_OK;
}

int
ctl_cmd_import(struct ctl *c, int argc, char **argv)
{
    struct imp im;
    char mark[PATH_MAX + 16];
    int rc, i;

    memset(&im, 0, sizeof(im));
    im.c = c;
    im.format = -1;
    im.conc = 4;
    im.batch = 500;
    im.progress_ms = 10000;
    hd_buf_init(&im.url, HD_HTTP_MAX_URL);
    hd_buf_init(&im.url_batch, HD_HTTP_MAX_URL);
    rc = parse(&im, argc, argv);
    if (rc == CTL_OK) {
        if (im.mark_path == NULL && strcmp(im.path, "-") != 0) {
            snprintf(mark, sizeof(mark), "%s.progress", im.path);
            im.mark_path = mark;
        }
        hd_shutdown_install();
        rc = setup(&im);
        if (rc == CTL_OK)
            rc = run(&im);
    }
    /* the client first: it cancels what is in flight into the slots */
    hd_httpc_free(c->http);
    c->http = NULL;
    import_src_close(&im.src);
    for (i = 0; im.slots != NULL && i < im.conc; i++) {
        hd_buf_release(&im.slots[i].body);
        free(im.slots[i].items);
    }
    hd_buf_release(&im.line);
    hd_buf_release(&im.scratch);
    hd_buf_release(&im.url_batch);
    free(im.slots);
    free(im.win);
    hd_buf_release(&im.url);
    return rc < 0 ? CTL_OK : rc;
}
