/* Tests of ih_outbox_claim and ih_outbox_mark (migrations/postgresql/0002_bookings.sql): due
 * pending rows claimed oldest first under a lease on the database's clock, none claimed
 * twice while leased; marks (delivered, retry, dead; as src/store/outbox.c makes them) only
 * by the lease owner, clearing the lease; a lease that passes frees the row for another node,
 * whose owner's late mark is then ignored; two claimers at once get disjoint rows without
 * waiting for each other (SKIP LOCKED). */
#include "pgtestutil.h"

/* A callback row for a new booking, due at next_at (ms); its id. */
static long long add_row(PGconn *db, const char *booking, long long next_at)
{
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "WITH r AS (INSERT INTO records (source, idem_key, payload_sha256, type, tracing_id, received_at,"
             " payload, response_status, response_body) VALUES ('amiko.booking', '%s', '\\x00', 'b', 't', 0, '{}',"
             " 200, '{}') RETURNING seq), b AS (INSERT INTO bookings (amiko_booking_id, record_seq, status,"
             " tracing_id, created_at, updated_at) SELECT '%s', seq, 'completed', 'tr-%s', 0, 0 FROM r RETURNING"
             " amiko_booking_id) INSERT INTO outbox (amiko_booking_id, body, tracing_id, next_attempt_at,"
             " created_at) SELECT amiko_booking_id, '{\"cb\":\"%s\"}', 'tr-%s', %lld, 0 FROM b RETURNING id",
             booking, booking, booking, booking, booking, next_at);
    return pgt_num(db, sql);
}

static PGresult *claim(PGconn *c, const char *node, long long lease_ms, int max)
{
    char lease[24], n[16];
    snprintf(lease, sizeof(lease), "%lld", lease_ms);
    snprintf(n, sizeof(n), "%d", max);
    const char *const v[] = {node, lease, n};
    PGresult *r = PQexecParams(c, pgstmts_outbox_claim.sql, PGSTMTS_OUTBOX_CLAIM_NPARAMS, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        print_error("claim: %s", PQerrorMessage(c));
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    return r;
}

static long long id_at(PGresult *r, int row)
{
    return strtoll(PQgetvalue(r, row, PQfnumber(r, "id")), NULL, 10);
}

/* A mark through the writer's path (the executor); whether it applied. */
static bool mark(struct pgt *t, long long id, const char *node, const char *what, const char *http,
                 const char *error)
{
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *const v[] = {sid, node, what, "4242", "12345", http, error};
    PGresult *r = pgt_run1(t->c, &pgstmts_outbox_mark, PGSTMTS_OUTBOX_MARK_NPARAMS, v, NULL, NULL);
    bool applied = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return applied;
}

static long long num(PGconn *db, const char *fmt, long long id)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "%s %lld", fmt, id);
    return pgt_num(db, sql);
}

static void clear_outbox(PGconn *db)
{
    pgt_do(db, "UPDATE outbox SET state = 'delivered' WHERE state = 'pending'");
}

