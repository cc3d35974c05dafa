/* names.h -- every server-API name heraldctl speaks, in one place.
 *
 * The push API still grows (Centrifugo's topic and scheduling names);
 * the commands build their requests from these names only, so following
 * a rename of the API is an edit of this file. What the API calls a
 * "channel" today is what heraldctl shows as a topic. */
#ifndef CTL_NAMES_H
#define CTL_NAMES_H

/* methods (POST /api/<method>) */
#define CTL_M_DEVICE_REGISTER "device_register"
#define CTL_M_DEVICE_LIST "device_list"
#define CTL_M_DEVICE_REMOVE "device_remove"
#define CTL_M_SEND "send_push_notification"
#define CTL_M_STATUS "push_status_list"
#define CTL_M_TOPIC_LIST "push_user_channel_list"
#define CTL_M_TOPIC_UPDATE "push_user_channel_update"

/* The shape of a request, where the API changes more than a name:
 * CTL_F_FILTER  "" puts list filters at the top of params (the draft's
 *               device_list{users,...}); a name puts them in that object
 *               (today's device_list{filter:{users,...}}).
 * CTL_R_FILTER  the same for the registry recipients of a send
 *               (recipient{users} or recipient{filter:{users}}).
 * CTL_F_NEXT_CURSOR  "" takes the next page's cursor from the last item
 *               (its id: the draft's since); a name reads it from the
 *               answer (today's next_cursor). */
#define CTL_F_FILTER ""
#define CTL_R_FILTER ""
#define CTL_F_NEXT_CURSOR ""

/* paging */
#define CTL_F_CURSOR "since"
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
#define CTL_F_INCLUDE_TOPICS "include_channels"
#define CTL_F_DEVICE_TOPICS "channels" /* a device's own topics */

/* send_push_notification */
#define CTL_F_RECIPIENT "recipient"
#define CTL_F_NOTIFICATION "notification"
#define CTL_F_UID "uid" /* inside the notification */
#define CTL_F_EXPIRE_AT "expire_at"
#define CTL_F_SEND_AT "send_at" /* top level, Unix seconds */
#define CTL_R_USERS "users"
#define CTL_R_TOPICS "channels"
#define CTL_R_DEVICES "device_ids"
#define CTL_R_FCM_TOKENS "fcm_tokens"
#define CTL_R_APNS_TOKENS "apns_tokens"
#define CTL_R_HMS_TOKENS "hms_tokens"

/* push_user_channel_update / _list */
#define CTL_F_USER "user"
#define CTL_F_OP "op"
#define CTL_F_TOPICS "channels"
#define CTL_F_TOPIC "channel"
#define CTL_F_TOPIC_PREFIX "channel_prefix"

#endif
