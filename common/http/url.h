/* url.h -- small pure helpers on configured base URLs (a provider's or
 * the API's "https://host[:port][/prefix]" setting), shared by the
 * workers, herald-api's relay sink and heraldctl. They do not parse or
 * validate a URL: that is the HTTP client's job. */
#ifndef HD_HTTP_URL_H
#define HD_HTTP_URL_H

#include <stddef.h>

/* The length of `url` without its trailing slashes, so that a path
 * starting with '/' can be appended once: "https://x//" -> 9 ("https://x").
 * NULL counts as "". Any thread. */
size_t hd_url_base_len(const char *url);

#endif
