/* Tests of ih_booking_request and ih_booking_result (migrations/postgresql/0002_bookings.sql),
 * the PostgreSQL twins of src/store/bookings.c: a request is stored pending, replayed with
 * the booking's current state, refused on conflict; a result is applied (state, result
 * record and callback row together), the same result again counts a duplicate on the
 * result's record and changes nothing else, another result is a conflict, an unknown
 * booking is not found; a result record already there is an error that fails that job
 * alone; and two results for one booking at once on two sessions: one applies, the other
 * sees it (conflict, or same when identical). */
#include "pgtestutil.h"

struct result {
    struct pgt_rec rec; /* the result's record: source amiko.booking_result, key the booking id */
    const char *status, *issuer, *reason, *code, *callback;
    const char *values[PGSTMTS_BOOKING_RESULT_NPARAMS];
    int lengths[PGSTMTS_BOOKING_RESULT_NPARAMS], formats[PGSTMTS_BOOKING_RESULT_NPARAMS];
};

static void result_make(struct result *r, const char *id, const char *status, const char *payload)
{
    memset(r, 0, sizeof(*r));
    pgt_rec(&r->rec, "amiko.booking_result", id, payload);
    r->rec.received = 5000;
    r->rec.tracing = "tracing-result";
    r->status = status;
    r->issuer = strcmp(status, "completed") == 0 ? "ISS-1" : NULL;
    r->reason = strcmp(status, "failed") == 0 ? "insufficient funds" : NULL;
    r->code = strcmp(status, "failed") == 0 ? "NSF" : NULL;
    r->callback = payload;
}

static void result_params(struct result *r)
{
    pgt_rec_params(&r->rec);
    const char *v[PGSTMTS_BOOKING_RESULT_NPARAMS] = {
        r->rec.key,       r->status,        r->issuer,        r->reason,        r->code,
        r->callback,      r->rec.source,    r->rec.values[2], r->rec.type,      r->rec.tracing,
        r->rec.values[5], r->rec.values[6], r->rec.payload,   r->rec.values[8], r->rec.response};
    memcpy(r->values, v, sizeof(v));
    memset(r->lengths, 0, sizeof(r->lengths));
    memset(r->formats, 0, sizeof(r->formats));
    r->lengths[7] = CRYPTO_SHA256_LEN;
    r->formats[7] = 1;
}

static PGresult *post_result(struct pgt *t, struct result *r)
{
    result_params(r);
    return pgt_run1(t->c, &pgstmts_booking_result, PGSTMTS_BOOKING_RESULT_NPARAMS, r->values, r->lengths,
                    r->formats);
}

static PGresult *post_request(struct pgt *t, const char *id, const char *payload)
{
    struct pgt_rec r;
    pgt_rec(&r, "amiko.booking", id, payload);
    r.tracing = "tracing-request";
    pgt_rec_params(&r);
    return pgt_run1(t->c, &pgstmts_booking_request, PGSTMTS_BOOKING_REQUEST_NPARAMS, r.values, r.lengths,
                    r.formats);
}

__attribute__((format(printf, 2, 3))) static long long n(PGconn *db, const char *fmt, ...);
static long long n(PGconn *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char sql[256];
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return pgt_num(db, sql);
}

static void test_request_insert_replay_conflict(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    PGresult *res = post_request(t, "b-1", "{\"booking\":1}");
    assert_col(res, "outcome", "inserted");
    assert_col(res, "status", "pending");
    PQclear(res);
    assert_int_equal(n(db, "SELECT count(*) FROM bookings b JOIN records r ON r.seq = b.record_seq"
                           " WHERE b.amiko_booking_id = '%s' AND b.status = 'pending' AND b.tracing_id ="
                           " 'tracing-request' AND b.created_at = 1000 AND b.updated_at = 1000",
                     "b-1"),
                     1);
    res = post_request(t, "b-1", "{\"booking\":1}");
    assert_col(res, "outcome", "replay");
    assert_col(res, "status", "pending");
    assert_col(res, "stored_response", "{\"answer\":\"first\"}");
    PQclear(res);
    res = post_request(t, "b-1", "{\"booking\":\"other\"}");
    assert_col(res, "outcome", "conflict");
    assert_col(res, "status", NULL);
    PQclear(res);
    assert_int_equal(n(db, "SELECT count(*) FROM bookings WHERE amiko_booking_id = '%s'", "b-1"), 1);
    assert_int_equal(n(db, "SELECT duplicates FROM records WHERE idem_key = '%s' AND source = 'amiko.booking'", "b-1"),
                     1);
    PQfinish(db);
}

