/* Private to src/store/pg/: server settings the daemon reads at start, and what they mean
 * for its promises. Durable before 2xx needs synchronous_commit on (or remote_write,
 * remote_apply): with "off" an acknowledged commit can vanish in a server crash, with
 * "local" in a failover to a synchronous standby that had not received it. */
#ifndef ISSUERHOOK_PGSETTINGS_H
#define ISSUERHOOK_PGSETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"
#include "pgconn.h"

/* current_setting(name) on c's live session, into out. IH_EIO when the session is down or
 * was lost on the way (pgconn_lost has been called). */
IH_MUST_CHECK ih_status pgsettings_get(struct pgconn *c, const char *name, char *out, size_t outlen);
/* true for "off" and "local" (any case). */
bool pgsettings_sync_commit_unsafe(const char *value);
/* Reads synchronous_commit into value (16 bytes) and logs a warning saying what can be lost
 * when it is unsafe; *unsafe says whether it is. */
IH_MUST_CHECK ih_status pgsettings_check_durability(struct pgconn *c, char value[16], bool *unsafe);

#endif
