/* creds.c -- loading the credentials directory and the extra lists.
 *
 * Only public material is needed to verify, but the files gen writes hold
 * private keys (the workers need them); hd_jwt_key_pem() takes either.
 * Any unreadable or malformed entry fails the whole load: a simulator
 * that silently drops a key makes a test fail far from the cause. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "tools/sim/creds.h"
#include "core/banned.h"

char *
sim_read_text(const char *path, size_t max, struct hd_err *err)
{
    FILE *f = fopen(path, "rb");
    struct hd_buf b;
    char chunk[4096];
    size_t n;

    if (f == NULL) {
        hd_err_set(err, HD_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    hd_buf_init(&b, max);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (hd_buf_append(&b, chunk, n, err) < 0) {
            hd_err_wrap(err, "%s", path);
            fclose(f);
            hd_buf_release(&b);
            return NULL;
        }
    }
    fclose(f);
    while (b.len > 0 && (b.data[b.len - 1] == '\n' ||
                         b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
        b.data[--b.len] = '\0';
    return hd_buf_detach(&b, NULL);
}

static char *
path_join(const char *dir, const char *name)
{
    return hd_xasprintf("%s/%s", dir, name);
}

/* Copies s into out (size n); -1 when it does not fit or is empty. */
static int
copy_id(char *out, size_t n, const char *s, size_t len)
{
    if (len == 0 || len >= n)
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

static int
add_apns(struct sim_creds *c, const char *kid, const char *team, const char *p8,
         enum sim_apns_env env, const char *topics, struct hd_err *err)
{
    struct sim_apns_key *k;

    if (c->napns == SIM_CREDS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "more than %d APNs keys",
                          SIM_CREDS_MAX);
    k = &c->apns[c->napns];
    memset(k, 0, sizeof(*k));
    if (copy_id(k->kid, sizeof(k->kid), kid, strlen(kid)) < 0 ||
        copy_id(k->team, sizeof(k->team), team, strlen(team)) < 0)
        return hd_err_set(err, HD_EINVAL,
                          "APNs key id and team id must be "
                          "1-15 characters");
    k->env = env;
    while (topics && *topics) {
        size_t len = strcspn(topics, "+");

        if (k->ntopics == SIM_CREDS_TOPICS ||
            copy_id(k->topics[k->ntopics], sizeof(k->topics[0]), topics, len) <
                0)
            return hd_err_set(err, HD_EINVAL, "APNs key %s: bad topic list",
                              kid);
        k->ntopics++;
        topics += len;
        if (*topics == '+')
            topics++;
    }
    k->key = hd_jwt_key_pem_file(p8, err);
    if (k->key == NULL)
        return hd_err_wrap(err, "APNs key %s", kid);
    if (hd_jwt_key_alg(k->key) != HD_JWT_ES256) {
        hd_jwt_key_free(k->key);
        k->key = NULL;
        return hd_err_set(err, HD_EINVAL, "APNs key %s: %s is not P-256", kid,
                          p8);
    }
    c->napns++;
    return 0;
}

/* One "KEYID:TEAMID:path[:env[:topics]]" entry of HERALD_SIM_APNS_KEYS. */
static int
parse_apns_entry(struct sim_creds *c, char *e, struct hd_err *err)
{
    char *f[5] = {NULL, NULL, NULL, NULL, NULL};
    enum sim_apns_env env = SIM_ENV_ANY;
    int n = 0;
    char *p = e;

    while (n < 5) {
        f[n++] = p;
        p = strchr(p, ':');
        if (p == NULL)
            break;
        *p++ = '\0';
    }
    if (n < 3)
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_SIM_APNS_KEYS: %s: want KEYID:TEAMID:PATH",
                          e);
    if (n >= 4 && strcmp(f[3], "production") == 0)
        env = SIM_ENV_PRODUCTION;
    else if (n >= 4 && strcmp(f[3], "sandbox") == 0)
        env = SIM_ENV_SANDBOX;
    else if (n >= 4 && f[3][0] != '\0' && strcmp(f[3], "both") != 0)
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_SIM_APNS_KEYS: %s: environment must be "
                          "both, production or sandbox",
                          f[0]);
    return add_apns(c, f[0], f[1], f[2], env, n >= 5 ? f[4] : NULL, err);
}

