/* hub_conn.c -- one connection from the upgrade to its close: the
 * SignalR handshake, its groups, its outbound queue, its writes and its
 * timer.
 *
 * The queue is a ring of references to shared frames. Its first slot is
 * inside the connection (a ping or a lone notification needs no
 * allocation); a ring that grew for a burst is freed by the timer once
 * the queue is empty, so an idle connection holds no buffer. A writable
 * callback copies as many queued messages as fit into the thread's scratch
 * buffer and writes them as one WebSocket message (SignalR allows several
 * messages per frame). A queue that reaches queue_max means the client cannot
 * keep up: it is dropped and the connection killed, never allowed to grow.
 * After the handshake, inbound messages (pings, invocations) are accepted and
 * ignored; only close codes remain (1008 handshake timeout, 1009 message too
 * big). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/hub/hub_admit.h"
#include "services/hub/hub_conn.h"
#include "services/hub/hub_keepalive.h"
#include "core/banned.h"

#define TICKS_PER_S (1000 / HUB_WHEEL_TICK_MS)

/* Gives back the ring's memory; the queue must be empty. */
static void
drop_ring(struct hub_conn *c)
{
    if (c->ring != &c->one)
        free(c->ring);
    c->ring = NULL;
    c->qcap = 0;
    c->qhead = 0;
}

