/* Strict JSON parsing and canonical hashing on top of jansson.
 *
 * Strict means: one JSON value, no trailing bytes, valid UTF-8, no duplicate object
 * keys, no NUL in strings, nesting at most JSONUTIL_MAX_DEPTH. The error message
 * never quotes the input (it could hold a card number): only what and where. */
#ifndef ISSUERHOOK_JSONUTIL_H
#define ISSUERHOOK_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>
#include "issuerhook/crypto.h"
#include "issuerhook/status.h"

#define JSONUTIL_MAX_DEPTH 64

struct jsonutil_error {
    char message[160]; /* e.g. "duplicate object key at line 1, column 17" */
};

/* Parses buf[0..len). On success *out is a new reference the caller owns. */
IH_MUST_CHECK ih_status jsonutil_parse_strict(const char *buf, size_t len, json_t **out,
                                              struct jsonutil_error *err);

/* Canonical form for hashing: keys sorted by byte order, no insignificant white space.
 * hint: the expected length (e.g. the length of the text v was parsed from; 0 if
 * unknown) to size the buffer in one go. Caller owns *out (free()). */
IH_MUST_CHECK ih_status jsonutil_canonical(const json_t *v, size_t hint, char **out, size_t *out_len);

/* SHA-256 of the canonical form; also returns that form when text is non-NULL
 * (caller owns *text). */
IH_MUST_CHECK ih_status jsonutil_canonical_hash(const json_t *v, size_t hint,
                                                unsigned char hash[CRYPTO_SHA256_LEN], char **text,
                                                size_t *text_len);

/* Appends s to buf as a JSON string literal body (no quotes), escaping as needed.
 * Returns the number of bytes it would need; writes at most cap-1 and NUL-terminates. */
size_t jsonutil_escape(const char *s, char *buf, size_t cap);

#endif
