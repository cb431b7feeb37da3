/* Private to src/store/pg/: what a libpq failure means for the daemon. A lost connection
 * (the server went away, was shut down or restarted, the network broke) is told apart from
 * an error of one statement: the first fails every job of a batch and makes the connection
 * reconnect; the second fails one job. */
#ifndef ISSUERHOOK_PGERR_H
#define ISSUERHOOK_PGERR_H

#include <libpq-fe.h>
#include <stdbool.h>
#include "issuerhook/status.h"

/* true for SQLSTATEs that mean the session is gone: class 08 (connection exception),
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now. */
bool pgerr_sqlstate_lost(const char *sqlstate);
/* true when res (may be NULL: no result at all) on pq means the connection is lost:
 * pq is bad, or res is an error with a lost SQLSTATE or none (libpq's own, e.g. "server
 * closed the connection unexpectedly"). */
bool pgerr_is_lost(const PGconn *pq, const PGresult *res);
/* The daemon's status for a failed statement: IH_EBUSY for timeouts, lock waits,
 * deadlocks, serialization failures and too many connections (worth a retry), IH_ENOMEM
 * for out of memory, IH_EINVAL for data and constraint errors (classes 22, 23), IH_EIO
 * for everything else, a lost connection included. */
ih_status pgerr_status(const char *sqlstate);

#endif
