/* test_log.c -- unit tests for common/core/log.c: lines are captured by
 * pointing stderr at a pipe. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/banned.h"

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

/* Paths, identifiers and addresses of secrets are not secrets: operators
 * need to see which key file a service reads. The secrets stay masked. */
static void
test_scrub_shows_paths_masks_secrets(void)
{
    char a[] = "{\"HERALD_JWT_PUBLIC_KEY_FILE\":\"/etc/herald/jwt.pem\","
               "\"HERALD_APNS_KEY_ID\":\"ABC123\","
               "\"HERALD_WORKER_FCM_TOKEN_URL\":\"https://oauth.test/t\","
               "\"HERALD_API_KEY\":\"(set)\","
               "\"HERALD_INTERNAL_KEY\":\"s3cr3t-value\","
               "\"client_secret\":\"two words\","
               "\"HERALD_API_CLEAR_TOKEN_ANONYMOUS\":false,"
               "\"HERALD_API_CLEAR_TOKEN_RATE\":1,"
               "\"HERALD_T_TOKEN\":trueish}";
    char b[] = "HERALD_JWT_SECRET=s3cr3t-value HERALD_API_KEYS=k1,k2";
    char c[] = "{\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n"
               "-----END PRIVATE KEY-----\\n\",\"client_email\":\"a@b\"}";
    char d[] = "sasl.password=hunter2 key_file=/run/k.pem";
    char e[] = "client_secret=123456&pin=1";

    hd_log_scrub(a);
    hd_log_scrub(b);
    hd_log_scrub(c);
    hd_log_scrub(d);
    ASSERT_STR_CONTAINS(a, "\"HERALD_JWT_PUBLIC_KEY_FILE\":"
                           "\"/etc/herald/jwt.pem\"");
    ASSERT_STR_CONTAINS(a, "\"HERALD_APNS_KEY_ID\":\"ABC123\"");
    ASSERT_STR_CONTAINS(a, "\"https://oauth.test/t\"");
    ASSERT_STR_CONTAINS(a, "\"HERALD_API_KEY\":\"(set)\"");
    ASSERT_STR_CONTAINS(a, "\"HERALD_INTERNAL_KEY\":\"***\"");
    ASSERT_STR_CONTAINS(a, "\"client_secret\":\"***\",");
    /* a boolean setting is shown; a word that only starts like one is not */
    ASSERT_STR_CONTAINS(a, "\"HERALD_API_CLEAR_TOKEN_ANONYMOUS\":false,");
    ASSERT_STR_CONTAINS(a, "\"HERALD_API_CLEAR_TOKEN_RATE\":1,");
    ASSERT_STR_LACKS(a, "trueish");
    ASSERT_STR_LACKS(b, "s3cr3t");
    ASSERT_STR_LACKS(b, "k1");
    ASSERT_STR_LACKS(c, "MIIEvQ");
    ASSERT_STR_LACKS(c, "END PRIVATE");
    ASSERT_STR_CONTAINS(c, "\"client_email\":\"a@b\"");
    ASSERT_STR_EQ(d, "sasl.password=*** key_file=/run/k.pem");
    hd_log_scrub(e); /* a number is a secret outside a JSON member */
    ASSERT_STR_LACKS(e, "123456");
}

/* An error naming a variable stays readable; the same name used to show
 * a value is still masked. */
static void
test_scrub_keeps_variable_names_in_errors(void)
{
    char a[] = "bad configuration: HERALD_API_KEY: required but not set";
    char b[] = "HERALD_API_KEY: empty key in the list";
    char c[] = "user tokens: HERALD_JWT_PUBLIC_KEY_FILE: open /x: gone";
    char d[] = "set HERALD_JWT_SECRET: hunter2";
    char e[] = "device token: f00dcafe rejected";

    hd_log_scrub(a);
    hd_log_scrub(b);
    hd_log_scrub(c);
    hd_log_scrub(d);
    hd_log_scrub(e);
    ASSERT_STR_EQ(a, "bad configuration: HERALD_API_KEY: required but not set");
    ASSERT_STR_EQ(b, "HERALD_API_KEY: empty key in the list");
    ASSERT_STR_EQ(c, "user tokens: HERALD_JWT_PUBLIC_KEY_FILE: open /x: gone");
    ASSERT_STR_EQ(d, "set HERALD_JWT_SECRET: ***");
    ASSERT_STR_EQ(e, "device token: *** rejected");
}

struct dump_cfg {
    char *key_file;
    char *secret;
    char *api_key;
};

static const struct hd_config_field dump_fields[] = {
    HD_CFG_STR("HERALD_T_PUBLIC_KEY_FILE", struct dump_cfg, key_file, NULL, 0,
               "a path"),
    HD_CFG_STR("HERALD_T_SECRET", struct dump_cfg, secret, NULL, HD_CFG_SECRET,
               "a secret"),
    HD_CFG_STR("HERALD_T_API_KEY", struct dump_cfg, api_key, NULL,
               HD_CFG_SECRET, "another"),
    HD_CFG_END,
};

/* What a service logs at start: its configuration dump, through the
 * logger. The key file's path shows, secrets do not. */
static void
test_logged_config_dump_shows_paths_only(void)
{
    struct dump_cfg cfg;
    struct hd_config_section sec = {dump_fields, &cfg};
    struct hd_err err = {0};
    struct hd_buf dump;
    char out[4096];

    setenv("HERALD_T_PUBLIC_KEY_FILE", "/etc/herald/jwt-public.pem", 1);
    setenv("HERALD_T_SECRET", "s3cr3t-value", 1);
    unsetenv("HERALD_T_API_KEY");
    ASSERT_INT_EQ(hd_config_load(&sec, 1, &err), 0);
    hd_buf_init(&dump, 4096);
    ASSERT_INT_EQ(hd_config_dump(&sec, 1, &dump, &err), 0);
    hd_log_init("t", HD_LOG_DEBUG);
    capture_start();
    hd_log(HD_LOG_INFO, 0, "starting with configuration %s", dump.data);
    capture_end(out, sizeof(out));
    hd_buf_release(&dump);
    hd_config_release(&sec, 1);
    unsetenv("HERALD_T_PUBLIC_KEY_FILE");
    unsetenv("HERALD_T_SECRET");
    ASSERT_STR_CONTAINS(out, "/etc/herald/jwt-public.pem");
    ASSERT_STR_CONTAINS(out, "HERALD_T_SECRET\\\":\\\"(set)");
    ASSERT_STR_CONTAINS(out, "HERALD_T_API_KEY\\\":\\\"(unset)");
    ASSERT_STR_LACKS(out, "s3cr3t");
    ASSERT_TRUE(cfg.key_file == NULL && cfg.secret == NULL);
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
    RUN_TEST(test_scrub_shows_paths_masks_secrets);
    RUN_TEST(test_scrub_keeps_variable_names_in_errors);
    RUN_TEST(test_logged_config_dump_shows_paths_only);
    RUN_TEST(test_messages_are_scrubbed_when_logged);
    RUN_TEST(test_redact_fingerprint);
    RUN_TEST(test_level_parse);
    return UNIT_DONE();
}
