/* Unit tests of where jansson's memory comes from (src/util/jsonarena.h): a parsed tree
 * from the parsing thread's arena, wiped and given back at once when its last block is
 * freed, also from another thread; a tree still alive sends the next parse to malloc; a
 * tree larger than the arena goes on in malloc; blocks made after the parse are malloc's.
 * Under AddressSanitizer there is no arena (it must see each block): the tests then check
 * only that parsing works. */
#include "testutil.h"

#include <pthread.h>

#include "issuerhook/jsonutil.h"
#include "jsonarena.h"

static const char DOC[] = "{\"pan\":\"4242424242424242\",\"items\":[{\"a\":\"x\"},{\"b\":[1,2,3]}],\"n\":1.50}";

static json_t *parse(const char *s, size_t len, struct jsonutil_numbers **nums)
{
    json_t *v = NULL;
    struct jsonutil_error err = {{0}};
    assert_int_equal(jsonutil_parse_strict(s, len, &v, nums, &err), IH_OK);
    return v;
}

static bool have_arena(void)
{
    json_t *v = parse("[\"probe\"]", 9, NULL);
    bool yes = jsonarena_used() > 0;
    json_decref(v);
    return yes;
}

static void test_tree_from_the_arena_wiped_when_freed(void **state)
{
    (void)state;
    if (!have_arena())
        skip();
    assert_int_equal(jsonarena_used(), 0);
    struct jsonutil_numbers *nums;
    json_t *v = parse(DOC, sizeof(DOC) - 1, &nums);
    assert_true(jsonarena_used() > 0);
    const char *pan = json_string_value(json_object_get(v, "pan"));
    assert_memory_equal(pan, "4242424242424242", 16);
    /* made after the parse: malloc's, freed by itself */
    json_object_set_new(v, "later", json_string("made after the parse"));
    size_t used = jsonarena_used();
    json_object_del(v, "later");
    assert_int_equal(jsonarena_used(), used);
    char *text;
    size_t len;
    assert_int_equal(jsonutil_canonical(v, nums, 0, &text, &len), IH_OK);
    assert_string_equal(text, "{\"items\":[{\"a\":\"x\"},{\"b\":[1,2,3]}],\"n\":1.50,\"pan\":\"4242424242424242\"}");
    free(text);
    jsonutil_numbers_free(nums);
    json_decref(v);
    assert_int_equal(jsonarena_used(), 0);
    /* the arena's memory is the daemon's own mapping: the card number is gone from it */
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(pan[i], 0);
}

static void test_a_live_tree_sends_the_next_parse_to_malloc(void **state)
{
    (void)state;
    if (!have_arena())
        skip();
    json_t *a = parse(DOC, sizeof(DOC) - 1, NULL);
    size_t used = jsonarena_used();
    json_t *b = parse(DOC, sizeof(DOC) - 1, NULL);
    assert_int_equal(jsonarena_used(), used); /* b is malloc's */
    assert_true(json_equal(a, b));
    json_decref(a);
    assert_int_equal(jsonarena_used(), 0);
    json_decref(b); /* malloc's blocks, wiped and freed one by one */
    json_t *c = parse(DOC, sizeof(DOC) - 1, NULL);
    assert_true(jsonarena_used() > 0); /* the arena again */
    json_decref(c);
}

struct handoff {
    json_t *tree;
};

static void *free_elsewhere(void *arg)
{
    struct handoff *h = arg;
    json_decref(h->tree);
    return NULL;
}

static void test_a_tree_freed_by_another_thread(void **state)
{
    (void)state;
    if (!have_arena())
        skip();
    struct handoff h = {parse(DOC, sizeof(DOC) - 1, NULL)};
    assert_true(jsonarena_used() > 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_elsewhere, &h), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(jsonarena_used(), 0);
    json_t *v = parse(DOC, sizeof(DOC) - 1, NULL);
    assert_true(jsonarena_used() > 0);
    json_decref(v);
}

/* The last blocks of a tree freed by two threads at once: exactly one of them empties and
 * wipes the arena, every time. Each thread frees a subtree of a few hundred blocks, both
 * let go by a barrier, so that their last frees meet. */
static pthread_barrier_t g_barrier;

static void *drop(void *arg)
{
    pthread_barrier_wait(&g_barrier);
    json_decref(arg);
    return NULL;
}

static void test_the_last_blocks_freed_by_two_threads_at_once(void **state)
{
    (void)state;
    if (!have_arena())
        skip();
    char doc[16384];
    size_t n = (size_t)snprintf(doc, sizeof(doc), "{\"a\":{\"pan\":\"4242424242424242\"");
    for (int side = 0; side < 2; side++) {
        if (side)
            n += (size_t)snprintf(doc + n, sizeof(doc) - n, "},\"b\":{\"pan\":\"4111111111111111\"");
        for (int k = 0; k < 100; k++)
            n += (size_t)snprintf(doc + n, sizeof(doc) - n, ",\"k%d\":\"%d\"", k, k);
    }
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "}}");
    assert_true(n < sizeof(doc));
    for (int i = 0; i < 500; i++) {
        json_t *v = parse(doc, n, NULL);
        json_t *a = json_incref(json_object_get(v, "a")), *b = json_incref(json_object_get(v, "b"));
        const char *pa = json_string_value(json_object_get(a, "pan"));
        json_decref(v); /* a and b, and their strings, are what is left of it */
        assert_true(jsonarena_used() > 0);
        pthread_t t1, t2;
        assert_int_equal(pthread_barrier_init(&g_barrier, NULL, 2), 0);
        assert_int_equal(pthread_create(&t1, NULL, drop, a), 0);
        assert_int_equal(pthread_create(&t2, NULL, drop, b), 0);
        assert_int_equal(pthread_join(t1, NULL), 0);
        assert_int_equal(pthread_join(t2, NULL), 0);
        pthread_barrier_destroy(&g_barrier);
        assert_int_equal(jsonarena_used(), 0);
        for (size_t k = 0; k < 16; k++)
            assert_int_equal(pa[k], 0);
    }
}

/* 40,000 strings: more than an arena holds; the rest of the tree comes from malloc. */
static void test_a_tree_larger_than_the_arena(void **state)
{
    (void)state;
    size_t n = 40000, cap = n * 110 + 16, len = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    doc[len++] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(doc + len, cap - len, "%s\"%0100zu\"", i ? "," : "", i);
    doc[len++] = ']';
    json_t *v = parse(doc, len, NULL);
    assert_int_equal(json_array_size(v), n);
    char want[128];
    snprintf(want, sizeof(want), "%0100zu", n - 1);
    assert_string_equal(json_string_value(json_array_get(v, n - 1)), want);
    json_decref(v);
    assert_int_equal(jsonarena_used(), 0);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_from_the_arena_wiped_when_freed),
        cmocka_unit_test(test_a_live_tree_sends_the_next_parse_to_malloc),
        cmocka_unit_test(test_a_tree_freed_by_another_thread),
        cmocka_unit_test(test_the_last_blocks_freed_by_two_threads_at_once),
        cmocka_unit_test(test_a_tree_larger_than_the_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
