/* Private to src/store/sqlite/: the SQLite backend's handles and helpers. */
#ifndef ISSUERHOOK_STORE_SQLITE_INTERNAL_H
#define ISSUERHOOK_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

#include "../backend.h"
#include "issuerhook/bookings.h"
#include "issuerhook/cards.h"
#include "issuerhook/events.h"
#include "issuerhook/outbox.h"

/* Read connections: the feed's scans may hold at most DB_FEED_READERS of them, so that
 * DB_READERS - DB_FEED_READERS are always there for health and point reads. */
#define DB_READERS 6
#define DB_FEED_READERS 4

/* The SQLite store: struct store first (backend.h), then the connections. */
struct db {
    struct store base;
    char *path;
    struct store_options opt;
    sqlite3 *wr;            /* the write connection: migrate, then the writer thread only */
    int lock_fd;            /* the lock file, held from open to close; -1 until taken */
    sqlite3 *rd[DB_READERS]; /* read-only connections, opened on first use; guarded by rd_lock */
    bool rd_busy[DB_READERS];
    bool rd_stale[DB_READERS]; /* closed when released (db_readers_reset) */
    pthread_mutex_t rd_lock;
    pthread_cond_t rd_free;
};

/* The db behind a store of this backend. */
static inline struct db *db_of(struct store *s)
{
    return (struct db *)s;
}

/* Statement cache of one connection, keyed by the address of a static SQL string. */
#define STMT_CACHE_MAX 32
struct writer_txn {
    sqlite3 *conn;
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[STMT_CACHE_MAX];
    size_t n;
};

/* A prepared, reset statement for sql (a static string), or NULL on failure. */
sqlite3_stmt *txn_stmt(struct writer_txn *t, const char *sql);
void txn_cache_clear(struct writer_txn *t);

/* The SQLite backend's struct store_backend (db.c). */
extern const struct store_backend sqlite_backend;

/* SQLite result code -> daemon status. */
ih_status db_status(int sqlite_rc);
/* The status for c's last error (never IH_OK: a failure is at least IH_EIO). */
ih_status db_fail(sqlite3 *c);
/* The one idempotency question: is there a first answer under (k1, k2), and was it
 * given for the same payload? sql selects (sha256 blob, status, body) bound to ?1, ?2.
 * ANSWER_SAME fills *status and *body (caller owns *body). */
enum answer_match { ANSWER_NONE, ANSWER_SAME, ANSWER_DIFFERENT };
ih_status txn_first_answer(struct writer_txn *t, const char *sql, const char *k1, const char *k2,
                           const unsigned char *hash, enum answer_match *m, unsigned *status, char **body);
/* A read connection from the pool (waits while all are taken), held until
 * db_read_release; NULL when none can be opened. */
sqlite3 *db_read_acquire(struct db *db);
/* The same from the feed's share of the pool (waits while that share is taken). */
sqlite3 *db_read_acquire_feed(struct db *db);
void db_read_release(struct db *db, sqlite3 *conn);
/* Closes the read connections (those in use when they are released), so that the next
 * ones see the file as it is now: SQLite shares one -shm mapping among a process's
 * connections to a file, and one opened read-only stays so while any of them is open. */
void db_readers_reset(struct db *db);
/* Opens a connection with the daemon's pragmas; on failure e (may be NULL) says why. */
int db_connect(struct db *db, int flags, sqlite3 **out, struct store_error *e);
/* Brings *conn to a state that takes writes, doing only what is left to do: the folder,
 * the lock file, the connection, the migrations, then (probe) one committed write.
 * IH_OK, or why not in *e (the connection is closed and NULLed when it cannot be
 * trusted any more). Runs in the thread that owns *conn. */
IH_MUST_CHECK ih_status db_prepare(struct db *db, sqlite3 **conn, bool probe, struct store_error *e);
/* *e from c's last error (c may be NULL: then from rc alone). */
void db_error(sqlite3 *c, int rc, const char *during, struct store_error *e);
/* The metric label for a failure: busy, full, readonly, io or nomem. */
const char *db_error_kind(const struct store_error *e);
/* "<message> (SQLITE_FULL during commit: No space left on device)". */
void db_error_text(const struct store_error *e, char *out, size_t cap);
/* After such a failure the connection is not to be trusted (an I/O error, a read-only
 * file, a corrupt page): a fresh one sees the file as it is now. */
bool db_error_stale(const struct store_error *e);

