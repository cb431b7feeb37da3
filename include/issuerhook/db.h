/* The SQLite database: one write connection (handed to the writer thread), a pool of
 * read connections for health checks and GET routes, and a lock file that keeps a second
 * daemon off the same database. WAL mode, synchronous=FULL. */
#ifndef ISSUERHOOK_DB_H
#define ISSUERHOOK_DB_H

#include <stddef.h>
#include <stdint.h>
#include "issuerhook/status.h"

struct db;

struct db_options {
    unsigned busy_timeout_ms;
    uint64_t max_bytes; /* 0: no cap */
};

/* Opens (creating file and folder) the database at path for this process alone: takes
 * the lock file beside it (held until db_close) before anything is written. IH_EBUSY:
 * another process holds it (err names it). Caller owns *out. */
IH_MUST_CHECK ih_status db_open(const char *path, const struct db_options *opt, struct db **out, char *err,
                                size_t errlen);
void db_close(struct db *db);
const char *db_path(const struct db *db);

/* Health: a real query on the read connection, its duration in *ms. */
IH_MUST_CHECK ih_status db_ping(struct db *db, double *ms);

#endif
