/* Tests of ih_put_record (migrations/postgresql/0001_init.sql), the PostgreSQL twin of
 * src/store/events.c: insert, replay (first answer, duplicate counted), conflict (nothing
 * stored); payloads kept byte for byte; domain-event serials (stale, gap, replay and
 * conflict leave them alone); the same key twice in one batch; and races between two
 * sessions: the same key at once is stored once and both get the first answer. */
#include "pgtestutil.h"

static PGresult *put(struct pgt *t, struct pgt_rec *r)
{
    return pgt_put(t->c, r);
}

static void test_insert_replay_conflict(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    struct pgt_rec r;
    pgt_rec(&r, "amiko.event", "e-1", "{\"a\":1}");
    PGresult *res = put(t, &r);
    assert_col(res, "outcome", "inserted");
    assert_non_null(pgt_col(res, "seq"));
    PQclear(res);

    /* the same again, with another answer and later: the first answer, counted */
    r.response = "{\"answer\":\"second\"}";
    r.received = 2000;
    res = put(t, &r);
    assert_col(res, "outcome", "replay");
    assert_col(res, "stored_status", "200");
    assert_col(res, "stored_response", "{\"answer\":\"first\"}");
    assert_col(res, "seq", NULL);
    PQclear(res);
    assert_int_equal(pgt_num(db, "SELECT duplicates FROM records WHERE idem_key = 'e-1'"), 1);
    assert_int_equal(pgt_num(db, "SELECT last_duplicate_at FROM records WHERE idem_key = 'e-1'"), 2000);

    /* another payload under the key: conflict, nothing changes */
    struct pgt_rec other;
    pgt_rec(&other, "amiko.event", "e-1", "{\"a\":2}");
    other.received = 3000;
    res = put(t, &other);
    assert_col(res, "outcome", "conflict");
    assert_col(res, "stored_status", NULL);
    assert_col(res, "stored_response", NULL);
    PQclear(res);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE idem_key = 'e-1'"), 1);
    assert_int_equal(pgt_num(db, "SELECT duplicates FROM records WHERE idem_key = 'e-1'"), 1);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE idem_key = 'e-1' AND payload = '{\"a\":1}'"),
                     1);
    /* the same key under another source is another record */
    pgt_rec(&other, "riverty.event", "e-1", "{\"a\":2}");
    res = put(t, &other);
    assert_col(res, "outcome", "inserted");
    PQclear(res);
    PQfinish(db);
}

static void test_payload_kept_exactly(void **state)
{
    struct pgt *t = *state;
    static const char payload[] = "{\"text\":\"caf\xc3\xa9 \\u00e9 \\\"q\\\" \\\\ \\n\",\"emoji\":\"\xf0\x9f\x92\xb3\","
                                  "\"sp\":\"  two  spaces \",\"num\":1.50}";
    static const char response[] = "{\"eventId\":\"x\",\"note\":\"\\u2028 \xe2\x80\xa8\"}";
    struct pgt_rec r;
    pgt_rec(&r, "amiko.event", "exact", payload);
    r.response = response;
    r.occurred = 1700000000123;
    PQclear(put(t, &r));
    PGconn *db = pgt_raw(t);
    PGresult *res = pgt_q(db, "SELECT payload, response_body, occurred_at, received_at, type, tracing_id,"
                              " encode(payload_sha256, 'hex') FROM records WHERE idem_key = 'exact'");
    assert_int_equal(PQgetlength(res, 0, 0), (int)strlen(payload));
    assert_memory_equal(PQgetvalue(res, 0, 0), payload, strlen(payload));
    assert_string_equal(PQgetvalue(res, 0, 1), response);
    assert_string_equal(PQgetvalue(res, 0, 2), "1700000000123");
    assert_string_equal(PQgetvalue(res, 0, 3), "1000");
    assert_string_equal(PQgetvalue(res, 0, 4), "test.type");
    assert_string_equal(PQgetvalue(res, 0, 5), "tracing-1");
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    crypto_hex(r.hash, sizeof(r.hash), hex);
    assert_string_equal(PQgetvalue(res, 0, 6), hex);
    PQclear(res);
    PQfinish(db);
}

static PGresult *put_serial(struct pgt *t, const char *key, const char *entity, long long serial)
{
    static struct pgt_rec r; /* the result is read before the next call */
    char payload[96];
    snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"serial\":%lld}", key, serial);
    pgt_rec(&r, "amiko.domain_event", key, strdup(payload));
    r.entity_type = "case";
    r.entity_id = entity;
    r.serial = serial;
    PGresult *res = put(t, &r);
    free((char *)r.payload);
    return res;
}

static void expect_serial(PGresult *res, const char *outcome, const char *note, const char *last)
{
    assert_col(res, "outcome", outcome);
    assert_col(res, "serial_note", note);
    assert_col(res, "serial_last", last);
    PQclear(res);
}

/* As events.c: stale when not above the highest stored, gap when past the next. */
static void test_serials(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    expect_serial(put_serial(t, "d-5", "c1", 5), "inserted", NULL, "-1");
    expect_serial(put_serial(t, "d-6", "c1", 6), "inserted", NULL, "5");
    expect_serial(put_serial(t, "d-8", "c1", 8), "inserted", "gap", "6");
    expect_serial(put_serial(t, "d-7", "c1", 7), "inserted", "stale", "8");
    expect_serial(put_serial(t, "d-0", "c2", 0), "inserted", NULL, "-1"); /* another entity */
    assert_int_equal(pgt_num(db, "SELECT last_serial FROM entity_serials WHERE entity_id = 'c1'"), 8);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE serial_anomaly = 'gap' AND idem_key = 'd-8'"), 1);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE serial_anomaly = 'stale' AND idem_key = 'd-7'"),
                     1);
    /* a replay does not judge the serial again, nor move it */
    expect_serial(put_serial(t, "d-7", "c1", 7), "replay", NULL, "-1");
    assert_int_equal(pgt_num(db, "SELECT duplicates FROM records WHERE idem_key = 'd-7'"), 1);
    /* a conflict (same key, another payload: here another entity) stores no serial */
    expect_serial(put_serial(t, "d-8", "c3", 100), "conflict", NULL, "-1");
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM entity_serials WHERE entity_id = 'c3'"), 0);
    assert_int_equal(pgt_num(db, "SELECT last_serial FROM entity_serials WHERE entity_id = 'c1'"), 8);
    PQfinish(db);
}

