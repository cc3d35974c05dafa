/* lines.c -- bounded line reading from stdin for herald-devkafka.
 *
 * Both the control channel and the consumer's acks are one command per
 * line. Reading never blocks once poll() said the fd is readable, and a
 * line longer than DK_LINE_MAX is reported and dropped, never buffered. */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "core/shutdown.h"
#include "tools/devkafka/devkafka.h"
#include "core/banned.h"

void
dk_lines_init(struct dk_lines *l, int fd)
{
    memset(l, 0, sizeof(*l));
    l->fd = fd;
}

int
dk_lines_fill(struct dk_lines *l)
{
    ssize_t n;

    if (l->eof)
        return 0;
    if (l->len == sizeof(l->buf)) {
        if (memchr(l->buf, '\n', l->len) != NULL)
            return 0; /* complete lines to take first */
        /* a full buffer without a newline: drop it, skip to the next one */
        l->len = 0;
        l->skipping = 1;
    }
    do {
        n = read(l->fd, l->buf + l->len, sizeof(l->buf) - l->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 0;
    if (n <= 0) {
        l->eof = 1;
        return n < 0 ? -1 : 0;
    }
    l->len += (size_t)n;
    return 0;
}

int
dk_lines_next(struct dk_lines *l, char *out)
{
    char *nl = memchr(l->buf, '\n', l->len);
    size_t n, used;
    int rc = 1;

    if (nl != NULL) {
        n = (size_t)(nl - l->buf);
        used = n + 1;
    } else if (l->eof && l->len > 0) {
        n = l->len; /* the last, unterminated line */
        used = n;
    } else {
        return 0;
    }
    if (l->skipping || n >= DK_LINE_MAX) {
        l->skipping = 0;
        rc = -1;
    } else {
        memcpy(out, l->buf, n);
        out[n] = '\0';
        if (n > 0 && out[n - 1] == '\r')
            out[n - 1] = '\0';
    }
    l->len -= used;
    memmove(l->buf, l->buf + used, l->len);
    return rc;
}

int
dk_lines_wait(struct dk_lines *l, int timeout_ms)
{
    struct pollfd pf[2];
    int nfds = 1, rc;

    pf[0].fd = hd_shutdown_fd();
    pf[0].events = POLLIN;
    pf[0].revents = 0;
    if (!l->eof) {
        pf[1].fd = l->fd;
        pf[1].events = POLLIN;
        pf[1].revents = 0;
        nfds = 2;
    }
    rc = poll(pf, (nfds_t)nfds, timeout_ms);
    if (rc <= 0)
        return 0;
    return nfds == 2 && pf[1].revents != 0;
}

int
dk_split(char *line, char **words, int maxw)
{
    char *p = line;
    int n = 0;

    for (;;) {
        while (*p != '\0' && isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return n;
        if (n == maxw)
            return -1;
        words[n++] = p;
        while (*p != '\0' && !isspace((unsigned char)*p))
            p++;
        if (*p != '\0')
            *p++ = '\0';
    }
}
