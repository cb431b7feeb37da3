/* Unit tests of path matching (include/issuerhook/router.h) on a small local table. */
#include "testutil.h"

#include "issuerhook/router.h"
#include "issuerhook/scope.h"

static const struct route table[] = {
    {"GET", "/health", ACCESS_HEALTH, 0, false, false, DIALECT_AMIKO, NULL},
    {"POST", "/events", ACCESS_SCOPED, SCOPE_AMIKO_EVENTS, true, true, DIALECT_AMIKO, NULL},
    {"GET", "/bookings/{amikoBookingId}", ACCESS_SCOPED, SCOPE_AMIKO_BOOKINGS, false, true, DIALECT_AMIKO, NULL},
    {"PUT", "/bookings/{amikoBookingId}", ACCESS_SCOPED, SCOPE_AMIKO_BOOKINGS, true, true, DIALECT_AMIKO, NULL},
    {"DELETE", "/bookings/{amikoBookingId}", ACCESS_SCOPED, SCOPE_AMIKO_BOOKINGS, false, true, DIALECT_AMIKO,
     NULL},
    {"GET", "/cards/{cardId}/cases/{caseId}", ACCESS_SCOPED, SCOPE_LEDGER_READ, false, false, DIALECT_APITURE,
     NULL},
    {"POST", "/cards/{cardId}/cases", ACCESS_SCOPED, SCOPE_LEDGER_WRITE, true, false, DIALECT_APITURE, NULL},
};
#define NROUTES (sizeof(table) / sizeof(table[0]))

static struct route_match m;
static char allow[128];

static enum router_result match(const char *method, const char *path)
{
    memset(&m, 0xAA, sizeof(m)); /* garbage, as a caller's stack would hold */
    memset(allow, 'X', sizeof(allow));
    return router_match(table, NROUTES, method, path, &m, allow, sizeof(allow));
}

static void test_found(void **state)
{
    (void)state;
    assert_int_equal(match("GET", "/health"), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[0]);
    assert_int_equal(m.nparams, 0);

    assert_int_equal(match("POST", "/events"), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[1]);
    assert_int_equal(m.route->scope, SCOPE_AMIKO_EVENTS);
}

static void test_not_found(void **state)
{
    (void)state;
    const char *paths[] = {"/", "", "/healthz", "/health/x", "/event", "/eventsx", "/Events", "/bookings",
                           "/cards/c1/cases/k1/x", "/cards/c1", "//health"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (match("GET", paths[i]) != ROUTER_NOT_FOUND)
            print_error("path \"%s\"\n", paths[i]);
        assert_int_equal(match("GET", paths[i]), ROUTER_NOT_FOUND);
        assert_string_equal(allow, "");
    }
}

static void test_bad_method_lists_every_method_of_the_path(void **state)
{
    (void)state;
    assert_int_equal(match("POST", "/bookings/B-1"), ROUTER_BAD_METHOD);
    assert_string_equal(allow, "GET, HEAD, PUT, DELETE");

    assert_int_equal(match("GET", "/events"), ROUTER_BAD_METHOD);
    assert_string_equal(allow, "POST");

    /* methods are case-sensitive */
    assert_int_equal(match("get", "/health"), ROUTER_BAD_METHOD);
    assert_string_equal(allow, "GET, HEAD");
}

static void test_bad_method_lists_a_method_once(void **state)
{
    (void)state;
    static const struct route dup[] = {
        {"GET", "/bookings/export", ACCESS_SCOPED, 0, false, false, DIALECT_AMIKO, NULL},
        {"GET", "/bookings/{id}", ACCESS_SCOPED, 0, false, false, DIALECT_AMIKO, NULL},
        {"PUT", "/bookings/{id}", ACCESS_SCOPED, 0, true, false, DIALECT_AMIKO, NULL},
    };
    assert_int_equal(router_match(dup, 3, "POST", "/bookings/export", &m, allow, sizeof(allow)), ROUTER_BAD_METHOD);
    assert_string_equal(allow, "GET, HEAD, PUT");

    /* the literal route is tried first, the pattern still answers other methods */
    assert_int_equal(router_match(dup, 3, "PUT", "/bookings/export", &m, allow, sizeof(allow)), ROUTER_FOUND);
    assert_ptr_equal(m.route, &dup[2]);
    assert_string_equal(m.params[0], "export");
}

