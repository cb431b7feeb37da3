/* The PostgreSQL store's reads (src/store/pg/pgfeed.c, pgreads.c) through the store's
 * interface: the feed in commit order never passes a row that commits later (a
 * transaction held open on another session holds the feed back; then its rows come, in
 * order, and nothing is skipped or seen twice), a scan's text is bounded whatever the
 * rows' sizes (and the next scan goes on from its last row), occurredAt order with its
 * cursor both ways; the outbox claimed by two nodes (each row by one, a lease that passes
 * frees the row for the other, whose mark then counts and the first node's does not);
 * bookings listed by status. */
#include "pgstoretest.h"

struct seen {
    struct feed_pos pos[64];
    int64_t seq[64];
    size_t n, cap;
    size_t stop_after; /* 0: never */
};

static enum feed_take collect(const struct feed_row *row, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < s->cap);
    assert_true(row->pos.a > 0 && row->pos.b == row->seq);
    s->pos[s->n] = row->pos;
    s->seq[s->n] = row->seq;
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? FEED_LAST : FEED_NEXT;
}

static void put(struct store *s, const char *key, size_t payload_bytes)
{
    struct store_event ev;
    char *payload = malloc(payload_bytes + 32);
    assert_non_null(payload);
    size_t n = (size_t)snprintf(payload, payload_bytes + 32, "{\"k\":\"%s\",\"pad\":\"", key);
    while (n < payload_bytes)
        payload[n++] = 'x';
    memcpy(payload + n, "\"}", 3);
    pst_event(&ev, "amiko.event", key, payload);
    free(payload);
    pst_run1(s, &ev.job);
    assert_int_equal(ev.job.rc, IH_OK);
    assert_int_equal(ev.outcome, EVENTS_INSERTED);
    events_clear(&ev);
}

/* Everything after *at, scan after scan, into s (at moves on). */
static void follow(struct store *st, struct feed_pos *at, struct seen *s)
{
    for (int guard = 0; guard < 100; guard++) {
        struct feed_scan_result res;
        assert_int_equal(feed_scan_commit_order(st, *at, 1000, collect, s, &res), IH_OK);
        assert_true(feed_pos_cmp(res.last, *at) >= 0);
        *at = res.last;
        if (!res.more)
            return;
    }
    fail_msg("the feed never ended");
}

static void test_feed_waits_for_an_open_transaction(void **state)
{
    struct pgt *t = *state;
    struct store *s = pst_open(t, false);
    struct feed_pos at = {0, 0};
    struct seen before = {.cap = 64};
    follow(s, &at, &before); /* whatever earlier tests left */
    put(s, "f-1", 10);
    /* another node's transaction takes a seq and stays open */
    PGconn *held = pgt_raw(t);
    pgt_do(held, "BEGIN");
    pgt_do(held, "SELECT * FROM ih_put_record('amiko.event', 'f-held', '\\x00', 't', 'tr', 0, NULL, '{}', 200,"
                 " '{}', NULL, NULL, NULL)");
    put(s, "f-2", 10); /* commits after it took its seq */
    put(s, "f-3", 10);
    struct seen a = {.cap = 64};
    follow(s, &at, &a);
    assert_int_equal(a.n, 1); /* f-1 only: f-2 and f-3 wait behind the open transaction */
    struct feed_pos stopped = at;
    pgt_do(held, "COMMIT");
    PQfinish(held);
    struct seen b = {.cap = 64};
    follow(s, &at, &b);
    assert_int_equal(b.n, 3); /* the held row, then f-2, f-3: none skipped */
    for (size_t i = 0; i < b.n; i++) {
        assert_true(feed_pos_cmp(b.pos[i], stopped) > 0);
        if (i)
            assert_true(feed_pos_cmp(b.pos[i], b.pos[i - 1]) > 0);
    }
    assert_true(b.seq[0] < b.seq[1]); /* the held row's seq was taken first */
    struct seen c = {.cap = 64};
    follow(s, &at, &c);
    assert_int_equal(c.n, 0); /* nothing twice */
    store_close(s);
}

/* Rows of 200 KiB: a scan hands out about two of the feed page's chunks of text, says
 * there is more, and the next goes on from its last row; every row comes once. A row
 * larger than the budget still comes, alone. */
