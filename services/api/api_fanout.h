/* api_fanout.h -- what the fan-out's files share: the stage, a request
 * in progress, a batch in flight. Private to api_fanout.c (consumer,
 * workers, completion), api_fobatch.c (batches) and api_expand.c.
 *
 * Invariant: a request's offset is marked done only after its
 * push_requests row is written, and that only after every batch of it was
 * acknowledged (pending reached 0, no abandon flag). The consumer thread
 * creates and frees requests; whoever drops pending to 0 hands one back. */
#ifndef API_FANOUT_H
#define API_FANOUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "services/api/api.h"
#include "services/api/api_personal.h"

#define FO_BUCKETS 4096   /* in-progress table (power of two) */
#define FO_CHECK_MAX 256  /* requests looked up per database check */
#define FO_DRAIN_MS 10000 /* shutdown waits this long for batch acks */

/* fo_req.flags */
#define FO_F_EXPIRED 1u   /* past expire_at: stopped, recorded "expired" */
#define FO_F_ABANDONED 2u /* stopping: left uncommitted for a redelivery */

struct fo_req {
    struct api_fanout *fo;
    struct hd_msg_request r;
    char *rid;                /* uid, or uid "#" part: push_requests' key */
    struct api_personal pers; /* r.personal read (has_pers) */
    int has_pers;
    int32_t partition;
    int64_t offset;
    char *key;           /* app "\x1f" uid: the in-progress table key */
    atomic_long pending; /* 1 while expanding + batches not acknowledged */
    atomic_uint flags;
    atomic_long tokens;
    atomic_long batches;
    uint64_t start_us;
    struct fo_req *next;  /* work queue, finished list, check list */
    struct fo_req *hnext; /* in-progress table chain */
    struct fo_req *dups;  /* same uid, polled while this one runs */
};

struct fo_batch {
    struct fo_req *req;
    enum hd_provider provider;
    size_t ntokens;
    char *key;
    size_t keylen;
    char *value; /* kept until acknowledged, for a retry */
    size_t len;
    unsigned tries;
    uint64_t retry_at_ms;
    struct fo_batch *next;
};

struct api_fanout {
    struct api_ctx *ctx;
    struct hd_kconsumer *c;
    pthread_t consumer;
    pthread_t *workers;
    int nworkers;
    atomic_int stop;
    atomic_int workers_running;
    pthread_mutex_t mu;     /* everything below */
    pthread_cond_t work_cv; /* a request to expand, or stop */
    pthread_cond_t room_cv; /* a batch slot freed, or stop */
    pthread_cond_t wake_cv; /* consumer: finished or retry work */
    struct fo_req *work_head;
    struct fo_req *work_tail;
    struct fo_req *finished;
    struct fo_batch *retry;
    long batches_inflight;
    /* consumer thread only */
    struct fo_req *table[FO_BUCKETS];
    long reqs_inflight;
    long abandoned; /* requests left uncommitted at shutdown */
};

/* Expands req into delivery batches (api_expand.c), on a worker thread.
 * Sets FO_F_EXPIRED or FO_F_ABANDONED when it stops early. */
void fo_expand(struct api_fanout *fo, struct fo_req *req);

/* Drops one reference of req.pending; the last one hands req to the
 * consumer thread. Any thread. */
void fo_req_unref(struct fo_req *req);

/* Frees a batch (its bytes and key). */
void fo_batch_free(struct fo_batch *b);

/* Consumer thread: re-sends failed batches whose time has come, and gives
 * them up when their request expired or the stage is stopping. */
void fo_run_retries(struct api_fanout *fo);

/* Produces one encoded batch (value is taken over: free()d by the stage)
 * after waiting for a slot under HERALD_API_FANOUT_MAX_BATCHES. Returns 0,
 * or -1 when stopping (value freed, nothing counted). Worker threads. */
int fo_produce(struct api_fanout *fo, struct fo_req *req, enum hd_provider p,
               size_t ntokens, size_t seq, char *value, size_t len);

/* Sleeps ms in short steps; returns early when stopping. */
void fo_nap(struct api_fanout *fo, uint64_t ms);

#endif