static int
add_account(struct sim_creds *c, const char *path, struct hd_err *err)
{
    json_error_t je;
    json_t *sa = json_load_file(path, 0, &je);
    const char *email = NULL;
    const char *kid = NULL;
    const char *project = NULL;
    const char *pem = NULL;
    struct sim_account *a;
    int rc = -1;

    if (sa == NULL)
        return hd_err_set(err, HD_EINVAL, "%s: %s", path, je.text);
    if (c->nfcm == SIM_CREDS_MAX) {
        hd_err_set(err, HD_ETOOBIG, "more than %d service accounts",
                   SIM_CREDS_MAX);
        goto out;
    }
    a = &c->fcm[c->nfcm];
    memset(a, 0, sizeof(*a));
    if (hd_json_str(sa, "", "client_email", 1, sizeof(a->email) - 1, &email,
                    err) < 0 ||
        hd_json_str(sa, "", "private_key_id", 0, sizeof(a->key_id) - 1, &kid,
                    err) < 0 ||
        hd_json_str(sa, "", "project_id", 1, sizeof(a->project) - 1, &project,
                    err) < 0 ||
        hd_json_str(sa, "", "private_key", 1, 64 * 1024, &pem, err) < 0) {
        hd_err_wrap(err, "%s", path);
        goto out;
    }
    memcpy(a->email, email, strlen(email) + 1);
    if (kid)
        memcpy(a->key_id, kid, strlen(kid) + 1);
    memcpy(a->project, project, strlen(project) + 1);
    a->key = hd_jwt_key_pem(pem, strlen(pem), err);
    if (a->key == NULL) {
        hd_err_wrap(err, "%s: private_key", path);
        goto out;
    }
    if (hd_jwt_key_alg(a->key) != HD_JWT_RS256) {
        hd_jwt_key_free(a->key);
        a->key = NULL;
        hd_err_set(err, HD_EINVAL, "%s: private_key is not RSA", path);
        goto out;
    }
    c->nfcm++;
    rc = 0;
out:
    json_decref(sa);
    return rc;
}

static int
add_hms(struct sim_creds *c, const char *id, size_t idlen, const char *secret,
        size_t slen, struct hd_err *err)
{
    struct sim_hms_app *a;

    if (c->nhms == SIM_CREDS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "more than %d HMS apps",
                          SIM_CREDS_MAX);
    a = &c->hms[c->nhms];
    if (copy_id(a->id, sizeof(a->id), id, idlen) < 0 ||
        copy_id(a->secret, sizeof(a->secret), secret, slen) < 0)
        return hd_err_set(err, HD_EINVAL, "HMS app: bad id or secret");
    c->nhms++;
    return 0;
}

static int
load_hms_file(struct sim_creds *c, const char *path, struct hd_err *err)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    const char *id = NULL;
    const char *secret = NULL;
    int rc = -1;

    if (j == NULL)
        return hd_err_set(err, HD_EINVAL, "%s: %s", path, je.text);
    if (hd_json_str(j, "", "app_id", 1, 63, &id, err) < 0 ||
        hd_json_str(j, "", "client_secret", 1, 127, &secret, err) < 0) {
        hd_err_wrap(err, "%s", path);
        goto out;
    }
    rc = add_hms(c, id, strlen(id), secret, strlen(secret), err);
out:
    json_decref(j);
    return rc;
}

/* Calls fn for each comma-separated entry of list (a scratch copy). */
static int
each_entry(struct sim_creds *c, const char *list,
           int (*fn)(struct sim_creds *, char *, struct hd_err *),
           struct hd_err *err)
{
    char *copy;
    char *p;
    int rc = 0;

