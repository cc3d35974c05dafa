/* hub_ws.c -- the libwebsockets callbacks: the listener that adopts
 * accepted sockets, the authenticated upgrade, the SignalR handshake, and
 * inbound traffic (accepted and ignored once the handshake is done).
 *
 * Everything that can refuse a client happens before the upgrade, so the
 * refusal is an HTTP status (401, 429, 503); after it, only close codes
 * remain (1008 handshake timeout, 1009 message too big). The upgrade's
 * verdict travels to the established connection in lws's opaque user
 * pointer, because lws re-allocates the per-session data on upgrade. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/hub/hub.h"
#include "core/banned.h"

static const char *const kind_names[HUB_KIND__COUNT] = {"main", "anonymous"};

const char *
hub_kind_name(enum hub_kind k)
{
    return (unsigned)k < HUB_KIND__COUNT ? kind_names[k] : "unknown";
}

void
hub_pending_free(struct hub_ctx *hub, struct hub_pending *p)
{
    size_t i;

    if (p == NULL)
        return;
    free(p->key);
    for (i = 0; i < p->norgs; i++)
        free(p->orgs[i]);
    free(p->orgs);
    hub_limits_put(&hub->limits, p->slot);
    if (p->conn_slot)
        hub_limits_conn_release(&hub->limits);
    hd_buf_release(&p->hs);
    free(p->reply);
    free(p);
}

/* ---- the listener ------------------------------------------------------ */

int
hub_listen_callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len)
{
    struct hub_thread *th = lws_context_user(lws_get_context(wsi));
    int one = 1, i, fd;

    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    for (i = 0; i < 256; i++) {
        fd = accept4(th->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                hd_log(HD_LOG_WARN, errno, "accept");
            break;
        }
        if (th->draining) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (lws_adopt_socket_vhost(th->vh, fd) == NULL)
            hd_log(HD_LOG_WARN, 0, "could not adopt an accepted socket");
    }
    return 0;
}

/* ---- the upgrade ------------------------------------------------------- */

/* Copies the value of query argument name (case-insensitive) into buf.
 * Returns its length, or -1 when absent or too long. */
static int
query_arg(struct lws *wsi, const char *name, char *buf, int buflen)
{
    size_t nl = strlen(name);
    int idx, n;

    for (idx = 0;; idx++) {
        n = lws_hdr_copy_fragment(wsi, buf, buflen, WSI_TOKEN_HTTP_URI_ARGS,
                                  idx);
        if (n < 0)
            return -1;
        if ((size_t)n > nl && buf[nl] == '=' &&
            strncasecmp(buf, name, nl) == 0) {
            memmove(buf, buf + nl + 1, (size_t)n - nl);
            return n - (int)nl - 1;
        }
    }
}

static int
refuse(struct hub_thread *th, struct lws *wsi, unsigned status,
       enum hub_reject why)
{
    hd_counter_inc(th->hub->m.rejected[why]);
    if (lws_return_http_status(wsi, status, NULL))
        return -1;
    return 1;
}

static int
hub_path(const char *path, enum hub_kind *kind)
{
    if (strncmp(path, "/notifications", 14) == 0)
        path += 14;
    if (strcmp(path, "/hub") == 0 || strcmp(path, "/hub/") == 0) {
        *kind = HUB_KIND_MAIN;
        return 0;
    }
    if (strcmp(path, "/anonymous-hub") == 0 ||
        strcmp(path, "/anonymous-hub/") == 0) {
        *kind = HUB_KIND_ANON;
        return 0;
    }
    return -1;
}

static int
auth_main(struct hub_thread *th, struct lws *wsi, struct hub_pending *p,
          char *buf, int buflen)
{
    struct hub_ctx *hub = th->hub;
    struct hd_user user = {0};
    struct hd_err err = {0};
    const char *tok = NULL;
    char *key;
    int n, rc;
    size_t i;

    n = lws_hdr_copy(wsi, buf, buflen, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) {
        tok = buf + 7;
        while (*tok == ' ')
            tok++;
        n = (int)strlen(tok);
    } else {
        n = query_arg(wsi, "access_token", buf, buflen);
        if (n > 0)
            tok = buf;
    }
    if (tok == NULL || hub->tokens == NULL) {
        hd_log(HD_LOG_INFO, 0, "hub connection refused: no token");
        return refuse(th, wsi, HTTP_STATUS_UNAUTHORIZED, HUB_REJ_UNAUTHORIZED);
    }
    if (hd_usertoken_verify(hub->tokens, tok, (size_t)n, &user, &err) < 0) {
        hd_log(HD_LOG_INFO, 0, "hub connection refused: %s", err.msg);
        return refuse(th, wsi, HTTP_STATUS_UNAUTHORIZED, HUB_REJ_UNAUTHORIZED);
    }
    key = hd_xasprintf("u:%s", user.sub);
    p->slot = hub_limits_acquire(&hub->limits, key, strlen(key),
                                 hub->cfg.max_per_user);
    if (p->slot == NULL) {
        free(key);
        hd_user_release(&user);
        return refuse(th, wsi, 429, HUB_REJ_MAX_PER_USER);
    }
    p->key = key;
    p->client_type = user.client_type;
    if (user.norgs > 0) {
        p->orgs = hd_xcalloc(user.norgs, sizeof(*p->orgs));
        for (i = 0; i < user.norgs; i++)
            p->orgs[i] = hd_xasprintf("o:%s", user.orgs[i]);
        p->norgs = user.norgs;
    }
    rc = 0;
    hd_user_release(&user);
    return rc;
}

