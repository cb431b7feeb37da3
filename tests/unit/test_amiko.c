/* Unit tests of the Amiko event notification schemas (include/issuerhook/check_amiko.h).
 *
 * Each rule has its own test: take the seed's sample payload (a fixture under
 * tests/fixtures/amiko/valid/), break exactly one thing, and expect exactly one
 * violation at its JSON Pointer. The fixture files themselves are checked against
 * tests/fixtures/amiko/verdicts.json. */
#include "testutil.h"

#include <dirent.h>

#include "issuerhook/check_amiko.h"

enum schema { EVENT, DOMAIN_EVENT };

static const char *const sample_path[] = {
    [EVENT] = "amiko/valid/event_case_created.json",
    [DOMAIN_EVENT] = "amiko/valid/domain_event_case_created.json",
};

static void check_schema(enum schema s, const json_t *root, struct check_result *res)
{
    memset(res, 0, sizeof(*res));
    if (s == EVENT)
        check_amiko_event(root, res);
    else
        check_amiko_domain_event(root, res);
}

/* The seed sample of schema s with the member at pointer set to value (NULL: deleted),
 * checked: exactly one violation (want_ptr, want_rule), or none when want_ptr is NULL. */
static void check_mutated(enum schema s, const char *pointer, json_t *value, const char *want_ptr,
                          const char *want_rule, const char *file, int line)
{
    json_t *root = tu_fixture(sample_path[s]);
    if (pointer)
        tu_json_set(root, pointer, value);
    struct check_result res;
    check_schema(s, root, &res);
    if (want_ptr)
        tu_assert_only_violation(&res, want_ptr, want_rule, file, line);
    else
        tu_assert_violation_count(&res, 0, file, line);
    check_result_clear(&res);
    json_decref(root);
}

/* The sample with pointer set to value has exactly one violation: rule at want_ptr. */
#define assert_rejected(s, pointer, value, want_ptr, want_rule) \
    check_mutated((s), (pointer), (value), (want_ptr), (want_rule), __FILE__, __LINE__)
/* The sample with pointer deleted has exactly one violation: "required" at pointer. */
#define assert_required(s, pointer) check_mutated((s), (pointer), NULL, (pointer), "required", __FILE__, __LINE__)
/* The sample with pointer set to value (NULL: deleted) has no violation. */
#define assert_accepted(s, pointer, value) check_mutated((s), (pointer), (value), NULL, NULL, __FILE__, __LINE__)

/* =================== POST /events =================== */

static void test_event_seed_sample_is_valid(void **state)
{
    (void)state;
    assert_accepted(EVENT, NULL, NULL);
}

static void test_event_not_an_object(void **state)
{
    (void)state;
    json_t *root = tu_json("[]");
    struct check_result res;
    check_schema(EVENT, root, &res);
    assert_only_violation(&res, "", "type");
    check_result_clear(&res);
    json_decref(root);
}

static void test_event_header_missing(void **state)
{
    (void)state;
    assert_required(EVENT, "/header");
}

static void test_event_header_not_an_object(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/header", json_string("2026.1.0"), "/header", "type");
    assert_rejected(EVENT, "/header", json_array(), "/header", "type");
}

static void test_event_version_missing(void **state)
{
    (void)state;
    assert_required(EVENT, "/header/version");
}

static void test_event_version_not_a_string(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/header/version", json_integer(2026), "/header/version", "type");
}

static void test_event_event_id_missing(void **state)
{
    (void)state;
    assert_required(EVENT, "/header/eventId");
}

static void test_event_event_id_not_a_uuid(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/header/eventId", json_string("evt-1234"), "/header/eventId", "format");
    assert_rejected(EVENT, "/header/eventId", json_string("93a5bbf3-48f4-4786-93af-6437331aea9"),
                    "/header/eventId", "format");
    assert_rejected(EVENT, "/header/eventId", json_string(""), "/header/eventId", "format");
    /* upper case is still a UUID */
    assert_accepted(EVENT, "/header/eventId", json_string("93A5BBF3-48F4-4786-93AF-6437331AEA9A"));
}

static void test_event_event_id_not_a_string(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/header/eventId", json_integer(93), "/header/eventId", "type");
}

static void test_event_generated_at_missing(void **state)
{
    (void)state;
    assert_required(EVENT, "/header/generatedAt");
}

static void test_event_generated_at_real(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/header/generatedAt", json_real(1.5), "/header/generatedAt", "type");
}

static void test_event_generated_at_negative(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/header/generatedAt", json_integer(-1), "/header/generatedAt", "minimum");
}

static void test_event_generated_at_string(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/header/generatedAt", json_string("1767225600000"), "/header/generatedAt", "type");
}

