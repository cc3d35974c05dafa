/* endpoint.c -- the endpoint kinds' names and the error-table lookup
 * every endpoint shares. */
#include <string.h>

#include "tools/sim/endpoint.h"
#include "core/banned.h"

int
sim_ep_kind_parse(const char *s, enum sim_ep_kind *out)
{
    if (strcmp(s, "send") == 0)
        *out = SIM_EP_SEND;
    else if (strcmp(s, "token") == 0)
        *out = SIM_EP_TOKEN;
    else
        return -1;
    return 0;
}

const char *
sim_ep_kind_name(enum sim_ep_kind k)
{
    return k == SIM_EP_TOKEN ? "token" : "send";
}

const char *
sim_error_lookup(const struct sim_endpoint *ep, const char *name)
{
    const char *e;
    int i;

    if (name == NULL)
        return NULL;
    for (i = 0; (e = ep->error_at(i)) != NULL; i++)
        if (strcmp(e, name) == 0)
            return e;
    return NULL;
}