static void test_claim_due_oldest_first(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    clear_outbox(db);
    long long a = add_row(db, "ob-a", 300), b = add_row(db, "ob-b", 100), c = add_row(db, "ob-c", 200);
    add_row(db, "ob-later", 9000000000000000LL);
    add_row(db, "ob-done", 50);
    pgt_do(db, "UPDATE outbox SET state = 'delivered' WHERE amiko_booking_id = 'ob-done'");
    long long now = pgt_num(db, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint");
    PGresult *r = claim(db, "node-1", 60000, 10);
    assert_int_equal(PQntuples(r), 3);
    assert_int_equal(id_at(r, 0), b);
    assert_int_equal(id_at(r, 1), c);
    assert_int_equal(id_at(r, 2), a);
    long long until = strtoll(PQgetvalue(r, 0, PQfnumber(r, "lease_until")), NULL, 10);
    assert_true(until >= now + 59000 && until <= now + 61000);
    assert_string_equal(PQgetvalue(r, 0, PQfnumber(r, "body")), "{\"cb\":\"ob-b\"}");
    assert_string_equal(PQgetvalue(r, 0, PQfnumber(r, "tracing_id")), "tr-ob-b");
    PQclear(r);
    assert_int_equal(num(db, "SELECT count(*) FROM outbox WHERE lease_owner = 'node-1' AND id =", b), 1);
    /* leased: nobody else gets them */
    r = claim(db, "node-2", 60000, 10);
    assert_int_equal(PQntuples(r), 0);
    PQclear(r);
    clear_outbox(db);
    /* at most max */
    add_row(db, "ob-m1", 0);
    add_row(db, "ob-m2", 0);
    add_row(db, "ob-m3", 0);
    r = claim(db, "node-1", 60000, 2);
    assert_int_equal(PQntuples(r), 2);
    PQclear(r);
    clear_outbox(db);
    PQfinish(db);
}

static void test_marks_only_by_the_owner(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    clear_outbox(db);
    long long id = add_row(db, "ob-mark", 0);
    PQclear(claim(db, "node-1", 60000, 10));
    assert_false(mark(t, id, "node-2", "delivered", "200", NULL));
    assert_int_equal(num(db, "SELECT count(*) FROM outbox WHERE state = 'pending' AND attempts = 0 AND"
                             " lease_owner = 'node-1' AND id =",
                         id),
                     1);
    assert_true(mark(t, id, "node-1", "delivered", "200", NULL));
    assert_int_equal(num(db, "SELECT count(*) FROM outbox WHERE state = 'delivered' AND attempts = 1 AND"
                             " delivered_at = 4242 AND last_status = 200 AND last_error IS NULL AND lease_owner IS"
                             " NULL AND lease_until IS NULL AND id =",
                         id),
                     1);
    assert_false(mark(t, id, "node-1", "delivered", "200", NULL)); /* no longer pending */

    /* retry: counted, due again at next_at, lease cleared, claimable by anyone */
    id = add_row(db, "ob-retry", 0);
    PQclear(claim(db, "node-1", 60000, 10));
    assert_true(mark(t, id, "node-1", "retry", NULL, "timeout"));
    assert_int_equal(num(db, "SELECT count(*) FROM outbox WHERE state = 'pending' AND attempts = 1 AND"
                             " next_attempt_at = 12345 AND last_status IS NULL AND last_error = 'timeout' AND"
                             " lease_owner IS NULL AND id =",
                         id),
                     1);
    PGresult *r = claim(db, "node-2", 60000, 10);
    assert_int_equal(PQntuples(r), 1);
    assert_int_equal(id_at(r, 0), id);
    assert_string_equal(PQgetvalue(r, 0, PQfnumber(r, "attempts")), "1");
    PQclear(r);
    /* dead */
    assert_true(mark(t, id, "node-2", "dead", "500", "gave up"));
    assert_int_equal(num(db, "SELECT count(*) FROM outbox WHERE state = 'dead' AND attempts = 2 AND last_status ="
                             " 500 AND last_error = 'gave up' AND lease_owner IS NULL AND id =",
                         id),
                     1);
    PQfinish(db);
}

static void test_lease_expiry(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    clear_outbox(db);
    long long id = add_row(db, "ob-lease", 0);
    PGresult *r = claim(db, "node-1", 100, 10);
    assert_int_equal(PQntuples(r), 1);
    PQclear(r);
    r = claim(db, "node-2", 60000, 10);
    assert_int_equal(PQntuples(r), 0);
    PQclear(r);
    usleep(250000); /* node-1 "died" mid-delivery: its lease passes */
    r = claim(db, "node-2", 60000, 10);
    assert_int_equal(PQntuples(r), 1);
    assert_int_equal(id_at(r, 0), id);
    PQclear(r);
    assert_false(mark(t, id, "node-1", "delivered", "200", NULL)); /* too late: not its row any more */
    assert_true(mark(t, id, "node-2", "delivered", "200", NULL));
    assert_int_equal(num(db, "SELECT attempts FROM outbox WHERE id =", id), 1);
    PQfinish(db);
}

/* A's claim holds its rows' locks (not committed); B's claim skips them instead of waiting
 * (a 2 s statement timeout would fail it), and gets the others. */
static void test_two_claimers_disjoint(void **state)
{
    struct pgt *t = *state;
    PGconn *a = pgt_raw(t), *b = pgt_raw(t);
    clear_outbox(a);
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof(name), "ob-two-%d", i);
        add_row(a, name, i);
    }
    pgt_do(b, "SET statement_timeout = 2000");
    pgt_do(a, "BEGIN");
    PGresult *ra = claim(a, "node-a", 60000, 5);
    double t0 = pgt_now_s();
    PGresult *rb = claim(b, "node-b", 60000, 5);
    assert_true(pgt_now_s() - t0 < 1.5);
    assert_int_equal(PQntuples(ra), 5);
    assert_int_equal(PQntuples(rb), 5);
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 5; k++)
            assert_int_not_equal(id_at(ra, i), id_at(rb, k));
    PQclear(ra);
    PQclear(rb);
    pgt_do(a, "COMMIT");
    PGresult *rc = claim(b, "node-c", 60000, 10);
    assert_int_equal(PQntuples(rc), 0);
    PQclear(rc);
    assert_int_equal(pgt_num(a, "SELECT count(DISTINCT id) FROM outbox WHERE lease_owner IN ('node-a', 'node-b')"
                                " AND amiko_booking_id LIKE 'ob-two-%'"),
                     10);
    PQfinish(a);
    PQfinish(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_due_oldest_first),
        cmocka_unit_test(test_marks_only_by_the_owner),
        cmocka_unit_test(test_lease_expiry),
        cmocka_unit_test(test_two_claimers_disjoint),
    };
    return cmocka_run_group_tests(tests, pgt_setup, pgt_teardown);
}
