/* Shared helpers of the PostgreSQL tests: a throwaway database (tests/kit/pgtmp.h) with the
 * schema migrated and a pgconn on it, raw libpq connections for races, the parameters of a
 * record for the job functions, reading a result's columns, waiting until a session waits
 * on a lock, and capturing stderr to check log lines. Header-only, static inline. */
#ifndef ISSUERHOOK_PGTESTUTIL_H
#define ISSUERHOOK_PGTESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/crypto.h"
#include "pgbatch.h"
#include "pgconn.h"
#include "pgmigrate.h"
#include "pgstmts.h"
#include "pgtmp.h"

struct pgt {
    struct pgtmp pg;
    struct pgconn *c; /* the test's connection, schema migrated */
};

/* A pgconn to the test's database over TCP with the password file, connected. */
static inline struct pgconn *pgt_conn(const struct pgt *t, const char *name, unsigned busy_ms)
{
    struct pgconn_options o = {.conninfo = t->pg.conninfo, .password_file = t->pg.password_file,
                               .busy_timeout_ms = busy_ms, .name = name};
    struct pgconn *c = NULL;
    char err[512];
    if (pgconn_new(&o, &c, err, sizeof(err)) != IH_OK || pgconn_open(c, err, sizeof(err)) != IH_OK) {
        print_error("pgconn to %s: %s\n", t->pg.conninfo, err);
        pgconn_free(c);
        return NULL;
    }
    return c;
}

