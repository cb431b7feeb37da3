/* Private to src/store/: the SQLite handles behind the store's public headers. */
#ifndef ISSUERHOOK_STORE_INTERNAL_H
#define ISSUERHOOK_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <sqlite3.h>

#include "issuerhook/db.h"

#define DB_READERS 4

struct db {
    char *path;
    struct db_options opt;
    sqlite3 *wr;            /* the write connection: migrate, then the writer thread only */
    int lock_fd;            /* the lock file, held from db_open to db_close */
    sqlite3 *rd[DB_READERS]; /* read-only connections, opened on first use; guarded by rd_lock */
    bool rd_busy[DB_READERS];
    pthread_mutex_t rd_lock;
    pthread_cond_t rd_free;
};

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
void db_read_release(struct db *db, sqlite3 *conn);
/* Opens a connection with the daemon's pragmas. */
int db_connect(struct db *db, int flags, sqlite3 **out);

/* The lock file of the database at db_path (store/lock.c). IH_OK: *fd holds the lock
 * until closed. IH_EBUSY: another process holds it (*holder: its PID, 0 if unknown).
 * IH_EIO: the file cannot be created or opened (*os_err). lock_path gets its name. */
IH_MUST_CHECK ih_status lock_take(const char *db_path, int *fd, long *holder, int *os_err, char *lock_path,
                                  size_t cap);

#endif
