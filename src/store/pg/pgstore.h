/* Private to src/store/: the PostgreSQL backend's entry point, for store.c. Everything
 * else of it is reached through the struct store_backend its store carries. */
#ifndef ISSUERHOOK_PGSTORE_H
#define ISSUERHOOK_PGSTORE_H

#include <stddef.h>

#include "issuerhook/store.h"

/* store_open for a postgresql:// URI or a libpq conninfo: the read pool and, unless
 * read_only, the write connection with the migrations (under the advisory lock, so nodes
 * starting at once take turns) and one committed test write. As store_open: IH_OK also
 * when the database cannot be reached yet (the writer keeps trying); an error when
 * retrying cannot help (a malformed conninfo, a newer schema, a migration the server
 * refuses). A read_only store must be readable now. */
IH_MUST_CHECK ih_status pgstore_open(const char *conninfo, const struct store_options *opt, struct store **out,
                                     char *err, size_t errlen);

#endif
