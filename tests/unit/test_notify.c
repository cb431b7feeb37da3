/* sd_notify by hand and the watchdog: what systemd would receive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/notify.h"

/* A datagram socket standing in for systemd's; abstract when name starts with '@'. */
static int manager_socket(const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    memcpy(sa.sun_path, name, n);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    else
        unlink(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
    return fd;
}

/* Receives one datagram within ms, "" when none came. */
static void receive(int fd, int ms, char *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    buf[0] = '\0';
    if (poll(&p, 1, ms) == 1) {
        ssize_t n = recv(fd, buf, cap - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
    }
}

static int count_pings(int fd, int ms)
{
    char buf[256];
    int n = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        int left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return n;
        receive(fd, left, buf, sizeof(buf));
        if (strcmp(buf, "WATCHDOG=1") == 0)
            n++;
    }
}

static void test_send_path_and_abstract(void **state)
{
    (void)state;
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/tmp/ih-notify-%d.sock", (int)getpid());
    int fd = manager_socket(path);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_true(notify_send("READY=1\nSTATUS=listening"));
    receive(fd, 1000, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1\nSTATUS=listening");
    close(fd);
    unlink(path);

    char abstract[64];
    snprintf(abstract, sizeof(abstract), "@ih-notify-test-%d", (int)getpid());
    fd = manager_socket(abstract);
    setenv("NOTIFY_SOCKET", abstract, 1);
    assert_true(notify_send("STOPPING=1"));
    receive(fd, 1000, buf, sizeof(buf));
    assert_string_equal(buf, "STOPPING=1");
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}

static void test_send_without_manager(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_true(notify_send("READY=1")); /* nothing to tell: not an error */
    setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
    assert_false(notify_send("READY=1"));
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1); /* not an AF_UNIX address */
    assert_false(notify_send("READY=1"));
    unsetenv("NOTIFY_SOCKET");
}

static void test_interval(void **state)
{
    (void)state;
    assert_int_equal(watchdog_interval_usec(NULL, NULL, 42), 0);
    assert_int_equal(watchdog_interval_usec("", NULL, 42), 0);
    assert_int_equal(watchdog_interval_usec("30000000", NULL, 42), 30000000);
    assert_int_equal(watchdog_interval_usec("30000000", "42", 42), 30000000);
    assert_int_equal(watchdog_interval_usec("30000000", "43", 42), 0); /* another process's */
    assert_int_equal(watchdog_interval_usec("30s", NULL, 42), 0);
    assert_int_equal(watchdog_interval_usec("-5", NULL, 42), 0);
}

static void test_alive(void **state)
{
    (void)state;
    assert_true(watchdog_alive(10000, 9000, 3000000));
    assert_true(watchdog_alive(10000, 7001, 3000000));
    assert_false(watchdog_alive(10000, 7000, 3000000));
    assert_false(watchdog_alive(100000, 0, 3000000));
}

static _Atomic int64_t g_beat;

static int64_t fake_alive(void *arg)
{
    (void)arg;
    return atomic_load(&g_beat);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The thread pings while the heartbeat is fresh and withholds pings once it is stale. */
static void test_watchdog_pings_only_while_alive(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ih-watchdog-%d.sock", (int)getpid());
    int fd = manager_socket(path);
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "300000", 1); /* a ping every 100 ms */
    unsetenv("WATCHDOG_PID");

    struct watchdog *wd = NULL;
    atomic_store(&g_beat, now_ms() + 3600 * 1000); /* "beating" for the next hour */
    assert_int_equal(watchdog_start(fake_alive, NULL, &wd), IH_OK);
    assert_non_null(wd);
    int pings = count_pings(fd, 650);
    assert_in_range(pings, 4, 9);

    atomic_store(&g_beat, now_ms() - 10 * 1000); /* the writer stopped turning */
    count_pings(fd, 150);                           /* a ping may have been under way */
    assert_int_equal(count_pings(fd, 500), 0);

    atomic_store(&g_beat, now_ms() + 3600 * 1000); /* and turns again */
    assert_true(count_pings(fd, 500) >= 2);
    watchdog_stop(wd);
    assert_int_equal(count_pings(fd, 300), 0); /* stopped: silent */

    setenv("WATCHDOG_PID", "1", 1); /* meant for another process: no thread */
    assert_int_equal(watchdog_start(fake_alive, NULL, &wd), IH_OK);
    assert_null(wd);
    unsetenv("WATCHDOG_PID");
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(watchdog_start(fake_alive, NULL, &wd), IH_OK); /* none asked for */
    assert_null(wd);
    unsetenv("NOTIFY_SOCKET");
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_path_and_abstract),
        cmocka_unit_test(test_send_without_manager),
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_alive),
        cmocka_unit_test(test_watchdog_pings_only_while_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
