/* Private to src/store/: the SQLite backend's entry points, for store.c. Everything
 * else of it is reached through the struct store_backend its store carries. */
#ifndef ISSUERHOOK_STORE_SQLITE_H
#define ISSUERHOOK_STORE_SQLITE_H

#include <stddef.h>

#include "issuerhook/store.h"

/* store_open for a path or a "file:" name. */
IH_MUST_CHECK ih_status sqlite_open(const char *path, const struct store_options *opt, struct store **out, char *err,
                                    size_t errlen);
/* store_backup for a path or a "file:" name. */
IH_MUST_CHECK ih_status sqlite_backup(const char *src, const char *dest, struct backup_result *res, char *err,
                                      size_t errlen);

#endif
