/* limits.h -- every size limit and default timeout in Herald, in one place.
 *
 * A buffer, list or queue that grows has its ceiling here, so a reviewer
 * can see at a glance what a hostile peer can make us allocate. Values that
 * operators may tune are the defaults of HERALD_* variables; the rest are
 * protocol facts (provider payload limits) or safety rails. */
#ifndef HD_LIMITS_H
#define HD_LIMITS_H

/* one aligned table, kept by hand: */
/* clang-format off */

/* HTTP servers (libmicrohttpd) */
#define HD_HTTP_MAX_BODY (1024 * 1024)       /* default request body cap */
#define HD_HTTP_MAX_URL 8192                 /* request line path + query */
#define HD_HTTP_MAX_HEADER 8192              /* one header value we read */
#define HD_HTTP_MAX_ROUTES 64                /* per server */
#define HD_HTTP_CONN_TIMEOUT_S 30            /* idle keep-alive connection */
#define HD_HTTP_HEAD_TIMEOUT_S 10            /* accept to complete request head */
#define HD_HTTP_LINGER_CONNS 256             /* drained after an early 413 */
#define HD_HTTP_LINGER_S 30                  /* draining one of them at most */
#define HD_HTTP_LINGER_IDLE_S 5              /* ... with nothing arriving */
#define HD_HTTP_DRAIN_MAX (64 * 1024 * 1024) /* body read and dropped for a 413 */
#define HD_HTTP_MAX_CONNECTIONS 4096         /* per server */
#define HD_HTTP_QUEUE_PER_WORKER 8           /* blocking requests waiting */
#define HD_REQ_ID_LEN 32                     /* request id, hex + NUL */

/* Client address behind proxies (common/http/peer.c) */
#define HD_TRUSTED_PROXIES_MAX 64            /* entries in the trusted list */
#define HD_PEER_MAX_HOPS 16                  /* forwarding hops walked */
#define HD_PEER_HOP_MAX 128                  /* text of one hop */
#define HD_PEER_HEADER_MAX (64 * 1024)       /* a forwarding header's lines */

/* Logging */
#define HD_LOG_LINE_MAX 32768                /* one JSON log line */
#define HD_LOG_CTX_FIELDS 8                  /* context fields per thread */
#define HD_LOG_CTX_VALUE_MAX 128             /* one context value */

/* Rate limits (common/core/ratelimit.c) */
#define HD_RATELIMIT_SLOTS 4096              /* keys tracked per limiter */
#define HD_RATELIMIT_KEY_MAX 64              /* an id or an IPv6 address */

/* Configuration */
#define HD_CONFIG_STR_MAX 4096               /* one string variable */

/* Metrics */
#define HD_METRIC_MAX_LABELS 6               /* label names per family */
#define HD_METRIC_LABEL_VALUE_MAX 64         /* one label value */
#define HD_METRIC_MAX_SERIES 4096            /* label combinations per family */
#define HD_METRIC_MAX_BUCKETS 24             /* histogram buckets */
#define HD_METRICS_OUT_MAX (4 * 1024 * 1024) /* rendered /metrics body */

/* JWT */
#define HD_JWT_MAX_LEN 16384                 /* a whole compact JWT */
#define HD_JWT_LEEWAY_S 60                   /* default clock skew allowed */
#define HD_JWT_HMAC_MIN 32                   /* bytes of a configured HS256 secret */
#define HD_JWT_MAX_PEM (64 * 1024)           /* one PEM key or certificate */
#define HD_JWKS_MAX_KEYS 32                  /* keys kept from one JWKS */
#define HD_JWKS_MAX_BODY (64 * 1024)         /* one JWKS document */

/* Kafka messages */
#define HD_KAFKA_MAX_MESSAGE (4 * 1024 * 1024) /* one record value we accept */
#define HD_KAFKA_COMMIT_INTERVAL_MS 200        /* batched offset commits */
#define HD_KAFKA_MAX_INFLIGHT 100000           /* uncommitted offsets/partition */

