/* The PostgreSQL store's job glue (src/store/pg/pgjobs.c, pgresults.c, pgwriter.c): every
 * job kind, filled as the API modules fill it, goes through the shared writer to its
 * function and back, and its outputs are exactly what the SQLite store gives for the same
 * jobs (run side by side on both): inserted, replay and conflict; domain-event serials
 * (first, gap, stale); a booking's request, results (applied, same, conflict, not found)
 * and its state; card batches (stored, partly replayed, Idempotency-Key replay and
 * conflict); a callback's mark. A batch of many jobs costs one round trip; a job that
 * fails alone fails alone; the feed shows what was stored. */
#include "pgstoretest.h"

#include "issuerhook/metrics.h"

/* One side's jobs, made the same way for each store. */
struct scenario {
    struct store_event ev[12];
    struct booking_request_job breq[4];
    struct booking_result_job bres[4];
    struct card_batch_job cards[4];
    struct writer_job none;
};

static void scenario_fill(struct scenario *sc)
{
    memset(sc, 0, sizeof(*sc));
    pst_event(&sc->ev[0], "amiko.event", "e1", "{\"e\":1}");
    pst_event(&sc->ev[1], "amiko.event", "e2", "{\"e\":2}");
    pst_event(&sc->ev[2], "amiko.event", "e1", "{\"e\":1}");  /* replay, in the same batch */
    pst_event(&sc->ev[3], "amiko.event", "e1", "{\"e\":99}"); /* conflict */
    pst_domain(&sc->ev[4], "d1", "A", 1);                     /* first of A */
    pst_domain(&sc->ev[5], "d2", "A", 3);                     /* gap */
    pst_domain(&sc->ev[6], "d3", "A", 2);                     /* stale */
    pst_domain(&sc->ev[7], "d4", "B", 5);                     /* first of B */
    pst_domain(&sc->ev[8], "d1", "A", 1);                     /* replay: serials untouched */
    pst_event(&sc->ev[9], "riverty.event", "e1", "{\"e\":1}"); /* another source, same key */
    pst_booking(&sc->breq[0], "11111111-1111-4111-8111-111111111111", "{\"b\":1}");
    pst_booking(&sc->breq[1], "11111111-1111-4111-8111-111111111111", "{\"b\":1}");  /* replay: pending */
    pst_booking(&sc->breq[2], "11111111-1111-4111-8111-111111111111", "{\"b\":2}");  /* conflict */
    pst_result(&sc->bres[0], "11111111-1111-4111-8111-111111111111", true, "{\"r\":1}");
    pst_result(&sc->bres[1], "11111111-1111-4111-8111-111111111111", true, "{\"r\":1}"); /* same */
    pst_result(&sc->bres[2], "11111111-1111-4111-8111-111111111111", false, "{\"r\":2}"); /* conflict */
    pst_result(&sc->bres[3], "22222222-2222-4222-8222-222222222222", true, "{\"r\":3}"); /* not found */
    pst_booking(&sc->breq[3], "11111111-1111-4111-8111-111111111111", "{\"b\":1}"); /* replay after the result */
    pst_cards(&sc->cards[0], 1, 3, "idem-1");
    pst_cards(&sc->cards[1], 1, 3, "idem-1"); /* the same request: its first answer */
    pst_cards(&sc->cards[2], 5, 1, "idem-1"); /* another request under the key: conflict */
    pst_cards(&sc->cards[3], 2, 3, NULL);     /* items 2, 3 seen, 4 new */
}

static void scenario_clear(struct scenario *sc)
{
    for (size_t i = 0; i < PST_N(sc->ev); i++)
        events_clear(&sc->ev[i]);
    for (size_t i = 0; i < PST_N(sc->breq); i++) {
        events_clear(&sc->breq[i].ev);
        booking_state_clear(&sc->breq[i].state);
    }
    for (size_t i = 0; i < PST_N(sc->bres); i++)
        booking_result_job_clear(&sc->bres[i]);
    for (size_t i = 0; i < PST_N(sc->cards); i++)
        card_batch_clear(&sc->cards[i]);
}

/* Runs the scenario on s in three batches (events and requests; results and the request
 * again; cards), as requests would come. */
static void scenario_run(struct store *s, struct scenario *sc)
{
    struct writer_job *first[16], *second[5], *third[4];
    size_t n = 0;
    for (size_t i = 0; i < 10; i++)
        first[n++] = &sc->ev[i].job;
    for (size_t i = 0; i < 3; i++)
        first[n++] = &sc->breq[i].ev.job;
    first[n++] = &sc->none; /* kind not set: fails alone */
    pst_run(s, first, n);
    for (size_t i = 0; i < 4; i++)
        second[i] = &sc->bres[i].job;
    second[4] = &sc->breq[3].ev.job;
    pst_run(s, second, 5);
    for (size_t i = 0; i < 4; i++)
        third[i] = &sc->cards[i].job;
    pst_run(s, third, 4);
}

