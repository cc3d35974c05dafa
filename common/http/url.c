/* url.c -- helpers on configured base URLs (see url.h). Nothing here
 * allocates or parses: a base URL is joined with a path as
 * "%.*s%s", hd_url_base_len(base), base, path. */
#include <string.h>

#include "http/url.h"
#include "core/banned.h"

size_t
hd_url_base_len(const char *url)
{
    size_t n = url != NULL ? strlen(url) : 0;

    while (n > 0 && url[n - 1] == '/')
        n--;
    return n;
}
