/* Bookings, whichever backend stores them: status names, what the structs own, and the
 * reads, handed to the store's backend. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "issuerhook/bookings.h"

static const char *const status_names[] = {"pending", "completed", "failed"};

const char *booking_status_name(enum booking_status s)
{
    return status_names[s];
}

bool booking_status_parse(const char *s, enum booking_status *out)
{
    for (int i = 0; i < 3; i++) {
        if (s && strcmp(s, status_names[i]) == 0) {
            *out = (enum booking_status)i;
            return true;
        }
    }
    return false;
}

void booking_state_clear(struct booking_state *s)
{
    free(s->issuer_booking_id);
    free(s->failure_reason);
    free(s->failure_code);
    s->issuer_booking_id = s->failure_reason = s->failure_code = NULL;
}

void booking_result_job_clear(struct booking_result_job *j)
{
    events_clear(&j->rec);
    free(j->issuer_booking_id);
    free(j->failure_reason);
    free(j->failure_code);
    free(j->callback_body);
    j->issuer_booking_id = j->failure_reason = j->failure_code = j->callback_body = NULL;
    booking_state_clear(&j->state);
}

void booking_view_clear(struct booking_view *v)
{
    booking_state_clear(&v->state);
    free(v->request);
    free(v->last_error);
    v->request = v->last_error = NULL;
}


ih_status bookings_get(struct store *s, const char *id, struct booking_view *out)
{
    return s->ops->bookings_get(s, id, out);
}

ih_status bookings_list(struct store *s, enum booking_status st, int64_t after, size_t max, struct booking_view **out,
                        size_t *n)
{
    return s->ops->bookings_list(s, st, after, max, out, n);
}
