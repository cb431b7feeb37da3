#include "issuerhook/jsonscan.h"

#include <string.h>

#define DEPTH_MAX 8

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at an opening quote: the byte after the closing one, or NULL. A quote is escaped
 * when an odd number of backslashes stands right before it. */
static const char *skip_string(const char *p, const char *end)
{
    const char *start = ++p;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return NULL;
        size_t bs = 0;
        while (q - bs > start && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q + 1;
        p = q + 1;
    }
    return NULL;
}

/* p at a value's first byte: the byte after the value, or NULL. */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                if (!(p = skip_string(p, end)))
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    const char *q = p;
    while (q < end && !strchr(",}] \t\n\r", *q))
        q++;
    return q > p ? q : NULL;
}

/* p at '{': the first byte of member name's value, or NULL when absent. */
static const char *find_member(const char *p, const char *end, const char *name, size_t nlen)
{
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return NULL;
    while (p < end && *p == '"') {
        const char *k = p + 1, *q = skip_string(p, end);
        if (!q)
            return NULL;
        bool match = (size_t)(q - 1 - k) == nlen && memcmp(k, name, nlen) == 0;
        p = skip_ws(q, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_ws(p + 1, end);
        if (match)
            return p < end ? p : NULL;
        if (!(p = skip_value(p, end)))
            return NULL;
        p = skip_ws(p, end);
        if (p >= end || *p != ',')
            return NULL; /* '}' (the end) or not JSON */
        p = skip_ws(p + 1, end);
    }
    return NULL;
}

bool jsonscan_pointer(const char *text, size_t len, const char *pointer, const char **at, size_t *at_len)
{
    const char *end = text + len, *p = skip_ws(text, end);
    const char *seg = pointer;
    for (size_t depth = 0; seg && *seg == '/'; depth++) {
        seg++;
        size_t n = strcspn(seg, "/");
        if (depth == DEPTH_MAX || n == 0 || memchr(seg, '~', n) || p >= end || *p != '{')
            return false;
        if (!(p = find_member(p, end, seg, n)))
            return false;
        seg += n;
    }
    if (!seg || *seg)
        return false; /* not a pointer of member names */
    const char *q = skip_value(p, end);
    if (!q)
        return false;
    *at = p;
    *at_len = (size_t)(q - p);
    return true;
}

bool jsonscan_string(const char *text, size_t len, const char *pointer, const char **s, size_t *n)
{
    const char *at;
    size_t at_len;
    if (!jsonscan_pointer(text, len, pointer, &at, &at_len) || at_len < 2 || at[0] != '"')
        return false;
    *s = at + 1;
    *n = at_len - 2;
    return true;
}