static void same_str(const char *what, const char *a, const char *b)
{
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
        fail_msg("%s: sqlite %s, postgresql %s", what, a ? a : "NULL", b ? b : "NULL");
}

static void same_event(const char *what, const struct store_event *a, const struct store_event *b)
{
    if (a->job.rc != b->job.rc || a->outcome != b->outcome)
        fail_msg("%s: sqlite rc %d outcome %d, postgresql rc %d outcome %d", what, a->job.rc, a->outcome, b->job.rc,
                 b->outcome);
    if (a->outcome == EVENTS_REPLAY) {
        assert_int_equal(a->stored_status, b->stored_status);
        same_str(what, a->stored_response, b->stored_response);
    }
    if (a->outcome == EVENTS_INSERTED) {
        assert_true(a->seq > 0 && b->seq > 0);
        if (a->serial_note != b->serial_note || (a->has_serial && a->serial_last != b->serial_last))
            fail_msg("%s: serial note %d/%d, last %lld/%lld", what, a->serial_note, b->serial_note,
                     (long long)a->serial_last, (long long)b->serial_last);
    }
}

static void same_state(const char *what, const struct booking_state *a, const struct booking_state *b)
{
    assert_string_equal(a->id, b->id);
    if (a->status != b->status)
        fail_msg("%s: status %d/%d", what, a->status, b->status);
    same_str(what, a->issuer_booking_id, b->issuer_booking_id);
    same_str(what, a->failure_reason, b->failure_reason);
    same_str(what, a->failure_code, b->failure_code);
}

static void test_every_kind_as_on_sqlite(void **state)
{
    struct pgt *t = *state;
    char dir[64];
    struct store *lite = pst_open_sqlite(dir), *pg = pst_open(t, false);
    static struct scenario a, b;
    scenario_fill(&a);
    scenario_fill(&b);
    scenario_run(lite, &a);
    scenario_run(pg, &b);

    /* the expected outcomes, on SQLite (the reference) */
    const enum events_outcome want[] = {EVENTS_INSERTED, EVENTS_INSERTED, EVENTS_REPLAY, EVENTS_CONFLICT,
                                        EVENTS_INSERTED, EVENTS_INSERTED, EVENTS_INSERTED, EVENTS_INSERTED,
                                        EVENTS_REPLAY, EVENTS_INSERTED};
    for (size_t i = 0; i < PST_N(want); i++)
        assert_int_equal(a.ev[i].outcome, want[i]);
    assert_int_equal(a.ev[5].serial_note, EVENTS_SERIAL_GAP);
    assert_int_equal(a.ev[6].serial_note, EVENTS_SERIAL_STALE);
    assert_int_equal(a.ev[6].serial_last, 3);
    assert_int_not_equal(a.none.rc, IH_OK);
    assert_int_equal(a.bres[0].outcome, BOOKING_RESULT_APPLIED);
    assert_int_equal(a.bres[1].outcome, BOOKING_RESULT_SAME);
    assert_int_equal(a.bres[2].outcome, BOOKING_RESULT_CONFLICT);
    assert_int_equal(a.bres[3].outcome, BOOKING_RESULT_NOT_FOUND);
    assert_int_equal(a.cards[3].inserted, 1);
    assert_int_equal(a.cards[3].duplicates, 2);

    /* and PostgreSQL gives the same, field by field */
    char what[64];
    for (size_t i = 0; i < 10; i++) {
        snprintf(what, sizeof(what), "event %zu", i);
        same_event(what, &a.ev[i], &b.ev[i]);
    }
    assert_int_not_equal(b.none.rc, IH_OK);
    for (size_t i = 0; i < 4; i++) {
        snprintf(what, sizeof(what), "booking request %zu", i);
        same_event(what, &a.breq[i].ev, &b.breq[i].ev);
        if (a.breq[i].ev.outcome != EVENTS_CONFLICT)
            same_state(what, &a.breq[i].state, &b.breq[i].state);
    }
    assert_int_equal(b.breq[3].state.status, BOOKING_COMPLETED); /* a replay answers the state now */
    for (size_t i = 0; i < 4; i++) {
        snprintf(what, sizeof(what), "booking result %zu", i);
        assert_int_equal(a.bres[i].job.rc, b.bres[i].job.rc);
        assert_int_equal(a.bres[i].outcome, b.bres[i].outcome);
        if (a.bres[i].outcome != BOOKING_RESULT_NOT_FOUND)
            same_state(what, &a.bres[i].state, &b.bres[i].state);
        if (a.bres[i].outcome == BOOKING_RESULT_APPLIED || a.bres[i].outcome == BOOKING_RESULT_SAME)
            same_event(what, &a.bres[i].rec, &b.bres[i].rec);
    }
    for (size_t i = 0; i < 4; i++) {
        const struct card_batch_job *x = &a.cards[i], *y = &b.cards[i];
        if (x->job.rc != y->job.rc || x->outcome != y->outcome || x->inserted != y->inserted ||
            x->duplicates != y->duplicates)
            fail_msg("card batch %zu: rc %d/%d outcome %d/%d inserted %zu/%zu duplicates %zu/%zu", i, x->job.rc,
                     y->job.rc, x->outcome, y->outcome, x->inserted, y->inserted, x->duplicates, y->duplicates);
        if (x->outcome == CARDS_IDEM_REPLAY) {
            assert_int_equal(x->stored_status, y->stored_status);
            same_str("card replay", x->stored_response, y->stored_response);
        }
    }
    assert_int_equal(b.cards[1].outcome, CARDS_IDEM_REPLAY);
    assert_int_equal(b.cards[2].outcome, CARDS_IDEM_CONFLICT);

    /* what was stored: the same rows */
    PGconn *db = pgt_raw(t);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records"), 13); /* 7 events, a booking, its result, 4 items */
    assert_int_equal(pgt_num(db, "SELECT duplicates FROM records WHERE source = 'amiko.event' AND idem_key = 'e1'"), 1);
    assert_int_equal(pgt_num(db, "SELECT last_serial FROM entity_serials WHERE entity_id = 'A'"), 3);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM card_activities WHERE tax_id_token IS NOT NULL"), 3);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM outbox"), 1);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM idempotency_keys"), 1);
    PQfinish(db);

    scenario_clear(&a);
    scenario_clear(&b);
    store_close(lite);
    store_close(pg);
    pst_rmdir(dir);
}

