/* test_hub_event.c -- unit tests for services/hub/hub_event.c and the
 * event builders of hub_dispatch.c: /send bodies in either key case,
 * herald.events records, shared frames and the done callback. */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "services/hub/hub.h"
#include "core/banned.h"

static void
test_send_body_camel_and_pascal(void)
{
    const char *camel = "{\"type\":0,\"payload\":{\"id\":\"c1\",\"userId\":"
                        "\"u1\",\"organizationId\":null},\"contextId\":\"d\"}";
    const char *pascal = "{\"Type\":18,\"Payload\":{\"OrganizationId\":\"o1\","
                         "\"Enabled\":true}}";
    struct hd_err err = {0};
    struct hub_event *e;
    const struct hub_frame *f;

    e = hub_event_from_send(camel, strlen(camel), &err);
    ASSERT_NOT_NULL(e);
    ASSERT_INT_EQ(e->target, HD_TARGET_USER);
    ASSERT_STR_EQ(e->target_id, "u1");
    f = e->frames[HUB_PROTO_JSON];
    ASSERT_STR_CONTAINS((const char *)f->data,
                        "\"arguments\":[{\"Type\":0,\"Payload\":{\"id\":\"c1\","
                        "\"userId\":\"u1\",\"organizationId\":null},"
                        "\"ContextId\":\"d\"}]");
    hub_event_release(e);

    e = hub_event_from_send(pascal, strlen(pascal), &err);
    ASSERT_NOT_NULL(e);
    ASSERT_INT_EQ(e->target, HD_TARGET_ORGANIZATION);
    ASSERT_STR_EQ(e->target_id, "o1");
    hub_event_release(e);

    ASSERT_NULL(hub_event_from_send("{\"type\":5,\"payload\":{}}", 24, &err));
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    ASSERT_NULL(hub_event_from_send("[1]", 3, &err));
    ASSERT_NULL(hub_event_from_send("{nope", 5, &err));
}

static void
test_auth_response_method(void)
{
    const char *b =
        "{\"type\":16,\"payload\":{\"id\":\"ar\",\"userId\":\"u\"}}";
    struct hub_event *e = hub_event_from_send(b, strlen(b), NULL);
    const struct hub_frame *f;

    ASSERT_NOT_NULL(e);
    ASSERT_INT_EQ(e->target, HD_TARGET_AUTH_REQUEST);
    ASSERT_STR_EQ(e->target_id, "ar");
    f = e->frames[HUB_PROTO_MSGPACK];
    ASSERT_TRUE(memmem(f->data, f->len, "AuthRequestResponseRecieved", 27) !=
                NULL);
    hub_event_release(e);
}

static void
test_record(void)
{
    const char *rec = "{\"v\":1,\"target\":\"organization\",\"target_id\":"
                      "\"o9\",\"client_type\":3,\"notification\":{\"Type\":"
                      "19,\"Payload\":{\"OrganizationId\":\"o9\"},"
                      "\"ContextId\":null},\"created_ms\":1700000000000}";
    const char *newer = "{\"v\":1,\"notification\":{\"Type\":28,"
                        "\"Payload\":{\"UserId\":\"u\"}}}";
    const char *routed = "{\"v\":1,\"target\":\"user\",\"target_id\":"
                         "\"u\",\"notification\":{\"type\":99}}";
    const char *beyond = "{\"v\":1,\"notification\":{\"Type\":256,"
                         "\"Payload\":{\"UserId\":\"u\"}}}";
    struct hd_err err = {0};
    long long type = 0;
    struct hub_event *e = hub_event_from_record(rec, strlen(rec), &type, &err);

    ASSERT_NOT_NULL(e);
    ASSERT_INT_EQ(type, -1);
    ASSERT_INT_EQ(e->target, HD_TARGET_ORGANIZATION);
    ASSERT_STR_EQ(e->target_id, "o9");
    ASSERT_INT_EQ(e->client_type, 3);
    ASSERT_INT_EQ(e->created_ms, 1700000000000LL);
    hub_event_release(e);
    ASSERT_NULL(hub_event_from_record("{\"v\":2}", 7, &type, &err));
    ASSERT_INT_EQ(type, -1);
    /* a newer server's type: dropped, not malformed, whatever the routing */
    ASSERT_NULL(hub_event_from_record(newer, strlen(newer), &type, &err));
    ASSERT_INT_EQ(type, 28);
    ASSERT_NULL(hub_event_from_record(routed, strlen(routed), &type, &err));
    ASSERT_INT_EQ(type, 99);
    /* not a PushType at all: malformed */
    ASSERT_NULL(hub_event_from_record(beyond, strlen(beyond), &type, &err));
    ASSERT_INT_EQ(type, -1);
}

static void
on_done(void *ud)
{
    (*(int *)ud)++;
}

static void
test_sharing_and_done(void)
{
    json_t *n =
        json_loads("{\"Type\":5,\"Payload\":{\"UserId\":\"u\"}}", 0, NULL);
    struct hub_event *e = hub_event_new(HD_TARGET_USER, "u", 0, n, NULL);
    struct hub_frame *f;
    struct hub_lframe *a, *b;
    int done = 0;

    ASSERT_NOT_NULL(e);
    e->done = on_done;
    e->done_ud = &done;
    f = e->frames[HUB_PROTO_MSGPACK];
    /* two threads wrap the same frame; each queues it twice */
    a = hub_lframe_new(f);
    b = hub_lframe_new(f);
    ASSERT_INT_EQ(atomic_load(&f->refs), 3);
    hub_lframe_ref(a);
    hub_lframe_ref(b);
    hub_event_hold(e, 2);
    hub_event_release(e);
    hub_event_release(e);
    ASSERT_INT_EQ(done, 0);
    hub_event_release(e); /* the last holder */
    ASSERT_INT_EQ(done, 1);
    ASSERT_INT_EQ(atomic_load(&f->refs), 2); /* the queues keep the bytes */
    ASSERT_INT_EQ(f->data[1], 0x96);
    hub_lframe_unref(a);
    hub_lframe_unref(a);
    hub_lframe_unref(b);
    ASSERT_INT_EQ(atomic_load(&f->refs), 1);
    hub_lframe_unref(b); /* frees the frame: LeakSanitizer checks */
    json_decref(n);
}

int
main(void)
{
    RUN_TEST(test_send_body_camel_and_pascal);
    RUN_TEST(test_auth_response_method);
    RUN_TEST(test_record);
    RUN_TEST(test_sharing_and_done);
    return UNIT_DONE();
}
