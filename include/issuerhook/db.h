/* The SQLite database: one write connection (handed to the writer thread), a pool of
 * read connections for health checks and GET routes, and a lock file that keeps a second
 * daemon off the same database. WAL mode, synchronous=FULL. */
#ifndef ISSUERHOOK_DB_H
#define ISSUERHOOK_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issuerhook/status.h"

struct db;

struct db_options {
    unsigned busy_timeout_ms;
    uint64_t max_bytes; /* 0: no cap */
};

/* Opens the database at path for this process alone: creates its folder, takes the lock
 * file beside it (held until db_close), creates the file, applies the migrations and
 * makes one test write. Caller owns *out.
 * IH_OK also when the store cannot take writes yet (a full disk, a read-only file or
 * folder, a database locked by another process): then db_writable says why, and the
 * writer keeps trying. An error, with err saying why, only when trying again cannot
 * help: another process holds the lock (IH_EBUSY), the schema is newer than this binary
 * (IH_ENEWER), the path is not a database (IH_EINVAL). */
IH_MUST_CHECK ih_status db_open(const char *path, const struct db_options *opt, struct db **out, char *err,
                                size_t errlen);
void db_close(struct db *db);
const char *db_path(const struct db *db);
/* The schema version after the migrations (0 while they have not run). */
int db_schema_version(const struct db *db);
/* Whether the store takes writes now. When not, why ("writes fail since ...: <the
 * store's message>") into why. Any thread. */
bool db_writable(struct db *db, char *why, size_t len);

/* Health: a real query on the read connection, its duration in *ms. */
IH_MUST_CHECK ih_status db_ping(struct db *db, double *ms);

#endif