static void test_result_not_found(void **state)
{
    struct pgt *t = *state;
    struct result r;
    result_make(&r, "b-none", "completed", "{\"status\":\"completed\"}");
    PGresult *res = post_result(t, &r);
    assert_col(res, "outcome", "not_found");
    PQclear(res);
    PGconn *db = pgt_raw(t);
    assert_int_equal(n(db, "SELECT count(*) FROM records WHERE idem_key = '%s'", "b-none"), 0);
    PQfinish(db);
}

static void test_result_applied_same_conflict(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    PQclear(post_request(t, "b-2", "{\"booking\":2}"));
    struct result r;
    result_make(&r, "b-2", "completed", "{\"status\":\"completed\",\"issuerBookingId\":\"ISS-1\"}");
    PGresult *res = post_result(t, &r);
    assert_col(res, "outcome", "applied");
    assert_col(res, "status", "completed");
    assert_col(res, "issuer_booking_id", "ISS-1");
    assert_col(res, "rec_outcome", "inserted");
    assert_non_null(pgt_col(res, "outbox_id"));
    PQclear(res);
    assert_int_equal(n(db, "SELECT count(*) FROM bookings WHERE amiko_booking_id = '%s' AND status = 'completed'"
                           " AND issuer_booking_id = 'ISS-1' AND updated_at = 5000 AND result_sha256 IS NOT NULL",
                     "b-2"),
                     1);
    /* the callback carries the booking's tracing id, due at once */
    assert_int_equal(n(db, "SELECT count(*) FROM outbox WHERE amiko_booking_id = '%s' AND state = 'pending' AND"
                           " tracing_id = 'tracing-request' AND next_attempt_at = 5000 AND attempts = 0 AND body ="
                           " '{\"status\":\"completed\",\"issuerBookingId\":\"ISS-1\"}'",
                     "b-2"),
                     1);
    /* a replay of the request now answers the new state */
    res = post_request(t, "b-2", "{\"booking\":2}");
    assert_col(res, "outcome", "replay");
    assert_col(res, "status", "completed");
    assert_col(res, "issuer_booking_id", "ISS-1");
    PQclear(res);

    /* the same result again: counted on the result's record, nothing else */
    r.rec.received = 6000;
    res = post_result(t, &r);
    assert_col(res, "outcome", "same");
    assert_col(res, "status", "completed");
    assert_col(res, "rec_outcome", "replay");
    assert_col(res, "rec_stored_response", "{\"answer\":\"first\"}");
    assert_col(res, "outbox_id", NULL);
    PQclear(res);
    assert_int_equal(n(db, "SELECT duplicates FROM records WHERE source = 'amiko.booking_result' AND idem_key = '%s'",
                     "b-2"),
                     1);
    assert_int_equal(n(db, "SELECT count(*) FROM outbox WHERE amiko_booking_id = '%s'", "b-2"), 1);
    assert_int_equal(n(db, "SELECT updated_at FROM bookings WHERE amiko_booking_id = '%s'", "b-2"), 5000);

    /* another result: conflict, nothing changes */
    struct result other;
    result_make(&other, "b-2", "failed", "{\"status\":\"failed\"}");
    res = post_result(t, &other);
    assert_col(res, "outcome", "conflict");
    assert_col(res, "status", "completed");
    PQclear(res);
    assert_int_equal(n(db, "SELECT count(*) FROM bookings WHERE amiko_booking_id = '%s' AND status = 'completed'",
                     "b-2"),
                     1);
    assert_int_equal(n(db, "SELECT count(*) FROM outbox WHERE amiko_booking_id = '%s'", "b-2"), 1);
    assert_int_equal(n(db, "SELECT duplicates FROM records WHERE source = 'amiko.booking_result' AND idem_key = '%s'",
                     "b-2"),
                     1);
    PQfinish(db);
}

static void test_failed_result(void **state)
{
    struct pgt *t = *state;
    PQclear(post_request(t, "b-3", "{\"booking\":3}"));
    struct result r;
    result_make(&r, "b-3", "failed", "{\"status\":\"failed\",\"failure\":{\"code\":\"NSF\"}}");
    PGresult *res = post_result(t, &r);
    assert_col(res, "outcome", "applied");
    assert_col(res, "status", "failed");
    assert_col(res, "issuer_booking_id", NULL);
    assert_col(res, "failure_reason", "insufficient funds");
    assert_col(res, "failure_code", "NSF");
    PQclear(res);
}

/* A result record that exists without its result is inconsistent: that job fails (the
 * function raises), the batch's other jobs are stored. */
