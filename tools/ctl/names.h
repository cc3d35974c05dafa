/* names.h -- every server-API name heraldctl speaks, in one place.
 *
 * These are Centrifugo PRO's current push API names; the API still
 * answers the 2023 draft's (device_list{users,since}, channels,
 * push_user_channel_*), which the empty-string choices and the names in
 * the comments below give back. The commands build their requests from
 * this file only, so following a rename of the API is an edit here. */
#ifndef CTL_NAMES_H
#define CTL_NAMES_H

/* methods (POST /api/<method>) */
#define CTL_M_DEVICE_REGISTER "device_register"
#define CTL_M_BATCH "batch"
#define CTL_M_DEVICE_LIST "device_list"
#define CTL_M_DEVICE_REMOVE "device_remove"
#define CTL_M_SEND "send_push_notification"
#define CTL_M_STATUS "push_status_list"
#define CTL_M_TOPIC_LIST "user_topic_list"
#define CTL_M_TOPIC_UPDATE "user_topic_update"

/* The shape of a request, where the API changes more than a name:
 * CTL_F_FILTER  "" puts list filters at the top of params (the draft's
 *               device_list{users,...}); a name puts them in that object
 *               (today's device_list{filter:{users,...}}).
 * CTL_R_FILTER  the same for the registry recipients of a send
 *               (recipient{users} or recipient{filter:{users}}).
 * CTL_F_NEXT_CURSOR  "" takes the next page's cursor from the last item
 *               (its id: the draft's since); a name reads it from the
 *               answer (today's next_cursor). */
#define CTL_F_FILTER "filter"
#define CTL_R_FILTER "filter"
#define CTL_F_NEXT_CURSOR "next_cursor"

/* paging */
#define CTL_F_CURSOR "cursor"
#define CTL_F_STATUS_CURSOR "since" /* push_status_list: the last target */
#define CTL_F_LIMIT "limit"
#define CTL_F_HAS_MORE "has_more"
#define CTL_F_ITEMS "items"
#define CTL_F_APP "app"

/* device_list / device_remove filters and options */
#define CTL_F_IDS "ids"
#define CTL_F_USERS "users"
#define CTL_F_PROVIDERS "providers"
#define CTL_F_PLATFORMS "platforms"
#define CTL_F_TOKENS "tokens"
#define CTL_F_PROVIDER_TOKENS "provider_tokens"
#define CTL_F_INCLUDE_META "include_meta"
#define CTL_F_INCLUDE_TAGS "include_tags"
#define CTL_F_INCLUDE_TOPICS "include_topics"
#define CTL_F_DEVICE_TOPICS "topics" /* a device's own topics */

/* send_push_notification */
#define CTL_F_RECIPIENT "recipient"
#define CTL_F_NOTIFICATION "notification"
#define CTL_F_UID "uid" /* inside the notification */
#define CTL_F_EXPIRE_AT "expire_at"
#define CTL_F_SEND_AT "send_at" /* top level, Unix seconds */
#define CTL_R_USERS "users"
#define CTL_R_TOPICS "topics"
#define CTL_R_DEVICES "ids"
#define CTL_R_FCM_TOKENS "fcm_tokens"
#define CTL_R_APNS_TOKENS "apns_tokens"
#define CTL_R_HMS_TOKENS "hms_tokens"

/* user_topic_update / user_topic_list */
#define CTL_F_USER "user"
#define CTL_F_OP "op"
#define CTL_F_TOPICS "topics"
#define CTL_F_TOPIC "topic"
#define CTL_F_TOPIC_PREFIX "topic_prefix" /* draft: channel_prefix */

#endif