static void test_feed_scan_text_bounded(void **state)
{
    struct pgt *t = *state;
    struct store *s = pst_open(t, false);
    struct feed_pos at = {0, 0};
    struct seen skip = {.cap = 64};
    follow(s, &at, &skip);
    for (int i = 0; i < 8; i++) {
        char key[16];
        snprintf(key, sizeof(key), "big-%d", i);
        put(s, key, 200 << 10);
    }
    put(s, "huge", 2 << 20);
    struct seen got = {.cap = 64};
    struct feed_scan_result res;
    assert_int_equal(feed_scan_commit_order(s, at, 1000, collect, &got, &res), IH_OK);
    assert_true(got.n >= 2 && got.n <= 3);
    assert_true(res.more);
    at = res.last;
    follow(s, &at, &got);
    assert_int_equal(got.n, 9);
    /* the scan's row limit holds too */
    struct seen one = {.cap = 64};
    struct feed_pos from = skip.n ? skip.pos[skip.n - 1] : (struct feed_pos){0, 0};
    assert_int_equal(feed_scan_commit_order(s, from, 1, collect, &one, &res), IH_OK);
    assert_int_equal(one.n, 1);
    assert_true(res.more);
    /* scan_max 0: no row, only whether there are some */
    one.n = 0;
    assert_int_equal(feed_scan_commit_order(s, from, 0, collect, &one, &res), IH_OK);
    assert_int_equal(one.n, 0);
    assert_true(res.more);
    assert_int_equal(res.last.a, from.a);
    store_close(s);
}

static enum feed_take collect_time(const struct feed_row *row, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < s->cap);
    s->seq[s->n] = row->seq;
    s->pos[s->n] = (struct feed_pos){row->occurred_ms, row->seq};
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? FEED_LAST : FEED_NEXT;
}

static void test_time_order(void **state)
{
    struct pgt *t = *state;
    struct store *s = pst_open(t, false);
    const int64_t when[] = {5000, 1000, 3000, 3000, 9000};
    for (size_t i = 0; i < PST_N(when); i++) {
        struct store_event ev;
        char key[16];
        snprintf(key, sizeof(key), "tm-%zu", i);
        pst_event(&ev, "riverty.event", key, "{\"t\":1}");
        ev.occurred_ms = when[i];
        pst_run1(s, &ev.job);
        events_clear(&ev);
    }
    struct feed_time_query q = {.has_from = true, .from_ms = 1000, .has_to = true, .to_ms = 9000};
    struct seen a = {.cap = 64};
    struct feed_time_result res;
    assert_int_equal(feed_scan_time_order(s, &q, 100, collect_time, &a, &res), IH_OK);
    assert_int_equal(a.n, 4); /* 9000 is outside [1000, 9000) */
    const int64_t asc[] = {1000, 3000, 3000, 5000};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(a.pos[i].a, asc[i]);
    assert_true(a.seq[1] < a.seq[2]);
    assert_false(res.more);
    /* descending, two at a time, with the cursor */
    q.desc = true;
    struct seen d = {.cap = 64, .stop_after = 2};
    assert_int_equal(feed_scan_time_order(s, &q, 100, collect_time, &d, &res), IH_OK);
    assert_int_equal(d.n, 2);
    assert_true(res.more);
    assert_int_equal(res.last_ms, 3000);
    q.has_cursor = true;
    q.cur_ms = res.last_ms;
    q.cur_seq = res.last_seq;
    d.stop_after = 0;
    assert_int_equal(feed_scan_time_order(s, &q, 100, collect_time, &d, &res), IH_OK);
    assert_int_equal(d.n, 4);
    const int64_t desc[] = {5000, 3000, 3000, 1000};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(d.pos[i].a, desc[i]);
    assert_true(d.seq[1] > d.seq[2]);
    assert_false(res.more);
    store_close(s);
}

/* Two nodes on one outbox: each due row is claimed by one of them; a lease that passes
 * (the node died) frees the row for the other; the first node's late mark then does not
 * count, the second's does. */
