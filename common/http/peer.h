/* peer.h -- the client's address behind trusted reverse proxies.
 *
 * A listener knows its TCP peer. When that peer is one of the operator's
 * proxies (HERALD_TRUSTED_PROXIES: IPv4/IPv6 addresses and CIDRs), the
 * client is read from the forwarding header the proxies write
 * (HERALD_FORWARDED_HEADER: X-Forwarded-For or Forwarded, RFC 7239),
 * walking its hops right to left and skipping the trusted ones: the first
 * untrusted hop is the client. Anything else (peer untrusted, header
 * absent, a malformed or "unknown" hop, more than HD_PEER_MAX_HOPS trusted
 * hops) gives the peer. Only the configured header is read: a proxy that
 * appends to one header passes the other through from the client, so
 * believing it would let any client choose its address.
 *
 * The API, for every listener (no dependency on any HTTP library):
 *
 *   struct hd_peer_config cfg;          // filled by hd_config_load() from
 *                                       // hd_peer_config_fields
 *   struct hd_peer_trust t;
 *   hd_peer_trust_init(&t, &cfg, &err); // 0, or -1: bad list (names entry)
 *   hd_peer_trusted(&t, "10.0.0.7");    // 1: a trusted proxy, else 0
 *   char out[HD_PEER_ADDR_MAX];
 *   hd_peer_client(&t, peer, xff, fwd, out);  // 1: from the header,
 *                                              // 0: out is the peer
 *
 * peer is the TCP peer as text ("192.0.2.1", "::1", "::ffff:192.0.2.1");
 * xff and fwd are the X-Forwarded-For and Forwarded values, each with all
 * of the request's lines of that header joined by "," in order (NULL when
 * absent). out is the canonical text form (inet_ntop; IPv4-mapped IPv6 as
 * IPv4), so it can key rate limits and per-address caps. The struct is
 * plain data, never written after init: any thread may read it at once. */
#ifndef HD_HTTP_PEER_H
#define HD_HTTP_PEER_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/limits.h"

#define HD_PEER_ADDR_MAX 46 /* INET6_ADDRSTRLEN: the text of one address */

enum hd_peer_header {
    HD_PEER_XFF = 0,   /* X-Forwarded-For: "client, proxy1, proxy2" */
    HD_PEER_FORWARDED, /* Forwarded: "for=client, for=\"[v6]:port\"" */
};

struct hd_peer_config {
    char *trusted_proxies; /* HERALD_TRUSTED_PROXIES, "" = none */
    char *header;          /* HERALD_FORWARDED_HEADER */
};

/* HERALD_TRUSTED_PROXIES and HERALD_FORWARDED_HEADER: one table every
 * listener's configuration includes. */
extern const struct hd_config_field hd_peer_config_fields[];

struct hd_peer_net {
    int family;             /* AF_INET or AF_INET6 */
    unsigned bits;          /* prefix length */
    unsigned char addr[16]; /* network bytes, 4 used for AF_INET */
};

struct hd_peer_trust {
    enum hd_peer_header header;
    size_t n;
    struct hd_peer_net net[HD_TRUSTED_PROXIES_MAX];
};

/* Parses cfg (NULL or empty strings: nothing trusted, X-Forwarded-For)
 * into t. Returns 0, or -1 with err naming the bad entry; t is then
 * empty. */
int hd_peer_trust_init(struct hd_peer_trust *t,
                       const struct hd_peer_config *cfg, struct hd_err *err);

/* 1 when addr (text, as hd_peer_client takes it) is in a trusted range. */
int hd_peer_trusted(const struct hd_peer_trust *t, const char *addr);

/* Writes the client's address to out (see the top of this file). Returns
 * 1 when it came from the header, 0 when it is the peer. A peer that is
 * not an IP address (empty, a Unix socket) is copied as is, truncated. */
int hd_peer_client(const struct hd_peer_trust *t, const char *peer,
                   const char *xff, const char *fwd,
                   char out[HD_PEER_ADDR_MAX]);

#endif
