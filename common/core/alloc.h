/* alloc.h -- allocation that never returns NULL.
 *
 * Services abort on out-of-memory (CONVENTIONS.md 8): a process that cannot
 * allocate is restarted by its supervisor, which is more honest than half
 * working. No other code checks for NULL after these calls and no code uses
 * raw malloc(). All functions are thread-safe. */
#ifndef HD_ALLOC_H
#define HD_ALLOC_H

#include <stddef.h>

/* new: caller frees with free(). Abort with a message naming the size. */
void *hd_xmalloc(size_t size);
void *hd_xcalloc(size_t n, size_t size);
void *hd_xrealloc(void *ptr, size_t size);
char *hd_xstrdup(const char *s);
char *hd_xstrndup(const char *s, size_t n);
/* new: the bytes of p..p+n copied with a terminating NUL. */
void *hd_xmemdup(const void *p, size_t n);
/* new: printf into a fresh string. */
char *hd_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
