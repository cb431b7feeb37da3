/* Private to src/store/pg/: one libpq connection the daemon keeps up. It connects from a
 * postgresql:// URI or key=value conninfo plus an optional password file (the password
 * goes to libpq as the `password` keyword, never into a string that could be logged), sets
 * the session's lock and statement timeouts from the busy timeout, and when the connection is lost it
 * reconnects with backoff (100 ms doubling to 5 s), logging once per outage with libpq's
 * reason and once on recovery. It also remembers which statements are prepared on the
 * current session. Not thread-safe: one thread uses a pgconn. */
#ifndef ISSUERHOOK_PGCONN_H
#define ISSUERHOOK_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"

#define PGCONN_PASSWORD_MAX 1024 /* bytes in a password file */
#define PGCONN_STMT_MAX 32       /* statements one session prepares */

struct pgconn_options {
    const char *conninfo;      /* postgresql:// URI or key=value; copied */
    const char *password_file; /* NULL or "": none (libpq's PGPASSFILE still works); copied,
                                * read again at each connect so a rotated password is used */
    unsigned busy_timeout_ms;  /* the session's lock_timeout, and twice it statement_timeout;
                                * 0: none */
    unsigned io_timeout_ms;    /* a wait for the server longer than this counts as a lost
                                * connection; 0: the statement timeout + 10 s */
    const char *name;          /* the connection's role in log lines ("writer", ...); copied */
    unsigned connect_timeout_ms; /* a connection attempt at most (non-blocking connect with a
                                  * deadline, so no thread waits longer); 0: 2 s */
};

/* A statement prepared once per session, under name (static data). */
struct pgstmt {
    const char *name;
    const char *sql;
};

struct pgconn;

/* Checks the options (conninfo parsed, not yet connected). Caller owns *out (pgconn_free).
 * err names what is wrong, never with the password. */
IH_MUST_CHECK ih_status pgconn_new(const struct pgconn_options *opt, struct pgconn **out, char *err,
                                   size_t errlen);
void pgconn_free(struct pgconn *c);

/* Connects now, whatever the backoff (at start-up, and for a caller with a backoff of its
 * own: the writer), unless the session is live; a dead idle one is replaced. IH_EIO with
 * libpq's reason in err when it cannot; the next pgconn_ready tries again after the
 * backoff. */
IH_MUST_CHECK ih_status pgconn_open(struct pgconn *c, char *err, size_t errlen);
/* IH_OK with a live session. A session the server closed while it was idle (a restart) is
 * noticed here, without a round trip, and replaced. When the connection is down it
 * reconnects, at most once per backoff step (IH_EIO until then, and when the attempt
 * fails). */
IH_MUST_CHECK ih_status pgconn_ready(struct pgconn *c);
/* The live session, or NULL when down. Valid until pgconn_lost or pgconn_free. */
PGconn *pgconn_pq(struct pgconn *c);
/* The session broke (reason: libpq's message, may be NULL): it is closed, the outage is
 * logged if it is the first word of it, and pgconn_ready reconnects. */
void pgconn_lost(struct pgconn *c, const char *reason);
/* Closes a live session on purpose (its server refused writes: after a failover a new
 * session may reach the new primary, and takes the database's settings as they are now);
 * not an outage: nothing is logged, and the next pgconn_ready or pgconn_open connects. */
void pgconn_reset(struct pgconn *c);
/* true while an outage lasts (from the loss to the next successful connect). */
bool pgconn_down(const struct pgconn *c);
/* Why the last attempt failed or the session was lost (one line, no secret). Static until
 * the next call on c. */
const char *pgconn_why(const struct pgconn *c);

/* The conninfo as shown in logs and /health: without password and sslpassword. */
const char *pgconn_display(const struct pgconn *c);
unsigned pgconn_io_timeout_ms(const struct pgconn *c);

/* Whether s is prepared on the current session; pgconn_set_prepared records it (false
 * when PGCONN_STMT_MAX are already: a programming error, the caller fails the work). */
bool pgconn_prepared(const struct pgconn *c, const struct pgstmt *s);
bool pgconn_set_prepared(struct pgconn *c, const struct pgstmt *s);

#endif
