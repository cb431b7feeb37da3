/* The PAN key against the database, at start: the database records the fingerprint of
 * the key its tokens are made with (tokenize.h), and a daemon whose current key is
 * another one refuses to start (a restored database with a lost pan.key must not start
 * silently minting tokens that match nothing stored). Every node of a shared store must
 * have the same key, for the same reason.
 *
 *   nothing recorded yet           the current key is recorded (after checking that the
 *                                  newest stored token, if any, was made by a configured key)
 *   the recorded key is current    start
 *   it is one of the previous keys a rotation: the current key is recorded as the new one
 *   anything else                  refuse, saying which key the database expects
 *
 * The decision is made here, once for every store; a store only keeps the records
 * (struct keycheck_store), e.g. store/pankeys.c for SQLite. */
#ifndef ISSUERHOOK_KEYCHECK_H
#define ISSUERHOOK_KEYCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issuerhook/status.h"
#include "issuerhook/tokenize.h"

struct config;
struct store;

struct keycheck_record {
    char key_id[TOKENIZE_KEY_ID_LEN + 1];
    char fingerprint[TOKENIZE_TOKEN_LEN + 1];
    int64_t since_ms; /* when it became the current key */
};

struct keycheck_store {
    void *arg;
    /* The key recorded as current; *found false when none is. */
    ih_status (*current)(void *arg, struct keycheck_record *out, bool *found);
    /* Atomically: when the current record is still expected (NULL: none), makes next
     * the current one (the old one stays, retired) and sets *applied; else changes
     * nothing and clears *applied (another node came first). */
    ih_status (*replace)(void *arg, const struct keycheck_record *expected,
                           const struct keycheck_record *next, int64_t now_ms, bool *applied);
    /* The key id of the newest stored card token; *found false when there is none. */
    ih_status (*newest_token_key)(void *arg, char out[TOKENIZE_KEY_ID_LEN + 1], bool *found);
};

/* The decision above, against store s. err says why it refused and what to do. */
IH_MUST_CHECK ih_status keycheck_verify(const struct tokenizer *t, const struct keycheck_store *s, int64_t now_ms,
                                        char *err, size_t errlen);

/* Loads the keys the configuration names (and the environment's $CREDENTIALS_DIRECTORY)
 * and verifies them against db. When the store cannot say yet (it cannot be read, or the
 * first fingerprint cannot be written: a full disk, a read-only folder) the keys are
 * loaded, *pending is set and err says why: the writer must then run keycheck_gate
 * before it writes anything. A key the database does not know is refused
 * (IH_ECONFLICT). Caller owns *out. */
IH_MUST_CHECK ih_status keycheck_open(const struct config *cfg, struct store *db, struct tokenizer **out, bool *pending,
                                      char *err, size_t errlen);

/* writer_options.gate for a pending check: arg is the tokenizer, ks the writer's side. */
IH_MUST_CHECK ih_status keycheck_gate(void *arg, const struct keycheck_store *ks, char *why, size_t whylen);

/* Only loads the keys, as keycheck_open does. Caller owns *out. */
IH_MUST_CHECK ih_status keycheck_load(const struct config *cfg, struct tokenizer **out, char *err, size_t errlen);

#endif