static int
auth_anon(struct hub_thread *th, struct lws *wsi, struct hub_pending *p,
          char *buf, int buflen)
{
    struct hub_ctx *hub = th->hub;
    char addr[64], key[80];
    int n;

    n = query_arg(wsi, "Token", buf, buflen);
    if (n <= 0 || n > HD_ID_MAX)
        return refuse(th, wsi, HTTP_STATUS_BAD_REQUEST, HUB_REJ_BAD_REQUEST);
    lws_get_peer_simple(wsi, addr, sizeof(addr));
    snprintf(key, sizeof(key), "ip:%s", addr);
    p->slot = hub_limits_acquire(&hub->limits, key, strlen(key),
                                 hub->cfg.anon_per_ip);
    if (p->slot == NULL) {
        hd_log(HD_LOG_INFO, 0,
               "anonymous hub connection refused: %d already open from %s",
               hub->cfg.anon_per_ip, addr);
        return refuse(th, wsi, 429, HUB_REJ_ANON_PER_IP);
    }
    p->key = hd_xasprintf("a:%.*s", n, buf);
    return 0;
}

static int
confirm_upgrade(struct hub_thread *th, struct lws *wsi)
{
    struct hub_ctx *hub = th->hub;
    struct hub_pending *p;
    enum hub_kind kind;
    char path[256];
    char *buf;
    int rc;

    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 ||
        hub_path(path, &kind) < 0)
        return refuse(th, wsi, HTTP_STATUS_NOT_FOUND, HUB_REJ_BAD_REQUEST);
    if (th->draining)
        return refuse(th, wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                      HUB_REJ_MAX_CONNECTIONS);
    if (hub_limits_conn_acquire(&hub->limits) < 0) {
        hd_log(HD_LOG_WARN, 0, "hub connection refused: %d connections open",
               hub->cfg.max_connections);
        return refuse(th, wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                      HUB_REJ_MAX_CONNECTIONS);
    }
    p = hd_xcalloc(1, sizeof(*p));
    p->conn_slot = 1;
    p->kind = kind;
    hd_buf_init(&p->hs, HD_HUB_HANDSHAKE_MAX);
    buf = hd_xmalloc(HD_HUB_TOKEN_MAX + 16);
    if (kind == HUB_KIND_MAIN)
        rc = auth_main(th, wsi, p, buf, HD_HUB_TOKEN_MAX + 16);
    else
        rc = auth_anon(th, wsi, p, buf, HD_HUB_TOKEN_MAX + 16);
    free(buf);
    if (rc != 0) {
        hub_pending_free(hub, p);
        return rc;
    }
    lws_set_opaque_user_data(wsi, p);
    return 0;
}

/* ---- the established connection --------------------------------------- */

static void
established(struct hub_thread *th, struct hub_conn *c, struct lws *wsi)
{
    struct hub_pending *p = lws_get_opaque_user_data(wsi);

    lws_set_opaque_user_data(wsi, NULL);
    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->pending = p;
    c->kind = (uint8_t)p->kind;
    c->client_type = (uint8_t)p->client_type;
    c->state = HUB_CS_HANDSHAKE;
    c->last_rx = c->last_tx = hub_thread_now(th);
    c->next = th->conns;
    if (th->conns)
        th->conns->prev = c;
    th->conns = c;
    th->nconns++;
    hub_conn_arm(th, c);
}

static void
join_groups(struct hub_thread *th, struct hub_conn *c)
{
    struct hub_pending *p = c->pending;
    size_t i;

    c->user.owner = c;
    hub_registry_join(&th->reg, p->key, strlen(p->key), &c->user);
    if (p->norgs > 0) {
        c->orgs = hd_xcalloc(p->norgs, sizeof(*c->orgs));
        for (i = 0; i < p->norgs; i++) {
            c->orgs[i].owner = c;
            hub_registry_join(&th->reg, p->orgs[i], strlen(p->orgs[i]),
                              &c->orgs[i]);
        }
        c->norgs = (uint16_t)p->norgs;
    }
    /* the slots now belong to the connection */
    c->slot = p->slot;
    p->slot = NULL;
    c->conn_slot = (uint8_t)p->conn_slot;
    p->conn_slot = 0;
}

