/* The checker: declarative field rules applied to a jansson tree, producing one
 * neutral list of violations (JSON Pointer, rule, message) that each route renders
 * in its own dialect. Messages never quote the offending value. */
#ifndef ISSUERHOOK_CHECK_H
#define ISSUERHOOK_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECK_MAX_VIOLATIONS 100
#define CHECK_POINTER_MAX 256

struct violation {
    char pointer[CHECK_POINTER_MAX]; /* RFC 6901, "" for the whole document */
    const char *rule;                /* static: "required", "type", "format", "enum", ... */
    char message[160];
};

/* The list of violations of one document. Starts zeroed; release with check_result_clear. */
struct check_result {
    struct violation *v; /* owned; at most CHECK_MAX_VIOLATIONS */
    size_t n;
    size_t dropped;      /* violations found beyond the cap */
};
void check_result_clear(struct check_result *r);

enum check_type { CT_ANY, CT_STRING, CT_INTEGER, CT_NUMBER, CT_BOOL, CT_OBJECT, CT_ARRAY };

struct check_ctx;
typedef bool (*check_format_fn)(const char *s, size_t len);
typedef void (*check_object_fn)(struct check_ctx *ctx, const json_t *obj);

struct check_object_rule;

/* One property of an object (or, with name NULL, the items of an array). */
struct check_field {
    const char *name;
    enum check_type type;
    bool required;
    size_t min_len, max_len;               /* strings, in characters; max 0: none */
    int64_t min, max;                      /* integers; min == max == 0: none */
    bool has_min;                          /* integers: min applies even when 0 */
    check_format_fn format;                /* strings */
    const char *format_name;               /* e.g. "UUID", for the message */
    const char *const *enum_values;        /* strings; NULL-terminated */
    const struct check_object_rule *object; /* objects */
    const struct check_field *items;       /* arrays */
    size_t min_items, max_items;           /* arrays; max 0: none */
};

struct check_object_rule {
    const struct check_field *fields; /* terminated by a zeroed entry */
    bool closed;                      /* unknown properties are violations */
    check_object_fn extra;            /* cross-field rules; may be NULL */
};

/* The context of one check run: the result and the current JSON Pointer. */
struct check_ctx {
    struct check_result *res;
    char path[CHECK_POINTER_MAX];
    size_t path_len;
};

void check_init(struct check_ctx *ctx, struct check_result *res);
/* Checks obj against rule at the current location (the object itself must be an object). */
void check_object(struct check_ctx *ctx, const json_t *obj, const struct check_object_rule *rule);
/* Checks one value against a field rule at the current location. */
void check_value(struct check_ctx *ctx, const json_t *v, const struct check_field *f);

/* Path helpers: push returns the length to restore with check_pop. */
size_t check_push_key(struct check_ctx *ctx, const char *key);
size_t check_push_index(struct check_ctx *ctx, size_t i);
void check_pop(struct check_ctx *ctx, size_t saved);
/* Records a violation at the current location (printf-style message). */
void check_fail(struct check_ctx *ctx, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A discriminated union: the member named by a discriminator property picks the
 * rule. Tables are terminated by an entry with name NULL. */
struct check_variant {
    const char *name;
    const struct check_field *fields;
};
/* The fields of the variant called name, or NULL when no variant has that name. */
const struct check_field *check_variant_find(const struct check_variant *table, const char *name);
/* Checks obj against the variant named by its string property key; unknown or missing
 * names pass (the caller's own rule says whether key is required). */
void check_variant_apply(struct check_ctx *ctx, const json_t *obj, const char *key,
                         const struct check_variant *table);

/* Formats */
bool check_is_uuid(const char *s, size_t len);
/* An RFC 3339 date-time in UTC, as Apiture writes it: "YYYY-MM-DDThh:mm:ss[.f]Z" with
 * 1 to 9 fraction digits (so 20 to 30 characters), a real calendar date (leap years
 * included), hour < 24, minute < 60, second < 60 or a leap second 60 at 23:59. Only the
 * UTC designator Z is accepted, no numeric offset; 't' and 'z' may be lower case as
 * RFC 3339 section 5.6 allows. */
bool check_is_datetime_utc(const char *s, size_t len);

#endif