static void test_event_generated_at_epoch_millis(void **state)
{
    (void)state;
    assert_accepted(EVENT, "/header/generatedAt", json_integer(1767225600000));
}

static void test_event_event_missing(void **state)
{
    (void)state;
    assert_required(EVENT, "/event");
}

static void test_event_event_not_an_object(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/event", json_string("case_created"), "/event", "type");
}

static void test_event_type_missing(void **state)
{
    (void)state;
    assert_required(EVENT, "/event/type");
}

static void test_event_type_empty(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/event/type", json_string(""), "/event/type", "minLength");
}

static void test_event_type_not_a_string(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/event/type", json_integer(1), "/event/type", "type");
}

static void test_event_unknown_type_accepted(void **state)
{
    (void)state;
    /* Amiko adds types between versions: an unknown one is stored, its fields unchecked */
    json_t *root = tu_fixture(sample_path[EVENT]);
    tu_json_set(root, "/event/type", json_string("card_replacement_requested"));
    tu_json_set(root, "/event/cardId", json_integer(42));
    struct check_result res;
    check_schema(EVENT, root, &res);
    assert_no_violations(&res);
    check_result_clear(&res);
    json_decref(root);

    assert_false(check_amiko_event_type_known("card_replacement_requested"));
}

static void test_event_type_known(void **state)
{
    (void)state;
    assert_true(check_amiko_event_type_known("case_created"));
    assert_false(check_amiko_event_type_known("Case_created"));
    assert_false(check_amiko_event_type_known("case_created "));
    assert_false(check_amiko_event_type_known(""));
    assert_false(check_amiko_event_type_known(NULL));
}

static void test_event_case_created_card_id_number(void **state)
{
    (void)state;
    assert_rejected(EVENT, "/event/cardId", json_integer(4111), "/event/cardId", "type");
}

static void test_event_case_created_field_types(void **state)
{
    (void)state;
    static const char *const fields[] = {"/event/cardholderId", "/event/cardId", "/event/caseId",
                                         "/event/caseType", "/event/createdVia"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        assert_rejected(EVENT, fields[i], json_integer(1), fields[i], "type");
        assert_rejected(EVENT, fields[i], json_null(), fields[i], "type");
        assert_rejected(EVENT, fields[i], json_object(), fields[i], "type");
        /* the seed marks none of them required */
        assert_accepted(EVENT, fields[i], NULL);
    }
}

static void test_event_several_violations_all_reported(void **state)
{
    (void)state;
    json_t *root = tu_fixture(sample_path[EVENT]);
    tu_json_del(root, "/header/version");
    tu_json_set(root, "/header/eventId", json_string("not-a-uuid"));
    tu_json_set(root, "/header/generatedAt", json_integer(-5));
    tu_json_set(root, "/event/cardId", json_integer(1));
    tu_json_set(root, "/event/caseType", json_true());
    struct check_result res;
    check_schema(EVENT, root, &res);
    assert_violation_count(&res, 5);
    assert_violation(&res, "/header/version", "required");
    assert_violation(&res, "/header/eventId", "format");
    assert_violation(&res, "/header/generatedAt", "minimum");
    assert_violation(&res, "/event/cardId", "type");
    assert_violation(&res, "/event/caseType", "type");
    check_result_clear(&res);
    json_decref(root);
}

/* =================== POST /domain-events =================== */

static void test_domain_seed_sample_is_valid(void **state)
{
    (void)state;
    assert_accepted(DOMAIN_EVENT, NULL, NULL);
}

static void test_domain_not_an_object(void **state)
{
    (void)state;
    json_t *root = tu_json("\"event\"");
    struct check_result res;
    check_schema(DOMAIN_EVENT, root, &res);
    assert_only_violation(&res, "", "type");
    check_result_clear(&res);
    json_decref(root);
}

static void test_domain_header_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/header");
}

static void test_domain_header_not_an_object(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header", json_integer(1), "/header", "type");
}

static void test_domain_event_id_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/header/eventId");
}

static void test_domain_event_id_not_a_uuid(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/eventId", json_string("93a5bbf3_48f4_4786_93af_6437331aea9a"),
                    "/header/eventId", "format");
}

static void test_domain_event_id_not_a_string(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/eventId", json_false(), "/header/eventId", "type");
}

static void test_domain_generated_at_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/header/generatedAt");
}

static void test_domain_generated_at_real(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/generatedAt", json_real(1.5), "/header/generatedAt", "type");
}

static void test_domain_generated_at_negative(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/generatedAt", json_integer(-1), "/header/generatedAt", "minimum");
}

static void test_domain_generated_at_string(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/generatedAt", json_string("0"), "/header/generatedAt", "type");
}

static void test_domain_entity_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/header/entity");
}

