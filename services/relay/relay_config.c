/* relay_config.c -- the HERALD_RELAY_* variables. PostgreSQL and Kafka use
 * the shared tables of common/pg/pg.h and common/kafka/kafka.h; the port
 * (HERALD_RELAY_PORT) and the HTTP server variables come from
 * common/service/runtime.h. The TLS variable names are the ones deploy/ and
 * docker-compose.yml already use. */
#include <stddef.h>

#include "core/limits.h"
#include "services/relay/relay.h"
#include "webpush/guard.h"
#include "core/banned.h"

#define RC struct relay_config

const struct hd_config_field relay_config_fields[] = {
    HD_CFG_STR("HERALD_RELAY_ADMIN_KEY", RC, admin_key, NULL, HD_CFG_SECRET,
               "bearer key of POST /installations (unset: only with "
               "HERALD_RELAY_OPEN_INSTALLATIONS) and the only key of "
               "GET /installations and POST /installations/{id}/rotate"),
    HD_CFG_BOOL("HERALD_RELAY_OPEN_INSTALLATIONS", RC, open_installations,
                false, "anyone may create an installation (no admin key)"),
    HD_CFG_STR("HERALD_RELAY_TOKEN_SECRET", RC, token_secret, NULL,
               HD_CFG_SECRET,
               "HS256 secret of the access tokens (at least 32 bytes), "
               "shared by every replica (unset: a random one per process, "
               "tokens die with it)"),
    HD_CFG_STR("HERALD_RELAY_TLS_CERT_FILE", RC, tls_cert_file, NULL, 0,
               "PEM certificate chain to serve HTTPS (Vaultwarden accepts "
               "only https:// relay and identity URLs); " RELAY_TLS_RULE),
    HD_CFG_STR("HERALD_RELAY_TLS_KEY_FILE", RC, tls_key_file, NULL, 0,
               "PEM private key of that certificate; " RELAY_TLS_RULE),
    HD_CFG_INT("HERALD_RELAY_RATE", RC, rate, 20, 0, 1000000,
               "requests per second per installation on /push (0: no "
               "limit); over it: 429 with Retry-After"),
    HD_CFG_INT("HERALD_RELAY_BURST", RC, burst, 200, 1, 10000000,
               "requests an idle installation may make at once"),
    HD_CFG_INT("HERALD_RELAY_TOKEN_RATE", RC, token_rate, 2, 0, 1000000,
               "POST /connect/token requests per second per client address "
               "(each checks a key in the database; 0: no limit); over it: "
               "429 with Retry-After"),
    HD_CFG_INT("HERALD_RELAY_TOKEN_BURST", RC, token_burst, 20, 1, 1000000,
               "token requests an idle client address may make at once"),
    HD_CFG_INT("HERALD_RELAY_RECIPIENTS_PER_MIN", RC, recipients_per_min, 6000,
               0, 100000000,
               "devices one installation's pushes may reach per minute (a "
               "push to N devices counts N, counted in the database at "
               "/push/send; 0: no limit, no count); over it: 429 with "
               "Retry-After"),
    HD_CFG_INT("HERALD_RELAY_MAX_DEVICES", RC, max_devices, 10000, 0, 100000000,
               "devices one installation may register (0: no limit); past "
               "it a new device's /push/register is refused with 400 (known "
               "devices still update)"),
    HD_CFG_INT("HERALD_RELAY_PG_WAIT_MS", RC, pg_wait_ms, 2000, 10, 60000,
               "how long a request waits for a free database connection"),
    HD_CFG_STR("HERALD_WEBPUSH_ORIGINS", RC, webpush_origins,
               HD_WEBPUSH_DEFAULT_ORIGINS, 0, HD_WEBPUSH_ORIGINS_HELP),
    HD_CFG_STR("HERALD_WEBPUSH_EXTRA_ORIGINS", RC, webpush_extra, "", 0,
               HD_WEBPUSH_EXTRA_HELP),
    HD_CFG_END,
};
