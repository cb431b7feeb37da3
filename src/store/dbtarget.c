/* Which backend ISSUERHOOK_DB names (include/issuerhook/dbtarget.h): the URI prefixes and
 * libpq's own keyword list decide, and libpq's parser checks a PostgreSQL value. */
#include "issuerhook/dbtarget.h"

#include <stdio.h>

#include "pg/pgconninfo.h"

ih_status dbtarget_classify(const char *db, enum dbtarget_kind *kind, char *err, size_t errlen)
{
    *kind = DBTARGET_SQLITE;
    if (!db || !(pgconninfo_is_uri(db) || pgconninfo_is_keyvalue(db)))
        return IH_OK;
    *kind = DBTARGET_POSTGRESQL;
    char why[256];
    ih_status rc = pgconninfo_check(db, why, sizeof(why));
    if (rc != IH_OK)
        snprintf(err, errlen, "not a valid PostgreSQL connection string: %s", why);
    return rc;
}
