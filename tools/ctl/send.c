/* send.c -- heraldctl send: one push to users, topics, devices or raw
 * tokens, from --title/--body/--data or a notification in a JSON file;
 * prints the uid.
 *
 * From the flags it builds each provider's part in the provider's own
 * format (an FCM and an HMS message, an APNs alert or background push);
 * a --file notification goes as it is. Every name of the request comes
 * from names.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/json.h"
#include "core/limits.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/names.h"
#include "core/banned.h"

static const char help[] =
    "Usage: heraldctl send RECIPIENTS CONTENT [options]\n"
    "\n"
    "Sends one push and prints its uid (follow it with heraldctl status).\n"
    "\n"
    "Recipients (one kind, repeatable, or a comma-separated list):\n"
    "  --user USER            every device of the user\n"
    "  --topic TOPIC          every device subscribed to the topic\n"
    "  --device ID            registered devices by id\n"
    "  --fcm-token TOKEN      raw provider tokens (not registered)\n"
    "  --apns-token TOKEN\n"
    "  --hms-token TOKEN\n"
    "\n"
    "Content:\n"
    "  --title TEXT --body TEXT  an alert; without them a data-only push\n"
    "  --data KEY=VALUE       custom data (repeatable)\n"
    "  --file FILE            the notification object as the API takes it\n"
    "                         "
    "({\"fcm\":{\"message\":…},\"apns\":…,\"hms\":…}),\n"
    "                         - for stdin; not with --title/--body/--data\n"
    "  --providers LIST       parts to build from the flags (default\n"
    "                         fcm,apns,hms)\n"
    "\n"
    "Options:\n"
    "  --uid UID              the push's uid (default: the API makes one;\n"
    "                         a uid already sent is not sent again)\n"
    "  --ttl SECONDS          drop it if not delivered by then\n"
    "  --at TIME              deliver at TIME: Unix seconds, "
    "+30s/+10m/+2h/+1d\n"
    "                         or 2026-12-24T18:00:00Z (the API's send_at)\n"
    "  --dry-run              print the request instead of sending it\n"
    "  --json                 print the API's whole result\n"
    "\n"
    "Example:\n"
    "  heraldctl send --user alice --title Hello --body 'How are you?' \\\n"
    "      --data order=42\n";

enum {
    O_USER = 1,
    O_TOPIC,
    O_DEVICE,
    O_FCM,
    O_APNS,
    O_HMS,
    O_TITLE,
    O_BODY,
    O_DATA,
    O_FILE,
    O_PROVIDERS,
    O_UID,
    O_TTL,
    O_AT,
    O_DRY,
    O_JSON,
};

static const struct ctl_opt opts[] = {
    {"user", 1, O_USER},
    {"topic", 1, O_TOPIC},
    {"device", 1, O_DEVICE},
    {"fcm-token", 1, O_FCM},
    {"apns-token", 1, O_APNS},
    {"hms-token", 1, O_HMS},
    {"title", 1, O_TITLE},
    {"body", 1, O_BODY},
    {"data", 1, O_DATA},
    {"file", 1, O_FILE},
    {"providers", 1, O_PROVIDERS},
    {"uid", 1, O_UID},
    {"ttl", 1, O_TTL},
    {"at", 1, O_AT},
    {"dry-run", 0, O_DRY},
    {"json", 0, O_JSON},
    {NULL, 0, 0},
};

/* The recipient kinds, by option id; registry ones go through
 * CTL_R_FILTER. */
static const struct {
    int id;
    const char *field;
    int registry;
} kinds[] = {
    {O_USER, CTL_R_USERS, 1},       {O_TOPIC, CTL_R_TOPICS, 1},
    {O_DEVICE, CTL_R_DEVICES, 1},   {O_FCM, CTL_R_FCM_TOKENS, 0},
    {O_APNS, CTL_R_APNS_TOKENS, 0}, {O_HMS, CTL_R_HMS_TOKENS, 0},
};

struct send {
    int kind;   /* index into kinds, -1 none yet */
    json_t *to; /* the recipient list */
    const char *title, *body, *file, *uid, *providers;
    json_t *data;  /* {key: value} */
    long long ttl; /* 0: none */
    long long at;  /* 0: now */
    int json;
};

/* Appends a comma-separated list to s->to. */
static int
add_recipients(struct ctl *c, struct send *s, int kind, const char *v)
{
    const char *p = v;

    if (s->kind >= 0 && s->kind != kind)
        return ctl_usage(
            c, "send", "one kind of recipient per push (--%s and --%s)",
            opts[kinds[s->kind].id - 1].name, opts[kinds[kind].id - 1].name);
    s->kind = kind;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n > 0)
            json_array_append_new(s->to, json_stringn(p, n));
        p += n + (end ? 1 : 0);
    }
    return CTL_OK;
}

