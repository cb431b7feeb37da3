/* Private to src/store/pg/: the PostgreSQL schema migrations (migrations/postgresql/,
 * compiled in as migrations_postgresql) and their runner. The whole run holds a session
 * advisory lock, so nodes starting at once against an empty database take turns: the
 * first applies, the others find the schema current. Each migration runs in its own
 * transaction and is recorded in schema_migrations; a schema newer than this binary knows
 * is refused (IH_ENEWER), as on SQLite. */
#ifndef ISSUERHOOK_PGMIGRATE_H
#define ISSUERHOOK_PGMIGRATE_H

#include <stddef.h>
#include "issuerhook/migrate.h"
#include "issuerhook/status.h"
#include "pgconn.h"

/* pg_advisory_lock key of the migration run: "issuerh" in ASCII. */
#define PGMIGRATE_LOCK_KEY "29681812282634856"


/* Applies every embedded migration newer than the database's version on c's live
 * session. *from and *to: the version before and after. err says what failed. */
IH_MUST_CHECK ih_status pgmigrate_apply(struct pgconn *c, int *from, int *to, char *err, size_t errlen);
/* The same with another list (ascending versions): for tests. */
IH_MUST_CHECK ih_status pgmigrate_apply_list(struct pgconn *c, const struct migration *list, size_t n, int *from,
                                             int *to, char *err, size_t errlen);

#endif
