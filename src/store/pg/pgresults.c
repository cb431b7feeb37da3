/* The outcome rows of the job functions (migrations/postgresql/) back into the writer
 * jobs' outputs, as src/store/sqlite/{events,bookings,cards,outbox}.c set them: an
 * outcome word, the first answer of a replay, the booking's state. A row that is not what
 * its function returns is IH_EIO (the job answers 503; a retry is idempotent). */
#include <stdlib.h>
#include <string.h>

#include "issuerhook/cards.h"
#include "issuerhook/events.h"
#include "issuerhook/log.h"
#include "pginternal.h"

static bool is(const char *v, const char *word)
{
    return v && strcmp(v, word) == 0;
}

/* A record's outcome from columns named outcome, seq, stored_status, stored_response (with
 * a prefix: the booking result's record is rec_*). */
static ih_status record_out(struct store_event *ev, const PGresult *res, const char *const cols[4])
{
    const char *o = pg_col(res, 0, cols[0]);
    if (is(o, "inserted")) {
        ev->outcome = EVENTS_INSERTED;
        ev->seq = pg_col_i64(res, 0, cols[1], 0);
        return ev->seq > 0 ? IH_OK : IH_EIO;
    }
    if (is(o, "conflict")) {
        ev->outcome = EVENTS_CONFLICT;
        return IH_OK;
    }
    if (!is(o, "replay") || !pg_col(res, 0, cols[2]))
        return IH_EIO;
    ev->outcome = EVENTS_REPLAY;
    ev->stored_status = (unsigned)pg_col_i64(res, 0, cols[2], 0);
    free(ev->stored_response);
    ev->stored_response = pg_col_dup(res, 0, cols[3]);
    return ev->stored_response ? IH_OK : IH_ENOMEM;
}

static const char *const RECORD[4] = {"outcome", "seq", "stored_status", "stored_response"};
static const char *const RESULT_RECORD[4] = {"rec_outcome", "rec_seq", "rec_stored_status", "rec_stored_response"};

static ih_status event_out(struct store_event *ev, const PGresult *res)
{
    ih_status rc = record_out(ev, res, RECORD);
    if (rc != IH_OK || ev->outcome != EVENTS_INSERTED || !ev->has_serial)
        return rc;
    const char *note = pg_col(res, 0, "serial_note");
    ev->serial_note = is(note, "stale") ? EVENTS_SERIAL_STALE
                      : is(note, "gap") ? EVENTS_SERIAL_GAP
                                        : EVENTS_SERIAL_NONE;
    ev->serial_last = pg_col_i64(res, 0, "serial_last", -1);
    return IH_OK;
}

/* The booking's state from columns status, issuer_booking_id, failure_reason, failure_code. */
static ih_status state_out(struct booking_state *s, const char *id, const PGresult *res)
{
    booking_state_clear(s);
    snprintf(s->id, sizeof(s->id), "%.36s", id);
    if (!booking_status_parse(pg_col(res, 0, "status"), &s->status))
        return IH_EIO;
    const char *v;
    if ((v = pg_col(res, 0, "issuer_booking_id")) && !(s->issuer_booking_id = strdup(v)))
        return IH_ENOMEM;
    if ((v = pg_col(res, 0, "failure_reason")) && !(s->failure_reason = strdup(v)))
        return IH_ENOMEM;
    if ((v = pg_col(res, 0, "failure_code")) && !(s->failure_code = strdup(v)))
        return IH_ENOMEM;
    return IH_OK;
}

static ih_status request_out(struct booking_request_job *b, const PGresult *res)
{
    ih_status rc = record_out(&b->ev, res, RECORD);
    if (rc != IH_OK || b->ev.outcome == EVENTS_CONFLICT)
        return rc;
    return state_out(&b->state, b->ev.key, res); /* pending when inserted, else as it is now */
}

static ih_status result_out(struct booking_result_job *r, const PGresult *res)
{
    const char *o = pg_col(res, 0, "outcome");
    if (is(o, "not_found")) {
        r->outcome = BOOKING_RESULT_NOT_FOUND;
        return IH_OK;
    }
    ih_status rc = state_out(&r->state, r->rec.key, res);
    if (rc != IH_OK)
        return rc;
    if (is(o, "conflict")) {
        r->outcome = BOOKING_RESULT_CONFLICT;
        return IH_OK;
    }
    if (!is(o, "same") && !is(o, "applied"))
        return IH_EIO;
    r->outcome = is(o, "same") ? BOOKING_RESULT_SAME : BOOKING_RESULT_APPLIED;
    return record_out(&r->rec, res, RESULT_RECORD); /* same: the duplicate counted on the result's record */
}

static ih_status cards_out(struct card_batch_job *b, const PGresult *res)
{
    const char *o = pg_col(res, 0, "outcome");
    b->inserted = (size_t)pg_col_i64(res, 0, "inserted", 0);
    b->duplicates = (size_t)pg_col_i64(res, 0, "duplicates", 0);
    if (is(o, "stored")) {
        b->outcome = CARDS_STORED;
        return IH_OK;
    }
    if (is(o, "idem_conflict")) {
        b->outcome = CARDS_IDEM_CONFLICT;
        return IH_OK;
    }
    if (!is(o, "idem_replay") || !pg_col(res, 0, "stored_status"))
        return IH_EIO;
    b->outcome = CARDS_IDEM_REPLAY;
    b->stored_status = (unsigned)pg_col_i64(res, 0, "stored_status", 0);
    free(b->stored_response);
    b->stored_response = pg_col_dup(res, 0, "stored_response");
    return b->stored_response ? IH_OK : IH_ENOMEM;
}

/* A mark that did not apply: the row's lease passed to another node (or it is no longer
 * pending), which delivers it; nothing to do but say so. */
static ih_status mark_out(struct outbox_mark_job *m, const PGresult *res)
{
    const char *applied = PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0)
                              ? PQgetvalue(res, 0, 0)
                              : NULL;
    if (!applied)
        return IH_EIO;
    if (!is(applied, "t")) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)m->id);
        log_msg(LOG_WARN, "a callback attempt was not recorded: its outbox row is no longer leased to this node "
                          "(its lease passed, so another node may deliver it again)", "outbox_id", id, NULL);
    }
    return IH_OK;
}

ih_status pg_job_result(struct writer_job *j, const PGresult *res)
{
    if (PQntuples(res) != 1)
        return IH_EIO;
    switch (j->kind) {
    case WRITER_JOB_EVENT: return event_out((struct store_event *)j, res);
    case WRITER_JOB_BOOKING_REQUEST: return request_out((struct booking_request_job *)j, res);
    case WRITER_JOB_BOOKING_RESULT: return result_out((struct booking_result_job *)j, res);
    case WRITER_JOB_CARD_BATCH: return cards_out((struct card_batch_job *)j, res);
    case WRITER_JOB_OUTBOX_MARK: return mark_out((struct outbox_mark_job *)j, res);
    case WRITER_JOB_NONE:
    default: return IH_EIO;
    }
}