/* PostgreSQL */
#define HD_PG_MAX_PARAMS 32                  /* parameters per statement */
#define HD_PG_MAX_STATEMENTS 128             /* prepared statements per pool */
#define HD_PG_POOL_MAX 64                    /* connections per pool */
#define HD_PG_BATCH_MAX 64                   /* statements in one pipeline */

/* Device registry and push API */
#define HD_TOKEN_MAX_FCM 4096                /* FCM registration token */
#define HD_TOKEN_MAX_APNS 200                /* hex device token (64 today) */
#define HD_TOKEN_MAX_HMS 512                 /* HMS token */
#define HD_TOKEN_MAX_WEBPUSH 2048            /* Web Push subscription JSON */
#define HD_TOKEN_MAX_ADM 1024                /* ADM registration id (stored) */
#define HD_ID_MAX 128                        /* device/user/uid ids */
#define HD_CHANNEL_MAX 256                   /* channel name */
#define HD_LIST_MAX 1000                     /* ids/tokens/channels in one call */
#define HD_PAGE_MAX 1000                     /* rows per list page */
#define HD_META_MAX (16 * 1024)              /* device meta/tags JSON */
#define HD_PAYLOAD_MAX_FCM 4096              /* FCM message payload */
#define HD_PAYLOAD_MAX_APNS 4096             /* APNs payload (VoIP 5120) */
#define HD_PAYLOAD_MAX_HMS 4096              /* HMS message payload */
#define HD_PAYLOAD_MAX_WEBPUSH 3993          /* 4096 encrypted: - 86 header, 16 tag, 1 */
#define HD_API_MAX_BODY (512 * 1024)         /* server API, events: < 1 MB records */
#define HD_API_SMALL_BODY (16 * 1024)        /* Bitwarden device endpoints */

/* Delivery batches (fan-out -> workers) */
#define HD_BATCH_MAX_FCM 500
#define HD_BATCH_MAX_APNS 500
#define HD_BATCH_MAX_HMS 1000
#define HD_BATCH_MAX_WEBPUSH 500
#define HD_FANOUT_PAGE 1000                  /* devices per keyset page */

/* Outbound HTTP (workers, relay client) */
#define HD_HTTPC_MAX_RESPONSE (64 * 1024)    /* provider response body */
#define HD_HTTPC_TIMEOUT_MS 10000            /* default request timeout */
#define HD_CTL_MAX_RESPONSE (16 * 1024 * 1024) /* heraldctl: one API answer */

/* Push workers */
#define HD_PUSH_URL_MAX 2048                 /* one provider request URL */
#define HD_PUSH_BODY_MAX (1024 * 1024)       /* one request body (HMS) */
#define HD_PUSH_AUTH_LINE_MAX 8300           /* "authorization: ..." line */

/* SignalR hub (herald-hub) */
#define HD_HUB_MAX_MESSAGE 4096              /* default inbound message cap */
#define HD_HUB_HANDSHAKE_MAX 4096            /* SignalR handshake request */
#define HD_HUB_NEGOTIATE_BODY_MAX 1024       /* POST .../negotiate (ignored) */
#define HD_HUB_FRAME_MAX (256 * 1024)        /* one encoded notification */
#define HD_HUB_PACK_MAX (16 * 1024)         /* queued messages per ws frame */
#define HD_HUB_QUEUE_MAX 1024                /* default per-connection queue */
#define HD_HUB_INBOX_MAX 65536               /* events waiting per thread */
#define HD_HUB_KAFKA_BATCH 16                /* records per hand-off */
#define HD_HUB_MAX_THREADS 64                /* service threads per process */
#define HD_HUB_MAX_SHARDS 1024               /* HERALD_HUB_SHARDS */
#define HD_HUB_TOKEN_MAX HD_JWT_MAX_LEN      /* access_token / Token value */
#define HD_HUB_HEAD_MAX (HD_HUB_TOKEN_MAX + 1024) /* one request head */

/* clang-format on */

#endif
