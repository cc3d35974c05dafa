/* hub_wheel.c -- the timer wheel.
 *
 * A visited slot is detached first and its nodes either fired or put
 * back, so a callback that re-arms into the same slot cannot make the
 * visit loop forever. Deadlines compare with wrap-around arithmetic. */
#include <stddef.h>

#include "services/hub/hub_wheel.h"
#include "core/banned.h"

static int
due(uint32_t deadline, uint32_t now)
{
    return (int32_t)(now - deadline) >= 0;
}

void
hub_wheel_init(struct hub_wheel *w, uint32_t now)
{
    unsigned i;

    for (i = 0; i < HUB_WHEEL_SLOTS; i++) {
        w->slots[i].next = &w->slots[i];
        w->slots[i].prev = &w->slots[i];
    }
    w->now = now;
    w->armed = 0;
}

static void
link_node(struct hub_wheel *w, struct hub_wheel_node *n)
{
    struct hub_wheel_node *head = &w->slots[n->deadline % HUB_WHEEL_SLOTS];

    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

void
hub_wheel_add(struct hub_wheel *w, struct hub_wheel_node *n, uint32_t deadline)
{
    hub_wheel_del(w, n);
    /* A past deadline goes into the next slot to be visited. */
    if (due(deadline, w->now))
        deadline = w->now + 1;
    n->deadline = deadline;
    link_node(w, n);
    w->armed++;
}

void
hub_wheel_del(struct hub_wheel *w, struct hub_wheel_node *n)
{
    if (n->next == NULL)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = NULL;
    n->prev = NULL;
    w->armed--;
}

unsigned
hub_wheel_advance(struct hub_wheel *w, uint32_t now, hub_wheel_fn *fn, void *ud)
{
    struct hub_wheel_node list, *n;
    uint32_t t, steps;
    unsigned fired = 0;

    if (due(now, w->now)) /* now is not after the last visit */
        return 0;
    steps = now - w->now;
    if (steps > HUB_WHEEL_SLOTS)
        steps = HUB_WHEEL_SLOTS;
    for (t = now - steps + 1;; t++) {
        struct hub_wheel_node *head = &w->slots[t % HUB_WHEEL_SLOTS];

        if (head->next != head) {
            /* detach the slot */
            list.next = head->next;
            list.prev = head->prev;
            list.next->prev = &list;
            list.prev->next = &list;
            head->next = head;
            head->prev = head;
            w->now = now; /* re-arms from callbacks land in the future */
            while (list.next != &list) {
                n = list.next;
                n->prev->next = n->next;
                n->next->prev = n->prev;
                if (due(n->deadline, now)) {
                    n->next = NULL;
                    n->prev = NULL;
                    w->armed--;
                    fired++;
                    fn(n, ud);
                } else {
                    link_node(w, n);
                }
            }
        }
        if (t == now)
            break;
    }
    w->now = now;
    return fired;
}
