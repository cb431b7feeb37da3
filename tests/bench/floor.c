/* The durable floor for the load benchmark: the least a server can spend per request when it
 * answers only once the request is on disk, with libmicrohttpd and SQLite on this machine.
 * It is the ceiling (ceiling.c, same threading configuration) plus exactly what durability
 * adds there and nothing else:
 *   - each request's connection is suspended while its body is stored, and resumed after;
 *   - one writer thread stores the bodies of all the requests waiting in one transaction
 *     (WAL, synchronous=FULL: one fdatasync a batch, no fixed wait), into a table with one
 *     unique key, as exactly-once needs. It checkpoints the WAL itself each 256 pages (as
 *     often as issuerhookd's checkpointer thread does): the same copying, in the one thread
 *     that can always finish it, so the WAL starts again instead of growing under load.
 * No authentication, no parsing, no checks, no log lines: whatever issuerhookd spends above
 * this is its own work; what this costs above the ceiling no change to the daemon's own code
 * can take away. tests/bench/run.sh loads it after the ceiling with the same wrk command.
 *
 *   ih_bench_floor PORT THREADS DB [ROWS]
 *
 * ROWS (default 1, at most 1000): each body is stored as ROWS rows (the body cut in ROWS
 * pieces), to compare with a card-activity batch, every item of which is a record. Runs until
 * SIGTERM or SIGINT. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchhttp.h"

#define BODY_MAX (8u << 20)

static const char REPLY[] = "{\"status\":\"accepted\"}";
static const char FAILED[] = "{\"status\":\"failed\"}";

/* One per request, owned by its connection (freed in on_completed). */
struct req {
    char *body;
    size_t len, cap;
    enum { READING, STORING, STORED, FAILED_TO_STORE } state; /* STORED/FAILED: set by the writer */
    struct req *next;                                          /* in the writer's queue */
    struct MHD_Connection *conn;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond, drained;
    struct req *head, **tail;
    unsigned suspended; /* requests suspended and not yet resumed */
    bool stopping;
    unsigned rows;
    uint64_t next_key;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .drained = PTHREAD_COND_INITIALIZER,
       .tail = &g.head, .rows = 1};

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "ih_bench_floor: %s: %s\n", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static bool exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
        return true;
    fprintf(stderr, "ih_bench_floor: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return false;
}

/* Stores every request of one batch; true when the transaction committed. */
static bool store(sqlite3 *db, sqlite3_stmt *ins, struct req *batch)
{
    if (!exec(db, "BEGIN IMMEDIATE"))
        return false;
    bool ok = true;
    char key[32];
    for (struct req *r = batch; r && ok; r = r->next) {
        size_t piece = r->len / g.rows, at = 0;
        for (unsigned i = 0; i < g.rows && ok; i++) {
            size_t n = i + 1 == g.rows ? r->len - at : piece;
            int kn = snprintf(key, sizeof(key), "%llu", (unsigned long long)g.next_key++);
            sqlite3_bind_text(ins, 1, key, kn, SQLITE_STATIC);
            /* a request without a body (run.sh's readiness probe) has no buffer: bind "",
             * not NULL, or the NOT NULL column fails the probe's whole batch */
            sqlite3_bind_text(ins, 2, r->body ? r->body + at : "", (int)n, SQLITE_STATIC);
            ok = sqlite3_step(ins) == SQLITE_DONE;
            sqlite3_reset(ins);
            at += n;
        }
    }
    if (ok)
        ok = exec(db, "COMMIT");
    if (!ok)
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return ok;
}

