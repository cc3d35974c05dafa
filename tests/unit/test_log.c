/* test_log.c -- unit tests for common/log.c: lines are captured by pointing
 * stderr at a pipe. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "common/log.h"

static int saved_stderr = -1;
static int pipe_r = -1;

static void
capture_start(void)
{
    int p[2];

    ASSERT_TRUE(pipe(p) == 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    saved_stderr = dup(2);
    dup2(p[1], 2);
    close(p[1]);
    pipe_r = p[0];
}

static void
capture_end(char *out, size_t n)
{
    ssize_t r;

    dup2(saved_stderr, 2);
    close(saved_stderr);
    r = read(pipe_r, out, n - 1);
    out[r > 0 ? r : 0] = '\0';
    close(pipe_r);
}

static int evaluated;

static int
side_effect(void)
{
    evaluated++;
    return 1;
}

static void
test_level_checked_before_arguments(void)
{
    char out[4096];

    hd_log_init("test", HD_LOG_WARN);
    evaluated = 0;
    capture_start();
    hd_log(HD_LOG_DEBUG, 0, "x %d", side_effect());
    hd_log(HD_LOG_INFO, 0, "x %d", side_effect());
    capture_end(out, sizeof(out));
    ASSERT_INT_EQ(evaluated, 0);
    ASSERT_STR_EQ(out, "");
    capture_start();
    hd_log(HD_LOG_ERROR, 0, "x %d", side_effect());
    capture_end(out, sizeof(out));
    ASSERT_INT_EQ(evaluated, 1);
}

static void
test_json_line_with_context_and_errno(void)
{
    char out[4096];

    hd_log_init("herald-test", HD_LOG_DEBUG);
    capture_start();
    hd_log_ctx_set("req_id", "%s", "abc123");
    hd_log_ctx_set("offset", "%d", 42);
    hd_log(HD_LOG_WARN, 2, "open \"%s\" failed", "f");
    hd_log_ctx_clear();
    hd_log(HD_LOG_INFO, 0, "after");
    capture_end(out, sizeof(out));
    ASSERT_STR_CONTAINS(out, "\"level\":\"warn\"");
    ASSERT_STR_CONTAINS(out, "\"service\":\"herald-test\"");
    ASSERT_STR_CONTAINS(out, "\"msg\":\"open \\\"f\\\" failed\"");
    ASSERT_STR_CONTAINS(out, "\"errno\":\"2\"");
    ASSERT_STR_CONTAINS(out, "No such file");
    ASSERT_STR_CONTAINS(out, "\"req_id\":\"abc123\"");
    ASSERT_STR_CONTAINS(out, "\"offset\":\"42\"");
    /* two lines, the second without context */
    ASSERT_STR_CONTAINS(strchr(out, '\n') + 1, "\"msg\":\"after\"}\n");
}

static void
test_scrub_masks_secrets(void)
{
    char a[] = "Authorization: Bearer abc.def.ghi sent";
    char b[] = "got apikey s3cr3tkey from client";
    char c[] = "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.sig end";
    char d[] = "client_secret=hunter2&grant_type=x";
    char e[] = "{\"access_token\":\"ya29.tok\",\"expires_in\":3600}";
    char f[] = "provider fcm answered 404 for device 7";

    hd_log_scrub(a);
    hd_log_scrub(b);
    hd_log_scrub(c);
    hd_log_scrub(d);
    hd_log_scrub(e);
    hd_log_scrub(f);
    ASSERT_STR_LACKS(a, "abc.def");
    ASSERT_STR_LACKS(b, "s3cr3t");
    ASSERT_STR_LACKS(c, "eyJzdWIi");
    ASSERT_STR_CONTAINS(c, " end");
    ASSERT_STR_LACKS(d, "hunter2");
    ASSERT_STR_CONTAINS(d, "grant_type=x");
    ASSERT_STR_LACKS(e, "ya29");
    ASSERT_STR_CONTAINS(e, "\"expires_in\":3600");
    ASSERT_STR_EQ(f, "provider fcm answered 404 for device 7");
}

static void
test_messages_are_scrubbed_when_logged(void)
{
    char out[4096];

    hd_log_init("t", HD_LOG_DEBUG);
    capture_start();
    hd_log(HD_LOG_INFO, 0, "auth header Bearer %s", "topsecretjwt");
    hd_log_ctx_set("token", "apikey %s", "verysecret");
    hd_log(HD_LOG_INFO, 0, "x");
    hd_log_ctx_clear();
    capture_end(out, sizeof(out));
    ASSERT_STR_LACKS(out, "topsecretjwt");
    ASSERT_STR_LACKS(out, "verysecret");
}

static void
test_redact_fingerprint(void)
{
    char out[64];

    ASSERT_STR_EQ(hd_log_redact("dGhpc2lzYXRva2Vu", out, sizeof(out)),
                  "dGhp...(16)");
    ASSERT_STR_EQ(hd_log_redact("short", out, sizeof(out)), "***(5)");
}

static void
test_level_parse(void)
{
    enum hd_log_level l;

    ASSERT_INT_EQ(hd_log_level_parse("DEBUG", &l), 0);
    ASSERT_INT_EQ(l, HD_LOG_DEBUG);
    ASSERT_INT_EQ(hd_log_level_parse("warning", &l), 0);
    ASSERT_INT_EQ(l, HD_LOG_WARN);
    ASSERT_INT_EQ(hd_log_level_parse("loud", &l), -1);
}

int
main(void)
{
    RUN_TEST(test_level_checked_before_arguments);
    RUN_TEST(test_json_line_with_context_and_errno);
    RUN_TEST(test_scrub_masks_secrets);
    RUN_TEST(test_messages_are_scrubbed_when_logged);
    RUN_TEST(test_redact_fingerprint);
    RUN_TEST(test_level_parse);
    return UNIT_DONE();
}
