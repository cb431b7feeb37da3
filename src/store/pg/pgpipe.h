/* Private to src/store/pg/: one network round trip in libpq pipeline mode. The items
 * (prepares, commands, calls of prepared statements, syncs) are queued in non-blocking
 * mode and flushed while input is consumed, so a large pipeline cannot deadlock with a
 * server blocked on sending its results; then every item's result is collected, in order.
 * Nothing here waits for the server before everything is sent. */
#ifndef ISSUERHOOK_PGPIPE_H
#define ISSUERHOOK_PGPIPE_H

#include <libpq-fe.h>
#include <stddef.h>

enum pgpipe_kind {
    PGPIPE_PREPARE, /* name, sql */
    PGPIPE_COMMAND, /* sql without parameters (BEGIN, COMMIT, ROLLBACK) */
    PGPIPE_CALL,    /* name, nparams, values, lengths, formats: a prepared statement */
    PGPIPE_SYNC     /* ends a group: its result is PGRES_PIPELINE_SYNC */
};

struct pgpipe_item {
    enum pgpipe_kind kind;
    const char *name, *sql;
    int nparams;
    const char *const *values;
    const int *lengths, *formats;
    PGresult *res; /* out: the item's (first) result; the caller PQclears it */
};

/* Sends items[0..n) and reads back each one's result into items[i].res. 0 when all were
 * read; -1 when the connection failed or a wait passed timeout_ms (why says which): every
 * res is then NULL and the session must be dropped. pq must be idle, outside pipeline
 * mode; it is left so (blocking) on success. */
int pgpipe_run(PGconn *pq, struct pgpipe_item *items, size_t n, unsigned timeout_ms, char *why, size_t whylen);

#endif