static void test_inconsistent_result_fails_alone(void **state)
{
    struct pgt *t = *state;
    PQclear(post_request(t, "b-4", "{\"booking\":4}"));
    struct pgt_rec stray;
    pgt_rec(&stray, "amiko.booking_result", "b-4", "{\"stray\":true}");
    PQclear(pgt_put(t->c, &stray));
    struct result r;
    result_make(&r, "b-4", "completed", "{\"status\":\"completed\"}");
    result_params(&r);
    struct pgt_rec before, after;
    pgt_rec(&before, "amiko.event", "around-1", "{\"around\":1}");
    pgt_rec(&after, "amiko.event", "around-2", "{\"around\":2}");
    pgt_rec_params(&before);
    pgt_rec_params(&after);
    struct pgbatch_call calls[3];
    pgt_call(&calls[0], &pgstmts_put_record, PGSTMTS_PUT_RECORD_NPARAMS, before.values, before.lengths,
             before.formats);
    pgt_call(&calls[1], &pgstmts_booking_result, PGSTMTS_BOOKING_RESULT_NPARAMS, r.values, r.lengths, r.formats);
    pgt_call(&calls[2], &pgstmts_put_record, PGSTMTS_PUT_RECORD_NPARAMS, after.values, after.lengths, after.formats);
    assert_int_equal(pgbatch_run(t->c, calls, 3, NULL), IH_OK);
    assert_int_equal(calls[0].status, PGBATCH_OK);
    assert_int_equal(calls[1].status, PGBATCH_FAILED);
    assert_string_equal(calls[1].sqlstate, "P0001");
    assert_int_equal(calls[2].status, PGBATCH_OK);
    for (int i = 0; i < 3; i++)
        pgbatch_call_clear(&calls[i]);
    PGconn *db = pgt_raw(t);
    assert_int_equal(n(db, "SELECT count(*) FROM bookings WHERE amiko_booking_id = '%s' AND status = 'pending'"
                           " AND result_sha256 IS NULL",
                     "b-4"),
                     1);
    assert_int_equal(n(db, "SELECT count(*) FROM outbox WHERE amiko_booking_id = '%s'", "b-4"), 0);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE idem_key LIKE 'around-%'"), 2);
    PQfinish(db);
}

/* Session A applies a result and holds the booking's row lock; B's result waits on it;
 * once A commits, B sees the new state. */
static void race(struct pgt *t, const char *id, const char *status_b, const char *payload_b, const char *want)
{
    PQclear(post_request(t, id, "{\"booking\":\"race\"}"));
    PGconn *a = pgt_raw(t), *b = pgt_raw(t);
    struct result ra, rb;
    result_make(&ra, id, "completed", "{\"status\":\"completed\"}");
    result_make(&rb, id, status_b, payload_b);
    result_params(&ra);
    result_params(&rb);
    pgt_do(a, "BEGIN");
    PGresult *res = PQexecParams(a, pgstmts_booking_result.sql, PGSTMTS_BOOKING_RESULT_NPARAMS, NULL, ra.values,
                                 ra.lengths, ra.formats, 0);
    assert_col(res, "outcome", "applied");
    PQclear(res);
    assert_int_equal(PQsendQueryParams(b, pgstmts_booking_result.sql, PGSTMTS_BOOKING_RESULT_NPARAMS, NULL,
                                       rb.values, rb.lengths, rb.formats, 0),
                     1);
    pgt_wait_blocked(a, PQbackendPID(b));
    pgt_do(a, "COMMIT");
    res = pgt_async_result(b);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_col(res, "outcome", want);
    assert_col(res, "status", "completed");
    PQclear(res);
    assert_int_equal(n(a, "SELECT count(*) FROM outbox WHERE amiko_booking_id = '%s'", id), 1);
    assert_int_equal(n(a, "SELECT count(*) FROM records WHERE source = 'amiko.booking_result' AND idem_key = '%s'",
                     id),
                     1);
    PQfinish(a);
    PQfinish(b);
}

static void test_race_conflicting_results(void **state)
{
    race(*state, "b-race-1", "failed", "{\"status\":\"failed\"}", "conflict");
}

static void test_race_identical_results(void **state)
{
    race(*state, "b-race-2", "completed", "{\"status\":\"completed\"}", "same");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_insert_replay_conflict),
        cmocka_unit_test(test_result_not_found),
        cmocka_unit_test(test_result_applied_same_conflict),
        cmocka_unit_test(test_failed_result),
        cmocka_unit_test(test_inconsistent_result_fails_alone),
        cmocka_unit_test(test_race_conflicting_results),
        cmocka_unit_test(test_race_identical_results),
    };
    return cmocka_run_group_tests(tests, pgt_setup, pgt_teardown);
}
