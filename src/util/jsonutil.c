#include "issuerhook/jsonutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson limits nesting only at 2048 and recurses to get there, so the depth cap is
 * enforced by a linear pre-scan before jansson sees the text. */
static bool depth_ok(const char *buf, size_t len, size_t *line, size_t *col)
{
    int depth = 0;
    bool in_str = false, esc = false;
    size_t ln = 1, lc = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        lc++;
        if (c == '\n') {
            ln++;
            lc = 0;
        }
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > JSONUTIL_MAX_DEPTH) {
                *line = ln;
                *col = lc;
                return false;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return true;
}

static const char *error_text(enum json_error_code code)
{
    switch (code) {
    case json_error_invalid_utf8: return "invalid UTF-8";
    case json_error_duplicate_key: return "duplicate object key";
    case json_error_end_of_input_expected: return "unexpected data after the JSON value";
    case json_error_premature_end_of_input: return "unexpected end of input";
    case json_error_null_character:
    case json_error_null_byte_in_key: return "NUL character in a string";
    case json_error_numeric_overflow: return "number out of range";
    case json_error_stack_overflow: return "nesting too deep";
    case json_error_invalid_syntax:
    case json_error_invalid_format:
    default: return "invalid JSON syntax";
    }
}

ih_status jsonutil_parse_strict(const char *buf, size_t len, json_t **out, struct jsonutil_error *err)
{
    size_t line = 0, col = 0;
    *out = NULL;
    if (!depth_ok(buf, len, &line, &col)) {
        snprintf(err->message, sizeof(err->message),
                 "nesting deeper than %d at line %zu, column %zu", JSONUTIL_MAX_DEPTH, line, col);
        return IH_EINVAL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v) {
        /* jerr.text may quote the input; only its code and position are used. */
        snprintf(err->message, sizeof(err->message), "%s at line %d, column %d",
                 error_text(json_error_code(&jerr)), jerr.line, jerr.column);
        return IH_EINVAL;
    }
    *out = v;
    return IH_OK;
}

ih_status jsonutil_canonical(const json_t *v, size_t hint, char **out, size_t *out_len)
{
    /* 15 significant digits: every decimal of up to 15 digits (every amount a webhook
     * sends) reads back as written ("0.1", not "0.10000000000000001") */
    const size_t flags = JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15);
    /* One buffer sized from the hint (the compact form is rarely longer than the text
     * it was parsed from); a second pass only when it was too small. */
    size_t cap = hint + 64;
    char *buf = malloc(cap);
    if (!buf)
        return IH_ENOMEM;
    size_t n = json_dumpb(v, buf, cap - 1, flags);
    if (n == 0) {
        free(buf);
        return IH_ENOMEM;
    }
    if (n > cap - 1) {
        char *nb = realloc(buf, n + 1);
        if (!nb) {
            free(buf);
            return IH_ENOMEM;
        }
        buf = nb;
        if (json_dumpb(v, buf, n, flags) != n) {
            free(buf);
            return IH_ENOMEM;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return IH_OK;
}

ih_status jsonutil_canonical_hash(const json_t *v, size_t hint, unsigned char hash[CRYPTO_SHA256_LEN], char **text,
                                  size_t *text_len)
{
    char *s;
    size_t n;
    ih_status rc = jsonutil_canonical(v, hint, &s, &n);
    if (rc != IH_OK)
        return rc;
    crypto_sha256(s, n, hash);
    if (text) {
        *text = s;
        if (text_len)
            *text_len = n;
    } else {
        free(s);
    }
    return IH_OK;
}

size_t jsonutil_escape(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        const char *rep = NULL;
        size_t rl = 1;
        switch (*p) {
        case '"': rep = "\\\""; rl = 2; break;
        case '\\': rep = "\\\\"; rl = 2; break;
        case '\n': rep = "\\n"; rl = 2; break;
        case '\r': rep = "\\r"; rl = 2; break;
        case '\t': rep = "\\t"; rl = 2; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
                rep = tmp;
                rl = 6;
            }
        }
        if (n + rl < cap) {
            if (rep)
                memcpy(buf + n, rep, rl);
            else
                buf[n] = (char)*p;
        } else if (n < cap) {
            cap = n + 1; /* stop writing; keep counting */
        }
        n += rl;
    }
    if (cap)
        buf[n < cap ? n : cap - 1] = '\0';
    return n;
}