    if (list == NULL || *list == '\0')
        return 0;
    copy = hd_xstrdup(list);
    p = copy;
    while (rc == 0 && *p) {
        size_t len = strcspn(p, ",");
        int last = p[len] == '\0';

        p[len] = '\0';
        if (len > 0)
            rc = fn(c, p, err);
        p += len + (last ? 0 : 1);
    }
    free(copy);
    return rc;
}

static int
fcm_entry(struct sim_creds *c, char *e, struct hd_err *err)
{
    return add_account(c, e, err);
}

static int
hms_entry(struct sim_creds *c, char *e, struct hd_err *err)
{
    char *colon = strchr(e, ':');

    if (colon == NULL)
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_SIM_HMS_APPS: want APPID:SECRET");
    return add_hms(c, e, (size_t)(colon - e), colon + 1, strlen(colon + 1),
                   err);
}

static int
load_dir(struct sim_creds *c, const char *dir, struct hd_err *err)
{
    char *p8 = path_join(dir, SIM_FILE_APNS_P8);
    char *kidf = path_join(dir, SIM_FILE_APNS_KID);
    char *teamf = path_join(dir, SIM_FILE_APNS_TEAM);
    char *saf = path_join(dir, SIM_FILE_FCM_SA);
    char *hmsf = path_join(dir, SIM_FILE_HMS);
    char *kid = NULL;
    char *team = NULL;
    int rc = -1;

    c->cert_file = path_join(dir, SIM_FILE_CERT);
    c->key_file = path_join(dir, SIM_FILE_KEY);
    kid = sim_read_text(kidf, 64, err);
    if (kid == NULL)
        goto out;
    team = sim_read_text(teamf, 64, err);
    if (team == NULL)
        goto out;
    if (add_apns(c, kid, team, p8, SIM_ENV_ANY, NULL, err) < 0 ||
        add_account(c, saf, err) < 0 || load_hms_file(c, hmsf, err) < 0)
        goto out;
    rc = 0;
out:
    free(kid);
    free(team);
    free(p8);
    free(kidf);
    free(teamf);
    free(saf);
    free(hmsf);
    return rc;
}

struct sim_creds *
sim_creds_load(const char *dir, const char *apns, const char *fcm,
               const char *hms, struct hd_err *err)
{
    struct sim_creds *c = hd_xcalloc(1, sizeof(*c));

    c->dir = hd_xstrdup(dir);
    if (load_dir(c, dir, err) < 0 ||
        each_entry(c, apns, parse_apns_entry, err) < 0 ||
        each_entry(c, fcm, fcm_entry, err) < 0 ||
        each_entry(c, hms, hms_entry, err) < 0) {
        sim_creds_free(c);
        return NULL;
    }
    return c;
}

void
sim_creds_free(struct sim_creds *c)
{
    int i;

    if (c == NULL)
        return;
    for (i = 0; i < c->napns; i++)
        hd_jwt_key_free(c->apns[i].key);
    for (i = 0; i < c->nfcm; i++)
        hd_jwt_key_free(c->fcm[i].key);
    free(c->dir);
    free(c->cert_file);
    free(c->key_file);
    free(c);
}

const struct sim_apns_key *
sim_creds_apns(const struct sim_creds *c, const char *kid)
{
    int i;

    for (i = 0; i < c->napns; i++)
        if (strcmp(c->apns[i].kid, kid) == 0)
            return &c->apns[i];
    return NULL;
}

const struct sim_account *
sim_creds_account(const struct sim_creds *c, const char *email)
{
    int i;

    for (i = 0; i < c->nfcm; i++)
        if (strcmp(c->fcm[i].email, email) == 0)
            return &c->fcm[i];
    return NULL;
}

const struct sim_account *
sim_creds_project(const struct sim_creds *c, const char *project)
{
    int i;

    for (i = 0; i < c->nfcm; i++)
        if (strcmp(c->fcm[i].project, project) == 0)
            return &c->fcm[i];
    return NULL;
}

const struct sim_hms_app *
sim_creds_hms(const struct sim_creds *c, const char *app_id)
{
    int i;

    for (i = 0; i < c->nhms; i++)
        if (strcmp(c->hms[i].id, app_id) == 0)
            return &c->hms[i];
    return NULL;
}
