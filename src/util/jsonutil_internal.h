/* Private to src/util/jsonutil.c and jsonparse.c: the numbers as written, and the parser
 * that collects them. Nothing else includes it. */
#ifndef ISSUERHOOK_JSONUTIL_INTERNAL_H
#define ISSUERHOOK_JSONUTIL_INTERNAL_H

#include "issuerhook/jsonutil.h"

/* One number node of a parsed tree and its text. */
struct num_entry {
    const json_t *node;
    size_t off, len; /* into text */
    json_int_t ival; /* the value parsed, to notice a node changed since */
    double rval;
};

struct jsonutil_numbers {
    struct num_entry *e; /* sorted by node once the parse is done */
    size_t n, cap;
    char *text; /* the lexemes, back to back */
    size_t text_len, text_cap;
};

/* Records node's lexeme (len bytes at lexeme). */
IH_MUST_CHECK ih_status jsonutil_numbers_add(struct jsonutil_numbers *nums, const json_t *node, const char *lexeme,
                                             size_t len);

/* Parses buf[0..len) strictly (see jsonutil.h) into *out (caller owns it), each number's
 * lexeme into nums (may be NULL). IH_EINVAL with err set for a text that is not strict
 * JSON, IH_ENOMEM when memory is short. */
IH_MUST_CHECK ih_status jsonparse_strict(const char *buf, size_t len, struct jsonutil_numbers *nums, json_t **out,
                                         struct jsonutil_error *err);

#endif
