/* test_config.c -- unit tests for common/core/config.c. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "core/config.h"

struct cfg {
    int port;
    int debug;
    char *dsn;
    char *mode;
    char *name;
};

static const struct hd_config_field fields[] = {
    HD_CFG_INT("HT_PORT", struct cfg, port, 8080, 1, 65535, "port"),
    HD_CFG_BOOL("HT_DEBUG", struct cfg, debug, false, "debug"),
    HD_CFG_STR("HT_DSN", struct cfg, dsn, NULL, HD_CFG_SECRET, "dsn"),
    HD_CFG_ENUM("HT_MODE", struct cfg, mode, "cloud", "cloud|selfhosted",
                "mode"),
    HD_CFG_STR("HT_NAME", struct cfg, name, "herald", 0, "name"),
    HD_CFG_END,
};

static void
clear_env(void)
{
    unsetenv("HT_PORT");
    unsetenv("HT_DEBUG");
    unsetenv("HT_DSN");
    unsetenv("HT_MODE");
    unsetenv("HT_NAME");
    unsetenv("HT_REQ");
    unsetenv("HT_X_FETCH_WAIT_MAX_MS");
}

static void
test_defaults(void)
{
    struct cfg c;
    struct hd_config_section s = {fields, &c};

    clear_env();
    ASSERT_INT_EQ(hd_config_load(&s, 1, NULL), 0);
    ASSERT_INT_EQ(c.port, 8080);
    ASSERT_INT_EQ(c.debug, 0);
    ASSERT_NULL(c.dsn);
    ASSERT_STR_EQ(c.mode, "cloud");
    ASSERT_STR_EQ(c.name, "herald");
    hd_config_release(&s, 1);
    ASSERT_NULL(c.mode);
}

static void
test_values_from_env(void)
{
    struct cfg c;
    struct hd_config_section s = {fields, &c};

    clear_env();
    setenv("HT_PORT", "9000", 1);
    setenv("HT_DEBUG", "yes", 1);
    setenv("HT_DSN", "postgresql://u:pw@h/db", 1);
    setenv("HT_MODE", "selfhosted", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, NULL), 0);
    ASSERT_INT_EQ(c.port, 9000);
    ASSERT_INT_EQ(c.debug, 1);
    ASSERT_STR_EQ(c.dsn, "postgresql://u:pw@h/db");
    ASSERT_STR_EQ(c.mode, "selfhosted");
    hd_config_release(&s, 1);
}

static void
test_bad_values_name_the_variable(void)
{
    struct cfg c;
    struct hd_config_section s = {fields, &c};
    struct hd_err err = {0};

    clear_env();
    setenv("HT_PORT", "70000", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HT_PORT");
    ASSERT_STR_CONTAINS(err.msg, "70000");
    setenv("HT_PORT", "80x", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HT_PORT");
    clear_env();
    setenv("HT_DEBUG", "maybe", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HT_DEBUG");
    clear_env();
    setenv("HT_MODE", "hybrid", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HT_MODE");
    ASSERT_STR_CONTAINS(err.msg, "cloud|selfhosted");
    ASSERT_NULL(c.name); /* released on failure */
    clear_env();
}

