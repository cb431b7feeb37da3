/* Unit tests of TLS material loading and reloading (include/issuerhook/tls.h), with
 * certificates tests/kit/make_certs.sh makes. Handshakes and client certificates are
 * tested over the network in tests/integration/test_tls.c. */
#include "testutil.h"

#include <unistd.h>

#include "issuerhook/tls.h"

#define MODERN "SECURE:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"

static char dir[] = "/tmp/ihtlsunit.XXXXXX";
static char p[16][400];

static const char *f(int i, const char *name)
{
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
    return p[i];
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "bash '%s' '%s'", MAKE_CERTS, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_load_and_reload(void **state)
{
    (void)state;
    struct tls *t = NULL;
    char err[300];
    struct tls_files files = {f(0, "server.pem"), f(1, "server.key"), f(2, "ca.pem")};
    assert_int_equal(tls_new(&files, MODERN, &t, err, sizeof(err)), IH_OK);
    assert_int_equal(tls_generation(t), 1);
    struct tls_files next = {f(3, "server2.pem"), f(4, "server2.key"), ""};
    assert_int_equal(tls_reload(t, &next, err, sizeof(err)), IH_OK);
    assert_int_equal(tls_generation(t), 2);
    /* a reload that fails changes nothing */
    struct tls_files bad = {f(5, "server.pem"), f(6, "server2.key"), ""};
    assert_int_equal(tls_reload(t, &bad, err, sizeof(err)), IH_EINVAL);
    assert_contains(err, "is not the key of the certificate");
    assert_int_equal(tls_generation(t), 2);
    tls_free(t);
}

static void test_refusals_name_the_file(void **state)
{
    (void)state;
    struct tls *t = NULL;
    char err[300];
    struct tls_files missing = {f(0, "nope.pem"), f(1, "server.key"), ""};
    assert_int_equal(tls_new(&missing, MODERN, &t, err, sizeof(err)), IH_EIO);
    assert_contains(err, "ISSUERHOOK_TLS_CERT");
    assert_contains(err, "No such file or directory");
    struct tls_files key_as_cert = {f(0, "server.key"), f(1, "server.key"), ""};
    assert_int_equal(tls_new(&key_as_cert, MODERN, &t, err, sizeof(err)), IH_EINVAL);
    assert_contains(err, "ISSUERHOOK_TLS_CERT");
    struct tls_files cert_as_key = {f(0, "server.pem"), f(1, "server.pem"), ""};
    assert_int_equal(tls_new(&cert_as_key, MODERN, &t, err, sizeof(err)), IH_EINVAL);
    assert_contains(err, "ISSUERHOOK_TLS_KEY");
    struct tls_files ca_without_certs = {f(0, "server.pem"), f(1, "server.key"), f(2, "client.key")};
    assert_int_equal(tls_new(&ca_without_certs, MODERN, &t, err, sizeof(err)), IH_EINVAL);
    assert_contains(err, "ISSUERHOOK_TLS_CLIENT_CA");
    struct tls_files ok = {f(0, "server.pem"), f(1, "server.key"), ""};
    assert_int_equal(tls_new(&ok, "SECURE:+VERS-TLS9.9", &t, err, sizeof(err)), IH_EINVAL);
    assert_contains(err, "ISSUERHOOK_TLS_PRIORITIES");
    char empty[420];
    snprintf(empty, sizeof(empty), "%s/empty.pem", dir);
    FILE *e = fopen(empty, "w");
    assert_non_null(e);
    fclose(e);
    struct tls_files none = {empty, f(1, "server.key"), ""};
    assert_int_equal(tls_new(&none, MODERN, &t, err, sizeof(err)), IH_EINVAL);
    assert_contains(err, "empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_reload),
        cmocka_unit_test(test_refusals_name_the_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
