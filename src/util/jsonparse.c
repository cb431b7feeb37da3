/* The strict JSON parser behind jsonutil_parse_strict: a recursive descent over the text
 * that builds a jansson tree with jansson's own constructors and records each number's
 * text as it goes. Written by hand because json_loadb reads a byte at a time through a
 * stream, a UTF-8 decoder and a token buffer: it cost four times what building the same
 * tree costs, most of a request's parsing (tests/bench). The language is jansson's with
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY (unit test test_parse_agrees_with_jansson):
 * RFC 8259 JSON, valid UTF-8 without encoded surrogates, no NUL (escaped or not), no
 * duplicate keys, integers within int64 (others overflow), reals within a double (an
 * underflow is accepted, as jansson does); plus a nesting limit, which keeps the
 * recursion bounded. Numbers are read with strtoll/strtod: the daemon never calls
 * setlocale, so the decimal point is '.'. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/crypto.h"
#include "jsonutil_internal.h"

#define SCRATCH_FIRST 256
#define NUMBER_STACK 64

struct parser {
    const unsigned char *p, *end;
    const unsigned char *line_start;
    size_t line;
    int depth;
    struct jsonutil_numbers *nums;
    struct jsonutil_error *err;
    ih_status rc; /* IH_OK until something fails */
    char *scratch; /* a string with escapes, decoded (wiped after each use) */
    size_t scratch_cap;
};

/* Fails the parse with what, at the current position (line, and column in characters). */
static void fail(struct parser *ps, const char *what)
{
    if (ps->rc != IH_OK)
        return;
    size_t col = 0;
    for (const unsigned char *c = ps->line_start; c <= ps->p && c < ps->end; c++)
        col += (*c & 0xC0) != 0x80;
    ps->rc = IH_EINVAL;
    snprintf(ps->err->message, sizeof(ps->err->message), "%s at line %zu, column %zu", what, ps->line,
             col ? col : 1);
}

static void *nomem(struct parser *ps)
{
    if (ps->rc == IH_OK) {
        ps->rc = IH_ENOMEM;
        snprintf(ps->err->message, sizeof(ps->err->message), "out of memory");
    }
    return NULL;
}

static void ws(struct parser *ps)
{
    while (ps->p < ps->end) {
        unsigned char c = *ps->p;
        if (c == '\n') {
            ps->line++;
            ps->line_start = ++ps->p;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            ps->p++;
        } else {
            return;
        }
    }
}

/* The length of the UTF-8 sequence at s (s[0] >= 0x80), 0 when it is not a valid one:
 * overlong forms, surrogates and code points past U+10FFFF are not. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned char c = s[0];
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!n || (size_t)(end - s) < n)
        return 0;
    unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

static bool scratch_fit(struct parser *ps, size_t need)
{
    if (need <= ps->scratch_cap)
        return true;
    size_t cap = ps->scratch_cap ? ps->scratch_cap : SCRATCH_FIRST;
    while (cap < need)
        cap *= 2;
    char *nb = crypto_grow_wiped(ps->scratch, ps->scratch_cap, cap);
    if (!nb)
        return false;
    ps->scratch = nb;
    ps->scratch_cap = cap;
    return true;
}

static int hex4(const unsigned char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* A \u escape at p (p[0] == 'u'), with its low surrogate if it is a high one: the code
 * point, or -1 (the error set). Advances p past it. */
static long unicode_escape(struct parser *ps)
{
    const unsigned char *s = ps->p + 1;
    int u = ps->end - s >= 4 ? hex4(s) : -1;
    if (u < 0) {
        fail(ps, "invalid JSON syntax");
        return -1;
    }
    ps->p = s + 4;
    if (u >= 0xDC00 && u <= 0xDFFF) {
        fail(ps, "invalid JSON syntax"); /* a low surrogate alone */
        return -1;
    }
    if (u >= 0xD800 && u <= 0xDBFF) {
        int l = ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' ? hex4(ps->p + 2) : -1;
        if (l < 0xDC00 || l > 0xDFFF) {
            fail(ps, "invalid JSON syntax"); /* a high surrogate alone */
            return -1;
        }
        ps->p += 6;
        return 0x10000 + ((long)(u - 0xD800) << 10) + (l - 0xDC00);
    }
    if (u == 0) {
        fail(ps, "NUL character in a string");
        return -1;
    }
    return u;
}

