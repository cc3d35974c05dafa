/* procstat.h -- the process's own figures, as the Prometheus process
 * collector names them (process_cpu_seconds_total and the like), read
 * from /proc at each call; metrics.c renders them at every scrape. */
#ifndef HD_PROCSTAT_H
#define HD_PROCSTAT_H

/* A figure that cannot be read is NAN; max_fds may be INFINITY. */
struct hd_procstat {
    double cpu_seconds;    /* user + system */
    double resident_bytes; /* RSS */
    double virtual_bytes;
    double start_time; /* Unix seconds */
    double open_fds;
    double max_fds; /* RLIMIT_NOFILE's soft limit */
};

void hd_procstat_read(struct hd_procstat *p);

#endif
