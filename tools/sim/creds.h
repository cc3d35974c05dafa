/* creds.h -- the credentials the simulator accepts: APNs signing keys
 * (key id, team id, environment, optional topics), FCM service accounts
 * and HMS apps, plus the TLS files.
 *
 * Loaded once from the directory `herald-sim gen` wrote, plus the extra
 * lists of HERALD_SIM_APNS_KEYS / _FCM_SERVICE_ACCOUNTS / _HMS_APPS.
 * Immutable after sim_creds_load(), so every thread may read it without a
 * lock. The file names below are the layout gen.c writes. */
#ifndef SIM_CREDS_H
#define SIM_CREDS_H

#include "core/err.h"
#include "auth/jwt.h"

#define SIM_FILE_CA "ca.pem"
#define SIM_FILE_CA_KEY "ca-key.pem"
#define SIM_FILE_CERT "server.pem"
#define SIM_FILE_KEY "server-key.pem"
#define SIM_FILE_APNS_P8 "apns-key.p8"
#define SIM_FILE_APNS_KID "apns-key-id"
#define SIM_FILE_APNS_TEAM "apns-team-id"
#define SIM_FILE_APNS_TOPIC "apns-topic"
#define SIM_FILE_APNS_CERT "apns-cert.pem" /* certificate + key */
#define SIM_FILE_APNS_P12 "apns-cert.p12"
#define SIM_FILE_APNS_P12_PW "apns-cert-password"
#define SIM_FILE_FCM_SA "fcm-service-account.json"
#define SIM_FILE_HMS "hms-app.json"
#define SIM_FILE_ENV "credentials.env"

#define SIM_CREDS_MAX 32   /* keys / accounts / apps of each kind */
#define SIM_CREDS_TOPICS 8 /* topics of one topic-specific APNs key */

enum sim_apns_env {
    SIM_ENV_ANY = 0, /* key valid for both environments */
    SIM_ENV_PRODUCTION,
    SIM_ENV_SANDBOX,
};

struct sim_apns_key {
    char kid[16];
    char team[16];
    enum sim_apns_env env;
    char topics[SIM_CREDS_TOPICS][128]; /* "" = team scoped */
    int ntopics;
    struct hd_jwt_key *key;
};

struct sim_account {
    char email[256];
    char key_id[64];
    char project[128];
    struct hd_jwt_key *key;
};

struct sim_hms_app {
    char id[64];
    char secret[128];
};

struct sim_creds {
    char *dir;
    char *cert_file; /* new */
    char *key_file;
    struct sim_apns_key apns[SIM_CREDS_MAX];
    int napns;
    struct sim_account fcm[SIM_CREDS_MAX];
    int nfcm;
    struct sim_hms_app hms[SIM_CREDS_MAX];
    int nhms;
};

/* new: credentials from dir plus the extra lists (each may be NULL or
 * empty; syntax in docs/sim.md):
 *   apns: "KEYID:TEAMID:path.p8[:both|production|sandbox[:topic+topic]]"
 *   fcm:  "path/service-account.json,..."
 *   hms:  "appid:secret,..."
 * NULL with err naming the file or entry that is wrong. */
struct sim_creds *sim_creds_load(const char *dir, const char *apns,
                                 const char *fcm, const char *hms,
                                 struct hd_err *err);
void sim_creds_free(struct sim_creds *c);

/* Lookups; borrowed pointers valid while c lives, NULL when unknown. */
const struct sim_apns_key *sim_creds_apns(const struct sim_creds *c,
                                          const char *kid);
const struct sim_account *sim_creds_account(const struct sim_creds *c,
                                            const char *email);
const struct sim_account *sim_creds_project(const struct sim_creds *c,
                                            const char *project);
const struct sim_hms_app *sim_creds_hms(const struct sim_creds *c,
                                        const char *app_id);

/* Reads a whole small text file (at most max bytes), trailing newlines
 * and spaces stripped. new: caller frees; NULL with err. */
char *sim_read_text(const char *path, size_t max, struct hd_err *err);

#endif
