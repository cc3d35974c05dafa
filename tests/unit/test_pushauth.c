/* test_pushauth.c -- unit tests for common/push/credential.c: reuse until the
 * refresh margin, transient versus configuration failures, the rejection
 * floor, all on a fake clock; plus one run of the real thread. */
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "core/clock.h"
#include "push/credential.h"

struct fetcher {
    struct hd_fake_clock *fc;
    int calls;
    int fail; /* 0 ok, 1 transient, 2 configuration */
    int64_t ttl_ms;
    atomic_int changes;
};

static int
fetch(void *ud, struct hd_buf *value, int64_t *expires_ms, struct hd_err *err)
{
    struct fetcher *f = ud;

    f->calls++;
    if (f->fail == 1)
        return hd_err_set(err, HD_EUPSTREAM, "token endpoint: 503");
    if (f->fail == 2)
        return hd_err_set(err, HD_EAUTH, "invalid_grant: bad signature");
    *expires_ms = f->fc->wall_ms + f->ttl_ms;
    return hd_buf_printf(value, err, "tok-%d", f->calls);
}

static void
changed(void *ud)
{
    struct fetcher *f = ud;

    atomic_fetch_add(&f->changes, 1);
}

static struct hd_pushauth *
make(struct fetcher *f, struct hd_fake_clock *fc, struct hd_clock *clk,
     int threaded)
{
    struct hd_pushauth_opts o;

    fc->wall_ms = threaded ? hd_now_wall_ms() : 1000000;
    fc->mono_ms = 5000;
    *clk = hd_fake_clock_bind(fc);
    f->fc = fc;
    f->ttl_ms = 3600000;
    memset(&o, 0, sizeof(o));
    o.fetch = fetch;
    o.ud = f;
    o.refresh_before_ms = 300000;
    o.min_interval_ms = 1200000;
    o.clock = threaded ? NULL : clk;
    o.on_change = changed;
    o.change_ud = f;
    o.threaded = threaded;
    return hd_pushauth_new(&o, NULL);
}

static void
test_reused_until_refresh_margin(void)
{
    struct fetcher f = {0};
    struct hd_fake_clock fc;
    struct hd_clock clk;
    struct hd_pushauth *a = make(&f, &fc, &clk, 0);
    struct hd_buf v;
    unsigned gen = 0;
    int i;

    hd_buf_init(&v, 256);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 0); /* nothing yet */
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 1);
    ASSERT_STR_EQ(v.data, "tok-1");
    ASSERT_INT_EQ(gen, 1);
    /* reused for every send until 5 minutes before expiry */
    for (i = 0; i < 109; i++) {
        fc.wall_ms += 30000; /* 54.5 minutes in all */
        ASSERT_INT_EQ(hd_pushauth_tick(a), 0);
        ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 1);
    }
    ASSERT_INT_EQ(f.calls, 1);
    fc.wall_ms = 1000000 + 3300000;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 1);
    ASSERT_STR_EQ(v.data, "tok-2");
    ASSERT_INT_EQ(gen, 2);
    ASSERT_INT_EQ(atomic_load(&f.changes), 2);
    hd_buf_release(&v);
    hd_pushauth_free(a);
}

static void
test_transient_and_config_failures(void)
{
    struct fetcher f = {0};
    struct hd_fake_clock fc;
    struct hd_clock clk;
    struct hd_pushauth *a = make(&f, &fc, &clk, 0);
    struct hd_err err = {0};
    unsigned long ok, failed;
    struct hd_buf v;
    unsigned gen = 0;

    hd_buf_init(&v, 256);
    f.fail = 1;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, &err), 0); /* transient */
    ASSERT_INT_EQ(hd_pushauth_tick(a), 0);                /* backing off 1 s */
    fc.wall_ms += 1000;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    fc.wall_ms += 1000;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 0); /* now 2 s */
    fc.wall_ms += 1000;
    f.fail = 2;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    ASSERT_STR_CONTAINS(err.msg, "invalid_grant");
    fc.wall_ms += 60000; /* configuration errors retry slowly */
    ASSERT_INT_EQ(hd_pushauth_tick(a), 0);
    fc.wall_ms += 300000;
    f.fail = 0;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, &err), 1);
    /* a failed refresh keeps serving the still-valid credential */
    fc.wall_ms += 3300000;
    f.fail = 2;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, &err), 1);
    hd_pushauth_counts(a, &ok, &failed);
    ASSERT_INT_EQ(ok, 1);
    ASSERT_INT_EQ(failed, 4);
    hd_buf_release(&v);
    hd_pushauth_free(a);
}

static void
test_reject_respects_floor(void)
{
    struct fetcher f = {0};
    struct hd_fake_clock fc;
    struct hd_clock clk;
    struct hd_pushauth *a = make(&f, &fc, &clk, 0);
    struct hd_buf v;
    unsigned gen = 0;

    hd_buf_init(&v, 256);
    hd_pushauth_tick(a);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 1);
    fc.wall_ms += 60000;
    ASSERT_INT_EQ(hd_pushauth_reject(a, gen), 0); /* too soon: kept */
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 1);
    ASSERT_INT_EQ(hd_pushauth_tick(a), 0);
    fc.wall_ms += 1200000;
    ASSERT_INT_EQ(hd_pushauth_reject(a, gen), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 0); /* dropped */
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 1);
    ASSERT_STR_EQ(v.data, "tok-2");
    /* a stale generation does not drop the new credential */
    ASSERT_INT_EQ(hd_pushauth_reject(a, 1), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 1);
    ASSERT_INT_EQ(gen, 2);
    hd_buf_release(&v);
    hd_pushauth_free(a);
}

static void
test_short_lived_credential_does_not_spin(void)
{
    struct fetcher f = {0};
    struct hd_fake_clock fc;
    struct hd_clock clk;
    struct hd_pushauth *a = make(&f, &fc, &clk, 0);

    f.ttl_ms = 4000; /* shorter than the 5-minute margin */
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(hd_pushauth_tick(a), 0);
    fc.wall_ms += 1999;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 0);
    fc.wall_ms += 1; /* half its life */
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    /* even a credential that arrives expired is fetched once a second */
    f.ttl_ms = -1;
    fc.wall_ms += 2000;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(hd_pushauth_tick(a), 0);
    fc.wall_ms += 1000;
    ASSERT_INT_EQ(hd_pushauth_tick(a), 1);
    ASSERT_INT_EQ(f.calls, 4);
    hd_pushauth_free(a);
}

static void
test_thread_fetches(void)
{
    struct fetcher f = {0};
    struct hd_fake_clock fc;
    struct hd_clock clk;
    struct hd_pushauth *a = make(&f, &fc, &clk, 1);
    struct hd_buf v;
    unsigned gen = 0;
    int i;

    ASSERT_NOT_NULL(a);
    hd_buf_init(&v, 256);
    for (i = 0; i < 500 && atomic_load(&f.changes) == 0; i++)
        usleep(10000);
    ASSERT_INT_EQ(atomic_load(&f.changes), 1);
    ASSERT_INT_EQ(hd_pushauth_get(a, &v, &gen, NULL), 1);
    ASSERT_STR_EQ(v.data, "tok-1");
    hd_buf_release(&v);
    hd_pushauth_free(a);
}

int
main(void)
{
    RUN_TEST(test_reused_until_refresh_margin);
    RUN_TEST(test_transient_and_config_failures);
    RUN_TEST(test_reject_respects_floor);
    RUN_TEST(test_short_lived_credential_does_not_spin);
    RUN_TEST(test_thread_fetches);
    return UNIT_DONE();
}
