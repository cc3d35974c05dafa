/* opts.c -- hub_load's command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/hub_load/hub_load.h"
#include "core/alloc.h"
#include "core/config.h"
#include "core/banned.h"

static void
usage(void)
{
    fprintf(
        stderr,
        "usage: hub_load --port P [--host H] [--path /notifications/hub]\n"
        "  --conns N --secret S [--users U | --user-file F] [--org O] "
        "[--json]\n"
        "  [--src a,b,...] [--rate conns/s] [--duration s] [--expect N]\n"
        "  [--ping s] [--stats-ms ms] [--batch-ms ms]\n"
        "or: hub_load --send K --key KEY --port P [--send-rate n/s]\n"
        "  [--type T] [--org O | --user U | --users U] [--pad bytes]\n"
        "  [--auth Bearer|apikey] (apikey: herald-api's POST /events)\n"
        "--raw: plain WebSocket peer (e.g. nchan), every message is a\n"
        "  delivery; with --send, --send-path P posts {\"BenchTs\",\"Pad\"}\n"
        "  to P instead of a Bitwarden notification to /send\n"
        "--user-file F: the users' ids, one a line (connection i is the\n"
        "  user of line i modulo their number); else load-0 .. load-(U-1)\n");
    exit(2);
}

static int
num(const char *s, int min, int max)
{
    int v;

    if (s == NULL || hd_parse_int(s, min, max, &v) < 0)
        usage();
    return v;
}

/* The user ids of F, one a line (blank lines skipped). */
static void
read_user_file(struct opts *o, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    size_t n;

    if (f == NULL) {
        perror(path);
        exit(2);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        n = strcspn(line, "\r\n");
        if (n == 0)
            continue;
        line[n] = '\0';
        o->user_ids = hd_xrealloc(o->user_ids, ((size_t)o->nuser_ids + 1) *
                                                   sizeof(*o->user_ids));
        o->user_ids[o->nuser_ids++] = hd_xstrdup(line);
    }
    fclose(f);
    if (o->nuser_ids == 0) {
        fprintf(stderr, "%s: no user ids\n", path);
        exit(2);
    }
}

void
load_parse_args(int argc, char **argv, struct opts *o)
{
    char *list, *tok, *save;
    int i;

    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->path = "/notifications/hub";
    o->rate = 5000;
    o->duration = 60;
    o->ping = 15;
    o->stats_ms = 1000;
    o->send_rate = 0;
    o->type = 18;
    o->pad = 40;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--raw") == 0) {
            o->raw = 1;
            o->json = 1;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--host") == 0)
            o->host = v;
        else if (strcmp(a, "--port") == 0)
            o->port = num(v, 1, 65535);
        else if (strcmp(a, "--path") == 0)
            o->path = v;
        else if (strcmp(a, "--conns") == 0)
            o->conns = num(v, 0, 1000000);
        else if (strcmp(a, "--secret") == 0)
            o->secret = v;
        else if (strcmp(a, "--users") == 0)
            o->users = num(v, 1, 100000000);
        else if (strcmp(a, "--org") == 0)
            o->org = v;
        else if (strcmp(a, "--user") == 0)
            o->user = v;
        else if (strcmp(a, "--user-file") == 0)
            read_user_file(o, v);
        else if (strcmp(a, "--rate") == 0)
            o->rate = num(v, 1, 1000000);
        else if (strcmp(a, "--duration") == 0)
            o->duration = num(v, 1, 86400);
        else if (strcmp(a, "--expect") == 0)
            o->expect = num(v, 0, 2000000000);
        else if (strcmp(a, "--ping") == 0)
            o->ping = num(v, 0, 3600);
        else if (strcmp(a, "--stats-ms") == 0)
            o->stats_ms = num(v, 100, 60000);
        else if (strcmp(a, "--batch-ms") == 0)
            o->batch_ms = num(v, 0, 1000);
        else if (strcmp(a, "--send") == 0)
            o->send = num(v, 1, 100000000);
        else if (strcmp(a, "--send-rate") == 0)
            o->send_rate = num(v, 0, 10000000);
        else if (strcmp(a, "--key") == 0)
            o->key = v;
        else if (strcmp(a, "--send-path") == 0)
            o->send_path = v;
        else if (strcmp(a, "--auth") == 0)
            o->auth = v;
        else if (strcmp(a, "--type") == 0)
            o->type = num(v, 0, 255);
        else if (strcmp(a, "--pad") == 0)
            o->pad = num(v, 0, 1000000);
        else if (strcmp(a, "--src") == 0) {
            list = hd_xstrdup(v);
            for (tok = strtok_r(list, ",", &save); tok && o->nsrc < MAX_SRC;
                 tok = strtok_r(NULL, ",", &save))
                o->src[o->nsrc++] = hd_xstrdup(tok);
            free(list);
        } else
            usage();
    }
    if (o->port == 0 ||
        (o->send == 0 && (o->conns == 0 || (!o->secret && !o->raw))) ||
        (o->send && !o->key))
        usage();
    if (o->users == 0)
        o->users = o->conns;
}
