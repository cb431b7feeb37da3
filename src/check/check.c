#include "issuerhook/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void check_result_clear(struct check_result *r)
{
    free(r->v);
    r->v = NULL;
    r->n = r->dropped = 0;
}

void check_init(struct check_ctx *ctx, struct check_result *res)
{
    ctx->res = res;
    ctx->path[0] = '\0';
    ctx->path_len = 0;
}

/* Appends s to the pointer, escaping '~' and '/' (RFC 6901). A path that would
 * overflow ends in "..." and stays that way until popped. */
static void path_append(struct check_ctx *ctx, const char *s, size_t n, bool escape)
{
    if (ctx->path_len + n + 4 < CHECK_POINTER_MAX && (!escape || (!memchr(s, '~', n) && !memchr(s, '/', n)))) {
        memcpy(ctx->path + ctx->path_len, s, n); /* the common case: nothing to escape, room for it */
        ctx->path_len += n;
        ctx->path[ctx->path_len] = '\0';
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *rep = !escape ? NULL : s[i] == '~' ? "~0" : s[i] == '/' ? "~1" : NULL;
        size_t rl = rep ? 2 : 1;
        if (ctx->path_len + rl + 4 >= CHECK_POINTER_MAX) {
            bool cut = ctx->path_len >= 3 && memcmp(ctx->path + ctx->path_len - 3, "...", 3) == 0;
            if (!cut && ctx->path_len + 3 < CHECK_POINTER_MAX) {
                memcpy(ctx->path + ctx->path_len, "...", 3);
                ctx->path_len += 3;
            }
            break;
        }
        memcpy(ctx->path + ctx->path_len, rep ? rep : &s[i], rl);
        ctx->path_len += rl;
    }
    ctx->path[ctx->path_len] = '\0';
}

size_t check_push_key(struct check_ctx *ctx, const char *key)
{
    size_t saved = ctx->path_len;
    path_append(ctx, "/", 1, false);
    path_append(ctx, key, strlen(key), true);
    return saved;
}

size_t check_push_index(struct check_ctx *ctx, size_t i)
{
    char buf[24];
    size_t saved = check_push_key(ctx, ""), n = 0;
    do { /* the digits from the right (an array of 1,000 items takes 1,000 of these) */
        buf[sizeof(buf) - 1 - n++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    path_append(ctx, buf + sizeof(buf) - n, n, false);
    return saved;
}

void check_pop(struct check_ctx *ctx, size_t saved)
{
    ctx->path_len = saved;
    ctx->path[saved] = '\0';
}

void check_fail(struct check_ctx *ctx, const char *rule, const char *fmt, ...)
{
    struct check_result *r = ctx->res;
    if (r->n >= CHECK_MAX_VIOLATIONS) {
        r->dropped++;
        return;
    }
    if (!r->v) {
        r->v = malloc(CHECK_MAX_VIOLATIONS * sizeof(*r->v));
        if (!r->v) { /* still a failed check: count it so the caller rejects */
            r->dropped++;
            return;
        }
    }
    struct violation *v = &r->v[r->n++];
    memcpy(v->pointer, ctx->path, ctx->path_len + 1);
    v->rule = rule;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof(v->message), fmt, ap);
    va_end(ap);
}

static const char *type_name(enum check_type t)
{
    static const char *const names[] = {"any value", "a string", "an integer", "a number",
                                        "a boolean", "an object", "an array"};
    return names[t];
}

static bool type_ok(const json_t *v, enum check_type t)
{
    switch (t) {
    case CT_ANY: return true;
    case CT_STRING: return json_is_string(v);
    case CT_INTEGER: return json_is_integer(v);
    case CT_NUMBER: return json_is_number(v);
    case CT_BOOL: return json_is_boolean(v);
    case CT_OBJECT: return json_is_object(v);
    case CT_ARRAY: return json_is_array(v);
    }
    return false;
}

/* Characters (code points) of a valid UTF-8 string: count the non-continuation bytes. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static void check_string(struct check_ctx *ctx, const json_t *v, const struct check_field *f)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    size_t chars = utf8_chars(s, len);
    if (chars < f->min_len)
        check_fail(ctx, "minLength", "must have at least %zu character%s", f->min_len, f->min_len == 1 ? "" : "s");
    if (f->max_len && chars > f->max_len)
        check_fail(ctx, "maxLength", "must have at most %zu characters", f->max_len);
    if (f->format && !f->format(s, len))
        check_fail(ctx, "format", "must be %s", f->format_name ? f->format_name : "well formed");
    if (f->enum_values) {
        for (const char *const *e = f->enum_values; *e; e++)
            if (strlen(*e) == len && memcmp(*e, s, len) == 0)
                return;
        char list[120];
        size_t ll = 0;
        int shown = 0;
        list[0] = '\0';
        for (const char *const *e = f->enum_values; *e; e++) {
            int w = snprintf(list + ll, sizeof(list) - ll, "%s%s", shown ? ", " : "", *e);
            if (w < 0 || (size_t)w + 6 > sizeof(list) - ll) { /* keep room for ", ..." */
                snprintf(list + ll, sizeof(list) - ll, ", ...");
                break;
            }
            ll += (size_t)w;
            shown++;
        }
        check_fail(ctx, "enum", "must be one of: %s", list);
    }
}

