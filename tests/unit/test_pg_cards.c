/* Tests of ih_card_batch (migrations/postgresql/0003_card_activity.sql), the PostgreSQL twin
 * of src/store/cards.c: items stored once with their tokens (a repeated item counts a
 * duplicate), a batch all or nothing, the Idempotency-Key's replay (first answer, nothing
 * else happens) and conflict (nothing stored), item text kept exactly through the json
 * parameter, and the same Idempotency-Key sent on two sessions at once stored once. */
#include "pgtestutil.h"

#include <jansson.h>

/* The item "card-<n>" (its key is the hex SHA-256 of its payload, as cards.c makes it). */
static json_t *item(int n)
{
    char payload[160], hex[2 * CRYPTO_SHA256_LEN + 1];
    snprintf(payload, sizeof(payload), "{\"activity\":%d,\"merchant\":\"Caf\xc3\xa9 \\\"%d\\\"\",\"pan\":\"tok\"}", n,
             n);
    unsigned char h[CRYPTO_SHA256_LEN];
    crypto_sha256(payload, strlen(payload), h);
    crypto_hex(h, sizeof(h), hex);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:n, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s?}", "source",
                     "apiture.card_activity", "key", hex, "hash", hex, "type", "card.activity", "tracing_id", "tr-card",
                     "received", (json_int_t)7000, "occurred", "payload", payload, "status", 200, "response", "",
                     "pan_token", "a1b2c3", "pan_lead", "4111", "pan_last4", "1111", "pan_key_id", "k1",
                     "tax_id_token", n % 2 ? "taxtok" : NULL);
}

struct batch {
    char *items;
    const char *scope, *key;
    unsigned char hash[CRYPTO_SHA256_LEN];
    const char *values[PGSTMTS_CARD_BATCH_NPARAMS];
    int lengths[PGSTMTS_CARD_BATCH_NPARAMS], formats[PGSTMTS_CARD_BATCH_NPARAMS];
};

/* A batch of the items numbered in list (n of them), under Idempotency-Key key (NULL:
 * none); the request's hash is that of request. */
static void batch_make(struct batch *b, const int *list, size_t n, const char *key, const char *request)
{
    memset(b, 0, sizeof(*b));
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, item(list[i]));
    b->items = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    b->scope = "POST /card-activities tester";
    b->key = key;
    crypto_sha256(request, strlen(request), b->hash);
    const char *v[PGSTMTS_CARD_BATCH_NPARAMS] = {b->items, b->scope, key, (const char *)b->hash, "200", "", "7000"};
    memcpy(b->values, v, sizeof(v));
    b->lengths[3] = CRYPTO_SHA256_LEN;
    b->formats[3] = 1;
}

static PGresult *run(struct pgt *t, struct batch *b)
{
    return pgt_run1(t->c, &pgstmts_card_batch, PGSTMTS_CARD_BATCH_NPARAMS, b->values, b->lengths, b->formats);
}

static void expect(PGresult *res, const char *outcome, const char *inserted, const char *duplicates)
{
    assert_col(res, "outcome", outcome);
    assert_col(res, "inserted", inserted);
    assert_col(res, "duplicates", duplicates);
    PQclear(res);
}

static long long cards(PGconn *db)
{
    return pgt_num(db, "SELECT count(*) FROM card_activities");
}

static void test_items_stored_once(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    static const int first[] = {1, 2, 3}, again[] = {3, 4};
    struct batch b;
    batch_make(&b, first, 3, NULL, "r1");
    expect(run(t, &b), "stored", "3", "0");
    assert_int_equal(cards(db), 3);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM card_activities c JOIN records r ON r.seq = c.seq WHERE"
                                 " c.pan_token = 'a1b2c3' AND c.pan_lead = '4111' AND c.pan_last4 = '1111'"
                                 " AND c.pan_key_id = 'k1' AND r.source = 'apiture.card_activity'"),
                     3);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM card_activities WHERE tax_id_token IS NULL"), 1);
    /* the item's text as sent (json, not jsonb: escapes and spacing kept) */
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE payload ="
                                 " '{\"activity\":2,\"merchant\":\"Caf\xc3\xa9 \\\"2\\\"\",\"pan\":\"tok\"}'"),
                     1);
    expect(run(t, &b), "stored", "0", "3"); /* posted twice: nothing new */
    assert_int_equal(pgt_num(db, "SELECT sum(duplicates) FROM records WHERE source = 'apiture.card_activity'"), 3);
    free(b.items);
    batch_make(&b, again, 2, NULL, "r2");
    expect(run(t, &b), "stored", "1", "1");
    assert_int_equal(cards(db), 4);
    free(b.items);
    PQfinish(db);
}

