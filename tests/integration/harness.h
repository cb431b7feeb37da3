/* Integration test harness: starts the real issuerhookd on a free loopback port with
 * a temporary database, talks to it over HTTP with libcurl, reads its database.
 *
 * The store is one parameter of the whole test process, IH_TEST_BACKEND:
 *   sqlite (the default)  each daemon gets a file in its temporary folder;
 *   postgresql            each daemon gets a fresh database in the CTest run's throwaway
 *                         cluster ($IH_PGTMP: the fixture pg_integration), or in a private
 *                         one when the binary runs by hand or the test asks (pg_private),
 *                         with ISSUERHOOK_DB a postgresql:// URI and the password in
 *                         ISSUERHOOK_DB_PASSWORD_FILE (tests/kit/pgtmp.h).
 * Tests see the store only through this header: db_scalar & co. run their SQL on either
 * (see harness_db.c for the few SQLite functions PostgreSQL is given), and the rest of a
 * difference between the stores is a helper here (feed positions, store_busy, the store's
 * files), never an `if` in a test. A test that is one store's by nature is listed with
 * IH_SQLITE_TEST / IH_PG_TEST, with why. */
#ifndef IH_TEST_HARNESS_H
#define IH_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "issuerhook/feedparams.h"

/* The secrets of the keys every test daemon is configured with. */
#define KEY_FULL "test-key-full"       /* amiko:events */
#define KEY_READ "test-key-read-only"  /* ledger:read */

struct pgtmp;

/* The store every daemon of this process runs on (IH_TEST_BACKEND, read once). */
enum test_backend { TEST_SQLITE, TEST_POSTGRESQL };
enum test_backend test_backend(void);
const char *test_backend_name(void); /* "sqlite" or "postgresql" */

struct daemon {
    pid_t pid;
    int port;
    char dir[256];  /* temporary folder: log (and SQLite's database) */
    char db[320];   /* ISSUERHOOK_DB: SQLite's path, or PostgreSQL's postgresql:// URI */
    char db_password_file[320]; /* PostgreSQL: ISSUERHOOK_DB_PASSWORD_FILE (in dir) */
    /* PostgreSQL: the PAN key file of the store (every node of a store has the same
     * key); SQLite daemons use the development key beside the database */
    char pan_key[320];
    char log[320];
    /* PostgreSQL: a cluster of this daemon's own, for tests that stop the server or scan
     * its files (set before the first daemon_start) */
    bool pg_private;
    /* another daemon whose store this one shares (several nodes on one PostgreSQL
     * database); set before the first daemon_start, and clean this one up first */
    const struct daemon *same_store;
    struct pgtmp *pg; /* PostgreSQL: the database made for this daemon (the harness's) */
    const char *extra_env[16]; /* "KEY=VALUE", NULL-terminated */
    const char *config;        /* passed as --config when set */
    /* HTTPS: the CA that issued the daemon's certificate (https:// when set), and the
     * client certificate and key the requests present (none when NULL) */
    const char *https_ca, *client_cert, *client_key;
};

/* Creates the folder and the store (once, see daemon_prepare) and starts the daemon;
 * waits until /health answers. */
bool daemon_start(struct daemon *d);
/* Several daemons started at the same moment (their start-ups race: migrations on one
 * empty store), each on its first port; false when one did not start. Call from the
 * test's main thread (a daemon dies with the thread that started it). */
bool daemons_start(struct daemon *const *ds, size_t n);
/* The folder and an empty store, without a daemon (daemon_start calls it when d->dir is
 * empty): for tests that run the binary themselves (daemon_run) on d's store. */
bool daemon_prepare(struct daemon *d);
/* Sends sig and waits; returns the exit status (or 128+signal). */
int daemon_stop(struct daemon *d, int sig);
/* Stops the daemon if it runs, removes the folder and drops the store it made. */
void daemon_cleanup(struct daemon *d);
/* "ISSUERHOOK_DB='…'" (and the password file) as shell words for daemon_run. */
void store_env(const struct daemon *d, char *out, size_t cap);
/* The same and the PAN key setting the harness gives d (the development key, or the
 * store's key file). */
void store_env_with_key(const struct daemon *d, char *out, size_t cap);

struct http_resp {
    long status;
    char *body;
    size_t len;
    char tracing_id[160];
    char allow[96];
    char retry_after[32];
    char www_authenticate[160];
    char content_type[96];
};

