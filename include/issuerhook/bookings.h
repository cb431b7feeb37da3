/* Bookings: storing a request (pending), applying the ledger's result (completed or
 * failed, with the callback's outbox row in the same transaction), and reading them. */
#ifndef ISSUERHOOK_BOOKINGS_H
#define ISSUERHOOK_BOOKINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issuerhook/events.h"
#include "issuerhook/store.h"
#include "issuerhook/writer.h"

enum booking_status { BOOKING_PENDING, BOOKING_COMPLETED, BOOKING_FAILED };
const char *booking_status_name(enum booking_status s);
/* Parses "pending|completed|failed". */
bool booking_status_parse(const char *s, enum booking_status *out);

/* The state the seed's response shape shows. Strings owned; may be NULL. */
struct booking_state {
    char id[37];
    enum booking_status status;
    char *issuer_booking_id, *failure_reason, *failure_code;
};
void booking_state_clear(struct booking_state *s);

/* POST /bookings: a writer job (WRITER_JOB_BOOKING_REQUEST). ev is the booking's record (source "amiko.booking",
 * key the amikoBookingId); on insert a pending booking is added; on a replay state is
 * the booking's current state. */
struct booking_request_job {
    struct store_event ev; /* first: ev.job.kind = WRITER_JOB_BOOKING_REQUEST */
    struct booking_state state; /* out */
};

enum booking_result_outcome {
    BOOKING_RESULT_APPLIED,   /* pending -> completed/failed, outbox row written */
    BOOKING_RESULT_SAME,      /* the same result again: nothing changes */
    BOOKING_RESULT_CONFLICT,  /* already left pending with another result */
    BOOKING_RESULT_NOT_FOUND
};

/* POST /bookings/{id}/result: a writer job (WRITER_JOB_BOOKING_RESULT). */
struct booking_result_job {
    struct writer_job job;  /* first: job.kind = WRITER_JOB_BOOKING_RESULT */
    struct store_event rec; /* the result's record (source "amiko.booking_result"); rec.hash
                             * is the canonical result's hash */
    enum booking_status status; /* completed or failed */
    char *issuer_booking_id, *failure_reason, *failure_code; /* in, owned */
    char *callback_body;    /* in, owned: what the dispatcher will send to Amiko */
    /* out */
    enum booking_result_outcome outcome;
    struct booking_state state;
};
void booking_result_job_clear(struct booking_result_job *j);

/* A booking as GET /bookings/{id} shows it. */
struct booking_view {
    struct booking_state state;
    char *request;          /* canonical JSON of the booking request */
    char tracing_id[129];
    int64_t seq, created_at, updated_at;
    bool has_callback;
    char callback_state[16]; /* pending | delivered | dead */
    long attempts;
    int64_t next_attempt_at, delivered_at; /* ms; 0 when not applicable */
    long last_status;        /* 0: none */
    char *last_error;
};
void booking_view_clear(struct booking_view *v);
/* IH_ENOTFOUND when there is no such booking. */
IH_MUST_CHECK ih_status bookings_get(struct store *s, const char *id, struct booking_view *out);
/* Up to max bookings in status st with seq > after, in seq order. Caller frees each
 * view (booking_view_clear) and the array. */
IH_MUST_CHECK ih_status bookings_list(struct store *s, enum booking_status st, int64_t after, size_t max,
                                      struct booking_view **out, size_t *n);

#endif
