/* apns_topic.c -- the apns-push-type values and the apns-topic suffix
 * each requires, shared by the request checks (apns.c) and the
 * provider-token rules (apns_auth.c). */
#include <string.h>

#include "tools/sim/providers/apns_topic.h"
#include "core/banned.h"

/* push type -> the apns-topic suffix it requires ("" none) */
static const struct sim_apns_push_type push_types[] = {
    {"alert", ""},
    {"background", ""},
    {"location", ".location-query"},
    {"voip", ".voip"},
    {"complication", ".complication"},
    {"fileprovider", ".pushkit.fileprovider"},
    {"mdm", ""},
    {"liveactivity", ".push-type.liveactivity"},
    {"pushtotalk", ".voip-ptt"},
    {"widgets", ".push-type.widgets"},
    {"controls", ""},
};

#define NPUSH_TYPES (sizeof(push_types) / sizeof(push_types[0]))

const struct sim_apns_push_type *
sim_apns_push_type(const char *name)
{
    size_t i;

    for (i = 0; i < NPUSH_TYPES; i++)
        if (strcmp(push_types[i].name, name) == 0)
            return &push_types[i];
    return NULL;
}

void
sim_apns_base_topic(const char *topic, char *out, size_t outlen)
{
    size_t len = strlen(topic);
    size_t i;

    for (i = 0; i < NPUSH_TYPES; i++) {
        size_t sl = strlen(push_types[i].suffix);

        if (sl > 0 && len > sl &&
            strcmp(topic + len - sl, push_types[i].suffix) == 0) {
            len -= sl;
            break;
        }
    }
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, topic, len);
    out[len] = '\0';
}
