/* err.h -- the one error type every common/ module reports through.
 *
 * Functions that can fail return 0 on success and -1 on failure, and fill
 * the caller's struct hd_err (NULL allowed) with a code and a one-line,
 * human-readable message. common/ never logs: the caller, which knows the
 * request or message, decides whether and how to log it, once.
 *
 * common/core/ owns what every other module stands on: this error type,
 * allocation, growable buffers, logging and its secret scrubber, the
 * configuration table, metrics, time, randomness, base64, JSON field access,
 * backoff, shutdown and every size limit (limits.h). It depends on nothing
 * else in common/.
 */
#ifndef HD_ERR_H
#define HD_ERR_H

enum hd_errcode {
    HD_EOK = 0,
    HD_EINVAL,       /* bad input or configuration */
    HD_EIO,          /* system call or socket failure */
    HD_ETIMEDOUT,    /* a bounded wait ran out */
    HD_EUPSTREAM,    /* a dependency (PostgreSQL, Kafka, provider) failed */
    HD_ETOOBIG,      /* a bounded buffer or list would exceed its limit */
    HD_ENOTFOUND,    /* the thing asked for does not exist */
    HD_ECONFLICT,    /* the request contradicts existing state */
    HD_EAUTH,        /* authentication or signature check failed */
    HD_EUNAVAILABLE, /* a feature this build or setting does not offer */
};

#define HD_ERR_MSG_LEN 256

struct hd_err {
    enum hd_errcode code;
    char msg[HD_ERR_MSG_LEN];
};

/* Fills err (if not NULL) with code and the formatted message, truncated
 * to HD_ERR_MSG_LEN - 1 bytes. Always returns -1, so failing is one line:
 * return hd_err_set(err, HD_EIO, "connect %s: %s", host, strerror(errno)); */
int hd_err_set(struct hd_err *err, enum hd_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err->msg with the formatted context ("pg exec insert: ..."),
 * keeping the code. Returns -1. A NULL err is a no-op. */
int hd_err_wrap(struct hd_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Resets err to HD_EOK with an empty message. */
void hd_err_clear(struct hd_err *err);

/* Short stable name of a code ("EINVAL", ...), for logs and metrics. */
const char *hd_err_name(enum hd_errcode code);

#endif
