/* Unit tests of the checker engine (include/issuerhook/check.h). */
#include "testutil.h"

#include "issuerhook/check.h"

/* ---- helpers ---- */

/* Checks the JSON text against rule at the root and leaves the violations in res. */
static void run(const char *text, const struct check_object_rule *rule, struct check_result *res)
{
    json_t *doc = tu_json(text);
    struct check_ctx ctx;
    memset(res, 0, sizeof(*res));
    check_init(&ctx, res);
    check_object(&ctx, doc, rule);
    json_decref(doc);
}

/* Checks the JSON text against a single field rule named "f": {"f": <value>}. */
static void run_field(const struct check_field *f, const char *value_text, struct check_result *res)
{
    struct check_field fields[2] = {*f, {0}};
    fields[0].name = "f";
    struct check_object_rule rule = {.fields = fields};
    char text[512];
    snprintf(text, sizeof(text), "{\"f\": %s}", value_text);
    run(text, &rule, res);
}

/* The field rule f accepts value_text. */
#define assert_field_ok(f, value_text)                                                                             \
    do {                                                                                                           \
        struct check_result r_;                                                                                    \
        run_field((f), (value_text), &r_);                                                                         \
        assert_no_violations(&r_);                                                                                 \
        check_result_clear(&r_);                                                                                   \
    } while (0)

/* The field rule f rejects value_text with exactly one violation of rule at "/f". */
#define assert_field_fails(f, value_text, rule)                                                                    \
    do {                                                                                                           \
        struct check_result r_;                                                                                    \
        run_field((f), (value_text), &r_);                                                                         \
        assert_only_violation(&r_, "/f", (rule));                                                                  \
        check_result_clear(&r_);                                                                                   \
    } while (0)

/* ---- required and type ---- */

static void test_required_missing_is_reported_at_its_pointer(void **state)
{
    (void)state;
    static const struct check_field fields[] = {
        {.name = "id", .type = CT_STRING, .required = true},
        {.name = "note", .type = CT_STRING},
        {0}};
    static const struct check_object_rule rule = {.fields = fields};
    struct check_result res;

    run("{}", &rule, &res);
    assert_only_violation(&res, "/id", "required");
    check_result_clear(&res);

    run("{\"id\": \"x\"}", &rule, &res); /* the optional one may be missing */
    assert_no_violations(&res);
    check_result_clear(&res);
}

static void test_type_of_each_kind(void **state)
{
    (void)state;
    const struct check_field s = {.type = CT_STRING}, i = {.type = CT_INTEGER}, n = {.type = CT_NUMBER},
                             b = {.type = CT_BOOL}, o = {.type = CT_OBJECT}, a = {.type = CT_ARRAY},
                             any = {.type = CT_ANY};

    assert_field_ok(&s, "\"x\"");
    assert_field_fails(&s, "1", "type");
    assert_field_fails(&s, "null", "type");

    assert_field_ok(&i, "-7");
    assert_field_fails(&i, "1.5", "type");
    assert_field_fails(&i, "\"1\"", "type");

    assert_field_ok(&n, "1");
    assert_field_ok(&n, "1.5");
    assert_field_fails(&n, "\"1.5\"", "type");

    assert_field_ok(&b, "false");
    assert_field_fails(&b, "0", "type");

    assert_field_ok(&o, "{}");
    assert_field_fails(&o, "[]", "type");

    assert_field_ok(&a, "[]");
    assert_field_fails(&a, "{}", "type");

    assert_field_ok(&any, "null");
    assert_field_ok(&any, "[1, \"x\"]");
}

static void test_wrong_type_skips_the_other_rules_of_the_field(void **state)
{
    (void)state;
    static const char *const colours[] = {"red", NULL};
    const struct check_field f = {.type = CT_STRING, .min_len = 5, .format = check_is_uuid,
                                  .enum_values = colours};
    assert_field_fails(&f, "12", "type");
}

/* ---- strings ---- */

static void test_min_length(void **state)
{
    (void)state;
    const struct check_field f = {.type = CT_STRING, .min_len = 2};
    assert_field_fails(&f, "\"\"", "minLength");
    assert_field_fails(&f, "\"a\"", "minLength");
    assert_field_ok(&f, "\"ab\"");
    /* "é" is two bytes but one character */
    assert_field_fails(&f, "\"\xc3\xa9\"", "minLength");
}

