/* settings.c -- heraldctl's configuration table: the HERALD_* variables
 * (and NO_COLOR) it reads from the environment, from an env file such as
 * var/stack.env for what the environment left unset, and prints in
 * --help. The options that override them are in opt.c. */
#include "core/config.h"
#include "tools/ctl/ctl.h"
#include "core/banned.h"

static const struct hd_config_field ctl_fields[] = {
    HD_CFG_STR("HERALD_API_URL", struct ctl_config, api_url, NULL, 0,
               "herald-api's base URL (http://127.0.0.1:8080)"),
    HD_CFG_STR("HERALD_API_KEY", struct ctl_config, api_key, NULL,
               HD_CFG_SECRET, "a server API key of herald-api"),
    HD_CFG_STR("HERALD_APP", struct ctl_config, app, NULL, 0,
               "the registry namespace (app) of every call (default: the "
               "API's default)"),
    HD_CFG_STR("HERALD_RELAY_URL", struct ctl_config, relay_url, NULL, 0,
               "herald-relay's base URL, for installations"),
    HD_CFG_STR("HERALD_RELAY_ADMIN_URL", struct ctl_config, relay_admin_url,
               NULL, 0,
               "herald-relay's admin listener (http://127.0.0.1:8092), for "
               "installations list and rotate"),
    HD_CFG_STR("HERALD_RELAY_ADMIN_KEY", struct ctl_config, relay_admin_key,
               NULL, HD_CFG_SECRET, "herald-relay's admin key"),
    HD_CFG_STR("HERALD_RELAY_CA_FILE", struct ctl_config, relay_ca_file, NULL,
               0, "CA certificate to trust for the relay's HTTPS"),
    HD_CFG_STR("NO_COLOR", struct ctl_config, no_color, NULL, 0,
               "set (to anything): no colour"),
    HD_CFG_END,
};
int
ctl_config_load(struct ctl *c, struct hd_err *err)
{
    struct hd_config_section sec = {ctl_fields, &c->cfg};

    return hd_config_load(&sec, 1, err);
}

int
ctl_config_load_file(struct ctl *c, const char *path, struct hd_err *err)
{
    struct hd_config_section sec = {ctl_fields, &c->cfg};

    return hd_config_load_file(&sec, 1, path, err);
}

void
ctl_config_release(struct ctl *c)
{
    struct hd_config_section sec = {ctl_fields, &c->cfg};

    hd_config_release(&sec, 1);
}

void
ctl_config_help(FILE *out)
{
    struct hd_config_section sec = {ctl_fields, NULL};

    hd_config_help(out, &sec, 1);
}
