/* relay_routes.c -- herald-relay's route tables: on the public port the
 * identity endpoints (relay_identity.c, relay_installations.c) and the
 * /push endpoints (relay_push.c) with each one's body limit; on the admin
 * listener (127.0.0.1 by default) listing installations and rotating
 * their keys, still behind the admin key. Wiring only: the handlers know
 * nothing of each other's routes. */
#include "services/relay/relay.h"
#include "core/banned.h"

const struct hd_http_route relay_routes[] = {
    {"POST", "/connect/token", relay_handle_token, RELAY_FORM_MAX, 1},
    {"POST", "/installations", relay_handle_installation_new, RELAY_BODY_MAX,
     1},
    /* the admin listener's: not here (without this, 405 for POST's path) */
    {"GET", "/installations", relay_handle_not_here, 0, 0},
    {"GET", "/installations/{id}", relay_handle_installation_get, 0, 1},
    {"POST", "/push/register", relay_handle_register, RELAY_BODY_MAX, 1},
    {"POST", "/push/delete", relay_handle_delete, RELAY_BODY_MAX, 1},
    {"POST", "/push/delete/{id}", relay_handle_delete_id, RELAY_BODY_MAX, 1},
    {"DELETE", "/push/{id}", relay_handle_delete_id, RELAY_BODY_MAX, 1},
    {"PUT", "/push/add-organization", relay_handle_add_org, RELAY_BODY_MAX, 1},
    {"PUT", "/push/delete-organization", relay_handle_delete_org,
     RELAY_BODY_MAX, 1},
    {"POST", "/push/send", relay_handle_send, RELAY_SEND_MAX, 0},
};
const size_t relay_nroutes = sizeof(relay_routes) / sizeof(relay_routes[0]);

const struct hd_http_route relay_admin_routes[] = {
    {"GET", "/installations", relay_handle_installation_list, 0, 1},
    {"POST", "/installations/{id}/rotate", relay_handle_installation_rotate, 0,
     1},
};
const size_t relay_admin_nroutes =
    sizeof(relay_admin_routes) / sizeof(relay_admin_routes[0]);
