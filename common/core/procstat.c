/* procstat.c -- the process's figures from /proc/self (procstat.h). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/procstat.h"
#include "core/banned.h"

/* Reads a small /proc file into buf; returns its length or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t n)
{
    FILE *fp = fopen(path, "re");
    size_t r;

    if (fp == NULL)
        return -1;
    r = fread(buf, 1, n - 1, fp);
    fclose(fp);
    buf[r] = '\0';
    return (ssize_t)r;
}

static int
open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int self;
    int n = 0;

    if (d == NULL)
        return -1;
    self = dirfd(d);
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);

        if (e->d_name[0] == '.' || *end != '\0' || fd == self)
            continue;
        n++;
    }
    closedir(d);
    return n;
}

/* /proc/self/stat: fields after "(comm)" start at field 3 (state); utime
 * 14, stime 15, starttime 22, vsize 23, rss 24. */
static void
read_stat(struct hd_procstat *p)
{
    double tck = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    unsigned long long f[25] = {0};
    char stat[2048], pstat[8192];
    const char *bt = NULL;
    char *s;
    int i;

    if (read_small("/proc/self/stat", stat, sizeof(stat)) <= 0 || tck <= 0)
        return;
    s = strrchr(stat, ')');
    for (i = 3; s && i <= 24; i++) {
        char *end;

        s = strchr(s + 1, ' ');
        if (s == NULL)
            break;
        f[i] = strtoull(s + 1, &end, 10);
    }
    if (i <= 24)
        return;
    p->cpu_seconds = (double)(f[14] + f[15]) / tck;
    p->resident_bytes = (double)f[24] * page;
    p->virtual_bytes = (double)f[23];
    if (read_small("/proc/stat", pstat, sizeof(pstat)) > 0)
        bt = strstr(pstat, "\nbtime ");
    if (bt != NULL)
        p->start_time =
            (double)strtoull(bt + 7, NULL, 10) + (double)f[22] / tck;
}

void
hd_procstat_read(struct hd_procstat *p)
{
    struct rlimit rl;
    int fds;

    p->cpu_seconds = p->resident_bytes = p->virtual_bytes = NAN;
    p->start_time = p->open_fds = p->max_fds = NAN;
    read_stat(p);
    fds = open_fds();
    if (fds >= 0)
        p->open_fds = fds;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds =
            rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
}
