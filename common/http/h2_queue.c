/* h2_queue.c -- the bookkeeping of hd_httpc's native HTTP/2 transport:
 * the min-heap of transfers by deadline, and the doubly linked lists of a
 * connection's streams and of an origin's queue. Pure data structures:
 * nothing here sends, reads or completes anything. */
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "http/h2_queue.h"
#include "core/banned.h"

/* ---- deadline heap ------------------------------------------------------ */

static void
heap_set(struct h2 *h, size_t i, struct httpc_xfer *x)
{
    h->heap[i] = x;
    h2_sx(x)->heap_i = i;
}

static void
heap_up(struct h2 *h, size_t i)
{
    struct httpc_xfer *x = h->heap[i];

    while (i > 0 &&
           h2_sx(h->heap[(i - 1) / 2])->deadline > h2_sx(x)->deadline) {
        heap_set(h, i, h->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(h, i, x);
}

static void
heap_down(struct h2 *h, size_t i)
{
    struct httpc_xfer *x = h->heap[i];

    for (;;) {
        size_t l = 2 * i + 1, m = l;

        if (l >= h->nheap)
            break;
        if (l + 1 < h->nheap &&
            h2_sx(h->heap[l + 1])->deadline < h2_sx(h->heap[l])->deadline)
            m = l + 1;
        if (h2_sx(h->heap[m])->deadline >= h2_sx(x)->deadline)
            break;
        heap_set(h, i, h->heap[m]);
        i = m;
    }
    heap_set(h, i, x);
}

void
h2_heap_add(struct h2 *h, struct httpc_xfer *x)
{
    if (h->nheap == h->heapcap) {
        h->heapcap = h->heapcap ? h->heapcap * 2 : 256;
        h->heap = hd_xrealloc(h->heap, h->heapcap * sizeof(*h->heap));
    }
    h->heap[h->nheap] = x;
    h2_sx(x)->heap_i = h->nheap++;
    heap_up(h, h->nheap - 1);
}

void
h2_heap_del(struct h2 *h, struct httpc_xfer *x)
{
    size_t i = h2_sx(x)->heap_i;
    struct httpc_xfer *last;

    if (i == SIZE_MAX)
        return;
    h2_sx(x)->heap_i = SIZE_MAX;
    last = h->heap[--h->nheap];
    if (i == h->nheap)
        return;
    heap_set(h, i, last);
    heap_up(h, i);
    heap_down(h, h2_sx(last)->heap_i);
}

/* ---- lists ------------------------------------------------------------- */

void
h2_list_add(struct httpc_xfer **head, struct httpc_xfer *x)
{
    h2_sx(x)->prev = NULL;
    h2_sx(x)->next = *head;
    if (*head)
        h2_sx(*head)->prev = x;
    *head = x;
}

void
h2_list_del(struct httpc_xfer **head, struct httpc_xfer *x)
{
    if (h2_sx(x)->prev)
        h2_sx(h2_sx(x)->prev)->next = h2_sx(x)->next;
    else
        *head = h2_sx(x)->next;
    if (h2_sx(x)->next)
        h2_sx(h2_sx(x)->next)->prev = h2_sx(x)->prev;
    h2_sx(x)->prev = h2_sx(x)->next = NULL;
}

void
h2_queue_add(struct h2_origin *o, struct httpc_xfer *x)
{
    h2_sx(x)->next = NULL;
    h2_sx(x)->prev = o->qtail;
    if (o->qtail)
        h2_sx(o->qtail)->next = x;
    else
        o->qhead = x;
    o->qtail = x;
    o->nqueued++;
}

void
h2_queue_del(struct h2_origin *o, struct httpc_xfer *x)
{
    if (h2_sx(x)->prev)
        h2_sx(h2_sx(x)->prev)->next = h2_sx(x)->next;
    else
        o->qhead = h2_sx(x)->next;
    if (h2_sx(x)->next)
        h2_sx(h2_sx(x)->next)->prev = h2_sx(x)->prev;
    else
        o->qtail = h2_sx(x)->prev;
    h2_sx(x)->prev = h2_sx(x)->next = NULL;
    o->nqueued--;
}
