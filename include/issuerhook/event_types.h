/* The one table of what the daemon stores, as the feed names it: each stored record
 * (source + its raw type) maps to an Apiture-style category and lowerCamelCase type.
 * The mapping, GET /banking/eventTypes and the OpenAPI all come from it. */
#ifndef ISSUERHOOK_EVENT_TYPES_H
#define ISSUERHOOK_EVENT_TYPES_H

#include <stddef.h>

struct event_type {
    const char *source;   /* records.source */
    const char *raw;      /* records.type; NULL: any type of this source not listed before */
    const char *category;
    const char *type;
    const char *description;
    const char *primary_id_description;
    const char *primary_id; /* JSON Pointer into the stored payload giving primaryId; NULL: none */
};

extern const struct event_type event_types[];
extern const size_t event_types_count;

/* The entry for a stored record; NULL only for a source the table does not know. */
const struct event_type *event_type_of(const char *source, const char *raw);

#endif
