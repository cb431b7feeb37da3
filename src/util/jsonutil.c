#include "issuerhook/jsonutil.h"
#include "jsonarena.h"
#include "jsonutil_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every block jansson frees is wiped first: the parsed strings, the object keys and the
 * lexer's token buffer hold card numbers and tax ids of a request until it is tokenized,
 * and jansson frees without wiping. The parsed tree comes from an arena of the parsing
 * thread, given back at once (jsonarena.c). jansson takes its allocator for the whole
 * process and before any other call, so it is set before main; a block from plain
 * malloc freed here, or one jansson got from malloc freed with free(), is still a malloc
 * block. */
__attribute__((constructor)) static void jsonutil_wipe_on_free(void)
{
    json_set_alloc_funcs(jsonarena_alloc, jsonarena_free);
}

/* The text of each number of a parsed document, as written. jansson keeps a number only
 * as an int64 or a double, so 1000.0000000000001 would come back as 1000.0 and 1.50 as
 * 1.5; no JSON library in Debian keeps the lexeme and sorts keys when it writes, so the
 * parser (jsonparse.c) records each number's text with its node, and the canonical
 * writer below prints them. */
void jsonutil_numbers_free(struct jsonutil_numbers *nums)
{
    if (!nums)
        return;
    free(nums->e);
    if (nums->text)
        crypto_wipe(nums->text, nums->text_len); /* a card number sent as a number */
    free(nums->text);
    free(nums);
}

ih_status jsonutil_numbers_add(struct jsonutil_numbers *nums, const json_t *node, const char *lexeme, size_t len)
{
    if (nums->n == nums->cap) {
        size_t cap = nums->cap ? nums->cap * 2 : 16;
        struct num_entry *e = realloc(nums->e, cap * sizeof(*e));
        if (!e)
            return IH_ENOMEM;
        nums->e = e;
        nums->cap = cap;
    }
    if (nums->text_len + len > nums->text_cap) {
        /* wiped as it grows (a card number may be sent as a number); not sized for the
         * whole document up front, which held half a megabyte per card batch in flight
         * for a few numbers */
        size_t cap = 2 * (nums->text_len + len) > 256 ? 2 * (nums->text_len + len) : 256;
        char *t = crypto_grow_wiped(nums->text, nums->text_len, cap);
        if (!t)
            return IH_ENOMEM;
        nums->text = t;
        nums->text_cap = cap;
    }
    memcpy(nums->text + nums->text_len, lexeme, len);
    nums->e[nums->n++] = (struct num_entry){.node = node, .off = nums->text_len, .len = len,
                                            .ival = json_is_integer(node) ? json_integer_value(node) : 0,
                                            .rval = json_is_real(node) ? json_real_value(node) : 0};
    nums->text_len += len;
    return IH_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct num_entry *)a)->node, y = (uintptr_t)((const struct num_entry *)b)->node;
    return x < y ? -1 : x > y;
}

/* The lexeme of node as written, or NULL (not from the text, or changed since). */
static const char *numbers_find(const struct jsonutil_numbers *nums, const json_t *node, size_t *len)
{
    if (!nums || !nums->n)
        return NULL;
    struct num_entry key = {.node = node};
    const struct num_entry *e = bsearch(&key, nums->e, nums->n, sizeof(key), entry_cmp);
    if (!e)
        return NULL;
    if (json_is_integer(node) ? json_integer_value(node) != e->ival
                              : memcmp(&e->rval, &(double){json_real_value(node)}, sizeof(double)) != 0)
        return NULL;
    *len = e->len;
    return nums->text + e->off;
}

ih_status jsonutil_parse_strict(const char *buf, size_t len, json_t **out, struct jsonutil_numbers **nums_out,
                                struct jsonutil_error *err)
{
    struct jsonutil_numbers *nums = NULL;
    ih_status rc = IH_ENOMEM;
    *out = NULL;
    if (nums_out) {
        *nums_out = NULL;
        if (!(nums = calloc(1, sizeof(*nums))))
            goto done;
    }
    bool arena = jsonarena_begin();
    rc = jsonparse_strict(buf, len, nums, out, err);
    if (arena)
        jsonarena_end();
    if (rc != IH_OK)
        goto done;
    if (nums) {
        if (nums->n)
            qsort(nums->e, nums->n, sizeof(*nums->e), entry_cmp);
        *nums_out = nums;
        nums = NULL;
    }
done:
    if (rc == IH_ENOMEM)
        snprintf(err->message, sizeof(err->message), "out of memory");
    jsonutil_numbers_free(nums);
    return rc;
}

/* ---- the canonical writer ----
 * Hand-written, because jansson's writer cannot be handed a number's text: it is
 * jansson's JSON_SORT_KEYS | JSON_COMPACT output byte for byte (unit test and fuzz
 * property), but for the numbers, which come from the text the tree was parsed from. */

struct obuf {
    char *p;
    size_t len, cap;
    bool failed;
};

