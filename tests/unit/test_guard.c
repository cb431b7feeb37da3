/* Unit tests of the connection guard (include/issuerhook/guard.h): admission by
 * address, the reserve, the header and body clocks, and the reaper's shutdown. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/guard.h"

static struct sockaddr_in v4(const char *ip)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(40000)};
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return a;
}

static struct guard *make(unsigned limit, unsigned per_ip, unsigned reserve)
{
    struct guard_options o = {.connection_limit = limit, .per_ip_limit = per_ip, .reserve = reserve,
                              .header_timeout_s = 10, .body_timeout_s = 5, .body_min_rate = 1000};
    struct guard *g = NULL;
    assert_int_equal(guard_new(&o, &g), IH_OK);
    return g;
}

#define ADMIT(g, a) guard_admit((g), (const struct sockaddr *)&(a), sizeof(a))
#define OPEN(g, a, fd, t) guard_open((g), (const struct sockaddr *)&(a), sizeof(a), (fd), (t))

static void test_per_address_limit(void **state)
{
    (void)state;
    struct guard *g = make(64, 3, 0);
    struct sockaddr_in a = v4("192.0.2.1"), b = v4("192.0.2.2");
    struct guard_conn *c[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ADMIT(g, a), GUARD_ADMIT);
        c[i] = OPEN(g, a, -1, 0);
        assert_non_null(c[i]);
    }
    assert_int_equal(ADMIT(g, a), GUARD_REFUSE_PER_IP);
    assert_int_equal(ADMIT(g, b), GUARD_ADMIT); /* another address is not affected */
    assert_string_equal(guard_conn_addr(c[0]), "192.0.2.1");
    /* the same address as IPv4-mapped IPv6 counts with its IPv4 form */
    struct sockaddr_in6 m = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.1", &m.sin6_addr), 1);
    assert_int_equal(ADMIT(g, m), GUARD_REFUSE_PER_IP);
    guard_close(g, c[1]);
    assert_int_equal(ADMIT(g, a), GUARD_ADMIT);
    assert_int_equal(guard_open_count(g), 2);
    guard_close(g, c[0]);
    guard_close(g, c[2]);
    assert_int_equal(guard_open_count(g), 0);
    guard_free(g);
}

static void test_reserve_is_kept_for_addresses_holding_few(void **state)
{
    (void)state;
    struct guard *g = make(40, 0, 8);
    struct sockaddr_in greedy = v4("198.51.100.7"), modest = v4("198.51.100.8");
    struct guard_conn *c[40];
    size_t n = 0;
    while (ADMIT(g, greedy) == GUARD_ADMIT)
        c[n++] = OPEN(g, greedy, -1, 0);
    assert_int_equal(n, 32); /* up to the reserve, no further */
    assert_int_equal(ADMIT(g, greedy), GUARD_REFUSE_RESERVE);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(ADMIT(g, modest), GUARD_ADMIT);
        c[n++] = OPEN(g, modest, -1, 0);
    }
    assert_int_equal(ADMIT(g, modest), GUARD_ADMIT); /* 7 < GUARD_FEW */
    c[n++] = OPEN(g, modest, -1, 0);
    assert_null(OPEN(g, modest, -1, 0)); /* every record in use: the caller must close */
    while (n)
        guard_close(g, c[--n]);
    guard_free(g);
}

static void test_deadlines(void **state)
{
    (void)state;
    struct guard_options o = {.connection_limit = 1, .header_timeout_s = 10, .body_timeout_s = 5,
                              .body_min_rate = 1000};
    assert_int_equal(guard_header_deadline(&o, 1000), 11000);
    assert_int_equal(guard_body_deadline(&o, 1000, 0), 6000);
    assert_int_equal(guard_body_deadline(&o, 1000, 2500), 8500); /* 2.5 s earned by 2,500 bytes */
}

/* A connected pair: the guard's end and the "client" end. */
static void pair(int fds[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
}

static bool closed_for_client(int fd)
{
    char b;
    return recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

static int expired_headers, expired_body;

static void count_expired(void *arg, enum guard_expiry why, const char *addr)
{
    (void)arg;
    assert_string_equal(addr, "203.0.113.9");
    if (why == GUARD_EXPIRED_HEADERS)
        expired_headers++;
    else
        expired_body++;
}

static void test_reaper_shuts_down_what_is_late(void **state)
{
    (void)state;
    struct guard *g = make(8, 0, 0);
    assert_int_equal(guard_start(g, count_expired, NULL), IH_OK);
    struct sockaddr_in a = v4("203.0.113.9");
    int head[2], body[2], busy[2], kept[2];
    pair(head);
    pair(body);
    pair(busy);
    pair(kept);
    struct guard_conn *ch = OPEN(g, a, head[0], 0), *cb = OPEN(g, a, body[0], 0), *cy = OPEN(g, a, busy[0], 0),
                      *ck = OPEN(g, a, kept[0], 0);
    guard_headers_done(g, cb, true, 1000);  /* body due at 6 s, plus what it earns */
    guard_body_bytes(g, cb, 3000);          /* ... 9 s */
    guard_headers_done(g, cy, false, 1000); /* the handler works: no clock */
    guard_answering(g, cy);
    guard_request_done(g, ck, 5000); /* answered at 5 s: the next head is due at 15 s */

    assert_int_equal(guard_reap(g, 8999), 0);
    assert_int_equal(guard_reap(g, 9000), 1);
    assert_true(closed_for_client(body[1]));
    assert_false(closed_for_client(head[1]));
    assert_int_equal(guard_reap(g, 10000), 1);
    assert_true(closed_for_client(head[1]));
    assert_int_equal(guard_reap(g, 10001), 0); /* once each */
    assert_int_equal(guard_reap(g, 15000), 1);
    assert_true(closed_for_client(kept[1]));
    assert_int_equal(guard_reap(g, 1000000), 0); /* the answering one never */
    assert_false(closed_for_client(busy[1]));
    assert_int_equal(expired_headers, 2);
    assert_int_equal(expired_body, 1);
    guard_close(g, ch);
    guard_close(g, cb);
    guard_close(g, cy);
    guard_close(g, ck);
    for (int i = 0; i < 2; i++) {
        close(head[i]);
        close(body[i]);
        close(busy[i]);
        close(kept[i]);
    }
    guard_free(g);
}

/* The thread does it by itself within a tick of the deadline. */
static void test_reaper_thread(void **state)
{
    (void)state;
    struct guard_options o = {.connection_limit = 2, .header_timeout_s = 1, .body_timeout_s = 1,
                              .body_min_rate = 1, .tick_ms = 50};
    struct guard *g = NULL;
    assert_int_equal(guard_new(&o, &g), IH_OK);
    assert_int_equal(guard_start(g, NULL, NULL), IH_OK);
    int fds[2];
    pair(fds);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct sockaddr_in a = v4("192.0.2.50");
    struct guard_conn *c = OPEN(g, a, fds[0], (int64_t)t0.tv_sec * 1000 + t0.tv_nsec / 1000000);
    bool closed = false;
    for (int i = 0; i < 100 && !closed; i++) { /* up to 5 s on a busy machine */
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        closed = closed_for_client(fds[1]);
    }
    assert_true(closed);
    guard_close(g, c);
    close(fds[0]);
    close(fds[1]);
    guard_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_address_limit),
        cmocka_unit_test(test_reserve_is_kept_for_addresses_holding_few),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_reaper_shuts_down_what_is_late),
        cmocka_unit_test(test_reaper_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