static void test_domain_entity_not_an_object(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/entity", json_string("case:1234"), "/header/entity", "type");
}

static void test_domain_entity_type_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/header/entity/type");
}

static void test_domain_entity_type_not_a_string(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/entity/type", json_integer(3), "/header/entity/type", "type");
}

static void test_domain_entity_id_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/header/entity/id");
}

static void test_domain_entity_id_not_a_string(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/entity/id", json_integer(1234), "/header/entity/id", "type");
}

static void test_domain_serial_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/header/serial");
}

static void test_domain_serial_negative(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/serial", json_integer(-1), "/header/serial", "minimum");
    assert_accepted(DOMAIN_EVENT, "/header/serial", json_integer(0));
}

static void test_domain_serial_real(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/serial", json_real(512.5), "/header/serial", "type");
}

static void test_domain_serial_string(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/serial", json_string("512"), "/header/serial", "type");
}

static void test_domain_caused_by_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/header/causedBy");
}

static void test_domain_caused_by_not_a_string(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/causedBy", json_null(), "/header/causedBy", "type");
}

static void test_domain_agent_id_optional(void **state)
{
    (void)state;
    assert_accepted(DOMAIN_EVENT, "/header/agentId", NULL);
}

static void test_domain_agent_id_not_a_uuid(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/agentId", json_string("agent-7"), "/header/agentId", "format");
    assert_rejected(DOMAIN_EVENT, "/header/agentId", json_string(""), "/header/agentId", "format");
}

static void test_domain_agent_id_not_a_string(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/header/agentId", json_integer(7), "/header/agentId", "type");
}

static void test_domain_event_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/event");
}

static void test_domain_event_not_an_object(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/event", json_array(), "/event", "type");
}

static void test_domain_event_name_missing(void **state)
{
    (void)state;
    assert_required(DOMAIN_EVENT, "/event/event_name");
}

static void test_domain_event_name_empty(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/event/event_name", json_string(""), "/event/event_name", "minLength");
}

static void test_domain_event_name_not_a_string(void **state)
{
    (void)state;
    assert_rejected(DOMAIN_EVENT, "/event/event_name", json_integer(1), "/event/event_name", "type");
}

static void test_domain_unknown_event_name_accepted(void **state)
{
    (void)state;
    json_t *root = tu_fixture(sample_path[DOMAIN_EVENT]);
    tu_json_set(root, "/event/event_name", json_string("case_escalated"));
    tu_json_set(root, "/event/caseId", json_integer(1234));
    struct check_result res;
    check_schema(DOMAIN_EVENT, root, &res);
    assert_no_violations(&res);
    check_result_clear(&res);
    json_decref(root);

    assert_false(check_amiko_domain_event_known("case_escalated"));
    assert_true(check_amiko_domain_event_known("case_created"));
    assert_false(check_amiko_domain_event_known(""));
    assert_false(check_amiko_domain_event_known(NULL));
}

static void test_domain_case_created_field_types(void **state)
{
    (void)state;
    static const char *const fields[] = {"/event/caseId", "/event/cardId", "/event/createdVia",
                                         "/event/bankCaseId"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        assert_rejected(DOMAIN_EVENT, fields[i], json_integer(1), fields[i], "type");
        assert_rejected(DOMAIN_EVENT, fields[i], json_array(), fields[i], "type");
        assert_accepted(DOMAIN_EVENT, fields[i], NULL);
    }
}

static void test_domain_several_violations_all_reported(void **state)
{
    (void)state;
    json_t *root = tu_fixture(sample_path[DOMAIN_EVENT]);
    tu_json_set(root, "/header/eventId", json_string("x"));
    tu_json_del(root, "/header/entity/type");
    tu_json_set(root, "/header/serial", json_integer(-3));
    tu_json_del(root, "/header/causedBy");
    tu_json_set(root, "/header/agentId", json_integer(1));
    tu_json_set(root, "/event/event_name", json_string(""));
    struct check_result res;
    check_schema(DOMAIN_EVENT, root, &res);
    assert_violation_count(&res, 6);
    assert_violation(&res, "/header/eventId", "format");
    assert_violation(&res, "/header/entity/type", "required");
    assert_violation(&res, "/header/serial", "minimum");
    assert_violation(&res, "/header/causedBy", "required");
    assert_violation(&res, "/header/agentId", "type");
    assert_violation(&res, "/event/event_name", "minLength");
    check_result_clear(&res);
    json_decref(root);
}

/* =================== the fixture files =================== */

/* Every entry of verdicts.json: its file, checked with its schema, gives exactly the
 * listed violations. */
