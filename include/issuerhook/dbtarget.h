/* What ISSUERHOOK_DB names: a file (SQLite, the default) or a PostgreSQL database, given as
 * a libpq URI (postgresql://... or postgres://...) or a libpq key=value connection string
 * (e.g. "host=db.internal dbname=issuerhook"). A value is PostgreSQL when it starts with one
 * of the URI prefixes, or with "keyword=" for a keyword libpq knows (host, dbname, service,
 * ...); anything else is a path. A file whose name starts that way is written with a
 * folder: ./host=x.db. */
#ifndef ISSUERHOOK_DBTARGET_H
#define ISSUERHOOK_DBTARGET_H

#include <stddef.h>
#include "issuerhook/status.h"

enum dbtarget_kind { DBTARGET_SQLITE, DBTARGET_POSTGRESQL };

/* Classifies db into *kind. A PostgreSQL value that libpq cannot parse is IH_EINVAL, with
 * err saying why (what libpq quotes from it is left out: it may hold the password). */
IH_MUST_CHECK ih_status dbtarget_classify(const char *db, enum dbtarget_kind *kind, char *err, size_t errlen);

#endif