static size_t put_utf8(char *d, long cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The rest of a string with escapes, from run (its start) with the escape at p, decoded
 * into scratch. False when it fails. */
static bool decode_escaped(struct parser *ps, const unsigned char *run, size_t *len)
{
    size_t n = (size_t)(ps->p - run);
    if (!scratch_fit(ps, n + (size_t)(ps->end - ps->p) + 1))
        return nomem(ps) != NULL;
    memcpy(ps->scratch, run, n);
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = *ps->p;
        if (c == '\\') {
            if (ps->end - ps->p < 2) {
                ps->p = ps->end;
                break;
            }
            unsigned char e = *++ps->p;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                ps->scratch[n++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
                ps->p++;
                continue;
            }
            long cp = e == 'u' ? unicode_escape(ps) : -1;
            if (cp < 0) {
                fail(ps, "invalid JSON syntax");
                return false;
            }
            n += put_utf8(ps->scratch + n, cp); /* at most 4 bytes for at least 6 read */
        } else if (c < 0x20) {
            fail(ps, c ? "invalid JSON syntax" : "NUL character in a string");
            return false;
        } else if (c >= 0x80) {
            size_t u = utf8_len(ps->p, ps->end);
            if (!u) {
                fail(ps, "invalid UTF-8");
                return false;
            }
            memcpy(ps->scratch + n, ps->p, u);
            n += u;
            ps->p += u;
        } else {
            ps->scratch[n++] = (char)c;
            ps->p++;
        }
    }
    *len = n;
    return true;
}

/* A string at p (p[0] == '"'): its bytes (in the text, or in scratch when it had
 * escapes: then *decoded is true and the caller wipes them). NULL when it fails. */
static const char *string_text(struct parser *ps, size_t *len, bool *decoded)
{
    const unsigned char *run = ++ps->p;
    *decoded = false;
    while (ps->p < ps->end) {
        unsigned char c = *ps->p;
        if (c == '"') {
            *len = (size_t)(ps->p++ - run);
            return (const char *)run;
        }
        if (c == '\\') {
            if (!decode_escaped(ps, run, len))
                return NULL;
            if (ps->p >= ps->end)
                break;
            ps->p++; /* the closing quote */
            *decoded = true;
            return ps->scratch;
        }
        if (c < 0x20) {
            fail(ps, c ? "invalid JSON syntax" : "NUL character in a string");
            return NULL;
        }
        if (c < 0x80) {
            ps->p++;
            continue;
        }
        size_t u = utf8_len(ps->p, ps->end);
        if (!u) {
            fail(ps, "invalid UTF-8");
            return NULL;
        }
        ps->p += u;
    }
    fail(ps, "unexpected end of input");
    return NULL;
}

static json_t *string_value(struct parser *ps)
{
    size_t len;
    bool decoded;
    const char *s = string_text(ps, &len, &decoded);
    if (!s)
        return NULL;
    json_t *v = json_stringn_nocheck(s, len);
    if (decoded)
        crypto_wipe(ps->scratch, len);
    return v ? v : nomem(ps);
}

static size_t digits(struct parser *ps)
{
    const unsigned char *s = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    return (size_t)(ps->p - s);
}

/* The node for the lexeme s[0..len), an integer unless real. NULL when it fails. */
static json_t *number_node(struct parser *ps, const char *s, size_t len, bool real)
{
    char stack[NUMBER_STACK], *copy = len < sizeof(stack) ? stack : malloc(len + 1);
    json_t *v = NULL;
    if (!copy)
        return nomem(ps);
    memcpy(copy, s, len);
    copy[len] = '\0';
    errno = 0;
    if (real) {
        double d = strtod(copy, NULL);
        if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
            fail(ps, "number out of range");
        else if (!(v = json_real(d)))
            nomem(ps);
    } else {
        long long i = strtoll(copy, NULL, 10);
        if (errno == ERANGE)
            fail(ps, "number out of range");
        else if (!(v = json_integer(i)))
            nomem(ps);
    }
    crypto_wipe(copy, len); /* a card number sent as a number */
    if (copy != stack)
        free(copy);
    return v;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static json_t *number(struct parser *ps)
{
    const unsigned char *start = ps->p;
    bool real = false;
    if (*ps->p == '-')
        ps->p++;
    if (ps->p < ps->end && *ps->p == '0')
        ps->p++;
    else if (!digits(ps))
        goto bad;
    if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        goto bad; /* a leading zero */
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        real = true;
        if (!digits(ps))
            goto bad;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        real = true;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (!digits(ps))
            goto bad;
    }
    size_t len = (size_t)(ps->p - start);
    json_t *v = number_node(ps, (const char *)start, len, real);
    if (v && ps->nums && jsonutil_numbers_add(ps->nums, v, (const char *)start, len) != IH_OK) {
        json_decref(v);
        return nomem(ps);
    }
    return v;
bad:
    fail(ps, "invalid JSON syntax");
    return NULL;
}

