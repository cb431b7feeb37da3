/* The harness's stores: which backend the test process runs on, a fresh store per daemon
 * (SQLite: a file in the daemon's folder; PostgreSQL: a database of tests/kit/pgtmp.h),
 * what ISSUERHOOK_DB says, and the PostgreSQL server's files and process for the tests
 * that scan or stop it. */
#include "harness.h"
#include "harness_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgtmp.h"

enum test_backend test_backend(void)
{
    static int chosen = -1;
    if (chosen < 0) {
        const char *b = getenv("IH_TEST_BACKEND");
        if (!b || !*b || strcmp(b, "sqlite") == 0) {
            chosen = TEST_SQLITE;
        } else if (strcmp(b, "postgresql") == 0) {
            chosen = TEST_POSTGRESQL;
        } else {
            fprintf(stderr, "IH_TEST_BACKEND=%s: must be sqlite or postgresql\n", b);
            exit(2);
        }
    }
    return (enum test_backend)chosen;
}

const char *test_backend_name(void)
{
    return test_backend() == TEST_POSTGRESQL ? "postgresql" : "sqlite";
}

/* The password of d's database into a file of the daemon's folder (mode 0600, this
 * process's), as an operator would give it: not the cluster's own file. */
static bool copy_password(struct daemon *d)
{
    char pw[256];
    FILE *in = fopen(d->pg->password_file, "r");
    bool ok = in && fgets(pw, sizeof(pw), in);
    if (in)
        fclose(in);
    snprintf(d->db_password_file, sizeof(d->db_password_file), "%s/db.password", d->dir);
    int fd = ok ? open(d->db_password_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    size_t n = ok ? strlen(pw) : 0;
    ok = fd >= 0 && write(fd, pw, n) == (ssize_t)n;
    if (fd >= 0)
        close(fd);
    if (!ok)
        fprintf(stderr, "harness: cannot write %s\n", d->db_password_file);
    return ok;
}

/* 32 random bytes in path, mode 0600. */
static bool make_key(const char *path)
{
    unsigned char k[32];
    FILE *r = fopen("/dev/urandom", "rb");
    bool ok = r && fread(k, 1, sizeof(k), r) == sizeof(k);
    if (r)
        fclose(r);
    int fd = ok ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    ok = fd >= 0 && write(fd, k, sizeof(k)) == (ssize_t)sizeof(k);
    if (fd >= 0)
        close(fd);
    memset(k, 0, sizeof(k));
    if (!ok)
        fprintf(stderr, "harness: cannot make the PAN key %s\n", path);
    return ok;
}

/* A database of d's own: in the run's cluster, or a private one (pg_private). */
static bool prepare_pg(struct daemon *d)
{
    d->pg = calloc(1, sizeof(*d->pg));
    if (!d->pg || (d->pg_private ? pgtmp_start_private(d->pg) : pgtmp_start(d->pg)) != 0) {
        free(d->pg);
        d->pg = NULL;
        fprintf(stderr, "harness: no PostgreSQL database for the daemon\n");
        return false;
    }
    snprintf(d->db, sizeof(d->db), "postgresql://" PGTMP_USER "@127.0.0.1:%d/%s", d->pg->port, d->pg->dbname);
    /* no folder beside a PostgreSQL database for a development key: a key file of the
     * store's, which its other nodes share */
    snprintf(d->pan_key, sizeof(d->pan_key), "%s/pan.key", d->dir);
    return copy_password(d) && make_key(d->pan_key) && harness_pg_compat(d);
}

bool daemon_prepare(struct daemon *d)
{
    if (d->dir[0])
        return true;
    snprintf(d->dir, sizeof(d->dir), "/tmp/ihtest.XXXXXX");
    if (!mkdtemp(d->dir)) {
        d->dir[0] = '\0';
        return false;
    }
    snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
    if (d->same_store) {
        snprintf(d->db, sizeof(d->db), "%s", d->same_store->db);
        snprintf(d->db_password_file, sizeof(d->db_password_file), "%s", d->same_store->db_password_file);
        snprintf(d->pan_key, sizeof(d->pan_key), "%s", d->same_store->pan_key);
        return d->db[0] != '\0';
    }
    if (test_backend() == TEST_POSTGRESQL)
        return prepare_pg(d);
    snprintf(d->db, sizeof(d->db), "%s/var/issuerhook.db", d->dir);
    return true;
}

void harness_store_drop(struct daemon *d)
{
    if (!d->pg)
        return;
    pgtmp_stop(d->pg);
    free(d->pg);
    d->pg = NULL;
}

/* The PostgreSQL database d works on: its own, or the one it shares. */
const struct pgtmp *harness_pg(const struct daemon *d)
{
    while (d && !d->pg)
        d = d->same_store;
    return d ? d->pg : NULL;
}

void store_env(const struct daemon *d, char *out, size_t cap)
{
    if (d->db_password_file[0])
        snprintf(out, cap, "ISSUERHOOK_DB='%s' ISSUERHOOK_DB_PASSWORD_FILE='%s'", d->db, d->db_password_file);
    else
        snprintf(out, cap, "ISSUERHOOK_DB='%s'", d->db);
}

void store_env_with_key(const struct daemon *d, char *out, size_t cap)
{
    char db[800];
    store_env(d, db, sizeof(db));
    if (d->pan_key[0])
        snprintf(out, cap, "%s ISSUERHOOK_PAN_KEY_FILE='%s'", db, d->pan_key);
    else
        snprintf(out, cap, "%s ISSUERHOOK_PAN_KEY_DEVELOPMENT=true", db);
}

bool store_server_stop(const struct daemon *d, const char *mode)
{
    const struct pgtmp *pg = harness_pg(d);
    if (!pg || !pg->own) {
        fprintf(stderr, "harness: only a private PostgreSQL cluster (pg_private) is stopped\n");
        return false;
    }
    return pgtmp_server_stop((struct pgtmp *)pg, mode) == 0;
}

bool store_server_start(const struct daemon *d)
{
    const struct pgtmp *pg = harness_pg(d);
    return pg && pg->own && pgtmp_server_start((struct pgtmp *)pg) == 0;
}
