/* The SQLite database: one write connection (handed to the writer thread) and one
 * read connection for health checks and GET routes. WAL mode, synchronous=FULL. */
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

/* Opens (creating file and folder) the database at path. Caller owns *out. */
IH_MUST_CHECK ih_status db_open(const char *path, const struct db_options *opt, struct db **out, char *err,
                                size_t errlen);
void db_close(struct db *db);
const char *db_path(const struct db *db);

/* Health: a real query on the read connection, its duration in *ms. */
IH_MUST_CHECK ih_status db_ping(struct db *db, double *ms);

#endif
