/* Classifying libpq failures by SQLSTATE (Appendix A of the PostgreSQL manual). */
#include "pgerr.h"

#include <string.h>

bool pgerr_sqlstate_lost(const char *s)
{
    if (!s || strlen(s) != 5)
        return false;
    return strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
           strcmp(s, "57P03") == 0;
}

bool pgerr_is_lost(const PGconn *pq, const PGresult *res)
{
    if (!pq || PQstatus(pq) == CONNECTION_BAD)
        return true;
    if (!res)
        return true;
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_FATAL_ERROR && st != PGRES_NONFATAL_ERROR)
        return false;
    const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return !s || pgerr_sqlstate_lost(s);
}

ih_status pgerr_status(const char *s)
{
    static const char *const busy[] = {"57014", "55P03", "40P01", "40001", "53300"};
    if (!s || strlen(s) != 5)
        return IH_EIO;
    for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++)
        if (strcmp(s, busy[i]) == 0)
            return IH_EBUSY;
    if (strcmp(s, "53200") == 0)
        return IH_ENOMEM;
    if (strncmp(s, "22", 2) == 0 || strncmp(s, "23", 2) == 0)
        return IH_EINVAL;
    return IH_EIO;
}
