/* alloc.c -- the abort-on-OOM allocators.
 *
 * The message goes straight to stderr with write(2)-level stdio: the JSON
 * logger may itself need memory, and this path must not. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/banned.h"

static void __attribute__((noreturn)) oom(size_t size)
{
    fprintf(stderr,
            "{\"level\":\"fatal\",\"msg\":\"out of memory allocating %zu "
            "bytes\"}\n",
            size);
    fflush(stderr);
    abort();
}

void *
hd_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        oom(size);
    return p;
}

void *
hd_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        oom(n * size);
    return p;
}

void *
hd_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL)
        oom(size);
    return p;
}

char *
hd_xstrdup(const char *s)
{
    return hd_xmemdup(s, strlen(s));
}

char *
hd_xstrndup(const char *s, size_t n)
{
    return hd_xmemdup(s, strnlen(s, n));
}

void *
hd_xmemdup(const void *p, size_t n)
{
    char *d = hd_xmalloc(n + 1);

    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

char *
hd_xasprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    s = hd_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}