static void test_max_length_counts_utf8_characters_not_bytes(void **state)
{
    (void)state;
    const struct check_field f = {.type = CT_STRING, .max_len = 3};
    assert_field_ok(&f, "\"abc\"");
    assert_field_fails(&f, "\"abcd\"", "maxLength");
    assert_field_ok(&f, "\"\xc3\xa4\xc3\xb6\xc3\xbc\"");                 /* "äöü": 6 bytes */
    assert_field_ok(&f, "\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"");     /* "€€€": 9 bytes */
    assert_field_ok(&f, "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"");         /* two emoji: 8 bytes */
    assert_field_ok(&f, "\"\\u00e4\\u00f6\\u00fc\"");                   /* escaped in the JSON text */
    assert_field_fails(&f, "\"\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\"", "maxLength"); /* 4 characters */
}

static void test_format(void **state)
{
    (void)state;
    const struct check_field f = {.type = CT_STRING, .format = check_is_uuid, .format_name = "a UUID"};
    struct check_result res;

    assert_field_ok(&f, "\"93a5bbf3-48f4-4786-93af-6437331aea9a\"");
    run_field(&f, "\"93a5bbf3-48f4-4786-93af-6437331aea9\"", &res);
    assert_only_violation(&res, "/f", "format");
    assert_contains(res.v[0].message, "a UUID");
    check_result_clear(&res);
}

static void test_enum(void **state)
{
    (void)state;
    static const char *const values[] = {"fraud", "dispute", NULL};
    const struct check_field f = {.type = CT_STRING, .enum_values = values};
    struct check_result res;

    assert_field_ok(&f, "\"fraud\"");
    assert_field_ok(&f, "\"dispute\"");
    assert_field_fails(&f, "\"Fraud\"", "enum"); /* case matters */
    assert_field_fails(&f, "\"frau\"", "enum");  /* a prefix is not a member */
    assert_field_fails(&f, "\"fraudx\"", "enum");
    assert_field_fails(&f, "\"\"", "enum");

    run_field(&f, "\"other\"", &res);
    assert_only_violation(&res, "/f", "enum");
    assert_contains(res.v[0].message, "fraud");
    assert_contains(res.v[0].message, "dispute");
    check_result_clear(&res);
}

static void test_messages_never_quote_the_value(void **state)
{
    (void)state;
    static const char *const values[] = {"a", NULL};
    const struct check_field fields[] = {
        {.name = "e", .type = CT_STRING, .enum_values = values},
        {.name = "u", .type = CT_STRING, .format = check_is_uuid, .format_name = "a UUID"},
        {.name = "m", .type = CT_STRING, .max_len = 4},
        {.name = "i", .type = CT_INTEGER, .max = 10},
        {.name = "t", .type = CT_INTEGER},
        {0}};
    const struct check_object_rule rule = {.fields = fields};
    struct check_result res;

    run("{\"e\": \"4111111111111111\", \"u\": \"4111111111111111\", \"m\": \"4111111111111111\","
        " \"i\": 4111111111111111, \"t\": \"4111111111111111\"}",
        &rule, &res);
    assert_violation_count(&res, 5);
    for (size_t k = 0; k < res.n; k++)
        assert_not_contains(res.v[k].message, "4111");
    check_result_clear(&res);
}

/* ---- integers ---- */

static void test_integer_minimum_and_maximum(void **state)
{
    (void)state;
    const struct check_field f = {.type = CT_INTEGER, .min = 1, .max = 10};
    assert_field_fails(&f, "0", "minimum");
    assert_field_ok(&f, "1");
    assert_field_ok(&f, "10");
    assert_field_fails(&f, "11", "maximum");
    assert_field_fails(&f, "-9223372036854775808", "minimum");
    assert_field_fails(&f, "9223372036854775807", "maximum");
}

static void test_integer_has_min_applies_a_zero_minimum(void **state)
{
    (void)state;
    const struct check_field bounded = {.type = CT_INTEGER, .has_min = true, .min = 0};
    const struct check_field unbounded = {.type = CT_INTEGER}; /* min == max == 0: no bounds */

    assert_field_ok(&bounded, "0");
    assert_field_ok(&bounded, "9223372036854775807");
    assert_field_fails(&bounded, "-1", "minimum");

    assert_field_ok(&unbounded, "-1");
    assert_field_ok(&unbounded, "-9223372036854775808");
    assert_field_ok(&unbounded, "9223372036854775807");
}

/* ---- arrays ---- */

static void test_min_items(void **state)
{
    (void)state;
    const struct check_field f = {.type = CT_ARRAY, .min_items = 1};
    assert_field_fails(&f, "[]", "minItems");
    assert_field_ok(&f, "[1]");
}

static void test_max_items_stops_before_walking_the_items(void **state)
{
    (void)state;
    static const struct check_field item = {.type = CT_STRING};
    const struct check_field f = {.type = CT_ARRAY, .max_items = 2, .items = &item};

    assert_field_ok(&f, "[\"a\", \"b\"]");
    /* too many items: one maxItems, and the (wrongly typed) items are not each reported */
    assert_field_fails(&f, "[1, 2, 3]", "maxItems");
}

static void test_array_items_are_checked_at_their_index(void **state)
{
    (void)state;
    static const struct check_field item = {.type = CT_INTEGER, .has_min = true, .min = 0};
    const struct check_field f = {.type = CT_ARRAY, .items = &item};
    struct check_result res;

    run_field(&f, "[0, -1, 2, \"x\"]", &res);
    assert_violation_count(&res, 2);
    assert_violation(&res, "/f/1", "minimum");
    assert_violation(&res, "/f/3", "type");
    check_result_clear(&res);
}

/* ---- objects and pointers ---- */

static const struct check_field item_fields[] = {
    {.name = "pan", .type = CT_STRING, .required = true},
    {0}};
static const struct check_object_rule item_rule = {.fields = item_fields};
static const struct check_field item_field = {.type = CT_OBJECT, .object = &item_rule};
static const struct check_field order_fields[] = {
    {.name = "items", .type = CT_ARRAY, .items = &item_field},
    {0}};
static const struct check_object_rule order_rule = {.fields = order_fields};
static const struct check_field doc_fields[] = {
    {.name = "order", .type = CT_OBJECT, .required = true, .object = &order_rule},
    {.name = "items", .type = CT_ARRAY, .items = &item_field},
    {0}};
static const struct check_object_rule doc_rule = {.fields = doc_fields};

static void test_nested_pointers(void **state)
{
    (void)state;
    struct check_result res;

    run("{\"order\": {}, \"items\": [{\"pan\": \"1\"}, {}, {\"pan\": \"3\"}, {\"pan\": 4}]}", &doc_rule, &res);
    assert_violation_count(&res, 2);
    assert_violation(&res, "/items/1/pan", "required");
    assert_violation(&res, "/items/3/pan", "type");
    check_result_clear(&res);

    run("{\"order\": {\"items\": [{\"pan\": \"1\"}, 7]}}", &doc_rule, &res);
    assert_only_violation(&res, "/order/items/1", "type");
    check_result_clear(&res);

    run("{\"order\": []}", &doc_rule, &res);
    assert_only_violation(&res, "/order", "type");
    check_result_clear(&res);
}

static void test_closed_object_reports_unknown_properties(void **state)
{
    (void)state;
    static const struct check_field fields[] = {
        {.name = "a", .type = CT_INTEGER},
        {.name = "b", .type = CT_INTEGER},
        {0}};
    static const struct check_object_rule closed = {.fields = fields, .closed = true};
    static const struct check_object_rule open = {.fields = fields};
    struct check_result res;

    run("{\"a\": 1, \"b\": 2}", &closed, &res);
    assert_no_violations(&res);
    check_result_clear(&res);

    run("{\"a\": 1, \"extra\": true, \"more\": null}", &closed, &res);
    assert_violation_count(&res, 2);
    assert_violation(&res, "/extra", "unevaluatedProperties");
    assert_violation(&res, "/more", "unevaluatedProperties");
    check_result_clear(&res);

    run("{\"a\": 1, \"extra\": true}", &open, &res);
    assert_no_violations(&res);
    check_result_clear(&res);

    /* every field there and one more; and one member, unknown, where no field is */
    run("{\"a\": 1, \"b\": 2, \"c\": 3}", &closed, &res);
    assert_only_violation(&res, "/c", "unevaluatedProperties");
    check_result_clear(&res);
    run("{\"z\": 1}", &closed, &res);
    assert_only_violation(&res, "/z", "unevaluatedProperties");
    check_result_clear(&res);
    run("{}", &closed, &res);
    assert_no_violations(&res);
    check_result_clear(&res);
}

static void test_closed_nested_object_pointer(void **state)
{
    (void)state;
    static const struct check_field inner_fields[] = {{.name = "x", .type = CT_ANY}, {0}};
    static const struct check_object_rule inner = {.fields = inner_fields, .closed = true};
    static const struct check_field outer_fields[] = {{.name = "in", .type = CT_OBJECT, .object = &inner}, {0}};
    static const struct check_object_rule outer = {.fields = outer_fields};
    struct check_result res;

    run("{\"in\": {\"x\": 1, \"y\": 2}}", &outer, &res);
    assert_only_violation(&res, "/in/y", "unevaluatedProperties");
    check_result_clear(&res);
}

static void test_pointer_escapes_tilde_and_slash(void **state)
{
    (void)state;
    static const struct check_field fields[] = {
        {.name = "x/y", .type = CT_STRING, .required = true},
        {0}};
    static const struct check_object_rule rule = {.fields = fields, .closed = true};
    struct check_result res;

    run("{\"a/b\": 1, \"m~n\": 2, \"~1\": 3, \"/\": 4}", &rule, &res);
    assert_violation_count(&res, 5);
    assert_violation(&res, "/x~1y", "required");
    assert_violation(&res, "/a~1b", "unevaluatedProperties");
    assert_violation(&res, "/m~0n", "unevaluatedProperties");
    assert_violation(&res, "/~01", "unevaluatedProperties"); /* "~" first, so "~1" is not "/" */
    assert_violation(&res, "/~1", "unevaluatedProperties");
    check_result_clear(&res);
}

static void test_non_object_document_is_reported_at_root_pointer(void **state)
{
    (void)state;
    static const struct check_field fields[] = {{.name = "a", .type = CT_ANY, .required = true}, {0}};
    static const struct check_object_rule rule = {.fields = fields};
    const char *docs[] = {"[]", "[{\"a\": 1}]", "\"a\"", "1", "null", "true"};
    struct check_result res;

    for (size_t k = 0; k < sizeof(docs) / sizeof(docs[0]); k++) {
        run(docs[k], &rule, &res);
        assert_only_violation(&res, "", "type");
        check_result_clear(&res);
    }
}

static void test_path_push_and_pop(void **state)
{
    (void)state;
    struct check_result res = {0};
    struct check_ctx ctx;
    check_init(&ctx, &res);
    assert_string_equal(ctx.path, "");

    size_t s0 = check_push_key(&ctx, "items");
    size_t s1 = check_push_index(&ctx, 3);
    size_t s2 = check_push_key(&ctx, "p/n");
    assert_string_equal(ctx.path, "/items/3/p~1n");
    check_fail(&ctx, "custom", "has %d problems", 2);
    check_pop(&ctx, s2);
    assert_string_equal(ctx.path, "/items/3");
    check_pop(&ctx, s1);
    assert_string_equal(ctx.path, "/items");
    check_pop(&ctx, s0);
    assert_string_equal(ctx.path, "");
    check_fail(&ctx, "custom", "whole document");

    assert_violation_count(&res, 2);
    assert_string_equal(res.v[0].pointer, "/items/3/p~1n");
    assert_string_equal(res.v[0].rule, "custom");
    assert_string_equal(res.v[0].message, "has 2 problems");
    assert_string_equal(res.v[1].pointer, "");
    check_result_clear(&res);
}

static void test_overlong_pointer_is_truncated_not_overflowed(void **state)
{
    (void)state;
    char key[400];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    struct check_field fields[] = {
        {.name = key, .type = CT_STRING, .required = true},
        {.name = "short", .type = CT_STRING, .required = true},
        {0}};
    struct check_object_rule rule = {.fields = fields};
    struct check_result res;

    run("{}", &rule, &res);
    assert_violation_count(&res, 2);
    size_t len = strlen(res.v[0].pointer);
    assert_true(len < CHECK_POINTER_MAX);
    assert_true(len > 3);
    assert_memory_equal(res.v[0].pointer, "/kkk", 4);
    assert_string_equal(res.v[0].pointer + len - 3, "...");
    assert_null(strstr(res.v[0].pointer, "......")); /* cut once, not twice */
    assert_violation(&res, "/short", "required"); /* the next pointer is whole again */
    check_result_clear(&res);
}

/* ---- cross-field rules ---- */

/* "to" must not be below "from". */
static void from_to_rule(struct check_ctx *ctx, const json_t *obj)
{
    json_t *from = json_object_get(obj, "from"), *to = json_object_get(obj, "to");
    if (json_is_integer(from) && json_is_integer(to) && json_integer_value(to) < json_integer_value(from)) {
        size_t saved = check_push_key(ctx, "to");
        check_fail(ctx, "range", "must not be below from");
        check_pop(ctx, saved);
    }
}

static void test_extra_rule_runs_at_the_object_location(void **state)
{
    (void)state;
    static const struct check_field range_fields[] = {
        {.name = "from", .type = CT_INTEGER, .required = true},
        {.name = "to", .type = CT_INTEGER, .required = true},
        {0}};
    static const struct check_object_rule range_rule = {.fields = range_fields, .extra = from_to_rule};
    static const struct check_field fields[] = {
        {.name = "range", .type = CT_OBJECT, .object = &range_rule},
        {0}};
    static const struct check_object_rule rule = {.fields = fields};
    struct check_result res;

    run("{\"range\": {\"from\": 5, \"to\": 1}}", &rule, &res);
    assert_only_violation(&res, "/range/to", "range");
    check_result_clear(&res);

    run("{\"range\": {\"from\": 1, \"to\": 5}}", &rule, &res);
    assert_no_violations(&res);
    check_result_clear(&res);
}

/* ---- the cap ---- */

static void test_violations_are_capped_and_the_rest_counted(void **state)
{
    (void)state;
    static const struct check_field none[] = {{0}};
    static const struct check_object_rule closed = {.fields = none, .closed = true};
    json_t *doc = json_object();
    for (int k = 0; k < CHECK_MAX_VIOLATIONS + 50; k++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", k);
        json_object_set_new(doc, key, json_true());
    }
    struct check_result res = {0};
    struct check_ctx ctx;
    check_init(&ctx, &res);
    check_object(&ctx, doc, &closed);
    json_decref(doc);

    assert_int_equal(res.n, CHECK_MAX_VIOLATIONS);
    assert_int_equal(res.dropped, 50);
    for (size_t k = 0; k < res.n; k++)
        assert_string_equal(res.v[k].rule, "unevaluatedProperties");

    check_result_clear(&res);
    assert_null(res.v);
    assert_int_equal(res.n, 0);
    assert_int_equal(res.dropped, 0);
    check_result_clear(&res); /* twice is harmless */
}

static void test_exactly_the_cap_drops_nothing(void **state)
{
    (void)state;
    struct check_result res = {0};
    struct check_ctx ctx;
    check_init(&ctx, &res);
    for (int k = 0; k < CHECK_MAX_VIOLATIONS; k++)
        check_fail(&ctx, "x", "n");
    assert_int_equal(res.n, CHECK_MAX_VIOLATIONS);
    assert_int_equal(res.dropped, 0);
    check_fail(&ctx, "x", "n");
    assert_int_equal(res.n, CHECK_MAX_VIOLATIONS);
    assert_int_equal(res.dropped, 1);
    check_result_clear(&res);
}

/* ---- variants ---- */

static const struct check_field card_fields[] = {
    {.name = "cardId", .type = CT_STRING, .required = true},
    {0}};
static const struct check_field refund_fields[] = {
    {.name = "amount", .type = CT_INTEGER, .required = true, .has_min = true, .min = 0},
    {0}};
static const struct check_variant variants[] = {
    {"card_frozen", card_fields},
    {"refund", refund_fields},
    {NULL, NULL}};

static void test_variant_find(void **state)
{
    (void)state;
    assert_ptr_equal(check_variant_find(variants, "card_frozen"), card_fields);
    assert_ptr_equal(check_variant_find(variants, "refund"), refund_fields);
    assert_null(check_variant_find(variants, "unknown"));
    assert_null(check_variant_find(variants, "refun"));
    assert_null(check_variant_find(variants, ""));
    assert_null(check_variant_find(variants, NULL));
}

/* Applies the variants to the object at "/event" of text. */
static void run_variant(const char *text, struct check_result *res)
{
    json_t *doc = tu_json(text);
    struct check_ctx ctx;
    memset(res, 0, sizeof(*res));
    check_init(&ctx, res);
    size_t saved = check_push_key(&ctx, "event");
    check_variant_apply(&ctx, json_object_get(doc, "event"), "type", variants);
    check_pop(&ctx, saved);
    json_decref(doc);
}

static void test_variant_apply(void **state)
{
    (void)state;
    struct check_result res;

    run_variant("{\"event\": {\"type\": \"card_frozen\", \"cardId\": \"c1\"}}", &res);
    assert_no_violations(&res);
    check_result_clear(&res);

    run_variant("{\"event\": {\"type\": \"card_frozen\", \"cardId\": 1}}", &res);
    assert_only_violation(&res, "/event/cardId", "type");
    check_result_clear(&res);

    run_variant("{\"event\": {\"type\": \"refund\"}}", &res);
    assert_only_violation(&res, "/event/amount", "required");
    check_result_clear(&res);

    run_variant("{\"event\": {\"type\": \"refund\", \"amount\": -1}}", &res);
    assert_only_violation(&res, "/event/amount", "minimum");
    check_result_clear(&res);
}

static void test_variant_apply_passes_unknown_or_missing_names(void **state)
{
    (void)state;
    struct check_result res;
    const char *docs[] = {
        "{\"event\": {\"type\": \"something_new\", \"cardId\": 1}}",
        "{\"event\": {\"cardId\": 1}}",
        "{\"event\": {\"type\": 7, \"cardId\": 1}}",
        "{\"event\": {\"type\": null}}",
    };
    for (size_t k = 0; k < sizeof(docs) / sizeof(docs[0]); k++) {
        run_variant(docs[k], &res);
        assert_no_violations(&res);
        check_result_clear(&res);
    }
}

/* ---- check_is_uuid ---- */

static bool uuid(const char *s)
{
    return check_is_uuid(s, strlen(s));
}

static void test_is_uuid(void **state)
{
    (void)state;
    assert_true(uuid("93a5bbf3-48f4-4786-93af-6437331aea9a"));
    assert_true(uuid("93A5BBF3-48F4-4786-93AF-6437331AEA9A"));
    assert_true(uuid("00000000-0000-0000-0000-000000000000"));

    assert_false(uuid(""));
    assert_false(uuid("93a5bbf3-48f4-4786-93af-6437331aea9"));   /* 35 */
    assert_false(uuid("93a5bbf3-48f4-4786-93af-6437331aea9a0")); /* 37 */
    assert_false(uuid("93a5bbf348f4478693af6437331aea9a"));      /* no dashes */
    assert_false(uuid("93a5bbf-348f4-4786-93af-6437331aea9a"));  /* dash one early */
    assert_false(uuid("93a5bbf3-48f4-4786-93af6-437331aea9a"));  /* dash one late */
    assert_false(uuid("93a5bbf3-48f4-4786-93af-6437331aea9g"));  /* non-hex */
    assert_false(uuid("93a5bbf3-48f4-4786-93af-6437331aea9-"));
    assert_false(uuid("{3a5bbf3-48f4-4786-93af-6437331aea9}"));
    assert_false(uuid("93a5bbf3 48f4 4786 93af 6437331aea9a"));

    /* the length argument is honoured: a valid UUID followed by more bytes */
    const char *s = "93a5bbf3-48f4-4786-93af-6437331aea9a";
    assert_false(check_is_uuid(s, 35));
    assert_true(check_is_uuid("93a5bbf3-48f4-4786-93af-6437331aea9aXYZ", 36));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_missing_is_reported_at_its_pointer),
        cmocka_unit_test(test_type_of_each_kind),
        cmocka_unit_test(test_wrong_type_skips_the_other_rules_of_the_field),
        cmocka_unit_test(test_min_length),
        cmocka_unit_test(test_max_length_counts_utf8_characters_not_bytes),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_messages_never_quote_the_value),
        cmocka_unit_test(test_integer_minimum_and_maximum),
        cmocka_unit_test(test_integer_has_min_applies_a_zero_minimum),
        cmocka_unit_test(test_min_items),
        cmocka_unit_test(test_max_items_stops_before_walking_the_items),
        cmocka_unit_test(test_array_items_are_checked_at_their_index),
        cmocka_unit_test(test_nested_pointers),
        cmocka_unit_test(test_closed_object_reports_unknown_properties),
        cmocka_unit_test(test_closed_nested_object_pointer),
        cmocka_unit_test(test_pointer_escapes_tilde_and_slash),
        cmocka_unit_test(test_non_object_document_is_reported_at_root_pointer),
        cmocka_unit_test(test_path_push_and_pop),
        cmocka_unit_test(test_overlong_pointer_is_truncated_not_overflowed),
        cmocka_unit_test(test_extra_rule_runs_at_the_object_location),
        cmocka_unit_test(test_violations_are_capped_and_the_rest_counted),
        cmocka_unit_test(test_exactly_the_cap_drops_nothing),
        cmocka_unit_test(test_variant_find),
        cmocka_unit_test(test_variant_apply),
        cmocka_unit_test(test_variant_apply_passes_unknown_or_missing_names),
        cmocka_unit_test(test_is_uuid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