static void
test_secret_never_in_error_or_dump(void)
{
    static const struct hd_config_field f2[] = {
        {"HT_DSN", HD_CFG_T_STR, offsetof(struct cfg, dsn), NULL, 0, 5,
         HD_CFG_SECRET, NULL, "dsn"},
        HD_CFG_END,
    };
    struct cfg c;
    struct hd_config_section s = {f2, &c};
    struct hd_config_section s1 = {fields, &c};
    struct hd_err err = {0};
    struct hd_buf b;

    clear_env();
    setenv("HT_DSN", "supersecretvalue", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HT_DSN");
    ASSERT_STR_LACKS(err.msg, "supersecret");

    ASSERT_INT_EQ(hd_config_load(&s1, 1, NULL), 0);
    hd_buf_init(&b, 4096);
    ASSERT_INT_EQ(hd_config_dump(&s1, 1, &b, NULL), 0);
    ASSERT_STR_LACKS(b.data, "supersecret");
    ASSERT_STR_CONTAINS(b.data, "\"HT_DSN\":\"(set)\"");
    ASSERT_STR_CONTAINS(b.data, "\"HT_PORT\":8080");
    hd_buf_release(&b);
    hd_config_release(&s1, 1);
    clear_env();
}

static void
test_required(void)
{
    static const struct hd_config_field f2[] = {
        HD_CFG_STR("HT_REQ", struct cfg, name, NULL, HD_CFG_REQUIRED, "r"),
        HD_CFG_END,
    };
    struct cfg c;
    struct hd_config_section s = {f2, &c};
    struct hd_err err = {0};

    clear_env();
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HT_REQ: required");
    setenv("HT_REQ", "x", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, &err), 0);
    hd_config_release(&s, 1);
    clear_env();
}

static int
collect(const char *name, const char *value, void *ud)
{
    struct hd_buf *b = ud;

    return hd_buf_printf(b, NULL, "%s=%s;", name, value);
}

static void
test_extra_variables_pass_through(void)
{
    struct cfg c;
    struct hd_config_section s = {fields, &c};
    struct hd_buf b;

    clear_env();
    setenv("HT_X_FETCH_WAIT_MAX_MS", "1", 1);
    setenv("HT_PORT", "1234", 1);
    hd_buf_init(&b, 4096);
    ASSERT_INT_EQ(hd_config_each_extra("HT_", &s, 1, collect, &b), 0);
    ASSERT_STR_CONTAINS(b.data, "HT_X_FETCH_WAIT_MAX_MS=1;");
    ASSERT_STR_LACKS(b.data, "HT_PORT");
    hd_buf_release(&b);
    clear_env();
}

static void
test_help_lists_every_variable(void)
{
    struct cfg c;
    struct hd_config_section s = {fields, &c};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    hd_config_help(f, &s, 1);
    fclose(f);
    ASSERT_STR_CONTAINS(text, "HT_PORT");
    ASSERT_STR_CONTAINS(text, "integer 1..65535, default 8080");
    ASSERT_STR_CONTAINS(text, "one of cloud|selfhosted");
    ASSERT_STR_CONTAINS(text, "HT_DSN");
    free(text);
}

static void
test_parse_numbers(void)
{
    long long v = 0;
    int i = 0;

    ASSERT_INT_EQ(hd_parse_ll("-5", -10, 10, &v), 0);
    ASSERT_INT_EQ(v, -5);
    ASSERT_INT_EQ(hd_parse_ll("", 0, 10, &v), -1);
    ASSERT_INT_EQ(hd_parse_ll("5 ", 0, 10, &v), -1);
    ASSERT_INT_EQ(hd_parse_ll("99999999999999999999", 0, 10, &v), -1);
    ASSERT_INT_EQ(hd_parse_int("7", 0, 10, &i), 0);
    ASSERT_INT_EQ(i, 7);
    ASSERT_INT_EQ(hd_parse_int("11", 0, 10, &i), -1);
}

/* hd_config_load_file: what the environment left unset, from the file. */
struct fcfg {
    char *url;
    char *key;
    char *app;
    char *mode;
};

static const struct hd_config_field ffields[] = {
    HD_CFG_STR("HT_URL", struct fcfg, url, NULL, 0, "url"),
    HD_CFG_STR("HT_KEY", struct fcfg, key, NULL, HD_CFG_SECRET, "key"),
    HD_CFG_STR("HT_APP", struct fcfg, app, NULL, 0, "app"),
    HD_CFG_ENUM("HT_FMODE", struct fcfg, mode, NULL, "a|b", "mode"),
    HD_CFG_END,
};