static void test_allow_is_truncated_safely(void **state)
{
    (void)state;
    char small[8];
    memset(small, 'X', sizeof(small));
    assert_int_equal(router_match(table, NROUTES, "POST", "/bookings/B-1", &m, small, sizeof(small)),
                     ROUTER_BAD_METHOD);
    assert_string_equal(small, "GET"); /* "GET, HEAD" does not fit: no half name */
}

/* HEAD is answered by the GET route (RFC 9110 section 9.3.2), never by another. */
static void test_head_is_get(void **state)
{
    (void)state;
    assert_int_equal(match("HEAD", "/health"), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[0]);
    assert_int_equal(match("HEAD", "/cards/c-1/cases/k-2"), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[5]);
    assert_string_equal(m.params[1], "k-2");
    /* a path with no GET: HEAD is not allowed there either */
    assert_int_equal(match("HEAD", "/events"), ROUTER_BAD_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(match("HEAD", "/nowhere"), ROUTER_NOT_FOUND);
}

static void test_param_capture(void **state)
{
    (void)state;
    assert_int_equal(match("PUT", "/bookings/AB-12_x.y~z"), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[3]);
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], "AB-12_x.y~z");

    assert_int_equal(match("GET", "/cards/card-7/cases/case-9"), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[5]);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[0], "card-7");
    assert_string_equal(m.params[1], "case-9");

    assert_int_equal(match("POST", "/cards/card-7/cases"), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[6]);
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], "card-7");
}

static void test_param_length_limit(void **state)
{
    (void)state;
    char path[64 + ROUTER_PARAM_MAX + 2];
    char id[ROUTER_PARAM_MAX + 2];

    memset(id, 'a', ROUTER_PARAM_MAX);
    id[ROUTER_PARAM_MAX] = '\0';
    snprintf(path, sizeof(path), "/bookings/%s", id);
    assert_int_equal(match("GET", path), ROUTER_FOUND); /* exactly the limit */
    assert_string_equal(m.params[0], id);

    memset(id, 'a', ROUTER_PARAM_MAX + 1);
    id[ROUTER_PARAM_MAX + 1] = '\0';
    snprintf(path, sizeof(path), "/bookings/%s", id);
    assert_int_equal(match("GET", path), ROUTER_NOT_FOUND);
    assert_int_equal(match("POST", path), ROUTER_NOT_FOUND); /* no Allow either */
}

static void test_empty_param_not_matched(void **state)
{
    (void)state;
    assert_int_equal(match("GET", "/bookings/"), ROUTER_NOT_FOUND);
    assert_int_equal(match("GET", "/cards//cases/k1"), ROUTER_NOT_FOUND);
}

static void test_param_does_not_span_segments(void **state)
{
    (void)state;
    assert_int_equal(match("GET", "/bookings/a/b"), ROUTER_NOT_FOUND);
}

static void test_trailing_slash_not_matched(void **state)
{
    (void)state;
    assert_int_equal(match("GET", "/health/"), ROUTER_NOT_FOUND);
    assert_int_equal(match("POST", "/events/"), ROUTER_NOT_FOUND);
    assert_int_equal(match("GET", "/bookings/B-1/"), ROUTER_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_bad_method_lists_every_method_of_the_path),
        cmocka_unit_test(test_bad_method_lists_a_method_once),
        cmocka_unit_test(test_allow_is_truncated_safely),
        cmocka_unit_test(test_head_is_get),
        cmocka_unit_test(test_param_capture),
        cmocka_unit_test(test_param_length_limit),
        cmocka_unit_test(test_empty_param_not_matched),
        cmocka_unit_test(test_param_does_not_span_segments),
        cmocka_unit_test(test_trailing_slash_not_matched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
