/* Card data at the edge: a PAN becomes an HMAC-SHA256 token under the PAN key plus a
 * mask, and a tax id becomes a token, before anything is queued, logged or stored. The
 * keys never leave this module.
 *
 * The keys: the current one (new tokens) and up to TOKENIZE_KEYS_MAX - 1 previous ones
 * (kept after a rotation so that a PAN can still be looked up in rows tokenized under
 * them). Each has an id (stored with every token) and a fingerprint (an HMAC of a fixed
 * label under the key, which a database records to notice a daemon started with another
 * key); neither reveals the key. */
#ifndef ISSUERHOOK_TOKENIZE_H
#define ISSUERHOOK_TOKENIZE_H

#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"

#define TOKENIZE_KEY_MIN 32
#define TOKENIZE_KEY_MAX 1024
#define TOKENIZE_KEYS_MAX 8
#define TOKENIZE_TOKEN_LEN 64  /* hex of HMAC-SHA256 */
#define TOKENIZE_KEY_ID_LEN 16 /* hex of the first 8 bytes of SHA-256(key) */

struct tokenizer;

/* A PAN of n digits (12 to 19) shows its last four and its first n/2 - 4 digits (at most
 * six): never more than half of the digits, and at most the first six and last four.
 *   12, 13 digits: 2 + 4 shown      14, 15: 3 + 4      16, 17: 4 + 4      18, 19: 5 + 4 */
struct pan_token {
    char token[TOKENIZE_TOKEN_LEN + 1];
    char lead[7];    /* the leading digits the mask shows */
    char last4[5];
    char masked[20]; /* "4242********4242" */
    char key_id[TOKENIZE_KEY_ID_LEN + 1]; /* which key made the token */
};

/* Where the keys come from. The current key: key_file when set; else pan.key in
 * credentials_dir (systemd's $CREDENTIALS_DIRECTORY; may be NULL); else pan.key in
 * secrets_dir (Docker's /run/secrets). Each key file must hold 32 to 1024 bytes, lie
 * outside the database's folder and give no access to group or others (but a systemd
 * credential, which systemd restricts to the service itself). previous: a
 * comma-separated list of earlier key files; a name without '/' is looked up in the
 * current key's folder. db_path: the database file (NULL: the store is not a file, e.g.
 * PostgreSQL; then there is no folder to keep keys out of, and a development key is made
 * in the working directory). development: instead, pan.dev.key beside the database, created
 * (32 random bytes, mode 0600) on first start, without those checks (refused together
 * with key_file). */
struct tokenizer_options {
    const char *key_file, *previous, *db_path, *credentials_dir, *secrets_dir;
    bool development;
};

/* Loads the keys. On failure err says what is wrong and what to do. Caller owns *out. */
IH_MUST_CHECK ih_status tokenizer_load(const struct tokenizer_options *o, struct tokenizer **out, char *err,
                                       size_t errlen);
/* Wipes the keys and frees. */
void tokenizer_free(struct tokenizer *t);

/* The keys: 0 is the current one, then the previous ones in configured order. */
size_t tokenizer_key_count(const struct tokenizer *t);
const char *tokenizer_key_id(const struct tokenizer *t, size_t i);
const char *tokenizer_fingerprint(const struct tokenizer *t, size_t i);
/* The file key i was read from. */
const char *tokenizer_key_path(const struct tokenizer *t, size_t i);
bool tokenizer_development(const struct tokenizer *t);

/* pan: digits with optional spaces or dashes (already checked against the schema),
 * under the current key. IH_EINVAL when it has not 12 to 19 digits. */
IH_MUST_CHECK ih_status tokenizer_pan(const struct tokenizer *t, const char *pan, size_t len, struct pan_token *out);
/* The same under key i (lookups by PAN in rows made with an earlier key). */
IH_MUST_CHECK ih_status tokenizer_pan_under(const struct tokenizer *t, size_t i, const char *pan, size_t len,
                                            struct pan_token *out);
/* A tax id (SSN/ITIN, with or without dashes) -> token (hex, 65 bytes). */
IH_MUST_CHECK ih_status tokenizer_tax_id(const struct tokenizer *t, const char *tax, size_t len,
                                         char out[TOKENIZE_TOKEN_LEN + 1]);
/* HMAC-SHA256 under the current key of domain || s[0..len), as hex: a keyed token of any
 * text that may hold card data (domain keeps uses apart, e.g. "riverty-key:"). */
IH_MUST_CHECK ih_status tokenizer_token(const struct tokenizer *t, const char *domain, const char *s, size_t len,
                                        char out[TOKENIZE_TOKEN_LEN + 1]);

#endif