/* Writes text to a new file; its path in path (or "" on failure). */
static void
write_file(char *path, size_t len, const char *text)
{
    int fd;
    FILE *fp;

    snprintf(path, len, "/tmp/herald-test-config-XXXXXX");
    fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    fp = fdopen(fd, "w");
    ASSERT_NOT_NULL(fp);
    fputs(text, fp);
    fclose(fp);
}

static void
test_load_file(void)
{
    struct fcfg c;
    struct hd_config_section s = {ffields, &c};
    struct hd_err err = {0};
    char path[64];

    unsetenv("HT_URL");
    unsetenv("HT_APP");
    unsetenv("HT_FMODE");
    setenv("HT_KEY", "from-env", 1);
    ASSERT_INT_EQ(hd_config_load(&s, 1, NULL), 0);
    write_file(path, sizeof(path),
               "# a comment\n\nexport HT_URL=http://x:1/\r\n"
               "HT_KEY=from-file\nHT_OTHER=ignored\nHT_APP=\n"
               "no equals sign\n");
    ASSERT_INT_EQ(hd_config_load_file(&s, 1, path, &err), 1);
    ASSERT_STR_EQ(c.url, "http://x:1/");
    ASSERT_STR_EQ(c.key, "from-env"); /* the environment wins */
    ASSERT_NULL(c.app);               /* an empty value is no value */
    unlink(path);
    ASSERT_INT_EQ(hd_config_load_file(&s, 1, path, &err), 0); /* absent */
    hd_config_release(&s, 1);

    /* a bad value names the file, the line and the variable */
    unsetenv("HT_KEY");
    ASSERT_INT_EQ(hd_config_load(&s, 1, NULL), 0);
    write_file(path, sizeof(path), "HT_URL=u\nHT_FMODE=c\n");
    ASSERT_INT_EQ(hd_config_load_file(&s, 1, path, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, ":2: HT_FMODE: must be one of a|b");
    unlink(path);
    hd_config_release(&s, 1);
    ASSERT_NULL(c.url);
}

/* var/stack.env as scripts/run.sh writes it: export lines, shell-quoted
 * values; what the environment sets wins. */
static void
test_load_file_reads_shell_quoted_exports(void)
{
    char path[] = "/tmp/herald-test-config-XXXXXX";
    struct cfg c;
    struct hd_config_section sec = {fields, &c};
    struct hd_err err = {0};
    FILE *f;
    int fd;

    clear_env();
    fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    f = fdopen(fd, "w");
    ASSERT_NOT_NULL(f);
    fputs("# written by make run\n"
          "export HT_DSN='postgresql://u@h/d?x=it'\\''s'\n"
          "export HT_NAME=\"two words\"\n"
          "HT_MODE=selfhosted\n",
          f);
    fclose(f);
    memset(&c, 0, sizeof(c));
    ASSERT_INT_EQ(hd_config_load_file(&sec, 1, path, &err), 1);
    ASSERT_STR_EQ(c.dsn, "postgresql://u@h/d?x=it's");
    ASSERT_STR_EQ(c.name, "two words");
    ASSERT_STR_EQ(c.mode, "selfhosted");
    hd_config_release(&sec, 1);

    f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs("export HT_DSN='unterminated\n", f);
    fclose(f);
    memset(&c, 0, sizeof(c));
    ASSERT_INT_EQ(hd_config_load_file(&sec, 1, path, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HT_DSN: unterminated quote");
    hd_config_release(&sec, 1);
    unlink(path);
}

int
main(void)
{
    RUN_TEST(test_defaults);
    RUN_TEST(test_values_from_env);
    RUN_TEST(test_bad_values_name_the_variable);
    RUN_TEST(test_secret_never_in_error_or_dump);
    RUN_TEST(test_required);
    RUN_TEST(test_extra_variables_pass_through);
    RUN_TEST(test_help_lists_every_variable);
    RUN_TEST(test_parse_numbers);
    RUN_TEST(test_load_file);
    RUN_TEST(test_load_file_reads_shell_quoted_exports);
    return UNIT_DONE();
}
