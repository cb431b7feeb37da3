/* Card data at the edge: a PAN becomes an HMAC-SHA256 token under the PAN key plus
 * its first six and last four digits, and a tax id becomes a token, before anything
 * is queued, logged or stored. The key never leaves this module. */
#ifndef ISSUERHOOK_TOKENIZE_H
#define ISSUERHOOK_TOKENIZE_H

#include <stddef.h>
#include "issuerhook/status.h"

#define TOKENIZE_KEY_MIN 32
#define TOKENIZE_TOKEN_LEN 64 /* hex of HMAC-SHA256 */

struct tokenizer;

struct pan_token {
    char token[TOKENIZE_TOKEN_LEN + 1];
    char first6[7], last4[5];
    char masked[20];  /* "424242******4242": first six, stars, last four */
    char key_id[17];  /* which key made the token (hex of SHA-256(key), first 8 bytes) */
};

/* Loads the key from key_file (at least TOKENIZE_KEY_MIN bytes). When key_file is
 * empty, uses pan.key next to db_path, creating it (32 random bytes, mode 0600) on
 * first start. Caller owns *out. */
IH_MUST_CHECK ih_status tokenizer_load(const char *key_file, const char *db_path, struct tokenizer **out, char *err,
                                       size_t errlen);
/* Wipes the key and frees. */
void tokenizer_free(struct tokenizer *t);
const char *tokenizer_key_id(const struct tokenizer *t);

/* pan: digits with optional spaces (already checked against the schema). */
IH_MUST_CHECK ih_status tokenizer_pan(const struct tokenizer *t, const char *pan, size_t len, struct pan_token *out);
/* A tax id (SSN/ITIN, with or without dashes) -> token (hex, 65 bytes). */
IH_MUST_CHECK ih_status tokenizer_tax_id(const struct tokenizer *t, const char *tax, size_t len,
                                         char out[TOKENIZE_TOKEN_LEN + 1]);

#endif