/* In one batch the second is a replay of the first, as in one SQLite transaction. */
static void test_same_key_twice_in_a_batch(void **state)
{
    struct pgt *t = *state;
    struct pgt_rec r[2];
    struct pgbatch_call calls[2];
    for (int i = 0; i < 2; i++) {
        pgt_rec(&r[i], "amiko.event", "twice", "{\"t\":1}");
        pgt_rec_params(&r[i]);
        pgt_call(&calls[i], &pgstmts_put_record, PGSTMTS_PUT_RECORD_NPARAMS, r[i].values, r[i].lengths,
                 r[i].formats);
    }
    assert_int_equal(pgbatch_run(t->c, calls, 2, NULL), IH_OK);
    assert_col(calls[0].res, "outcome", "inserted");
    assert_col(calls[1].res, "outcome", "replay");
    pgbatch_call_clear(&calls[0]);
    pgbatch_call_clear(&calls[1]);
    PGconn *db = pgt_raw(t);
    assert_int_equal(pgt_num(db, "SELECT duplicates FROM records WHERE idem_key = 'twice'"), 1);
    PQfinish(db);
}

static void exec_put(PGconn *c, struct pgt_rec *r, bool async)
{
    pgt_rec_params(r);
    if (async) {
        assert_int_equal(PQsendQueryParams(c, pgstmts_put_record.sql, PGSTMTS_PUT_RECORD_NPARAMS, NULL, r->values,
                                           r->lengths, r->formats, 0),
                         1);
        return;
    }
    PGresult *res = PQexecParams(c, pgstmts_put_record.sql, PGSTMTS_PUT_RECORD_NPARAMS, NULL, r->values,
                                 r->lengths, r->formats, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_col(res, "outcome", "inserted");
    PQclear(res);
}

/* Node A stores the key and has not committed; node B sends the same key and waits on the
 * unique index; A commits; B answers A's answer. Stored once. */
static void race(struct pgt *t, const char *key, const char *entity_b, const char *payload_b, const char *want)
{
    PGconn *a = pgt_raw(t), *b = pgt_raw(t);
    struct pgt_rec ra, rb;
    pgt_rec(&ra, entity_b ? "amiko.domain_event" : "amiko.event", key, "{\"race\":1}");
    pgt_rec(&rb, ra.source, key, payload_b);
    ra.response = "{\"answer\":\"node a\"}";
    rb.response = "{\"answer\":\"node b\"}";
    if (entity_b) {
        ra.entity_type = rb.entity_type = "case";
        ra.entity_id = "race-entity";
        rb.entity_id = entity_b;
        ra.serial = rb.serial = 1;
    }
    pgt_do(a, "BEGIN");
    exec_put(a, &ra, false);
    exec_put(b, &rb, true);
    pgt_wait_blocked(a, PQbackendPID(b));
    pgt_do(a, "COMMIT");
    PGresult *res = pgt_async_result(b);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_col(res, "outcome", want);
    assert_col(res, "stored_response", strcmp(want, "replay") == 0 ? "{\"answer\":\"node a\"}" : NULL);
    PQclear(res);
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key = '%s'", key);
    assert_int_equal(pgt_num(a, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT duplicates FROM records WHERE idem_key = '%s'", key);
    assert_int_equal(pgt_num(a, sql), strcmp(want, "replay") == 0 ? 1 : 0);
    PQfinish(a);
    PQfinish(b);
}

static void test_race_same_key(void **state)
{
    race(*state, "race-1", NULL, "{\"race\":1}", "replay");
}

static void test_race_same_key_other_payload(void **state)
{
    race(*state, "race-2", NULL, "{\"race\":2}", "conflict");
}

static void test_race_same_domain_event(void **state)
{
    struct pgt *t = *state;
    race(t, "race-3", "race-entity", "{\"race\":1}", "replay");
    PGconn *db = pgt_raw(t);
    assert_int_equal(pgt_num(db, "SELECT last_serial FROM entity_serials WHERE entity_id = 'race-entity'"), 1);
    PQfinish(db);
}

/* B's entity is new: B makes its serial row, then loses the key to A; the row goes again. */
static void test_race_domain_event_conflict_undoes_serial(void **state)
{
    struct pgt *t = *state;
    race(t, "race-4", "entity-of-b", "{\"race\":4}", "conflict");
    PGconn *db = pgt_raw(t);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM entity_serials WHERE entity_id = 'entity-of-b'"), 0);
    PQfinish(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_replay_conflict),
        cmocka_unit_test(test_payload_kept_exactly),
        cmocka_unit_test(test_serials),
        cmocka_unit_test(test_same_key_twice_in_a_batch),
        cmocka_unit_test(test_race_same_key),
        cmocka_unit_test(test_race_same_key_other_payload),
        cmocka_unit_test(test_race_same_domain_event),
        cmocka_unit_test(test_race_domain_event_conflict_undoes_serial),
    };
    return cmocka_run_group_tests(tests, pgt_setup, pgt_teardown);
}