static inline int pgt_start(void **state, bool private_cluster)
{
    struct pgt *t = calloc(1, sizeof(*t));
    int from = 0, to = 0;
    char err[512];
    if (!t || (private_cluster ? pgtmp_start_private(&t->pg) : pgtmp_start(&t->pg)) != 0) {
        free(t);
        return -1;
    }
    if (!(t->c = pgt_conn(t, "test", 5000)) || pgmigrate_apply(t->c, &from, &to, err, sizeof(err)) != IH_OK) {
        print_error("migrations: %s\n", err);
        pgconn_free(t->c);
        pgtmp_stop(&t->pg);
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

/* cmocka group setup/teardown: the shared cluster's database (pgt_setup) or a private
 * cluster (pgt_setup_private, for tests that stop the server). */
static inline int pgt_setup(void **state)
{
    return pgt_start(state, false);
}

static inline int pgt_setup_private(void **state)
{
    return pgt_start(state, true);
}

static inline int pgt_teardown(void **state)
{
    struct pgt *t = *state;
    if (t) {
        pgconn_free(t->c);
        pgtmp_stop(&t->pg);
        free(t);
    }
    return 0;
}

/* A raw libpq session on the test's database (the socket). */
static inline PGconn *pgt_raw(const struct pgt *t)
{
    PGconn *c = PQconnectdb(t->pg.socket_conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        print_error("raw connection: %s", PQerrorMessage(c));
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

/* sql must succeed; the result (caller PQclears). */
static inline PGresult *pgt_q(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        print_error("%s: %s", sql, PQerrorMessage(c));
    assert_true(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK);
    return r;
}

static inline void pgt_do(PGconn *c, const char *sql)
{
    PQclear(pgt_q(c, sql));
}

/* The first column of the first row as a number (NULL: -1). */
static inline long long pgt_num(PGconn *c, const char *sql)
{
    PGresult *r = pgt_q(c, sql);
    assert_true(PQntuples(r) >= 1);
    long long v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Column name of row 0 of res (NULL when SQL NULL); the column must exist. */
static inline const char *pgt_col(const PGresult *res, const char *name)
{
    int i = PQfnumber(res, name);
    if (i < 0)
        print_error("no column %s\n", name);
    assert_true(i >= 0);
    assert_true(PQntuples(res) >= 1);
    return PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
}

#define assert_col(res, name, want) tu_pg_assert_col((res), (name), (want), __FILE__, __LINE__)
static inline void tu_pg_assert_col(const PGresult *res, const char *name, const char *want, const char *file,
                                    int line)
{
    const char *got = pgt_col(res, name);
    if ((got == NULL) != (want == NULL) || (got && want && strcmp(got, want) != 0)) {
        print_error("column %s: got %s, want %s\n", name, got ? got : "NULL", want ? want : "NULL");
        _fail(file, line);
    }
}

/* ---- a record's parameters for ih_put_record (first ten for ih_booking_request) ---- */

struct pgt_rec {
    const char *source, *key, *type, *tracing, *payload, *response;
    long long received, occurred; /* occurred < 0: unknown */
    int status;
    const char *entity_type, *entity_id; /* NULL: not a domain event */
    long long serial;
    unsigned char hash[CRYPTO_SHA256_LEN];
    char num[4][24];
    const char *values[PGSTMTS_PUT_RECORD_NPARAMS];
    int lengths[PGSTMTS_PUT_RECORD_NPARAMS], formats[PGSTMTS_PUT_RECORD_NPARAMS];
};

/* A record of source under key, whose hash is the SHA-256 of payload; response "ok:<key>". */
static inline void pgt_rec(struct pgt_rec *r, const char *source, const char *key, const char *payload)
{
    memset(r, 0, sizeof(*r));
    r->source = source;
    r->key = key;
    r->payload = payload;
    r->type = "test.type";
    r->tracing = "tracing-1";
    r->received = 1000;
    r->occurred = -1;
    r->status = 200;
    r->response = "{\"answer\":\"first\"}";
    crypto_sha256(payload, strlen(payload), r->hash);
}

/* Fills values/lengths/formats from the fields (call after changing them). */
static inline void pgt_rec_params(struct pgt_rec *r)
{
    snprintf(r->num[0], sizeof(r->num[0]), "%lld", r->received);
    snprintf(r->num[1], sizeof(r->num[1]), "%lld", r->occurred);
    snprintf(r->num[2], sizeof(r->num[2]), "%d", r->status);
    snprintf(r->num[3], sizeof(r->num[3]), "%lld", r->serial);
    const char *v[PGSTMTS_PUT_RECORD_NPARAMS] = {r->source, r->key, (const char *)r->hash, r->type, r->tracing,
                                                 r->num[0], r->occurred < 0 ? NULL : r->num[1], r->payload,
                                                 r->num[2], r->response, r->entity_type, r->entity_id,
                                                 r->entity_type ? r->num[3] : NULL};
    memcpy(r->values, v, sizeof(v));
    memset(r->lengths, 0, sizeof(r->lengths));
    memset(r->formats, 0, sizeof(r->formats));
    r->lengths[2] = CRYPTO_SHA256_LEN;
    r->formats[2] = 1;
}

static inline void pgt_call(struct pgbatch_call *call, const struct pgstmt *s, int n, const char *const *values,
                            const int *lengths, const int *formats)
{
    memset(call, 0, sizeof(*call));
    call->stmt = s;
    call->nparams = n;
    call->values = values;
    call->lengths = lengths;
    call->formats = formats;
}

/* One call run alone through the executor; must be OK. Caller PQclears the result. */
static inline PGresult *pgt_run1(struct pgconn *c, const struct pgstmt *s, int n, const char *const *values,
                                 const int *lengths, const int *formats)
{
    struct pgbatch_call call;
    pgt_call(&call, s, n, values, lengths, formats);
    ih_status rc = pgbatch_run(c, &call, 1, NULL);
    if (rc != IH_OK || call.status != PGBATCH_OK)
        print_error("%s: status %d, %s %s\n", s->name, call.status, call.sqlstate, call.error);
    assert_int_equal(rc, IH_OK);
    assert_int_equal(call.status, PGBATCH_OK);
    return call.res;
}

static inline PGresult *pgt_put(struct pgconn *c, struct pgt_rec *r)
{
    pgt_rec_params(r);
    return pgt_run1(c, &pgstmts_put_record, PGSTMTS_PUT_RECORD_NPARAMS, r->values, r->lengths, r->formats);
}

/* ---- concurrency ---- */

/* Waits (up to 20 s) until the backend pid waits for a lock. */
static inline void pgt_wait_blocked(PGconn *observer, int pid)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock'",
             pid);
    for (int i = 0; i < 2000; i++) {
        if (pgt_num(observer, sql) == 1)
            return;
        usleep(10000);
    }
    fail_msg("backend %d never waited for a lock", pid);
}

/* The one result of an asynchronous query (and the NULL after it). */
static inline PGresult *pgt_async_result(PGconn *c)
{
    PGresult *r = PQgetResult(c), *extra;
    while ((extra = PQgetResult(c)) != NULL)
        PQclear(extra);
    return r;
}

/* ---- stderr ---- */

struct pgt_capture {
    int saved;
    char path[64];
};

static inline void pgt_capture_start(struct pgt_capture *cap)
{
    snprintf(cap->path, sizeof(cap->path), "/tmp/ihpgtest-log-XXXXXX");
    int fd = mkstemp(cap->path);
    assert_true(fd >= 0);
    fflush(stderr);
    cap->saved = dup(2);
    assert_true(cap->saved >= 0);
    assert_true(dup2(fd, 2) == 2);
    close(fd);
}

/* Restores stderr; what was written meanwhile (caller frees). */
static inline char *pgt_capture_end(struct pgt_capture *cap)
{
    fflush(stderr);
    dup2(cap->saved, 2);
    close(cap->saved);
    FILE *f = fopen(cap->path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(cap->path);
    return buf;
}

static inline size_t pgt_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static inline double pgt_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
