/* err.c -- struct hd_err helpers.
 *
 * Formatting never fails: overlong messages are truncated, never
 * reallocated, so reporting an error cannot itself fail. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/banned.h"

int
hd_err_set(struct hd_err *err, enum hd_errcode code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int
hd_err_wrap(struct hd_err *err, const char *fmt, ...)
{
    char prefix[HD_ERR_MSG_LEN];
    char joined[2 * HD_ERR_MSG_LEN + 2];
    size_t n;
    va_list ap;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    err->msg[sizeof(err->msg) - 1] = '\0';
    snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
    /* truncated to the message size: the prefix and the start survive */
    n = strnlen(joined, sizeof(err->msg) - 1);
    memcpy(err->msg, joined, n);
    err->msg[n] = '\0';
    return -1;
}

void
hd_err_clear(struct hd_err *err)
{
    if (err == NULL)
        return;
    err->code = HD_EOK;
    err->msg[0] = '\0';
}

const char *
hd_err_name(enum hd_errcode code)
{
    switch (code) {
    case HD_EOK:
        return "EOK";
    case HD_EINVAL:
        return "EINVAL";
    case HD_EIO:
        return "EIO";
    case HD_ETIMEDOUT:
        return "ETIMEDOUT";
    case HD_EUPSTREAM:
        return "EUPSTREAM";
    case HD_ETOOBIG:
        return "ETOOBIG";
    case HD_ENOTFOUND:
        return "ENOTFOUND";
    case HD_ECONFLICT:
        return "ECONFLICT";
    case HD_EAUTH:
        return "EAUTH";
    case HD_EUNAVAILABLE:
        return "EUNAVAILABLE";
    }
    return "EUNKNOWN";
}
