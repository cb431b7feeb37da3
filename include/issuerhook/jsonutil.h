/* Strict JSON parsing and canonical hashing on top of jansson.
 *
 * Strict means: one JSON value, no trailing bytes, valid UTF-8, no duplicate object
 * keys, no NUL in strings, nesting at most JSONUTIL_MAX_DEPTH. The error message
 * never quotes the input (it could hold a card number): only what and where. */
#ifndef ISSUERHOOK_JSONUTIL_H
#define ISSUERHOOK_JSONUTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/crypto.h"
#include "issuerhook/status.h"

#define JSONUTIL_MAX_DEPTH 64

struct jsonutil_error {
    char message[160]; /* e.g. "duplicate object key at line 1, column 17" */
};

/* The text of every number of a parsed document as it was written (jansson keeps only
 * an int64 or a double), so the canonical form holds 1000.0000000000001, 1.50 and 1e3 as
 * sent. Tied to the nodes of the tree it was made with. */
struct jsonutil_numbers;
void jsonutil_numbers_free(struct jsonutil_numbers *nums);

/* Parses buf[0..len). On success *out is a new reference the caller owns and, when nums
 * is not NULL, *nums the numbers as written (caller frees with jsonutil_numbers_free, no
 * sooner than it last writes the tree's canonical form). */
IH_MUST_CHECK ih_status jsonutil_parse_strict(const char *buf, size_t len, json_t **out,
                                              struct jsonutil_numbers **nums, struct jsonutil_error *err);

/* Canonical form for hashing and storing: keys sorted by byte order, no insignificant
 * white space, strings as jansson writes them (only '"', '\\' and control characters
 * escaped), and each number of nums (may be NULL) as it was written; a number that is not
 * in nums (made after parsing) as jansson writes it with 15 significant digits. v may be
 * a part of the parsed tree. hint: the expected length (e.g. the length of the text v was
 * parsed from; 0 if unknown) to size the buffer in one go. Caller owns *out (free()). */
IH_MUST_CHECK ih_status jsonutil_canonical(const json_t *v, const struct jsonutil_numbers *nums, size_t hint,
                                           char **out, size_t *out_len);

/* Where some of an object's members are in its canonical form, so that a caller can derive
 * the canonical form of the same object with those members changed without writing it
 * again. For each spans[i].key (a member name without characters to escape): found, and
 * [start, end) the text of its value; or not found, and start == end the offset at which
 * it would be inserted in key order: as ',"key":value', or when start is 1 (no member comes
 * before it) as '"key":value' and a ',' if the object has members. IH_EINVAL when v is not
 * an object. */
struct jsonutil_span {
    const char *key; /* in */
    bool found;      /* out */
    size_t start, end;
};
IH_MUST_CHECK ih_status jsonutil_canonical_spans(const json_t *v, const struct jsonutil_numbers *nums, size_t hint,
                                                 struct jsonutil_span *spans, size_t n, char **out,
                                                 size_t *out_len);

/* SHA-256 of the canonical form; also returns that form when text is non-NULL
 * (caller owns *text). */
IH_MUST_CHECK ih_status jsonutil_canonical_hash(const json_t *v, const struct jsonutil_numbers *nums, size_t hint,
                                                unsigned char hash[CRYPTO_SHA256_LEN], char **text,
                                                size_t *text_len);

/* Appends s to buf as a JSON string literal body (no quotes), escaping as needed.
 * Returns the number of bytes it would need; writes at most cap-1 and NUL-terminates. */
size_t jsonutil_escape(const char *s, char *buf, size_t cap);

#endif
