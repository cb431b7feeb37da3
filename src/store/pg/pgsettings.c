/* Reading server settings (pgsettings.h). */
#include "pgsettings.h"

#include <stdio.h>
#include <strings.h>

#include "issuerhook/log.h"
#include "pgerr.h"

ih_status pgsettings_get(struct pgconn *c, const char *name, char *out, size_t outlen)
{
    PGconn *pq = pgconn_pq(c);
    if (!pq)
        return IH_EIO;
    const char *const params[] = {name};
    PGresult *r = PQexecParams(pq, "SELECT current_setting($1)", 1, NULL, params, NULL, NULL, 0);
    ih_status rc = IH_OK;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    } else if (pgerr_is_lost(pq, r)) {
        pgconn_lost(c, PQerrorMessage(pq));
        rc = IH_EIO;
    } else {
        rc = pgerr_status(PQresultErrorField(r, PG_DIAG_SQLSTATE));
        rc = rc == IH_OK ? IH_EIO : rc;
    }
    PQclear(r);
    return rc;
}

bool pgsettings_sync_commit_unsafe(const char *v)
{
    return v && (strcasecmp(v, "off") == 0 || strcasecmp(v, "local") == 0);
}

ih_status pgsettings_check_durability(struct pgconn *c, char value[16], bool *unsafe)
{
    *unsafe = false;
    ih_status rc = pgsettings_get(c, "synchronous_commit", value, 16);
    if (rc != IH_OK)
        return rc;
    *unsafe = pgsettings_sync_commit_unsafe(value);
    if (*unsafe)
        log_msg(LOG_WARN,
                strcasecmp(value, "off") == 0
                    ? "synchronous_commit is off: events acknowledged just before a database crash can be lost"
                    : "synchronous_commit is local: events acknowledged just before a failover to a standby "
                      "can be lost",
                "database", pgconn_display(c), "synchronous_commit", value, NULL);
    return IH_OK;
}
