/* The feed's one mapping table (src/api/event_types.c): names the seed's patterns
 * allow, the order GET /banking/eventTypes answers in, and an entry for every record
 * any route can store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "issuerhook/bookings.h"
#include "issuerhook/check_card_activity.h"
#include "issuerhook/check_riverty.h"
#include "issuerhook/event_types.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every records.source the code writes (src/api/amiko.c, booking.c, card_activity.c,
 * riverty.c). */
static const char *const SOURCES[] = {"amiko.event",           "amiko.domain_event", "amiko.booking",
                                      "amiko.booking_result", "apiture.card_activity", "riverty.event"};

/* ^[a-z][a-zA-Z0-9]{min-1,max-1}$ */
static bool lower_camel(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

static void test_pattern_helper(void **state)
{
    (void)state;
    assert_true(lower_camel("abcd", 4, 48));
    assert_true(lower_camel("caseCreated", 4, 48));
    assert_false(lower_camel("abc", 4, 48));
    assert_false(lower_camel("Abcd", 4, 48));
    assert_false(lower_camel("ab_cd", 4, 48));
    assert_false(lower_camel(NULL, 4, 48));
}

static void test_names_match_the_seed(void **state)
{
    (void)state;
    assert_true(event_types_count > 0);
    for (size_t i = 0; i < event_types_count; i++) {
        const struct event_type *t = &event_types[i];
        if (!lower_camel(t->type, 4, 48))
            fail_msg("entry %zu: type \"%s\" does not match ^[a-z][a-zA-Z0-9]{3,47}$", i, t->type);
        if (!lower_camel(t->category, 4, 40))
            fail_msg("entry %zu: category \"%s\" does not match ^[a-z][a-zA-Z0-9]{3,39}$", i, t->category);
        assert_non_null(t->source);
        assert_non_null(t->description);
        assert_true(strlen(t->description) > 10);
        assert_non_null(t->primary_id_description);
        assert_true(strlen(t->primary_id_description) > 0);
        if (t->primary_id) /* a JSON Pointer of one or two members */
            assert_true(t->primary_id[0] == '/' && strlen(t->primary_id) > 1);
        if (t->raw)
            assert_true(strlen(t->raw) > 0);
    }
}

static void test_sorted_and_unique(void **state)
{
    (void)state;
    for (size_t i = 1; i < event_types_count; i++) {
        const struct event_type *a = &event_types[i - 1], *b = &event_types[i];
        int c = strcmp(a->category, b->category);
        if (c > 0 || (c == 0 && strcmp(a->type, b->type) >= 0))
            fail_msg("entries %zu (%s/%s) and %zu (%s/%s) are not in (category, type) order", i - 1, a->category,
                     a->type, i, b->category, b->type);
    }
    /* a type names one kind of record, whatever its category */
    for (size_t i = 0; i < event_types_count; i++)
        for (size_t j = i + 1; j < event_types_count; j++)
            if (strcmp(event_types[i].type, event_types[j].type) == 0)
                fail_msg("type %s twice (entries %zu and %zu)", event_types[i].type, i, j);
    /* one entry per (source, raw), and at most one fallback per source */
    for (size_t i = 0; i < event_types_count; i++)
        for (size_t j = i + 1; j < event_types_count; j++) {
            const struct event_type *a = &event_types[i], *b = &event_types[j];
            if (strcmp(a->source, b->source) != 0)
                continue;
            if ((!a->raw && !b->raw) || (a->raw && b->raw && strcmp(a->raw, b->raw) == 0))
                fail_msg("source %s raw %s twice (entries %zu and %zu)", a->source, a->raw ? a->raw : "(any)", i, j);
        }
}

static void test_sources_are_known(void **state)
{
    (void)state;
    for (size_t i = 0; i < event_types_count; i++) {
        bool known = false;
        for (size_t k = 0; k < N(SOURCES); k++)
            known = known || strcmp(event_types[i].source, SOURCES[k]) == 0;
        if (!known)
            fail_msg("entry %zu names source \"%s\", which no route writes", i, event_types[i].source);
    }
    /* each source has at least one entry */
    for (size_t k = 0; k < N(SOURCES); k++) {
        bool any = false;
        for (size_t i = 0; i < event_types_count; i++)
            any = any || strcmp(event_types[i].source, SOURCES[k]) == 0;
        if (!any)
            fail_msg("source %s has no entry", SOURCES[k]);
    }
}

static const struct event_type *must_map(const char *source, const char *raw)
{
    const struct event_type *t = event_type_of(source, raw);
    if (!t)
        fail_msg("no entry for %s / %s", source, raw ? raw : "(null)");
    assert_string_equal(t->source, source);
    return t;
}

static void expect(const char *source, const char *raw, const char *category, const char *type)
{
    const struct event_type *t = must_map(source, raw);
    if (strcmp(t->category, category) != 0 || strcmp(t->type, type) != 0)
        fail_msg("%s / %s maps to %s/%s, expected %s/%s", source, raw ? raw : "(null)", t->category, t->type,
                 category, type);
    /* an explicit entry, not the fallback */
    if (raw)
        assert_true(t->raw == NULL || strcmp(t->raw, raw) == 0);
}

static void test_every_stored_record_maps(void **state)
{
    (void)state;
    /* Amiko v1 and v2: the known type, and any other (stored as received) */
    expect("amiko.event", "case_created", "amikoEvents", "caseCreated");
    expect("amiko.domain_event", "case_created", "amikoDomainEvents", "domainCaseCreated");
    assert_non_null(event_type_of("amiko.event", "case_created")->raw);
    assert_non_null(event_type_of("amiko.domain_event", "case_created")->raw);

    /* bookings: the request and both results (booking.c writes booking_status_name's words) */
    expect("amiko.booking", "booking_request", "bookings", "bookingRequested");
    expect("amiko.booking_result", booking_status_name(BOOKING_COMPLETED), "bookings", "bookingCompleted");
    expect("amiko.booking_result", booking_status_name(BOOKING_FAILED), "bookings", "bookingFailed");
    assert_string_equal(booking_status_name(BOOKING_COMPLETED), "completed");
    assert_string_equal(booking_status_name(BOOKING_FAILED), "failed");

    /* card activity: every activityType the checker lets through */
    size_t n_card = 0;
    for (size_t i = 0; card_activity_types[i]; i++, n_card++) {
        const struct event_type *t = must_map("apiture.card_activity", card_activity_types[i]);
        assert_non_null(t->raw);
        assert_string_equal(t->raw, card_activity_types[i]);
        assert_string_equal(t->category, "cardActivity");
    }
    assert_int_equal(n_card, 2);
    expect("apiture.card_activity", "approved", "cardActivity", "cardActivityApproved");
    expect("apiture.card_activity", "declined", "cardActivity", "cardActivityDeclined");

    /* Riverty: every eventType of the enum */
    size_t n_riverty = 0;
    for (size_t i = 0; riverty_event_types[i]; i++, n_riverty++) {
        const struct event_type *t = must_map("riverty.event", riverty_event_types[i]);
        assert_non_null(t->raw);
        assert_string_equal(t->raw, riverty_event_types[i]);
        assert_string_equal(t->category, "accountEvents");
        assert_string_equal(t->primary_id, "/accountNumber");
    }
    assert_true(n_riverty >= 6);
    expect("riverty.event", "Purchase", "accountEvents", "accountPurchase");
    expect("riverty.event", "WithdrawalCommission", "accountEvents", "accountWithdrawalCommission");
}

static void test_unknown_amiko_types_fall_back(void **state)
{
    (void)state;
    const char *unknown[] = {"card_blocked_in_a_future_version", "", "CASE_CREATED", "case_created ", "x"};
    for (size_t i = 0; i < N(unknown); i++) {
        const struct event_type *v1 = must_map("amiko.event", unknown[i]);
        assert_null(v1->raw);
        assert_string_equal(v1->category, "amikoEvents");
        assert_string_equal(v1->type, "unknownEvent");
        const struct event_type *v2 = must_map("amiko.domain_event", unknown[i]);
        assert_null(v2->raw);
        assert_string_equal(v2->category, "amikoDomainEvents");
        assert_string_equal(v2->type, "domainUnknownEvent");
    }
    assert_string_equal(must_map("amiko.event", NULL)->type, "unknownEvent");
    assert_string_equal(must_map("amiko.domain_event", NULL)->type, "domainUnknownEvent");
}

static void test_sources_without_fallback(void **state)
{
    (void)state;
    /* sources whose raw types are an enum have no catch-all: every stored raw type is listed */
    const char *closed[] = {"amiko.booking", "amiko.booking_result", "apiture.card_activity", "riverty.event"};
    for (size_t k = 0; k < N(closed); k++) {
        const struct event_type *t = event_type_of(closed[k], "no_such_raw_type");
        if (t)
            assert_null(t->raw); /* a catch-all, if one is ever added, is fine too */
    }
    assert_null(event_type_of("no.such_source", "case_created"));
    assert_null(event_type_of("", "approved"));
    assert_null(event_type_of("amiko", "case_created"));
}

static void test_primary_ids(void **state)
{
    (void)state;
    assert_string_equal(must_map("amiko.event", "case_created")->primary_id, "/header/eventId");
    assert_string_equal(must_map("amiko.event", "other")->primary_id, "/header/eventId");
    assert_string_equal(must_map("amiko.domain_event", "case_created")->primary_id, "/header/eventId");
    assert_string_equal(must_map("amiko.booking", "booking_request")->primary_id, "/amikoBookingId");
    assert_string_equal(must_map("amiko.booking_result", "completed")->primary_id, "/amikoBookingId");
    assert_string_equal(must_map("amiko.booking_result", "failed")->primary_id, "/amikoBookingId");
    assert_string_equal(must_map("apiture.card_activity", "approved")->primary_id, "/cardId");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_helper),
        cmocka_unit_test(test_names_match_the_seed),
        cmocka_unit_test(test_sorted_and_unique),
        cmocka_unit_test(test_sources_are_known),
        cmocka_unit_test(test_every_stored_record_maps),
        cmocka_unit_test(test_unknown_amiko_types_fall_back),
        cmocka_unit_test(test_sources_without_fallback),
        cmocka_unit_test(test_primary_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
