/* apns_topic.h -- APNs push types and topics: which apns-topic suffix a
 * push type requires, and the bundle id a topic belongs to. Constant
 * tables only; thread-safe. */
#ifndef SIM_APNS_TOPIC_H
#define SIM_APNS_TOPIC_H

#include <stddef.h>

struct sim_apns_push_type {
    const char *name;   /* apns-push-type value */
    const char *suffix; /* the apns-topic suffix it requires, "" none */
};

/* The push type named name, or NULL for an unknown one. */
const struct sim_apns_push_type *sim_apns_push_type(const char *name);

/* The bundle id of an apns-topic: the topic without a push-type suffix
 * (".voip", ".complication", ...), into out. */
void sim_apns_base_topic(const char *topic, char *out, size_t outlen);

#endif