/* Room for n more bytes and the final NUL; false (b->failed) when memory is short. */
static bool grow(struct obuf *b, size_t n)
{
    if (b->failed)
        return false;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static inline bool reserve(struct obuf *b, size_t n)
{
    return (b->len + n + 1 <= b->cap && !b->failed) || grow(b, n);
}

static inline void put(struct obuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void put_char(struct obuf *b, char c)
{
    if (!reserve(b, 1))
        return;
    b->p[b->len++] = c;
}

/* A string as jansson writes it without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH: '"', '\'
 * and control characters escaped (\b \f \n \r \t, else \u00XX in upper case), every other
 * byte as it is, so the canonical form of an existing record does not change. Room for the
 * string without escapes is made once. */
static void put_string(struct obuf *b, const char *s, size_t n)
{
    if (!reserve(b, n + 2))
        return;
    b->p[b->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(b, s + run, i - run);
        run = i + 1;
        char esc[8];
        const char *short_form = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                               : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (!short_form)
            snprintf(esc, sizeof(esc), "\\u%04X", c);
        put(b, short_form ? short_form : esc, short_form ? 2 : 6);
    }
    put(b, s + run, n - run);
    put_char(b, '"');
}

struct member {
    const char *key;
    size_t len;
    const json_t *value;
};

/* jansson's JSON_SORT_KEYS order: bytes, then length. */
static int member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void put_value(struct obuf *b, const json_t *v, const struct jsonutil_numbers *nums);

/* spans: for the top-level object of jsonutil_canonical_spans only (NULL otherwise). */
static void put_object(struct obuf *b, const json_t *v, const struct jsonutil_numbers *nums,
                       struct jsonutil_span *spans, size_t nspans)
{
    size_t n = json_object_size(v), i = 0;
    struct member few[16], *m = n <= 16 ? few : malloc(n * sizeof(*m));
    if (!m) {
        b->failed = true;
        return;
    }
    for (void *it = json_object_iter((json_t *)v); it && i < n; it = json_object_iter_next((json_t *)v, it), i++)
        m[i] = (struct member){json_object_iter_key(it), json_object_iter_key_len(it), json_object_iter_value(it)};
    if (i <= 16) { /* an insertion sort: glibc's qsort allocates and merges, dearer for a few */
        for (size_t j = 1; j < i; j++) {
            struct member x = m[j];
            size_t k = j;
            for (; k > 0 && member_cmp(&m[k - 1], &x) > 0; k--)
                m[k] = m[k - 1];
            m[k] = x;
        }
    } else {
        qsort(m, i, sizeof(*m), member_cmp);
    }
    put_char(b, '{');
    for (size_t s = 0; s < nspans; s++)
        spans[s] = (struct jsonutil_span){.key = spans[s].key, .start = b->len, .end = b->len};
    for (size_t j = 0; j < i; j++) {
        if (j)
            put_char(b, ',');
        put_string(b, m[j].key, m[j].len);
        put_char(b, ':');
        size_t start = b->len;
        put_value(b, m[j].value, nums);
        for (size_t s = 0; s < nspans; s++) {
            struct member want = {spans[s].key, strlen(spans[s].key), NULL};
            int c = member_cmp(&m[j], &want);
            if (c == 0)
                spans[s] = (struct jsonutil_span){.key = want.key, .found = true, .start = start, .end = b->len};
            else if (c < 0) /* a member before it: it would go after this one */
                spans[s].start = spans[s].end = b->len;
        }
    }
    put_char(b, '}');
    if (m != few)
        free(m);
}

static void put_value(struct obuf *b, const json_t *v, const struct jsonutil_numbers *nums)
{
    char num[128];
    size_t len = 0;
    const char *lexeme;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        put_object(b, v, nums, NULL, 0);
        return;
    case JSON_ARRAY:
        put_char(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                put_char(b, ',');
            put_value(b, json_array_get(v, i), nums);
        }
        put_char(b, ']');
        return;
    case JSON_STRING:
        put_string(b, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
    case JSON_REAL:
        if ((lexeme = numbers_find(nums, v, &len))) {
            put(b, lexeme, len);
            return;
        }
        /* a number not from the text: as jansson writes it, 15 significant digits for
         * a real (what the canonical form held before it kept lexemes) */
        len = json_dumpb(v, num, sizeof(num), JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        if (len == 0 || len > sizeof(num))
            b->failed = true;
        else
            put(b, num, len);
        return;
    case JSON_TRUE:
        put(b, "true", 4);
        return;
    case JSON_FALSE:
        put(b, "false", 5);
        return;
    case JSON_NULL:
        put(b, "null", 4);
        return;
    }
}

ih_status jsonutil_canonical(const json_t *v, const struct jsonutil_numbers *nums, size_t hint, char **out,
                             size_t *out_len)
{
    /* one buffer sized from the hint (the compact form is rarely longer than the text it
     * was parsed from) */
    struct obuf b = {.p = malloc(hint + 64), .cap = hint + 64};
    *out = NULL;
    if (!b.p)
        return IH_ENOMEM;
    put_value(&b, v, nums);
    if (b.failed) {
        free(b.p);
        return IH_ENOMEM;
    }
    b.p[b.len] = '\0';
    *out = b.p;
    *out_len = b.len;
    return IH_OK;
}

ih_status jsonutil_canonical_spans(const json_t *v, const struct jsonutil_numbers *nums, size_t hint,
                                   struct jsonutil_span *spans, size_t n, char **out, size_t *out_len)
{
    struct obuf b = {.p = malloc(hint + 64), .cap = hint + 64};
    *out = NULL;
    if (!json_is_object(v)) {
        free(b.p);
        return IH_EINVAL;
    }
    if (!b.p)
        return IH_ENOMEM;
    put_object(&b, v, nums, spans, n);
    if (b.failed) {
        free(b.p);
        return IH_ENOMEM;
    }
    b.p[b.len] = '\0';
    *out = b.p;
    *out_len = b.len;
    return IH_OK;
}

ih_status jsonutil_canonical_hash(const json_t *v, const struct jsonutil_numbers *nums, size_t hint,
                                  unsigned char hash[CRYPTO_SHA256_LEN], char **text, size_t *text_len)
{
    char *s;
    size_t n;
    ih_status rc = jsonutil_canonical(v, nums, hint, &s, &n);
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