/* POST body to path. headers: NULL-terminated "Name: value" list (may be NULL).
 * Returns false on a transport error. */
bool http_post(const struct daemon *d, const char *path, const char *const *headers, const char *body,
               size_t len, struct http_resp *out);
bool http_get(const struct daemon *d, const char *path, const char *const *headers, struct http_resp *out);
/* Any method, optional body. */
bool http_request(const struct daemon *d, const char *method, const char *path, const char *const *headers,
                  const char *body, size_t len, bool chunked, struct http_resp *out);
void http_resp_free(struct http_resp *r);

/* Looking into the daemon's store. Every test does it through these, on either backend
 * (SQLite: the file d->db; PostgreSQL: d's database over its Unix socket, as the cluster's
 * superuser). The SQL is the same on both: on PostgreSQL the harness's sessions also find
 * SQLite's json_extract(text, path) (as text: compare numbers through CAST), instr and
 * zeroblob(n) in a schema of their own (harness_db.c). Conditions are written as SQL
 * booleans (instr(…) > 0), which both read alike.
 * A test that needs a backend itself (SQLite's locks, WAL, files, PRAGMAs) says so. */
/* A scalar (the first column of the first row), read-only; -1 on error or NULL. */
long long db_scalar(const struct daemon *d, const char *sql);
/* The first column of every row, read-only, into out (at most cap); their count, or -1
 * on error or when there are more than cap. */
long db_column(const struct daemon *d, const char *sql, long long *out, size_t cap);
/* The first column of every row as text (NULL: ""), read-only; their count, or -1 on
 * error. Caller frees *out and each string. */
long db_strings(const struct daemon *d, const char *sql, char ***out);
/* Runs sql (one or more statements) on a connection of its own; false on error (said on
 * stderr). */
bool db_exec(const struct daemon *d, const char *sql);

/* Feed positions. A watermark stands at a record's position, which is the store's own
 * (SQLite {0, seq}: seq order is commit order; PostgreSQL {txid, seq}: the writing
 * transaction, then seq). The item id is evt-<seq> on both. */
/* The record seq a watermark stands at; false when it is none. */
bool watermark_seq(const char *wm, int64_t *seq);
/* The position a watermark stands at; false when it is none. */
bool watermark_pos(const char *wm, struct feed_pos *pos);
/* The watermark that stands at record seq of d's store (the record must exist). */
void watermark_at(const struct daemon *d, int64_t seq, char out[FEED_TOKEN_MAX]);
/* The seq of the last record in feed order (0: none; -1: error). */
long long db_feed_last_seq(const struct daemon *d);

/* The migrations this build embeds for the process's backend: their number, and in
 * *latest the newest version. */
size_t store_migrations(int *latest);
/* The name of the store's check in /health ("sqlite:responseTime", ...). */
const char *store_health_check(void);
/* Whether /health has a disk:free check: the free space of the store's file system,
 * which only a store in a local file has (SQLite). */
bool store_has_disk_check(void);
/* What a write that waits for a lock past the busy timeout does besides its 503. SQLite
 * has one write lock, the whole store's: the store is failing until it is free (/health
 * 503 with the error's words, said once in the log, and once when it is writable again).
 * PostgreSQL's locks are rows' and tables': that write fails alone (said in the log),
 * /health stays 200, nothing is failing. */
struct store_busy {
    long health;           /* /health's status while the lock is held */
    const char *words;     /* what /health's store check says then (NULL: it passes) */
    const char *log_words; /* the log line of the refusal */
    const char *recovered; /* the log line when writes work again (NULL: none is due) */
};
const struct store_busy *store_busy(void);
/* A session of the test's own on d's store, kept open (for a transaction held while the
 * daemon works). db_session_exec runs one or more statements; false on error (said). */
struct db_session *db_session_open(const struct daemon *d);
bool db_session_exec(struct db_session *s, const char *sql);
void db_session_close(struct db_session *s);
/* Holds the lock every write of the daemon needs, from another session, until
 * store_unlock (SQLite: BEGIN IMMEDIATE; PostgreSQL: LOCK TABLE records). NULL on error. */
struct store_lock *store_lock_writes(const struct daemon *d);
void store_unlock(struct store_lock *l);

/* Card data on disk. A scan image is the bytes of some files read at one moment, to be
 * searched for many strings at once (the tests look for thousands of PANs). */
