/* hub_conn.c -- one connection's outbound queue, its writes and its timer.
 *
 * The queue is a ring of references to shared frames, allocated on first
 * use and freed by the timer once idle, so an idle connection holds no
 * buffer. A writable callback copies as many queued messages as fit into
 * the thread's scratch buffer and writes them as one WebSocket message
 * (SignalR allows several messages per frame). A queue that reaches
 * queue_max means the client cannot keep up: it is dropped and the
 * connection killed, never allowed to grow. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/hub/hub.h"
#include "core/banned.h"

#define TICKS_PER_S (1000 / HUB_WHEEL_TICK_MS)

void
hub_conn_flush_queue(struct hub_conn *c)
{
    while (c->qlen > 0) {
        hub_lframe_unref(c->ring[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
    }
    free(c->ring);
    c->ring = NULL;
    c->qcap = 0;
    c->qhead = 0;
}

static void
kill_slow(struct hub_thread *th, struct hub_conn *c)
{
    th->st.dropped += c->qlen;
    hub_conn_flush_queue(c);
    c->state = HUB_CS_DEAD;
    hd_counter_inc(th->hub->m.slow_closes);
    hd_counter_inc(th->hub->m.disconnects[HUB_DISC_SLOW_CONSUMER]);
    /* The socket is not writable (that is the problem): no Close frame,
     * lws closes it on its next service pass. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void
grow_ring(struct hub_conn *c, uint32_t max)
{
    uint32_t ncap = c->qcap ? c->qcap * 2 : 8;
    struct hub_lframe **r;
    uint32_t i;

    if (ncap > max)
        ncap = max;
    r = hd_xmalloc(ncap * sizeof(*r));
    for (i = 0; i < c->qlen; i++)
        r[i] = c->ring[(c->qhead + i) % c->qcap];
    free(c->ring);
    c->ring = r;
    c->qcap = ncap;
    c->qhead = 0;
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
    if (c->qlen == c->qcap)
        grow_ring(c, max);
    c->ring[(c->qhead + c->qlen) % c->qcap] = lf;
    hub_lframe_ref(lf);
    c->qlen++;
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
        lws_sul_schedule(th->lws, 0, &th->flush_sul, hub_conn_flush_sul,
                         (lws_usec_t)th->hub->cfg.write_delay_ms *
                             LWS_US_PER_MS);
    }
}

void
hub_conn_flush_all(struct hub_thread *th)
{
    struct hub_conn *c = th->dirty, *next;

    th->dirty = NULL;
    th->flush_armed = 0;
    for (; c; c = next) {
        next = c->dirty_next;
        c->dirty_next = NULL;
        c->flags &= (uint8_t)~HUB_CF_DIRTY;
        if (c->qlen > 0)
            lws_callback_on_writable(c->wsi);
    }
}

void
hub_conn_flush_sul(lws_sorted_usec_list_t *sul)
{
    struct hub_thread *th =
        (struct hub_thread *)((char *)sul -
                              offsetof(struct hub_thread, flush_sul));

    hub_conn_flush_all(th);
}

void
hub_conn_undirty(struct hub_thread *th, struct hub_conn *c)
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

void
hub_conn_close(struct hub_thread *th, struct hub_conn *c, uint16_t code)
{
    (void)th;
    if (c->state == HUB_CS_DEAD)
        return;
    c->flags |= HUB_CF_CLOSE_NOW;
    c->close_code = code;
    c->state = HUB_CS_DEAD;
    hub_conn_flush_queue(c);
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
        hub_conn_close(th, c, LWS_CLOSE_STATUS_GOINGAWAY);
    }
}

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
        hub_conn_close(th, c, LWS_CLOSE_STATUS_NORMAL);
        return 0;
    }
    hub_pending_free(th->hub, p);
    c->pending = NULL;
    if (c->qlen)
        lws_callback_on_writable(c->wsi);
    return 0;
}

int
hub_conn_writable(struct hub_thread *th, struct hub_conn *c)
{
    unsigned char *start = th->wbuf + LWS_PRE, *big = NULL, *out;
    size_t n = 0, count = 0, notes = 0;
    struct hub_lframe *lf;
    int rc;

    if (c->flags & HUB_CF_CLOSE_NOW) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, NULL, 0);
        return -1;
    }
    if (c->pending && c->pending->reply)
        return write_reply(th, c);
    if (c->qlen == 0)
        goto done;
    lf = c->ring[c->qhead];
    if (lf->len > HD_HUB_PACK_MAX) {
        /* one message larger than the scratch buffer goes alone */
        big = hd_xmalloc(LWS_PRE + lf->len);
        out = big + LWS_PRE;
        memcpy(out, lf->data, lf->len);
        n = lf->len;
        count = 1;
        notes = lf->shared != NULL;
    } else {
        out = start;
        while (count < c->qlen) {
            lf = c->ring[(c->qhead + count) % c->qcap];
            if (n + lf->len > HD_HUB_PACK_MAX)
                break;
            memcpy(out + n, lf->data, lf->len);
            n += lf->len;
            count++;
            notes += lf->shared != NULL;
        }
    }
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
done:
    if (c->qlen > 0) {
        lws_callback_on_writable(c->wsi);
    } else if (c->state == HUB_CS_CLOSING) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, NULL, 0);
        return -1;
    }
    return 0;
}

void
hub_conn_arm(struct hub_thread *th, struct hub_conn *c)
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
    /* a ping is due one tick early so that none is ever late */
    a = c->last_tx + ping - 1;
    b = c->last_rx + idle;
    hub_wheel_add(&th->wheel, &c->timer, (int32_t)(a - b) < 0 ? a : b);
}

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
        hub_conn_close(th, c, LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return;
    }
    if (c->state != HUB_CS_OPEN)
        return;
    if (th->now - c->last_rx >= idle) {
        hd_counter_inc(th->hub->m.disconnects[HUB_DISC_CLIENT_TIMEOUT]);
        hub_conn_close(th, c, LWS_CLOSE_STATUS_GOINGAWAY);
        return;
    }
    if (th->now - c->last_tx >= ping - 1) {
        if (c->qlen == 0)
            hub_conn_push(th, c, &th->ping[c->proto]);
        if (c->state != HUB_CS_OPEN)
            return;
        c->last_tx = th->now; /* counts from the ping just queued */
    } else if (c->qlen == 0 && c->ring) {
        free(c->ring); /* idle: give the queue's memory back */
        c->ring = NULL;
        c->qcap = 0;
        c->qhead = 0;
    }
    hub_conn_arm(th, c);
}
