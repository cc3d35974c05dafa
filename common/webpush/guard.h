/* guard.h -- what a Web Push sender may connect to (SSRF guards).
 *
 * A subscription's endpoint is a URL chosen by whoever registered the
 * device, so it is checked twice: the URL before a request is built
 * (https only, no user info, a DNS name rather than an IP literal in any
 * spelling, an origin on the allowlist), and the address actually
 * connected to, at connect time (public unicast only: no loopback,
 * private, shared (CGNAT), link-local, multicast, unspecified, reserved or
 * IPv6 unique-local address, nor an IPv4-mapped or NAT64 form of one).
 * The one exception is the test setting that names a simulator's origin
 * and address ("HOST:PORT:ADDRESS:PORT"; ADDRESS an IP address, or a name
 * resolved once when the guard is made). A guard is immutable once made:
 * thread-safe. */
#ifndef HD_WEBPUSH_GUARD_H
#define HD_WEBPUSH_GUARD_H

#include <stddef.h>
#include <sys/socket.h>

#include "core/err.h"

/* The public push services (browsers' endpoints). */
#define HD_WEBPUSH_DEFAULT_ORIGINS                                             \
    "https://*.googleapis.com,https://*.push.apple.com,"                       \
    "https://*.notify.windows.com,https://*.push.services.mozilla.com"
/* The --help lines of HERALD_WEBPUSH_ORIGINS and _EXTRA_ORIGINS, which
 * herald-api and herald-worker-webpush both read. */
#define HD_WEBPUSH_ORIGINS_HELP                                                \
    "push services a subscription's endpoint may point at: comma-separated "   \
    "https://HOST[:PORT] or https://*.DOMAIN[:PORT]"
#define HD_WEBPUSH_EXTRA_HELP "more allowed push-service origins, same form"
#define HD_WEBPUSH_RULES_MAX 64   /* allowlist entries */
#define HD_WEBPUSH_HOST_MAX 253   /* a DNS name */
#define HD_WEBPUSH_ORIGIN_MAX 280 /* "https://" host ":" port */

struct hd_webpush_guard;

/* new: origins is the allowlist, comma-separated "https://host[:port]" or
 * "https://" "*.domain[:port]" (a wildcard: any name under domain; port 443
 * when absent); extra adds to it; sim
 * is "" or the test setting "HOST:PORT:ADDRESS:PORT" whose origin is
 * allowed and whose address (only that address and port) may be private.
 * NULL with err naming the bad entry. */
struct hd_webpush_guard *hd_webpush_guard_new(const char *origins,
                                              const char *extra,
                                              const char *sim,
                                              struct hd_err *err);
void hd_webpush_guard_free(struct hd_webpush_guard *g); /* NULL: no-op */

/* The simulator setting with its address as resolved ("HOST:PORT:IP:PORT",
 * IPv6 bracketed), for the HTTP client's connect-to; NULL without one.
 * Lives as long as g. */
const char *hd_webpush_guard_connect_to(const struct hd_webpush_guard *g);

/* Checks an endpoint URL and writes its origin ("https://host" or
 * "https://host:port", lower case) into origin. 0, or -1 with err
 * (HD_EINVAL) saying what is refused. */
int hd_webpush_guard_endpoint(const struct hd_webpush_guard *g, const char *url,
                              char *origin, size_t len, struct hd_err *err);

/* The connect-time check, shaped for hd_httpc_config.addr_ok (ud is the
 * guard): 1 when sa may be connected to, 0 otherwise. */
int hd_webpush_guard_addr(void *ud, const struct sockaddr *sa);

/* 1 when sa is a public unicast IPv4 or IPv6 address, else 0. */
int hd_webpush_addr_public(const struct sockaddr *sa);

/* 1 when host is an IP literal in any form a resolver or a URL parser
 * would take (dotted, decimal, hex, octal, shortened IPv4; bracketed
 * IPv6), else 0. */
int hd_webpush_host_is_ip(const char *host);

#endif