struct scan_image;
/* Everything the store keeps on disk: SQLite's database and WAL; on PostgreSQL every
 * file of the cluster's folder (data/ with pg_wal/, and the server's log) after a
 * CHECKPOINT, which needs a private cluster (pg_private). NULL on error. */
struct scan_image *store_image_read(const struct daemon *d);
/* An empty image (NULL: no memory). */
struct scan_image *scan_image_new(void);
/* Adds a file (e.g. the daemon's log); a missing file adds nothing. */
bool scan_image_add(struct scan_image *img, const char *path);
/* Adds n bytes (e.g. answers read over HTTP). */
bool scan_image_add_bytes(struct scan_image *img, const void *p, size_t n);
bool scan_image_has(const struct scan_image *img, const char *s, size_t n);
/* The index of one of needles[0..n) that the image holds (each at least 8 bytes), or -1. */
long scan_image_find_any(const struct scan_image *img, const char *const *needles, size_t n);
void scan_image_free(struct scan_image *img);
/* Before a scan's data is sent: on PostgreSQL every value stored from now on is kept
 * uncompressed (so that compression cannot hide a PAN from the scan). */
bool store_scan_prepare(const struct daemon *d);

/* PostgreSQL, a private cluster (pg_private): stops the server ("fast", or "immediate":
 * a crash) and starts it again on the same port. */
bool store_server_stop(const struct daemon *d, const char *mode);
bool store_server_start(const struct daemon *d);

/* The value of a Prometheus sample line (exact "name{labels}"), -1 when absent. */
double metric_value(const struct daemon *d, const char *sample);
/* Waits (up to 5 s) until every line the daemon logged before this call is in d->log:
 * while it serves, lines are written by a thread of their own, a moment later (log.h).
 * It logs a GET /health of its own and waits for that line. False when it did not come. */
bool daemon_log_sync(const struct daemon *d);
/* Whether needle is in d->log, looking again every 20 ms until wait_ms have passed
 * (0: one look, e.g. to show that something was never logged). */
bool daemon_log_has(const struct daemon *d, const char *needle, int wait_ms);

/* An Amiko event body with this eventId (caller frees). */
char *amiko_event(const char *event_id, const char *type);
/* A valid Amiko booking request with this amikoBookingId and bookingAmount (caller frees). */
char *amiko_booking(const char *booking_id, const char *amount);
/* POSTs a case_created event with eventId id (a fresh one when id is NULL) to
 * /events with headers; returns the status (-1: no answer). keep (may be NULL)
 * receives the answer, which the caller then frees. */
long post_event(const struct daemon *d, const char *const *headers, const char *id, struct http_resp *keep);
/* "ISSUERHOOK_API_KEY_<name>=sha256:<hash of secret> <scopes>" into out. */
void key_line(const char *name, const char *secret, const char *scopes, char *out, size_t cap);
/* A fresh random UUID into buf (37 bytes). */
void test_uuid(char *buf);



/* The tests of a binary, each for both backends or for one, saying why. */
struct ih_test {
    struct CMUnitTest test;
    enum { IH_BOTH, IH_SQLITE_ONLY, IH_PG_ONLY } only;
    const char *why; /* what makes it one backend's */
};
#define IH_TEST(t) {t, IH_BOTH, NULL}
#define IH_SQLITE_TEST(t, why) {t, IH_SQLITE_ONLY, (why)}
#define IH_PG_TEST(t, why) {t, IH_PG_ONLY, (why)}
/* Runs the tests meant for this process's backend (cmocka's group run); names the others
 * on stderr with their reason. */
int ih_run_tests(const char *group, const struct ih_test *tests, size_t n, CMFixtureFunction setup,
                 CMFixtureFunction teardown);
#define IH_RUN_TESTS(tests, setup, teardown) \
    ih_run_tests(#tests, (tests), sizeof(tests) / sizeof((tests)[0]), (setup), (teardown))

/* Runs the daemon binary with args and extra environment ("K=V ..." shell words; it
 * listens on a free port unless env sets ISSUERHOOK_LISTEN), capturing stdout+stderr into
 * out (caller frees). Returns the exit status. */
int daemon_run(const char *env, const char *args, char **out);
/* The same, the command prefixed by prefix (e.g. "setpriv --reuid=65534 ..."). */
int daemon_run_as(const char *prefix, const char *env, const char *args, char **out);
#endif