/* --at: Unix seconds, +N[smhd] from now, or an ISO-8601 UTC time. */
static int
parse_time(const char *s, long long now, long long *out)
{
    struct tm tm;
    const char *end;
    long long v;
    char unit;
    size_t n = strlen(s);

    if (s[0] == '+' && n >= 3) { /* +N[smhd] */
        char num[32];
        long long mult;

        unit = s[n - 1];
        mult = unit == 's'   ? 1
               : unit == 'm' ? 60
               : unit == 'h' ? 3600
               : unit == 'd' ? 86400
                             : 0;
        if (mult == 0 || n - 2 >= sizeof(num))
            return -1;
        memcpy(num, s + 1, n - 2);
        num[n - 2] = '\0';
        if (hd_parse_ll(num, 0, 366LL * 86400, &v) < 0)
            return -1;
        *out = now + v * mult;
        return 0;
    }
    if (hd_parse_ll(s, 0, 253402300799LL, out) == 0)
        return 0;
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL || (strcmp(end, "Z") != 0 && strcmp(end, "") != 0))
        return -1;
    *out = (long long)timegm(&tm);
    return 0;
}

static int
wants(const struct send *s, const char *provider)
{
    const char *p = s->providers ? s->providers : "fcm,apns,hms";
    size_t n = strlen(provider);

    while (*p) {
        if (strncmp(p, provider, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
        p = strchr(p, ',');
        if (p == NULL)
            break;
        p++;
    }
    return 0;
}

/* The per-provider parts from --title/--body/--data. */
static json_t *
build_notification(const struct send *s)
{
    json_t *n = json_object();
    int alert = s->title != NULL || s->body != NULL;
    json_t *text = json_object();

    if (s->title)
        json_object_set_new(text, "title", json_string(s->title));
    if (s->body)
        json_object_set_new(text, "body", json_string(s->body));
    if (wants(s, "fcm")) {
        json_t *m = json_object();

        if (alert)
            json_object_set(m, "notification", text);
        if (json_object_size(s->data) > 0)
            json_object_set(m, "data", s->data);
        json_object_set_new(n, "fcm", json_pack("{s:o}", "message", m));
    }
    if (wants(s, "apns")) {
        json_t *payload = json_deep_copy(s->data);
        json_t *aps = alert ? json_pack("{s:O}", "alert", text)
                            : json_pack("{s:i}", "content-available", 1);

        json_object_set_new(payload, "aps", aps);
        json_object_set_new(
            n, "apns",
            json_pack("{s:{s:s,s:s},s:o}", "headers", "apns-push-type",
                      alert ? "alert" : "background", "apns-priority",
                      alert ? "10" : "5", "payload", payload));
    }
    if (wants(s, "hms")) {
        json_t *m = json_object();

        if (alert) {
            json_t *an = json_deep_copy(text);

            json_object_set_new(an, "click_action",
                                json_pack("{s:i}", "type", 3));
            json_object_set_new(m, "android",
                                json_pack("{s:o}", "notification", an));
        }
        if (json_object_size(s->data) > 0) {
            char *d = json_dumps(s->data, JSON_COMPACT | JSON_SORT_KEYS);

            json_object_set_new(m, "data", json_string(d ? d : "{}"));
            free(d);
        }
        json_object_set_new(n, "hms", json_pack("{s:o}", "message", m));
    }
    json_decref(text);
    return n;
}

/* The notification of --file (a new object), or NULL (reported). */
static json_t *
read_notification(struct ctl *c, const char *path)
{
    json_error_t je;
    json_t *n;

    if (strcmp(path, "-") == 0)
        n = json_loadf(stdin, 0, &je);
    else
        n = json_load_file(path, 0, &je);
    if (n == NULL) {
        ctl_error(c, "send: --file %s: %s (line %d)", path, je.text, je.line);
        return NULL;
    }
    if (!json_is_object(n)) {
        ctl_error(c, "send: --file %s: not a JSON object", path);
        json_decref(n);
        return NULL;
    }
    return n;
}

/* One content or delivery option; CTL_OK or a reported CTL_EUSAGE. */
static int
option(struct ctl *c, struct send *s, int id, const char *arg)
{
    const char *eq;

    switch (id) {
    case O_TITLE:
        s->title = arg;
        return CTL_OK;
    case O_BODY:
        s->body = arg;
        return CTL_OK;
    case O_DATA:
        eq = strchr(arg, '=');
        if (eq == NULL || eq == arg)
            return ctl_usage(c, "send", "--data %.64s: KEY=VALUE", arg);
        json_object_setn_new_nocheck(s->data, arg, (size_t)(eq - arg),
                                     json_string(eq + 1));
        return CTL_OK;
    case O_FILE:
        s->file = arg;
        return CTL_OK;
    case O_PROVIDERS:
        s->providers = arg;
        return CTL_OK;
    case O_UID:
        s->uid = arg;
        return CTL_OK;
    case O_TTL:
        return ctl_opt_int(c, "send", "--ttl", arg, 1, 366LL * 86400, &s->ttl);
    case O_AT:
        if (parse_time(arg, (long long)time(NULL), &s->at) < 0)
            return ctl_usage(c, "send",
                             "--at %.64s: Unix seconds, +N[smhd] or "
                             "YYYY-MM-DDTHH:MM:SSZ",
                             arg);
        return CTL_OK;
    case O_DRY:
        c->dry_run = 1;
        return CTL_OK;
    case O_JSON:
        s->json = 1;
        return CTL_OK;
    default:
        return CTL_EUSAGE;
    }
}

/* What the whole line asks for makes one push. */
static int
check(struct ctl *c, const struct send *s)
{
    if (s->kind < 0 || json_array_size(s->to) == 0)
        return ctl_usage(c, "send",
                         "no recipient (--user, --topic, "
                         "--device or --*-token)");
    if (s->file != NULL &&
        (s->title || s->body || json_object_size(s->data) > 0))
        return ctl_usage(c, "send",
                         "--file or --title/--body/--data, not "
                         "both");
    if (s->file == NULL && !s->title && !s->body &&
        json_object_size(s->data) == 0)
        return ctl_usage(c, "send",
                         "nothing to send (--title, --body, "
                         "--data or --file)");
    return CTL_OK;
}

static int
parse(struct ctl *c, struct send *s, int argc, char **argv)
{
    struct ctl_opts o;
    char **rest;
    int id, rc = CTL_OK;
    size_t k;

    ctl_opts_init(&o, c, "send", argc, argv, opts);
    while (rc == CTL_OK && (id = ctl_opts_next(&o)) != CTL_OPT_END) {
        for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            if (kinds[k].id == id)
                break;
        if (id == CTL_OPT_HELP) {
            ctl_opts_release(&o);
            ctl_help(help);
            return -1;
        }
        if (id == CTL_OPT_BAD)
            rc = CTL_EUSAGE;
        else if (k < sizeof(kinds) / sizeof(kinds[0]))
            rc = add_recipients(c, s, (int)k, o.arg);
        else
            rc = option(c, s, id, o.arg);
    }
    if (rc == CTL_OK && ctl_opts_rest(&o, &rest) > 0)
        rc = ctl_usage(c, "send", "unexpected argument \"%.64s\"", rest[0]);
    ctl_opts_release(&o);
    return rc != CTL_OK ? rc : check(c, s);
}

/* The whole params object; NULL when --file could not be read. */
static json_t *
build_params(struct ctl *c, const struct send *s)
{
    json_t *n = s->file ? read_notification(c, s->file) : build_notification(s);
    json_t *p, *to, *rcpt;

    if (n == NULL)
        return NULL;
    if (s->uid)
        json_object_set_new(n, CTL_F_UID, json_string(s->uid));
    if (s->ttl > 0)
        json_object_set_new(n, CTL_F_EXPIRE_AT,
                            json_integer((json_int_t)time(NULL) + s->ttl));
    to = json_pack("{s:O}", kinds[s->kind].field, s->to);
    rcpt = json_object();
    ctl_put_filter(rcpt, kinds[s->kind].registry ? CTL_R_FILTER : "", to);
    json_decref(to);
    p = json_pack("{s:o,s:o}", CTL_F_RECIPIENT, rcpt, CTL_F_NOTIFICATION, n);
    if (s->at > 0)
        json_object_set_new(p, CTL_F_SEND_AT, json_integer(s->at));
    return p;
}

int
ctl_cmd_send(struct ctl *c, int argc, char **argv)
{
    struct send s;
    json_t *params, *res = NULL;
    int rc;

    memset(&s, 0, sizeof(s));
    s.kind = -1;
    s.to = json_array();
    s.data = json_object();
    rc = parse(c, &s, argc, argv);
    if (rc != CTL_OK)
        goto out;
    params = build_params(c, &s);
    if (params == NULL) {
        rc = CTL_EUSAGE;
        goto out;
    }
    rc = ctl_call(c, CTL_M_SEND, params, &res);
    if (rc == CTL_OK && res != NULL) {
        const char *uid = json_string_value(json_object_get(res, CTL_F_UID));

        if (s.json)
            ctl_print_json(res);
        else
            printf("%s\n", uid ? uid : "");
    } else if (rc == CTL_EAPI && s.at > 0) {
        fprintf(stderr,
                "heraldctl: (--at sends \"" CTL_F_SEND_AT "\": %lld; "
                "an API that does not schedule pushes refuses it)\n",
                s.at);
    }
out:
    json_decref(res);
    json_decref(s.to);
    json_decref(s.data);
    return rc < 0 ? CTL_OK : rc;
}