static void test_outbox_two_nodes(void **state)
{
    struct pgt *t = *state;
    struct store *n1 = pst_open(t, false), *n2 = pst_open(t, false);
    PGconn *db = pgt_raw(t);
    pgt_do(db, "UPDATE outbox SET state = 'delivered' WHERE state = 'pending'");
    const char *ids[] = {"66666666-6666-4666-8666-000000000001", "66666666-6666-4666-8666-000000000002",
                         "66666666-6666-4666-8666-000000000003"};
    for (size_t i = 0; i < PST_N(ids); i++) {
        struct booking_request_job req;
        struct booking_result_job res;
        pst_booking(&req, ids[i], "{\"b\":6}");
        pst_result(&res, ids[i], true, "{\"r\":6}");
        pst_run1(n1, &req.ev.job);
        pst_run1(n1, &res.job);
        assert_int_equal(res.outcome, BOOKING_RESULT_APPLIED);
        events_clear(&req.ev);
        booking_state_clear(&req.state);
        booking_result_job_clear(&res);
    }
    struct outbox_stats st;
    assert_int_equal(outbox_stats(n2, &st), IH_OK);
    assert_int_equal(st.pending, 3);
    struct outbox_item a[8], b[8];
    size_t na = 0, nb = 0;
    assert_int_equal(outbox_claim(n1, 0, 60000, NULL, 0, a, 2, &na), IH_OK);
    assert_int_equal(outbox_claim(n2, 0, 60000, NULL, 0, b, 8, &nb), IH_OK);
    assert_int_equal(na, 2);
    assert_int_equal(nb, 1); /* the one n1 did not take */
    for (size_t i = 0; i < na; i++)
        assert_true(a[i].id != b[0].id);
    size_t again = 0;
    assert_int_equal(outbox_claim(n2, 0, 60000, NULL, 0, b + 1, 8, &again), IH_OK);
    assert_int_equal(again, 0); /* all leased */
    /* the next claimable time is the end of a lease, not a past next_attempt_at */
    assert_int_equal(outbox_stats(n2, &st), IH_OK);
    long long now = pgt_num(db, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint");
    assert_true(st.next_due > now + 50000);
    /* n2 delivers its row */
    struct outbox_mark_job m = {.job.kind = WRITER_JOB_OUTBOX_MARK, .id = b[0].id, .what = OUTBOX_DELIVERED,
                                .at_ms = now, .http_status = 204};
    pst_run1(n2, &m.job);
    assert_int_equal(m.job.rc, IH_OK);
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE state = 'delivered' AND id = %lld", (long long)b[0].id);
    assert_int_equal(pgt_num(db, sql), 1);
    /* n1 "dies" holding a[0]: its lease is made to pass; n2 takes it */
    snprintf(sql, sizeof(sql), "UPDATE outbox SET lease_until = 0 WHERE id = %lld", (long long)a[0].id);
    pgt_do(db, sql);
    struct outbox_item c[4];
    size_t nc = 0;
    assert_int_equal(outbox_claim(n2, 0, 60000, NULL, 0, c, 4, &nc), IH_OK);
    assert_int_equal(nc, 1);
    assert_int_equal(c[0].id, a[0].id);
    /* n1's late mark does not count; n2's does */
    m = (struct outbox_mark_job){.job.kind = WRITER_JOB_OUTBOX_MARK, .id = a[0].id, .what = OUTBOX_DELIVERED,
                                 .at_ms = now, .http_status = 200};
    pst_run1(n1, &m.job);
    assert_int_equal(m.job.rc, IH_OK);
    snprintf(sql, sizeof(sql), "SELECT attempts FROM outbox WHERE state = 'pending' AND id = %lld", (long long)a[0].id);
    assert_int_equal(pgt_num(db, sql), 0);
    m = (struct outbox_mark_job){.job.kind = WRITER_JOB_OUTBOX_MARK, .id = a[0].id, .what = OUTBOX_DEAD,
                                 .at_ms = now, .http_status = 500};
    snprintf(m.error, sizeof(m.error), "answered HTTP 500");
    pst_run1(n2, &m.job);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE state = 'dead' AND attempts = 1 AND id = %lld",
             (long long)a[0].id);
    assert_int_equal(pgt_num(db, sql), 1);
    /* a row this node is still delivering (in skip) is not handed out twice */
    snprintf(sql, sizeof(sql), "UPDATE outbox SET lease_until = 0 WHERE id = %lld", (long long)a[1].id);
    pgt_do(db, sql);
    int64_t skip[] = {a[1].id};
    nc = 0;
    assert_int_equal(outbox_claim(n1, 0, 60000, skip, 1, c + 1, 3, &nc), IH_OK);
    assert_int_equal(nc, 0);
    for (size_t i = 0; i < na; i++)
        outbox_item_clear(&a[i]);
    outbox_item_clear(&b[0]);
    outbox_item_clear(&c[0]);
    PQfinish(db);
    store_close(n1);
    store_close(n2);
}

static void test_bookings_listed(void **state)
{
    struct pgt *t = *state;
    struct store *s = pst_open(t, false);
    struct booking_view *v = NULL;
    size_t n = 0;
    assert_int_equal(bookings_list(s, BOOKING_COMPLETED, 0, 10, &v, &n), IH_OK);
    assert_int_equal(n, 3); /* the outbox test's */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].state.status, BOOKING_COMPLETED);
        assert_string_equal(v[i].state.issuer_booking_id, "BK-1");
        assert_true(v[i].has_callback);
        if (i)
            assert_true(v[i].seq > v[i - 1].seq);
    }
    int64_t after = v[0].seq;
    for (size_t i = 0; i < n; i++)
        booking_view_clear(&v[i]);
    free(v);
    assert_int_equal(bookings_list(s, BOOKING_COMPLETED, after, 1, &v, &n), IH_OK);
    assert_int_equal(n, 1);
    booking_view_clear(&v[0]);
    free(v);
    assert_int_equal(bookings_list(s, BOOKING_FAILED, 0, 10, &v, &n), IH_OK);
    assert_int_equal(n, 0);
    free(v);
    store_close(s);
}

int main(void)
{
    log_configure(LOG_ERROR, true);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_waits_for_an_open_transaction),
        cmocka_unit_test(test_feed_scan_text_bounded),
        cmocka_unit_test(test_time_order),
        cmocka_unit_test(test_outbox_two_nodes),
        cmocka_unit_test(test_bookings_listed),
    };
    /* a cluster of its own: the feed waits for every transaction of the cluster (xmin is
     * the cluster's), so another test holding one open would hold these rows back */
    return cmocka_run_group_tests(tests, pgt_setup_private, pgt_teardown);
}