void check_value(struct check_ctx *ctx, const json_t *v, const struct check_field *f)
{
    if (!type_ok(v, f->type)) {
        check_fail(ctx, "type", "must be %s", type_name(f->type));
        return;
    }
    switch (f->type) {
    case CT_STRING:
        check_string(ctx, v, f);
        break;
    case CT_INTEGER: {
        json_int_t i = json_integer_value(v);
        bool bounded = f->has_min || f->min || f->max;
        if (bounded && i < f->min)
            check_fail(ctx, "minimum", "must be at least %lld", (long long)f->min);
        else if (bounded && f->max && i > f->max)
            check_fail(ctx, "maximum", "must be at most %lld", (long long)f->max);
        break;
    }
    case CT_OBJECT:
        if (f->object)
            check_object(ctx, v, f->object);
        break;
    case CT_ARRAY: {
        size_t n = json_array_size(v);
        if (n < f->min_items)
            check_fail(ctx, "minItems", "must have at least %zu item%s", f->min_items, f->min_items == 1 ? "" : "s");
        if (f->max_items && n > f->max_items) {
            check_fail(ctx, "maxItems", "must have at most %zu items", f->max_items);
            break; /* do not walk a hostile array item by item */
        }
        if (f->items) {
            for (size_t i = 0; i < n; i++) {
                size_t saved = check_push_index(ctx, i);
                check_value(ctx, json_array_get(v, i), f->items);
                check_pop(ctx, saved);
            }
        }
        break;
    }
    default:
        break;
    }
}

void check_object(struct check_ctx *ctx, const json_t *obj, const struct check_object_rule *rule)
{
    if (!json_is_object(obj)) {
        check_fail(ctx, "type", "must be an object");
        return;
    }
    size_t present = 0;
    for (const struct check_field *f = rule->fields; f && f->name; f++) {
        json_t *v = json_object_get(obj, f->name);
        size_t saved = check_push_key(ctx, f->name);
        if (!v) {
            if (f->required)
                check_fail(ctx, "required", "is required");
        } else {
            present++;
            check_value(ctx, v, f);
        }
        check_pop(ctx, saved);
    }
    /* A rule names each field once and an object has each key once, so when every member
     * is one of the rule's fields there is nothing unknown to look for: the loop below (a
     * strcmp of every member against every field) runs only for an object with others. */
    if (rule->closed && present < json_object_size(obj)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)obj, key, v) {
            bool known = false;
            for (const struct check_field *f = rule->fields; f && f->name && !known; f++)
                known = strcmp(f->name, key) == 0;
            if (!known) {
                size_t saved = check_push_key(ctx, key);
                check_fail(ctx, "unevaluatedProperties", "is not a property of this object");
                check_pop(ctx, saved);
            }
        }
    }
    if (rule->extra)
        rule->extra(ctx, obj);
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool check_is_uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!is_hex(s[i])) {
            return false;
        }
    }
    return true;
}

const struct check_field *check_variant_find(const struct check_variant *table, const char *name)
{
    for (const struct check_variant *v = table; name && v->name; v++)
        if (strcmp(v->name, name) == 0)
            return v->fields;
    return NULL;
}

void check_variant_apply(struct check_ctx *ctx, const json_t *obj, const char *key,
                         const struct check_variant *table)
{
    const struct check_field *fields = check_variant_find(table, json_string_value(json_object_get(obj, key)));
    if (fields) {
        struct check_object_rule r = {.fields = fields};
        check_object(ctx, obj, &r);
    }
}

/* ---- RFC 3339 date-time in UTC ---- */

/* Reads exactly n ASCII digits at s[at] into *v. */
static bool dt_digits(const char *s, size_t at, size_t n, int *v)
{
    int x = 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[at + k];
        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (c - '0');
    }
    *v = x;
    return true;
}

/* date-time = full-date "T" full-time with time-offset "Z" (RFC 3339 section 5.6):
 *   YYYY-MM-DD T hh:mm:ss [.1*9DIGIT] Z */
bool check_is_datetime_utc(const char *s, size_t len)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se;
    if (len < 20 || len > 30)
        return false;
    if (!dt_digits(s, 0, 4, &y) || s[4] != '-' || !dt_digits(s, 5, 2, &mo) || s[7] != '-' ||
        !dt_digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !dt_digits(s, 11, 2, &h) ||
        s[13] != ':' || !dt_digits(s, 14, 2, &mi) || s[16] != ':' || !dt_digits(s, 17, 2, &se))
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 9)
            return false;
    }
    if (i + 1 != len || (s[i] != 'Z' && s[i] != 'z'))
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
        return false;
    if (h > 23 || mi > 59 || se > 60 || (se == 60 && (h != 23 || mi != 59)))
        return false;
    return true;
}