/* A callback claimed, marked delivered through the writer, and shown on the booking: the
 * same on both stores. */
static void test_callback_mark_as_on_sqlite(void **state)
{
    struct pgt *t = *state;
    char dir[64];
    struct store *stores[2] = {pst_open_sqlite(dir), pst_open(t, false)};
    struct booking_view views[2];
    PGconn *db = pgt_raw(t);
    pgt_do(db, "UPDATE outbox SET state = 'delivered'"); /* the earlier tests' */
    PQfinish(db);
    for (int k = 0; k < 2; k++) {
        struct booking_request_job req;
        struct booking_result_job res;
        pst_booking(&req, "33333333-3333-4333-8333-333333333333", "{\"b\":3}");
        pst_result(&res, "33333333-3333-4333-8333-333333333333", false, "{\"r\":33}");
        pst_run1(stores[k], &req.ev.job);
        pst_run1(stores[k], &res.job);
        assert_int_equal(res.outcome, BOOKING_RESULT_APPLIED);
        struct outbox_item items[4];
        size_t n = 0;
        assert_int_equal(outbox_claim(stores[k], 1700000000000 + 5000, 60000, NULL, 0, items, 4, &n), IH_OK);
        assert_int_equal(n, 1);
        assert_string_equal(items[0].booking_id, "33333333-3333-4333-8333-333333333333");
        assert_string_equal(items[0].body, "{\"amikoBookingId\":\"33333333-3333-4333-8333-333333333333\"}");
        assert_string_equal(items[0].tracing_id, "tr-33333333-3333-4333-8333-333333333333");
        assert_int_equal(items[0].attempts, 0);
        struct outbox_mark_job m = {.job.kind = WRITER_JOB_OUTBOX_MARK, .id = items[0].id, .what = OUTBOX_RETRY,
                                    .at_ms = 1700000001000, .next_at_ms = 1700000009000, .http_status = 503};
        snprintf(m.error, sizeof(m.error), "answered HTTP 503");
        pst_run1(stores[k], &m.job);
        assert_int_equal(m.job.rc, IH_OK);
        outbox_item_clear(&items[0]);
        assert_int_equal(bookings_get(stores[k], "33333333-3333-4333-8333-333333333333", &views[k]), IH_OK);
        booking_result_job_clear(&res);
        events_clear(&req.ev);
        booking_state_clear(&req.state);
    }
    const struct booking_view *a = &views[0], *b = &views[1];
    same_state("view", &a->state, &b->state);
    same_str("request", a->request, b->request);
    assert_string_equal(a->tracing_id, b->tracing_id);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->updated_at, b->updated_at);
    assert_true(a->has_callback && b->has_callback);
    assert_string_equal(a->callback_state, b->callback_state);
    assert_string_equal(b->callback_state, "pending");
    assert_int_equal(a->attempts, b->attempts);
    assert_int_equal(b->attempts, 1);
    assert_int_equal(a->next_attempt_at, b->next_attempt_at);
    assert_int_equal(a->last_status, b->last_status);
    same_str("last_error", a->last_error, b->last_error);
    assert_int_equal(bookings_get(stores[1], "44444444-4444-4444-8444-444444444444", &views[1]) , IH_ENOTFOUND);
    booking_view_clear(&views[0]);
    booking_view_clear(&views[1]);
    store_close(stores[0]);
    store_close(stores[1]);
    pst_rmdir(dir);
}

