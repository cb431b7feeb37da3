#include "issuerhook/keycheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "issuerhook/config.h"
#include "issuerhook/crypto.h"
#include "issuerhook/log.h"
#include "issuerhook/pankeys.h"
#include "issuerhook/store.h"
#include "issuerhook/timefmt.h"

#define RACES_MAX 3

/* The configured key whose fingerprint is fp, or -1. */
static long configured(const struct tokenizer *t, const char *fp)
{
    for (size_t i = 0; i < tokenizer_key_count(t); i++)
        if (crypto_equal(tokenizer_fingerprint(t, i), fp, TOKENIZE_TOKEN_LEN))
            return (long)i;
    return -1;
}

/* A database that had tokens before it recorded fingerprints: its newest token must be
 * from a configured key. */
static ih_status check_legacy(const struct tokenizer *t, const struct keycheck_store *s, char *err, size_t errlen)
{
    char id[TOKENIZE_KEY_ID_LEN + 1];
    bool found = false;
    ih_status rc = s->newest_token_key(s->arg, id, &found);
    if (rc != IH_OK || !found)
        return rc;
    for (size_t i = 0; i < tokenizer_key_count(t); i++)
        if (strcmp(tokenizer_key_id(t, i), id) == 0)
            return IH_OK;
    snprintf(err, errlen,
             "the database's card tokens were made with the PAN key of id %s, and no configured key has that id: "
             "configure that key (an older issuerhookd kept it as pan.key beside the database), as the current key "
             "or, to rotate, in ISSUERHOOK_PAN_KEY_PREVIOUS",
             id);
    return IH_ECONFLICT;
}

static void refuse(const struct tokenizer *t, const struct keycheck_record *rec, char *err, size_t errlen)
{
    char since[TIMEFMT_LEN];
    timefmt_rfc3339_ms(rec->since_ms, since);
    snprintf(err, errlen,
             "the PAN key (id %s) is not the key this database's tokens are made with (id %s, current since %s): "
             "new tokens would match no stored card activity. Restore that key file; or, to rotate to this key, "
             "keep the old one configured in ISSUERHOOK_PAN_KEY_PREVIOUS",
             tokenizer_key_id(t, 0), rec->key_id, since);
}

ih_status keycheck_verify(const struct tokenizer *t, const struct keycheck_store *s, int64_t now_ms, char *err,
                          size_t errlen)
{
    struct keycheck_record cur = {.since_ms = now_ms}, rec;
    snprintf(cur.key_id, sizeof(cur.key_id), "%s", tokenizer_key_id(t, 0));
    snprintf(cur.fingerprint, sizeof(cur.fingerprint), "%s", tokenizer_fingerprint(t, 0));
    for (int race = 0; race < RACES_MAX; race++) {
        bool found = false, applied = false;
        ih_status rc = s->current(s->arg, &rec, &found);
        if (rc != IH_OK) {
            snprintf(err, errlen, "cannot read the PAN key fingerprints of the database: %s", ih_status_str(rc));
            return rc;
        }
        long k = found ? configured(t, rec.fingerprint) : -1;
        if (k == 0)
            return IH_OK;
        if (found && k < 0) {
            refuse(t, &rec, err, errlen);
            return IH_ECONFLICT;
        }
        if (!found && (rc = check_legacy(t, s, err, errlen)) != IH_OK)
            return rc;
        if ((rc = s->replace(s->arg, found ? &rec : NULL, &cur, now_ms, &applied)) != IH_OK) {
            snprintf(err, errlen, "cannot record the PAN key's fingerprint in the database: %s", ih_status_str(rc));
            return rc;
        }
        if (!applied)
            continue; /* another node recorded a key meanwhile: decide again */
        if (found)
            log_msg(LOG_WARN, "PAN key rotated: new tokens are made with the new key; the old one stays configured "
                              "for lookups", "key_id", cur.key_id, "previous_key_id", rec.key_id, NULL);
        else
            log_msg(LOG_INFO, "recorded the PAN key's fingerprint in the database", "key_id", cur.key_id, NULL);
        return IH_OK;
    }
    snprintf(err, errlen, "the database's PAN key record kept changing while starting; start again");
    return IH_EBUSY;
}

static int64_t wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

ih_status keycheck_gate(void *arg, const struct keycheck_store *ks, char *why, size_t whylen)
{
    ih_status rc = keycheck_verify(arg, ks, wall_ms(), why, whylen);
    if (rc == IH_OK)
        log_msg(LOG_INFO, "the PAN key matches the database: writes go ahead", NULL);
    return rc;
}

ih_status keycheck_load(const struct config *cfg, struct tokenizer **out, char *err, size_t errlen)
{
    /* a store that is not a file (PostgreSQL) has no folder a key could be beside or in */
    const char *db_file = store_db_form(cfg->db_path) == STORE_DB_PATH ? cfg->db_path : NULL;
    struct tokenizer_options o = {.key_file = cfg->pan_key_file, .previous = cfg->pan_key_previous,
                                  .db_path = db_file, .credentials_dir = getenv("CREDENTIALS_DIRECTORY"),
                                  .secrets_dir = "/run/secrets", .development = cfg->pan_key_development};
    return tokenizer_load(&o, out, err, errlen);
}

ih_status keycheck_open(const struct config *cfg, struct store *db, struct tokenizer **out, bool *pending, char *err,
                        size_t errlen)
{
    struct tokenizer *t = NULL;
    struct keycheck_store s;
    *pending = false;
    ih_status rc = keycheck_load(cfg, &t, err, errlen);
    if (rc == IH_OK) {
        pankeys_store(db, &s);
        rc = keycheck_verify(t, &s, wall_ms(), err, errlen);
        if (rc == IH_EIO || rc == IH_EBUSY || rc == IH_ENOMEM) { /* the store cannot say yet */
            *pending = true;
            rc = IH_OK;
        }
    }
    if (rc != IH_OK) {
        tokenizer_free(t);
        t = NULL;
    }
    *out = t;
    return rc;
}
