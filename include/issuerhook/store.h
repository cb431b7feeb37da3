/* The store: where received events, bookings, card activity and callbacks are kept,
 * whatever database holds them. ISSUERHOOK_DB names it; its form picks the backend
 * (store_db_form). Writes go through the writer (writer.h) as jobs; reads through
 * bookings.h, outbox.h and feed.h. Nothing above src/store/ sees which backend runs.
 * See src/store/DESIGN.md. */
#ifndef ISSUERHOOK_STORE_H
#define ISSUERHOOK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issuerhook/status.h"

struct store;

/* What an ISSUERHOOK_DB value names, from its form alone (nothing is opened). */
enum store_db_form {
    STORE_DB_PATH,       /* a file path: SQLite */
    STORE_DB_SQLITE_URI, /* "file:...": SQLite, handed to it as it is */
    STORE_DB_POSTGRESQL, /* "postgresql://...", "postgres://..." or a libpq conninfo
                          * ("host=db.internal dbname=issuerhook ...") */
    STORE_DB_UNKNOWN,    /* "", or a URI of another scheme */
};
enum store_db_form store_db_form(const char *db);

struct store_options {
    unsigned busy_timeout_ms;
    uint64_t max_bytes; /* 0: no cap */
    bool read_only;     /* reads only (pan-lookup beside a running daemon): no write side, no
                         * lock, no migrations; a store that is not there is not created */
    const char *password_file; /* PostgreSQL: the file holding the password, read at each
                                * connection (NULL or "": none, or libpq's PGPASSFILE); copied */
};

/* Opens the store db names for this process: on SQLite creates the folder, takes the
 * lock file beside the database (held until store_close), creates the file, applies
 * the migrations and makes one test write. Caller owns *out.
 * IH_OK also when the store cannot take writes yet (a full disk, a read-only file or
 * folder, a database locked by another process): then store_writable says why, and the
 * writer keeps trying. An error, with err saying why, only when trying again cannot
 * help: another process holds the lock (IH_EBUSY), the schema is newer than this binary
 * (IH_ENEWER), db is not a database this binary can use (IH_EINVAL). */
IH_MUST_CHECK ih_status store_open(const char *db, const struct store_options *opt, struct store **out, char *err,
                                   size_t errlen);
/* NULL is fine. After writer_stop. */
void store_close(struct store *s);

/* The backend's name, for logs and /health ("sqlite", "postgresql"). Static. */
const char *store_backend_name(const struct store *s);
/* What the store is, for logs and /health: the database's path, or a PostgreSQL conninfo
 * without its password.
 * Valid until store_close. */
const char *store_describe(const struct store *s);
/* The file whose folder's free space /health watches; NULL when the store is not a local
 * file. Valid until store_close. */
const char *store_disk_path(const struct store *s);
/* The schema version after the migrations (0 while they have not run). */
int store_schema_version(const struct store *s);
/* Whether the store takes writes now. When not, why ("writes fail since ...: <the
 * store's message>") into why (len 0: not wanted). Any thread. */
bool store_writable(struct store *s, char *why, size_t len);
/* Health: a real query on a read connection, its duration in *ms. */
IH_MUST_CHECK ih_status store_ping(struct store *s, double *ms);

struct backup_result {
    int schema_version;
    long long records;
    long long bytes;
};
/* An online copy of the store db names, taken while a daemon serves it, into the new
 * file dest. SQLite: its backup API over a read transaction (WAL lets the writer go on),
 * written as dest.partial, checked (PRAGMA quick_check), made one self-contained file
 * (journal_mode=DELETE), mode 0600, fsync'd, then renamed to dest. An existing dest is
 * refused (IH_EINVAL), never overwritten; on failure nothing is left at dest. A store
 * that is not a file is refused (IH_EINVAL): its database's own tools back it up. err
 * says why. */
IH_MUST_CHECK ih_status store_backup(const char *db, const char *dest, struct backup_result *res, char *err,
                                     size_t errlen);

#endif