/* 500 jobs submitted at once: committed in a handful of batches, each one round trip
 * (issuerhook_store_round_trips_total moves by the number of batches). */
static void test_a_batch_is_one_round_trip(void **state)
{
    struct pgt *t = *state;
    struct store *s = pst_open(t, false);
    enum { N = 500 };
    static struct store_event ev[N];
    struct writer_job *jobs[N];
    for (int i = 0; i < N; i++) {
        char key[32], payload[64];
        snprintf(key, sizeof(key), "rt-%d", i);
        snprintf(payload, sizeof(payload), "{\"rt\":%d}", i);
        pst_event(&ev[i], "amiko.event", key, payload);
        jobs[i] = &ev[i].job;
    }
    unsigned long long trips0 = metrics_get(M_STORE_ROUND_TRIPS, "postgresql");
    unsigned long long batches0 = pgbatch_batches_total();
    pst_run(s, jobs, N);
    unsigned long long trips = metrics_get(M_STORE_ROUND_TRIPS, "postgresql") - trips0;
    unsigned long long batches = pgbatch_batches_total() - batches0;
    print_message("%d jobs: %llu batches, %llu round trips\n", N, batches, trips);
    assert_true(batches >= 1 && batches < N / 4); /* grouped, not one per job */
    assert_int_equal(trips, batches);
    for (int i = 0; i < N; i++) {
        assert_int_equal(ev[i].job.rc, IH_OK);
        assert_int_equal(ev[i].outcome, EVENTS_INSERTED);
        events_clear(&ev[i]);
    }
    store_close(s);
}

/* A job whose function fails (here: a booking result whose record was stored without the
 * booking changing, which the function refuses) fails alone, answered 503; the others of
 * its batch are stored, in a second round trip, one job per transaction. */
static void test_a_failing_job_fails_alone(void **state)
{
    struct pgt *t = *state;
    struct store *s = pst_open(t, false);
    struct booking_request_job req;
    pst_booking(&req, "55555555-5555-4555-8555-555555555555", "{\"b\":5}");
    pst_run1(s, &req.ev.job);
    PGconn *db = pgt_raw(t);
    /* the result's record, stored behind the function's back */
    pgt_do(db, "INSERT INTO records (source, idem_key, payload_sha256, type, tracing_id, received_at, payload,"
               " response_status, response_body) VALUES ('amiko.booking_result',"
               " '55555555-5555-4555-8555-555555555555', '\\x00', 'x', 't', 0, '{}', 200, '{}')");
    struct booking_result_job bad;
    struct store_event ok1, ok2;
    pst_result(&bad, "55555555-5555-4555-8555-555555555555", true, "{\"r\":5}");
    pst_event(&ok1, "amiko.event", "alone-1", "{\"a\":1}");
    pst_event(&ok2, "amiko.event", "alone-2", "{\"a\":2}");
    struct writer_job *jobs[] = {&ok1.job, &bad.job, &ok2.job};
    unsigned long long reruns = pgbatch_reruns_total();
    pst_run(s, jobs, 3);
    assert_int_equal(ok1.job.rc, IH_OK);
    assert_int_equal(ok2.job.rc, IH_OK);
    assert_int_equal(ok1.outcome, EVENTS_INSERTED);
    assert_int_not_equal(bad.job.rc, IH_OK);
    assert_true(pgbatch_reruns_total() > reruns);
    assert_true(store_writable(s, NULL, 0)); /* one job's failure is not the store's */
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE idem_key LIKE 'alone-%'"), 2);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM bookings WHERE status = 'pending' AND"
                                 " amiko_booking_id = '55555555-5555-4555-8555-555555555555'"),
                     1);
    PQfinish(db);
    booking_result_job_clear(&bad);
    events_clear(&ok1);
    events_clear(&ok2);
    events_clear(&req.ev);
    booking_state_clear(&req.state);
    store_close(s);
}

int main(void)
{
    log_configure(LOG_ERROR, true);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_as_on_sqlite),
        cmocka_unit_test(test_callback_mark_as_on_sqlite),
        cmocka_unit_test(test_a_batch_is_one_round_trip),
        cmocka_unit_test(test_a_failing_job_fails_alone),
    };
    return cmocka_run_group_tests(tests, pgt_setup, pgt_teardown);
}