/* The jobs, run inside the writer's transaction (events.c, bookings.c, cards.c, outbox.c). */
IH_MUST_CHECK ih_status sqlite_events_apply(struct writer_txn *t, struct store_event *ev);
IH_MUST_CHECK ih_status sqlite_booking_request_apply(struct writer_txn *t, struct booking_request_job *b);
IH_MUST_CHECK ih_status sqlite_booking_result_apply(struct writer_txn *t, struct booking_result_job *r);
IH_MUST_CHECK ih_status sqlite_card_batch_apply(struct writer_txn *t, struct card_batch_job *b);
IH_MUST_CHECK ih_status sqlite_outbox_mark_apply(struct writer_txn *t, struct outbox_mark_job *m);

/* The reads behind bookings.h, outbox.h and feed.h (the store is this backend's). */
IH_MUST_CHECK ih_status sqlite_bookings_get(struct store *s, const char *id, struct booking_view *out);
IH_MUST_CHECK ih_status sqlite_bookings_list(struct store *s, enum booking_status st, int64_t after, size_t max,
                                             struct booking_view **out, size_t *n);
IH_MUST_CHECK ih_status sqlite_outbox_claim(struct store *s, int64_t now_ms, unsigned lease_ms, const int64_t *skip,
                                            size_t nskip, struct outbox_item *out, size_t max, size_t *n);
IH_MUST_CHECK ih_status sqlite_outbox_stats(struct store *s, struct outbox_stats *out);
bool sqlite_feed_pos_valid(const struct store *s, struct feed_pos p);
IH_MUST_CHECK ih_status sqlite_feed_scan_commit_order(struct store *s, struct feed_pos after, size_t scan_max,
                                                      feed_row_fn fn, void *arg, struct feed_scan_result *out);
IH_MUST_CHECK ih_status sqlite_feed_scan_time_order(struct store *s, const struct feed_time_query *q, size_t scan_max,
                                                    feed_row_fn fn, void *arg, struct feed_time_result *out);

/* The writer's side (writer.c). */
IH_MUST_CHECK ih_status sqlite_writer_attach(struct store *s, struct backend_writer **out);
/* pankeys.c: the PAN key fingerprints on the store (reads on a read connection, the
 * record on db->wr), on the writer's connection, and token lookups. */
void sqlite_pankeys_store(struct store *s, struct keycheck_store *out);
void sqlite_pankeys_txn(struct writer_txn *txn, struct keycheck_store *out);
void sqlite_writer_keycheck_store(struct backend_writer *w, struct keycheck_store *out);
IH_MUST_CHECK ih_status sqlite_find_token(struct store *s, const char *key_id, const char *token, long long *count,
                                          long long *first_seq, long long *last_seq);
void sqlite_writer_detach(struct backend_writer *w);
bool sqlite_writer_connected(struct backend_writer *w);
IH_MUST_CHECK ih_status sqlite_writer_prepare(struct backend_writer *w, bool probe, struct store_error *e);
enum batch_end sqlite_writer_run(struct backend_writer *w, struct writer_job *batch, size_t n, struct store_error *e);

/* Applies the embedded migrations on c (the write connection). */
IH_MUST_CHECK ih_status migrate_conn(sqlite3 *c, int *from, int *to, struct store_error *e);

/* The lock file of the database at db_path (lock.c). IH_OK: *fd holds the lock
 * until closed. IH_EBUSY: another process holds it (*holder: its PID, 0 if unknown).
 * IH_EIO: the file cannot be created or opened (*os_err). lock_path gets its name. */
IH_MUST_CHECK ih_status lock_take(const char *db_path, int *fd, long *holder, int *os_err, char *lock_path,
                                  size_t cap);

/* checkpoint.c: WAL checkpoints on their own connection and thread, so that a
 * commit never waits for one. The writer reports each commit (its WAL hook). */
struct checkpointer;
IH_MUST_CHECK ih_status ckpt_start(struct db *db, struct checkpointer **out);
/* After a commit: frames is the WAL's length in pages. Cheap; never blocks on I/O. */
void ckpt_committed(struct checkpointer *c, int frames);
/* Before a write transaction: returns at once, unless the WAL has grown past its cap;
 * then waits (bounded) for the checkpoint that lets the WAL start again. c may be NULL. */
void ckpt_before_write(struct checkpointer *c);
/* Makes the thread close its connection and open a fresh one when next needed. */
void ckpt_reset(struct checkpointer *c);
/* Stops the thread and closes its connection (NULL is fine). */
void ckpt_stop(struct checkpointer *c);

#endif
