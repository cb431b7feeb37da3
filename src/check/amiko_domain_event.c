/* POST /domain-events (Amiko domain events v2). */
#include "issuerhook/check_amiko.h"

static const struct check_field entity_fields[] = {
    {.name = "type", .type = CT_STRING, .required = true},
    {.name = "id", .type = CT_STRING, .required = true},
    {0}};
static const struct check_object_rule entity_rule = {.fields = entity_fields};

static const struct check_field header_fields[] = {
    {.name = "eventId", .type = CT_STRING, .required = true, .format = check_is_uuid, .format_name = "a UUID"},
    {.name = "generatedAt", .type = CT_INTEGER, .required = true, .has_min = true, .min = 0},
    {.name = "entity", .type = CT_OBJECT, .required = true, .object = &entity_rule},
    {.name = "serial", .type = CT_INTEGER, .required = true, .has_min = true, .min = 0},
    {.name = "causedBy", .type = CT_STRING, .required = true},
    {.name = "agentId", .type = CT_STRING, .format = check_is_uuid, .format_name = "a UUID"},
    {0}};
static const struct check_object_rule header_rule = {.fields = header_fields};

static const struct check_field case_created_fields[] = {
    {.name = "caseId", .type = CT_STRING},
    {.name = "cardId", .type = CT_STRING},
    {.name = "createdVia", .type = CT_STRING},
    {.name = "bankCaseId", .type = CT_STRING},
    {0}};

static const struct check_variant known_events[] = {
    {"case_created", case_created_fields},
    {0}};

bool check_amiko_domain_event_known(const char *event_name)
{
    return check_variant_find(known_events, event_name) != NULL;
}

static void event_by_name(struct check_ctx *ctx, const json_t *event)
{
    check_variant_apply(ctx, event, "event_name", known_events);
}

static const struct check_field event_fields[] = {
    {.name = "event_name", .type = CT_STRING, .required = true, .min_len = 1},
    {0}};
static const struct check_object_rule event_rule = {.fields = event_fields, .extra = event_by_name};

static const struct check_field root_fields[] = {
    {.name = "header", .type = CT_OBJECT, .required = true, .object = &header_rule},
    {.name = "event", .type = CT_OBJECT, .required = true, .object = &event_rule},
    {0}};
static const struct check_object_rule root_rule = {.fields = root_fields};

void check_amiko_domain_event(const json_t *root, struct check_result *res)
{
    struct check_ctx ctx;
    check_init(&ctx, res);
    check_object(&ctx, root, &root_rule);
}
