/* What a store_event owns, whichever backend stores it. */
#include <stdlib.h>

#include "issuerhook/events.h"

void events_clear(struct store_event *ev)
{
    free(ev->type);
    free(ev->payload);
    free(ev->response);
    free(ev->entity_type);
    free(ev->entity_id);
    free(ev->stored_response);
    ev->type = ev->payload = ev->response = ev->entity_type = ev->entity_id = ev->stored_response = NULL;
}
