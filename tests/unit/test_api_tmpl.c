/* test_api_tmpl.c -- unit tests for herald-api's push templates
 * (api_tmpl.c) and the per-device params (api_personal.c): the grammar
 * Centrifugo documents, what is refused, the bound on a rendering, and
 * the locale fallback. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "core/buf.h"
#include "services/api/api_personal.h"
#include "services/api/api_tmpl.h"
#include "core/banned.h"

static const struct api_rules lax = {0}; /* the defaults */

/* src rendered for a device "d1" of user "u1" with meta {first: Ana} and
 * translations {hi: Oi}, into out (NUL-terminated). 0 or -1. */
static int
render(const char *src, char *out, size_t outsz, size_t max)
{
    json_t *meta = json_pack("{s:s}", "first", "Ana");
    json_t *l10n = json_pack("{s:s}", "hi", "Oi");
    struct api_tmpl_vars v = {"d1", "u1", meta, l10n};
    struct hd_err err = {0};
    struct api_tmpl *t = api_tmpl_compile(src, strlen(src), 1, "p", &err);
    struct hd_buf b;
    int rc = -1;

    hd_buf_init(&b, 65536);
    if (t != NULL && api_tmpl_render(t, &v, max, &b, &err) == 0) {
        snprintf(out, outsz, "%.*s", (int)b.len, b.data ? b.data : "");
        rc = 0;
    }
    hd_buf_release(&b);
    api_tmpl_free(t);
    json_decref(meta);
    json_decref(l10n);
    return rc;
}

static void
test_grammar(void)
{
    char out[256];

    ASSERT_INT_EQ(render("Hi {{.device.meta.first}}!", out, sizeof(out), 100),
                  0);
    ASSERT_STR_EQ(out, "Hi Ana!");
    ASSERT_INT_EQ(render("{{ default [[Hello]] .l10n.hi }} {{.l10n.no | "
                         "default \"x\\\"y\"}}",
                         out, sizeof(out), 100),
                  0);
    ASSERT_STR_EQ(out, "Oi x\"y");
    ASSERT_INT_EQ(render("{{device.id}}/{{.device.user}}/{{.device.meta.none}}"
                         "/{{[[lit]]}}",
                         out, sizeof(out), 100),
                  0);
    ASSERT_STR_EQ(out, "d1/u1//lit");
    ASSERT_INT_EQ(render("no actions", out, sizeof(out), 100), 0);
    ASSERT_STR_EQ(out, "no actions");
}

static void
test_refused(void)
{
    static const char *const bad[] = {
        "{{.device.token}}", "{{.l10n.hi}}",        "{{ }}",
        "{{.device.id",      "{{printf 1 2}}",      "{{default [[a .l10n.hi}}",
        "{{\"bad \\q\"}}",   "{{.device.meta.a-b}}"};
    struct hd_err err = {0};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct api_tmpl *t =
            api_tmpl_compile(bad[i], strlen(bad[i]), 1, "params.x", &err);

        ASSERT_NULL(t);
        ASSERT_INT_EQ(err.code, HD_EINVAL);
        ASSERT_STR_CONTAINS(err.msg, "params.x: template action");
    }
    /* meta only with use_meta */
    ASSERT_NULL(api_tmpl_compile("{{.device.meta.a}}", 18, 0, "p", &err));
    ASSERT_STR_CONTAINS(err.msg, "use_meta");
}

static void
test_bounded(void)
{
    char out[64];

    ASSERT_INT_EQ(render("{{.device.meta.first}}{{.device.meta.first}}", out,
                         sizeof(out), 5),
                  -1);
    ASSERT_INT_EQ(render("{{.device.meta.first}}", out, sizeof(out), 3), 0);
}

static void
test_locale_fallback(void)
{
    json_t *params = json_loads(
        "{\"localizations\":{\"pt\":{\"translations\":{\"hi\":\"Oi\"}},"
        "\"pt-BR\":{\"translations\":{\"hi\":\"Oi!\"}}}}",
        0, NULL);
    json_t *n =
        json_loads("{\"fcm\":{\"message\":{\"data\":{\"t\":\"{{default [[Hi]] "
                   ".l10n.hi}}\"}}}}",
                   0, NULL);
    struct api_personal p;
    struct hd_err err = {0};
    json_t *out = NULL;

    ASSERT_INT_EQ(api_personal_parse(&lax, params, n, 1, &out, &p, &err), 0);
    ASSERT_TRUE(p.templating && p.nt != NULL && !api_ntmpl_uses_device(p.nt));
    ASSERT_STR_EQ(json_string_value(
                      json_object_get(api_personal_l10n(&p, "pt-BR"), "hi")),
                  "Oi!");
    ASSERT_STR_EQ(json_string_value(
                      json_object_get(api_personal_l10n(&p, "pt-PT"), "hi")),
                  "Oi");
    ASSERT_NULL(api_personal_l10n(&p, "de"));
    ASSERT_NULL(api_personal_l10n(&p, ""));
    api_personal_release(&p);
    json_decref(out);
    /* not a filter recipient: refused */
    ASSERT_INT_EQ(api_personal_parse(&lax, params, n, 0, &out, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "params.localizations: only with");
    json_decref(params);
    json_decref(n);
}

int
main(void)
{
    RUN_TEST(test_grammar);
    RUN_TEST(test_refused);
    RUN_TEST(test_bounded);
    RUN_TEST(test_locale_fallback);
    return UNIT_DONE();
}