static void
flush_queue(struct hub_conn *c)
{
    while (c->qlen > 0) {
        hub_lframe_unref(c->ring[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
    }
    drop_ring(c);
}

static void
kill_slow(struct hub_thread *th, struct hub_conn *c)
{
    th->st.dropped += c->qlen;
    flush_queue(c);
    c->state = HUB_CS_DEAD;
    hd_counter_inc(th->hub->m.slow_closes);
    hd_counter_inc(th->hub->m.disconnects[HUB_DISC_SLOW_CONSUMER]);
    /* The socket is not writable (that is the problem): no Close frame,
     * lws closes it on its next service pass. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* The first message takes the connection's own slot; the second moves
 * the queue to a ring of 8, which doubles up to max. */
static void
grow_ring(struct hub_conn *c, uint32_t max)
{
    uint32_t ncap = c->qcap > 1 ? c->qcap * 2 : c->qcap == 1 ? 8 : 1;
    struct hub_lframe **r;
    uint32_t i;

    if (ncap > max)
        ncap = max;
    if (ncap == 1) {
        c->ring = &c->one;
        c->qcap = 1;
        c->qhead = 0;
        return;
    }
    r = hd_xmalloc(ncap * sizeof(*r));
    for (i = 0; i < c->qlen; i++)
        r[i] = c->ring[(c->qhead + i) % c->qcap];
    if (c->ring != &c->one)
        free(c->ring);
    c->ring = r;
    c->qcap = ncap;
    c->qhead = 0;
}

static int write_queue(struct hub_thread *th, struct hub_conn *c);

/* Writes c's queue now, outside a writable callback: an open connection
 * whose last write went out whole has room in its socket, and asking
 * lws for a writable callback first would cost two epoll_ctl() calls and
 * a loop pass per write. What does not fit in one frame, or in the
 * socket (lws keeps the rest and writes it when it can), waits for the
 * writable callback. A write that fails kills the connection. */
static void
write_now(struct hub_thread *th, struct hub_conn *c)
{
    if (c->state != HUB_CS_OPEN || c->pending != NULL ||
        lws_partial_buffered(c->wsi)) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    if (write_queue(th, c) < 0) {
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    if (c->qlen > 0)
        lws_callback_on_writable(c->wsi);
}

/* Writes every connection queued since the last flush (the write delay
 * timer). */
static void
flush_all(struct hub_thread *th)
{
    struct hub_conn *c = th->dirty, *next;

    th->dirty = NULL;
    th->flush_armed = 0;
    hub_thread_now(th);
    for (; c; c = next) {
        next = c->dirty_next;
        c->dirty_next = NULL;
        c->flags &= (uint8_t)~HUB_CF_DIRTY;
        if (c->qlen > 0)
            write_now(th, c);
    }
}

/* The write-delay timer's callback. */
static void
flush_sul(lws_sorted_usec_list_t *sul)
{
    struct hub_thread *th =
        (struct hub_thread *)((char *)sul -
                              offsetof(struct hub_thread, flush_sul));

    flush_all(th);
}

/* Puts lf at the tail of c's queue, which holds fewer than max. */
static void
enqueue(struct hub_conn *c, struct hub_lframe *lf, uint32_t max)
{
    if (c->qlen == c->qcap)
        grow_ring(c, max);
    c->ring[(c->qhead + c->qlen) % c->qcap] = lf;
    hub_lframe_ref(lf);
    c->qlen++;
}

void
hub_conn_push(struct hub_thread *th, struct hub_conn *c, struct hub_lframe *lf)
{
    uint32_t max = (uint32_t)th->hub->cfg.queue_max;

    if (c->state != HUB_CS_OPEN) /* nothing follows Close */
        return;
    if (c->qlen >= max) {
        th->st.dropped++;
        kill_slow(th, c);
        return;
    }
    enqueue(c, lf, max);
    if (c->qlen > 1 || (c->flags & HUB_CF_DIRTY))
        return;
    if (th->hub->cfg.write_delay_ms == 0) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    /* gather: messages queued within the write delay share one write */
    c->flags |= HUB_CF_DIRTY;
    c->dirty_next = th->dirty;
    th->dirty = c;
    if (!th->flush_armed) {
        th->flush_armed = 1;
        lws_sul_schedule(th->lws, 0, &th->flush_sul, flush_sul,
                         (lws_usec_t)th->hub->cfg.write_delay_ms *
                             LWS_US_PER_MS);
    }
}

/* Takes c off the flush list (it is closing). */
static void
undirty(struct hub_thread *th, struct hub_conn *c)
{
    struct hub_conn **pp;

    if (!(c->flags & HUB_CF_DIRTY))
        return;
    for (pp = &th->dirty; *pp; pp = &(*pp)->dirty_next) {
        if (*pp == c) {
            *pp = c->dirty_next;
            break;
        }
    }
    c->dirty_next = NULL;
    c->flags &= (uint8_t)~HUB_CF_DIRTY;
}

/* Marks c to close with code at its next writable callback. */
static void
conn_close(struct hub_thread *th, struct hub_conn *c, uint16_t code)
{
    (void)th;
    if (c->state == HUB_CS_DEAD)
        return;
    c->flags |= HUB_CF_CLOSE_NOW;
    c->close_code = code;
    c->state = HUB_CS_DEAD;
    flush_queue(c);
    lws_callback_on_writable(c->wsi);
    /* a client that never reads must not hold the socket forever */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

void
hub_conn_goodbye(struct hub_thread *th, struct hub_conn *c)
{
    if (c->state == HUB_CS_OPEN) {
        hub_conn_push(th, c, &th->close[c->proto]);
        c->state = HUB_CS_CLOSING;
        c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
        hd_counter_inc(th->hub->m.disconnects[HUB_DISC_SHUTDOWN]);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND,
                        th->hub->cfg.shutdown_timeout_s);
    } else if (c->state == HUB_CS_HANDSHAKE) {
        conn_close(th, c, LWS_CLOSE_STATUS_GOINGAWAY);
    }
}

/* Arms the timer for the connection's current state. */
static void
arm(struct hub_thread *th, struct hub_conn *c)
{
    const struct hub_config *cfg = &th->hub->cfg;
    uint32_t ping = (uint32_t)cfg->ping_interval_s * TICKS_PER_S;
    uint32_t idle = (uint32_t)cfg->client_timeout_s * TICKS_PER_S;
    uint32_t a, b;

    if (c->state == HUB_CS_HANDSHAKE) {
        hub_wheel_add(&th->wheel, &c->timer,
                      th->now +
                          (uint32_t)cfg->handshake_timeout_s * TICKS_PER_S);
        return;
    }
    if (c->state != HUB_CS_OPEN) {
        hub_wheel_del(&th->wheel, &c->timer);
        return;
    }
    a = c->last_tx + hub_ka_due(ping, (c->flags & HUB_CF_IN_STEP) != 0);
    b = c->last_rx + idle;
    hub_wheel_add(&th->wheel, &c->timer, (int32_t)(a - b) < 0 ? a : b);
}

/* ---- from the upgrade to the close ------------------------------------ */

void
hub_conn_established(struct hub_thread *th, struct hub_conn *c, struct lws *wsi,
                     struct hub_pending *p, struct hub_lent *addr)
{
    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->addr = addr ? addr : p->addr; /* the listener's, or the admission's */
    if (addr == NULL)
        p->addr = NULL;
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
    arm(th, c);
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

/* A user of another shard: the handshake is answered with an error that
 * names the right shard (the SignalR client reports it), then the socket
 * closes with 1008 "wrong shard". */
static void
refuse_shard(struct hub_thread *th, struct hub_conn *c, struct hd_buf *reply)
{
    const struct hub_shard *s = &th->hub->shard;
    char msg[160];

    snprintf(msg, sizeof(msg),
             "Wrong hub shard: this user belongs to shard %d; this is shard "
             "%d of %d. Route the connection by GET /shard.",
             c->pending->wrong_shard - 1, s->index, s->count);
    hd_counter_inc(th->hub->m.rejected[HUB_REJ_WRONG_SHARD]);
    hd_log(HD_LOG_INFO, 0, "handshake refused: %s", msg);
    hub_signalr_handshake_reply(reply, msg, NULL);
    c->pending->reply_error = 1;
    c->flags |= HUB_CF_WRONG_SHARD;
    c->state = HUB_CS_CLOSING;
    hub_wheel_del(&th->wheel, &c->timer);
}

static void
handshake(struct hub_thread *th, struct hub_conn *c)
{
    struct hub_pending *p = c->pending;
    struct hd_err err = {0};
    struct hd_buf reply;
    enum hub_proto proto;

    hd_buf_init(&reply, HD_HUB_HANDSHAKE_MAX);
    if (p->wrong_shard) {
        refuse_shard(th, c, &reply);
    } else if (hub_signalr_handshake(p->hs.data, p->hs.len, &proto, &err) < 0) {
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
        arm(th, c);
    }
    hd_buf_release(&p->hs);
    p->reply = hd_buf_detach(&reply, &p->reply_len);
    lws_callback_on_writable(c->wsi);
}

/* ---- the keep-alive (hub_keepalive.h) ----------------------------------- */

/* Writes the keep-alive Ping now (c's queue is empty): no writable
 * callback in between, the ring a burst grew is given back first. */
static void
ping_now(struct hub_thread *th, struct hub_conn *c)
{
    if (c->ring)
        drop_ring(c);
    enqueue(c, &th->ping[c->proto], 1);
    write_now(th, c);
    c->last_tx = th->now; /* counts from the ping, written or on its way */
}

/* A whole message from the open connection c (its previous one arrived at
 * prev_rx): the hub's Ping goes with it when it is due soon. */
static void
on_message(struct hub_thread *th, struct hub_conn *c, uint32_t prev_rx)
{
    uint32_t ping = (uint32_t)th->hub->cfg.ping_interval_s * TICKS_PER_S;
    int was = (c->flags & HUB_CF_IN_STEP) != 0, in_step = was, ping_too;

    if (c->pending || c->qlen > 0 || (c->flags & HUB_CF_DIRTY))
        return; /* a write is on its way */
    ping_too = hub_ka_on_message(ping, th->now, c->last_tx, prev_rx, &in_step);
    if (in_step)
        c->flags |= HUB_CF_IN_STEP;
    if (ping_too)
        ping_now(th, c);
    if (ping_too || in_step != was)
        arm(th, c);
}

int
hub_conn_receive(struct hub_thread *th, struct hub_conn *c, const void *in,
                 size_t len)
{
    struct hub_ctx *hub = th->hub;
    uint32_t prev_rx;
    int final;

    if (c->wsi == NULL)
        return -1;
    prev_rx = c->last_rx;
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
    if (final) {
        c->in_len = 0;
        if (c->state == HUB_CS_OPEN)
            on_message(th, c, prev_rx);
    }
    return 0;
}

void
hub_conn_closed(struct hub_thread *th, struct hub_conn *c)
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
    undirty(th, c);
    hub_registry_leave(&th->reg, &c->user);
    for (i = 0; i < c->norgs; i++)
        hub_registry_leave(&th->reg, &c->orgs[i]);
    free(c->orgs);
    flush_queue(c);
    hub_pending_free(hub, c->pending);
    hub_limits_put(&hub->limits, c->slot);
    hub_limits_put(&hub->limits, c->addr);
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

/* ---- writes -------------------------------------------------------------- */

/* Writes the handshake reply, alone, as a text frame. */
static int
write_reply(struct hub_thread *th, struct hub_conn *c)
{
    struct hub_pending *p = c->pending;
    unsigned char *buf = th->wbuf + LWS_PRE;
    int error = p->reply_error;

    memcpy(buf, p->reply, p->reply_len);
    if (lws_write(c->wsi, buf, p->reply_len, LWS_WRITE_TEXT) <
        (int)p->reply_len)
        return -1;
    c->last_tx = th->now;
    free(p->reply);
    p->reply = NULL;
    p->reply_len = 0;
    if (error) {
        conn_close(th, c,
                   c->flags & HUB_CF_WRONG_SHARD
                       ? LWS_CLOSE_STATUS_POLICY_VIOLATION
                       : LWS_CLOSE_STATUS_NORMAL);
        return 0;
    }
    hub_pending_free(th->hub, p);
    c->pending = NULL;
    if (c->qlen)
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* Gathers queued messages from the head into one WebSocket message: as
 * many as fit in the thread's scratch buffer, or the head alone, copied
 * into *big, when it is larger. Sets *out to the bytes and returns their
 * length; *count messages were taken, *notes of them notifications. */
static size_t
pack_queue(struct hub_thread *th, struct hub_conn *c, unsigned char **out,
           unsigned char **big, size_t *count, size_t *notes)
{
    struct hub_lframe *lf = c->ring[c->qhead];
    size_t n = 0;

    if (lf->len > HD_HUB_PACK_MAX) {
        /* one message larger than the scratch buffer goes alone */
        *big = hd_xmalloc(LWS_PRE + lf->len);
        *out = *big + LWS_PRE;
        memcpy(*out, lf->data, lf->len);
        *count = 1;
        *notes = lf->shared != NULL;
        return lf->len;
    }
    *out = th->wbuf + LWS_PRE;
    while (*count < c->qlen) {
        lf = c->ring[(c->qhead + *count) % c->qcap];
        if (n + lf->len > HD_HUB_PACK_MAX)
            break;
        memcpy(*out + n, lf->data, lf->len);
        n += lf->len;
        (*count)++;
        *notes += lf->shared != NULL;
    }
    return n;
}

/* Writes one frame of queued messages (c->qlen > 0). Returns 0, or -1
 * when the connection cannot be written. */
static int
write_queue(struct hub_thread *th, struct hub_conn *c)
{
    unsigned char *big = NULL, *out;
    size_t n, count = 0, notes = 0;
    int rc;

    n = pack_queue(th, c, &out, &big, &count, &notes);
    rc = lws_write(c->wsi, out, n,
                   c->proto == HUB_PROTO_MSGPACK ? LWS_WRITE_BINARY
                                                 : LWS_WRITE_TEXT);
    free(big);
    if (rc < (int)n)
        return -1;
    th->st.deliveries[c->proto] += notes;
    th->st.pings += count - notes;
    c->last_tx = th->now;
    while (count-- > 0) {
        hub_lframe_unref(c->ring[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
    }
    return 0;
}

int
hub_conn_writable(struct hub_thread *th, struct hub_conn *c)
{
    if (c->wsi == NULL)
        return 0;
    hub_thread_now(th);
    if (c->flags & HUB_CF_CLOSE_NOW) {
        unsigned char why[] = "wrong shard";

        if (c->flags & HUB_CF_WRONG_SHARD)
            lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, why,
                             sizeof(why) - 1);
        else
            lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, NULL,
                             0);
        return -1;
    }
    if (c->pending && c->pending->reply)
        return write_reply(th, c);
    if (c->qlen > 0 && write_queue(th, c) < 0)
        return -1;
    if (c->qlen > 0) {
        lws_callback_on_writable(c->wsi);
    } else if (c->state == HUB_CS_CLOSING) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, NULL, 0);
        return -1;
    }
    return 0;
}

/* ---- the timer ----------------------------------------------------------- */

void
hub_conn_timer(struct hub_wheel_node *n, void *ud)
{
    struct hub_thread *th = ud;
    struct hub_conn *c =
        (struct hub_conn *)((char *)n - offsetof(struct hub_conn, timer));
    const struct hub_config *cfg = &th->hub->cfg;
    uint32_t ping = (uint32_t)cfg->ping_interval_s * TICKS_PER_S;
    uint32_t idle = (uint32_t)cfg->client_timeout_s * TICKS_PER_S;

    if (c->state == HUB_CS_HANDSHAKE) {
        hd_counter_inc(th->hub->m.disconnects[HUB_DISC_HANDSHAKE_TIMEOUT]);
        hd_log(HD_LOG_DEBUG, 0, "handshake timeout");
        conn_close(th, c, LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return;
    }
    if (c->state != HUB_CS_OPEN)
        return;
    if (th->now - c->last_rx >= idle) {
        hd_counter_inc(th->hub->m.disconnects[HUB_DISC_CLIENT_TIMEOUT]);
        conn_close(th, c, LWS_CLOSE_STATUS_GOINGAWAY);
        return;
    }
    if (c->qlen == 0 && c->ring)
        drop_ring(c); /* idle: give the queue's memory back */
    if (th->now - c->last_tx >=
        hub_ka_due(ping, (c->flags & HUB_CF_IN_STEP) != 0)) {
        /* the client's message did not come in time: out of step */
        c->flags &= (uint8_t)~HUB_CF_IN_STEP;
        if (c->qlen == 0)
            ping_now(th, c);
        else
            c->last_tx = th->now; /* counts from what is on its way */
    }
    arm(th, c);
}