static void test_fixture_verdicts(void **state)
{
    (void)state;
    json_t *verdicts = tu_fixture("amiko/verdicts.json");
    const char *name;
    json_t *verdict;
    size_t checked = 0;
    json_object_foreach(verdicts, name, verdict) {
        if (name[0] == '_')
            continue;
        char rel[512];
        snprintf(rel, sizeof(rel), "amiko/%s", name);
        const char *schema = json_string_value(json_object_get(verdict, "schema"));
        json_t *want = json_object_get(verdict, "violations");
        assert_non_null(schema);
        assert_true(json_is_array(want));

        json_t *root = tu_fixture(rel);
        struct check_result res;
        check_schema(strcmp(schema, "event") == 0 ? EVENT : DOMAIN_EVENT, root, &res);
        tu_assert_verdict(&res, want, rel);
        check_result_clear(&res);
        json_decref(root);
        checked++;
    }
    json_decref(verdicts);
    assert_true(checked >= 4);
}

/* Every payload under valid/ and invalid/ has a verdict, with no violations for valid/
 * and at least one for invalid/. */
static void test_every_fixture_has_a_verdict(void **state)
{
    (void)state;
    tu_check_every_fixture_has_verdict("amiko", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_seed_sample_is_valid),
        cmocka_unit_test(test_event_not_an_object),
        cmocka_unit_test(test_event_header_missing),
        cmocka_unit_test(test_event_header_not_an_object),
        cmocka_unit_test(test_event_version_missing),
        cmocka_unit_test(test_event_version_not_a_string),
        cmocka_unit_test(test_event_event_id_missing),
        cmocka_unit_test(test_event_event_id_not_a_uuid),
        cmocka_unit_test(test_event_event_id_not_a_string),
        cmocka_unit_test(test_event_generated_at_missing),
        cmocka_unit_test(test_event_generated_at_real),
        cmocka_unit_test(test_event_generated_at_negative),
        cmocka_unit_test(test_event_generated_at_string),
        cmocka_unit_test(test_event_generated_at_epoch_millis),
        cmocka_unit_test(test_event_event_missing),
        cmocka_unit_test(test_event_event_not_an_object),
        cmocka_unit_test(test_event_type_missing),
        cmocka_unit_test(test_event_type_empty),
        cmocka_unit_test(test_event_type_not_a_string),
        cmocka_unit_test(test_event_unknown_type_accepted),
        cmocka_unit_test(test_event_type_known),
        cmocka_unit_test(test_event_case_created_card_id_number),
        cmocka_unit_test(test_event_case_created_field_types),
        cmocka_unit_test(test_event_several_violations_all_reported),

        cmocka_unit_test(test_domain_seed_sample_is_valid),
        cmocka_unit_test(test_domain_not_an_object),
        cmocka_unit_test(test_domain_header_missing),
        cmocka_unit_test(test_domain_header_not_an_object),
        cmocka_unit_test(test_domain_event_id_missing),
        cmocka_unit_test(test_domain_event_id_not_a_uuid),
        cmocka_unit_test(test_domain_event_id_not_a_string),
        cmocka_unit_test(test_domain_generated_at_missing),
        cmocka_unit_test(test_domain_generated_at_real),
        cmocka_unit_test(test_domain_generated_at_negative),
        cmocka_unit_test(test_domain_generated_at_string),
        cmocka_unit_test(test_domain_entity_missing),
        cmocka_unit_test(test_domain_entity_not_an_object),
        cmocka_unit_test(test_domain_entity_type_missing),
        cmocka_unit_test(test_domain_entity_type_not_a_string),
        cmocka_unit_test(test_domain_entity_id_missing),
        cmocka_unit_test(test_domain_entity_id_not_a_string),
        cmocka_unit_test(test_domain_serial_missing),
        cmocka_unit_test(test_domain_serial_negative),
        cmocka_unit_test(test_domain_serial_real),
        cmocka_unit_test(test_domain_serial_string),
        cmocka_unit_test(test_domain_caused_by_missing),
        cmocka_unit_test(test_domain_caused_by_not_a_string),
        cmocka_unit_test(test_domain_agent_id_optional),
        cmocka_unit_test(test_domain_agent_id_not_a_uuid),
        cmocka_unit_test(test_domain_agent_id_not_a_string),
        cmocka_unit_test(test_domain_event_missing),
        cmocka_unit_test(test_domain_event_not_an_object),
        cmocka_unit_test(test_domain_event_name_missing),
        cmocka_unit_test(test_domain_event_name_empty),
        cmocka_unit_test(test_domain_event_name_not_a_string),
        cmocka_unit_test(test_domain_unknown_event_name_accepted),
        cmocka_unit_test(test_domain_case_created_field_types),
        cmocka_unit_test(test_domain_several_violations_all_reported),

        cmocka_unit_test(test_fixture_verdicts),
        cmocka_unit_test(test_every_fixture_has_a_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