static void test_idempotency_key(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    static const int items[] = {10, 11}, others[] = {12};
    struct batch b;
    batch_make(&b, items, 2, "idem-1", "request one");
    expect(run(t, &b), "stored", "2", "0");
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM idempotency_keys WHERE key = 'idem-1' AND status = 200"
                                 " AND body = '' AND created_at = 7000 AND scope = 'POST /card-activities tester'"),
                     1);
    long long before = pgt_num(db, "SELECT count(*) FROM records");
    /* the same request again under the key: its first answer, and nothing else happens */
    struct batch again;
    batch_make(&again, others, 1, "idem-1", "request one");
    PGresult *res = run(t, &again);
    assert_col(res, "stored_status", "200");
    assert_col(res, "stored_response", "");
    expect(res, "idem_replay", "0", "0");
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records"), before);
    assert_int_equal(pgt_num(db, "SELECT coalesce(sum(duplicates), 0) FROM records WHERE source ="
                                 " 'apiture.card_activity' AND payload LIKE '{\"activity\":1_,%'"),
                     0);
    free(again.items);
    /* another request under the key: conflict, nothing stored */
    batch_make(&again, others, 1, "idem-1", "request two");
    res = run(t, &again);
    assert_col(res, "stored_status", NULL);
    expect(res, "idem_conflict", "0", "0");
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records"), before);
    free(again.items);
    free(b.items);
    PQfinish(db);
}

/* An item whose key holds another payload: the whole batch fails (the function raises) and
 * nothing of it stays, not even its Idempotency-Key; the other jobs of the pipeline do. */
static void test_all_or_nothing(void **state)
{
    struct pgt *t = *state;
    PGconn *db = pgt_raw(t);
    json_t *clash = item(21);
    struct pgt_rec squatter;
    pgt_rec(&squatter, "apiture.card_activity", json_string_value(json_object_get(clash, "key")), "{\"other\":1}");
    PQclear(pgt_put(t->c, &squatter));
    json_decref(clash);
    static const int items[] = {20, 21, 22};
    struct batch b;
    batch_make(&b, items, 3, "idem-2", "request three");
    struct pgt_rec ok;
    pgt_rec(&ok, "amiko.event", "beside-cards", "{\"beside\":1}");
    pgt_rec_params(&ok);
    struct pgbatch_call calls[2];
    pgt_call(&calls[0], &pgstmts_card_batch, PGSTMTS_CARD_BATCH_NPARAMS, b.values, b.lengths, b.formats);
    pgt_call(&calls[1], &pgstmts_put_record, PGSTMTS_PUT_RECORD_NPARAMS, ok.values, ok.lengths, ok.formats);
    long long before = cards(db);
    assert_int_equal(pgbatch_run(t->c, calls, 2, NULL), IH_OK);
    assert_int_equal(calls[0].status, PGBATCH_FAILED);
    assert_string_equal(calls[0].sqlstate, "P0001");
    assert_non_null(strstr(calls[0].error, "another payload"));
    assert_int_equal(calls[1].status, PGBATCH_OK);
    pgbatch_call_clear(&calls[1]);
    assert_int_equal(cards(db), before);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE payload LIKE '{\"activity\":2_,%'"), 0);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM idempotency_keys WHERE key = 'idem-2'"), 0);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE idem_key = 'beside-cards'"), 1);
    free(b.items);
    PQfinish(db);
}

/* Two sessions, one Idempotency-Key: the second waits for the first's key, then replays. */
static void test_race_same_idempotency_key(void **state)
{
    struct pgt *t = *state;
    static const int items[] = {30, 31};
    struct batch b;
    batch_make(&b, items, 2, "idem-race", "request race");
    PGconn *a = pgt_raw(t), *c = pgt_raw(t);
    pgt_do(a, "BEGIN");
    PGresult *res = PQexecParams(a, pgstmts_card_batch.sql, PGSTMTS_CARD_BATCH_NPARAMS, NULL, b.values, b.lengths,
                                 b.formats, 0);
    expect(res, "stored", "2", "0");
    assert_int_equal(PQsendQueryParams(c, pgstmts_card_batch.sql, PGSTMTS_CARD_BATCH_NPARAMS, NULL, b.values,
                                       b.lengths, b.formats, 0),
                     1);
    pgt_wait_blocked(a, PQbackendPID(c));
    pgt_do(a, "COMMIT");
    res = pgt_async_result(c);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    expect(res, "idem_replay", "0", "0");
    assert_int_equal(pgt_num(a, "SELECT count(*) FROM records WHERE payload LIKE '{\"activity\":3_,%'"), 2);
    assert_int_equal(pgt_num(a, "SELECT coalesce(sum(duplicates), 0) FROM records WHERE payload LIKE"
                                " '{\"activity\":3_,%'"),
                     0);
    free(b.items);
    PQfinish(a);
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_stored_once),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_race_same_idempotency_key),
    };
    return cmocka_run_group_tests(tests, pgt_setup, pgt_teardown);
}