static void *writer(void *arg)
{
    sqlite3 *db = arg;
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO r (key, body) VALUES (?, ?)", -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "ih_bench_floor: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    pthread_mutex_lock(&g.lock);
    for (;;) {
        while (!g.head && !g.stopping)
            pthread_cond_wait(&g.cond, &g.lock);
        if (!g.head)
            break;
        struct req *batch = g.head;
        g.head = NULL;
        g.tail = &g.head;
        pthread_mutex_unlock(&g.lock);
        bool ok = store(db, ins, batch);
        unsigned n = 0;
        while (batch) {
            struct req *r = batch;
            batch = r->next; /* read before the resume: from then on r belongs to its connection */
            r->state = ok ? STORED : FAILED_TO_STORE;
            MHD_resume_connection(r->conn);
            n++;
        }
        pthread_mutex_lock(&g.lock);
        g.suspended -= n;
        if (!g.suspended)
            pthread_cond_broadcast(&g.drained);
    }
    pthread_mutex_unlock(&g.lock);
    sqlite3_finalize(ins);
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    struct req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->conn = conn;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (n > BODY_MAX - r->len)
            return MHD_NO;
        if (r->len + n > r->cap) {
            size_t cap = r->cap ? r->cap : 1024;
            while (cap < r->len + n)
                cap *= 2;
            char *b = realloc(r->body, cap);
            if (!b)
                return MHD_NO;
            r->body = b;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (r->state) {
    case READING:
        /* suspended before the writer can see it, so that its resume never comes first */
        r->state = STORING;
        MHD_suspend_connection(conn);
        pthread_mutex_lock(&g.lock);
        g.suspended++;
        r->next = NULL;
        *g.tail = r;
        g.tail = &r->next;
        pthread_mutex_unlock(&g.lock);
        pthread_cond_signal(&g.cond);
        return MHD_YES;
    case STORED:
        return bench_answer(conn, MHD_HTTP_OK, REPLY, sizeof(REPLY) - 1);
    case FAILED_TO_STORE:
        return bench_answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, FAILED, sizeof(FAILED) - 1);
    case STORING:
        break;
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req *r = *con_cls;
    if (r)
        free(r->body);
    free(r);
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    unsigned long port, threads, rows = 1;
    if (argc < 4 || argc > 5 || bench_parse_uint(argv[1], 65535, &port) || bench_parse_uint(argv[2], 256, &threads) ||
        threads == 0 || (argc == 5 && (bench_parse_uint(argv[4], 1000, &rows) || rows == 0))) {
        fprintf(stderr, "usage: %s PORT THREADS DB [ROWS]\n", argv[0]);
        return 2;
    }
    g.rows = (unsigned)rows;

    sqlite3 *db = open_db(argv[3]);
    if (!db || !exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=256;"
                         " PRAGMA journal_size_limit=4194304;"
                         " CREATE TABLE IF NOT EXISTS r (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
                         " body TEXT NOT NULL);"))
        return 1;

    sigset_t stop;
    bench_block_stop_signals(&stop);

    pthread_t wt;
    if (pthread_create(&wt, NULL, writer, db) != 0) {
        fprintf(stderr, "ih_bench_floor: cannot start its writer\n");
        return 1;
    }

    /* The ceiling's configuration, with suspend/resume allowed as in src/http/server.c. */
    struct MHD_Daemon *d = bench_start(MHD_ALLOW_SUSPEND_RESUME, port, threads, on_request, on_completed);
    if (!d) {
        fprintf(stderr, "ih_bench_floor: cannot listen on 127.0.0.1:%lu\n", port);
        return 1;
    }

    bench_wait_stop(&stop);
    /* libmicrohttpd aborts if it is stopped while a connection is suspended: the requests
     * still waiting are stored and resumed first (run.sh stops it after its load, with no
     * new request coming). */
    pthread_mutex_lock(&g.lock);
    while (g.suspended)
        pthread_cond_wait(&g.drained, &g.lock);
    pthread_mutex_unlock(&g.lock);
    MHD_stop_daemon(d);
    pthread_mutex_lock(&g.lock);
    g.stopping = true;
    pthread_mutex_unlock(&g.lock);
    pthread_cond_signal(&g.cond);
    pthread_join(wt, NULL);
    sqlite3_close(db);
    return 0;
}