static void
handshake(struct hub_thread *th, struct hub_conn *c)
{
    struct hub_pending *p = c->pending;
    struct hd_err err = {0};
    struct hd_buf reply;
    enum hub_proto proto;

    hd_buf_init(&reply, HD_HUB_HANDSHAKE_MAX);
    if (hub_signalr_handshake(p->hs.data, p->hs.len, &proto, &err) < 0) {
        hd_counter_inc(th->hub->m.rejected[HUB_REJ_BAD_PROTOCOL]);
        hd_counter_inc(th->hub->m.disconnects[HUB_DISC_PROTOCOL]);
        hd_log(HD_LOG_INFO, 0, "handshake refused: %s", err.msg);
        if (hub_signalr_handshake_reply(&reply, err.msg, NULL) < 0) {
            hd_buf_reset(&reply);
            hub_signalr_handshake_reply(&reply, "Handshake refused.", NULL);
        }
        p->reply_error = 1;
        c->state = HUB_CS_CLOSING;
        hub_wheel_del(&th->wheel, &c->timer);
    } else {
        hub_signalr_handshake_reply(&reply, NULL, NULL);
        c->proto = (uint8_t)proto;
        c->state = HUB_CS_OPEN;
        join_groups(th, c);
        c->flags |= HUB_CF_COUNTED;
        hd_gauge_add(th->hub->m.conns[c->kind][c->proto], 1);
        hd_counter_inc(th->hub->m.accepted[c->kind][c->proto]);
        hub_conn_arm(th, c);
    }
    hd_buf_release(&p->hs);
    p->reply = hd_buf_detach(&reply, &p->reply_len);
    lws_callback_on_writable(c->wsi);
}

static int
receive(struct hub_thread *th, struct hub_conn *c, const void *in, size_t len)
{
    struct hub_ctx *hub = th->hub;
    int final;

    c->last_rx = hub_thread_now(th);
    c->in_len += (uint32_t)len;
    if (c->in_len > (uint32_t)hub->cfg.max_message) {
        hd_counter_inc(hub->m.disconnects[HUB_DISC_MESSAGE_TOO_BIG]);
        hd_log(HD_LOG_INFO, 0, "inbound message over %d bytes: closing",
               hub->cfg.max_message);
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        c->state = HUB_CS_DEAD;
        return -1;
    }
    final = lws_is_final_fragment(c->wsi) &&
            lws_remaining_packet_payload(c->wsi) == 0;
    if (c->state == HUB_CS_HANDSHAKE && c->pending &&
        c->pending->reply == NULL) {
        if (hd_buf_append(&c->pending->hs, in, len, NULL) < 0) {
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL,
                             0);
            return -1;
        }
        if (memchr(c->pending->hs.data, HUB_RS, c->pending->hs.len))
            handshake(th, c);
    }
    /* after the handshake: pings, invocations and Close are ignored; the
     * client's own close arrives as a WebSocket close */
    if (final)
        c->in_len = 0;
    return 0;
}

static void
closed(struct hub_thread *th, struct hub_conn *c)
{
    struct hub_ctx *hub = th->hub;
    uint16_t i;

    if (c->wsi == NULL)
        return;
    if (c->state == HUB_CS_OPEN)
        hd_counter_inc(hub->m.disconnects[HUB_DISC_CLIENT]);
    if (c->flags & HUB_CF_COUNTED)
        hd_gauge_add(hub->m.conns[c->kind][c->proto], -1);
    hub_wheel_del(&th->wheel, &c->timer);
    hub_conn_undirty(th, c);
    hub_registry_leave(&th->reg, &c->user);
    for (i = 0; i < c->norgs; i++)
        hub_registry_leave(&th->reg, &c->orgs[i]);
    free(c->orgs);
    hub_conn_flush_queue(c);
    hub_pending_free(hub, c->pending);
    hub_limits_put(&hub->limits, c->slot);
    if (c->conn_slot)
        hub_limits_conn_release(&hub->limits);
    if (c->prev)
        c->prev->next = c->next;
    else
        th->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    th->nconns--;
    memset(c, 0, sizeof(*c));
}

int
hub_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
    struct hub_thread *th = lws_context_user(lws_get_context(wsi));
    struct hub_conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (in == NULL || strcmp(in, "websocket") != 0)
            return -1;
        return confirm_upgrade(th, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        if (lws_get_opaque_user_data(wsi) == NULL)
            return -1;
        established(th, c, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (c->wsi == NULL)
            return -1;
        return receive(th, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (c->wsi == NULL)
            return 0;
        hub_thread_now(th);
        return hub_conn_writable(th, c);
    case LWS_CALLBACK_CLOSED:
        closed(th, c);
        return 0;
    case LWS_CALLBACK_HTTP:
        return hub_http_request(th, c, wsi, in);
    case LWS_CALLBACK_HTTP_BODY:
        return hub_http_body(th, c, wsi, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return hub_http_body_done(th, c, wsi);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return hub_http_writable(th, c, wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c)
            hub_http_free(c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* an upgrade that never became a connection */
        hub_pending_free(th->hub, lws_get_opaque_user_data(wsi));
        lws_set_opaque_user_data(wsi, NULL);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        hub_thread_wakeup(th);
        return 0;
    default:
        return 0;
    }
}
