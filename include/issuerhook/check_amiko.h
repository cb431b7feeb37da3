/* The Amiko event notification schemas (seed: amiko-event-notification-api.txt). */
#ifndef ISSUERHOOK_CHECK_AMIKO_H
#define ISSUERHOOK_CHECK_AMIKO_H

#include <jansson.h>
#include <stdbool.h>
#include "issuerhook/check.h"

/* POST /events: {"header": {version, eventId, generatedAt}, "event": {"type", ...}}.
 * Known event types get their fields' types checked; unknown types pass. */
void check_amiko_event(const json_t *root, struct check_result *res);
bool check_amiko_event_type_known(const char *type);

/* POST /domain-events: {"header": {eventId, generatedAt, entity{type,id}, serial,
 * causedBy, agentId?}, "event": {"event_name", ...}}. */
void check_amiko_domain_event(const json_t *root, struct check_result *res);
bool check_amiko_domain_event_known(const char *event_name);

#endif
