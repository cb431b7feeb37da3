/* POST /events. The seed types `event` as "any", with the header fixed and the
 * event discriminated by `type`. Amiko adds event types between versions, so an
 * unknown type is not a violation; a known one has its fields' types checked. */
#include "issuerhook/check_amiko.h"

static const struct check_field header_fields[] = {
    {.name = "version", .type = CT_STRING, .required = true},
    {.name = "eventId", .type = CT_STRING, .required = true, .format = check_is_uuid, .format_name = "a UUID"},
    {.name = "generatedAt", .type = CT_INTEGER, .required = true, .has_min = true, .min = 0},
    {0}};
static const struct check_object_rule header_rule = {.fields = header_fields};

/* case_created, as the seed's sample shows it. */
static const struct check_field case_created_fields[] = {
    {.name = "cardholderId", .type = CT_STRING},
    {.name = "cardId", .type = CT_STRING},
    {.name = "caseId", .type = CT_STRING},
    {.name = "caseType", .type = CT_STRING},
    {.name = "createdVia", .type = CT_STRING},
    {0}};

static const struct check_variant known_types[] = {
    {"case_created", case_created_fields},
    {0}};

bool check_amiko_event_type_known(const char *type)
{
    return check_variant_find(known_types, type) != NULL;
}

static void event_by_type(struct check_ctx *ctx, const json_t *event)
{
    check_variant_apply(ctx, event, "type", known_types);
}

static const struct check_field event_fields[] = {
    {.name = "type", .type = CT_STRING, .required = true, .min_len = 1},
    {0}};
static const struct check_object_rule event_rule = {.fields = event_fields, .extra = event_by_type};

static const struct check_field root_fields[] = {
    {.name = "header", .type = CT_OBJECT, .required = true, .object = &header_rule},
    {.name = "event", .type = CT_OBJECT, .required = true, .object = &event_rule},
    {0}};
static const struct check_object_rule root_rule = {.fields = root_fields};

void check_amiko_event(const json_t *root, struct check_result *res)
{
    struct check_ctx ctx;
    check_init(&ctx, res);
    check_object(&ctx, root, &root_rule);
}