static json_t *literal(struct parser *ps, const char *word, size_t n, json_t *v)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
        fail(ps, "invalid JSON syntax");
        return NULL;
    }
    ps->p += n;
    if (ps->p < ps->end && ((*ps->p | 0x20) >= 'a' && (*ps->p | 0x20) <= 'z')) {
        fail(ps, "invalid JSON syntax"); /* "truex" is one bad word, as jansson reads it */
        return NULL;
    }
    return v;
}

static json_t *value(struct parser *ps);

static bool enter(struct parser *ps)
{
    if (++ps->depth <= JSONUTIL_MAX_DEPTH)
        return true;
    char what[40];
    snprintf(what, sizeof(what), "nesting deeper than %d", JSONUTIL_MAX_DEPTH);
    fail(ps, what);
    return false;
}

/* One member "key": value into o; false when it fails. */
static bool member(struct parser *ps, json_t *o)
{
    size_t klen;
    bool decoded;
    if (ps->p >= ps->end || *ps->p != '"') {
        fail(ps, ps->p >= ps->end ? "unexpected end of input" : "invalid JSON syntax");
        return false;
    }
    const char *k = string_text(ps, &klen, &decoded);
    char *own = NULL;
    if (k && decoded && (own = malloc(klen + 1)) != NULL) { /* the value may decode into scratch too */
        memcpy(own, k, klen);
        crypto_wipe(ps->scratch, klen);
    }
    bool ok = k && (!decoded || own);
    if (k && decoded && !own)
        nomem(ps);
    if (ok && json_object_getn(o, own ? own : k, klen)) {
        fail(ps, "duplicate object key");
        ok = false;
    }
    if (ok) {
        ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            fail(ps, ps->p >= ps->end ? "unexpected end of input" : "invalid JSON syntax");
            ok = false;
        }
    }
    json_t *v = NULL;
    if (ok) {
        ps->p++;
        ws(ps);
        ok = (v = value(ps)) != NULL;
    }
    if (ok && json_object_setn_new_nocheck(o, own ? own : k, klen, v) != 0)
        ok = nomem(ps) != NULL; /* setn_new has released v */
    if (own) {
        crypto_wipe(own, klen);
        free(own);
    }
    return ok;
}

/* The members or items of an object or array at p, up to its closing bracket. */
static json_t *container(struct parser *ps, bool object)
{
    json_t *c = object ? json_object() : json_array();
    if (!c)
        return nomem(ps);
    if (!enter(ps))
        goto bad;
    ps->p++;
    ws(ps);
    unsigned char close = object ? '}' : ']';
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return c;
    }
    for (;;) {
        if (object) {
            if (!member(ps, c))
                goto bad;
        } else {
            json_t *v = value(ps);
            if (!v)
                goto bad;
            if (json_array_append_new(c, v) != 0) {
                nomem(ps);
                goto bad;
            }
        }
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return c;
        }
        fail(ps, ps->p >= ps->end ? "unexpected end of input" : "invalid JSON syntax");
        goto bad;
    }
bad:
    json_decref(c);
    return NULL;
}

static json_t *value(struct parser *ps)
{
    if (ps->p >= ps->end) {
        fail(ps, "unexpected end of input");
        return NULL;
    }
    unsigned char c = *ps->p;
    switch (c) {
    case '{': return container(ps, true);
    case '[': return container(ps, false);
    case '"': return string_value(ps);
    case 't': return literal(ps, "true", 4, json_true());
    case 'f': return literal(ps, "false", 5, json_false());
    case 'n': return literal(ps, "null", 4, json_null());
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return number(ps);
        fail(ps, c >= 0x80 && !utf8_len(ps->p, ps->end) ? "invalid UTF-8" : "invalid JSON syntax");
        return NULL;
    }
}

ih_status jsonparse_strict(const char *buf, size_t len, struct jsonutil_numbers *nums, json_t **out,
                           struct jsonutil_error *err)
{
    struct parser ps = {.p = (const unsigned char *)buf, .end = (const unsigned char *)buf + len,
                        .line_start = (const unsigned char *)buf, .line = 1, .nums = nums, .err = err};
    *out = NULL;
    ws(&ps);
    json_t *v = value(&ps);
    if (v) {
        ws(&ps);
        if (ps.p < ps.end)
            fail(&ps, "unexpected data after the JSON value");
    }
    if (ps.scratch) {
        crypto_wipe(ps.scratch, ps.scratch_cap);
        free(ps.scratch);
    }
    if (ps.rc != IH_OK) {
        json_decref(v);
        return ps.rc;
    }
    *out = v;
    return IH_OK;
}
