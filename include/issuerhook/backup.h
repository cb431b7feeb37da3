/* An online backup of the database, taken while the daemon runs (SQLite's backup API
 * over a read transaction: WAL lets the writer go on meanwhile). */
#ifndef ISSUERHOOK_BACKUP_H
#define ISSUERHOOK_BACKUP_H

#include <stddef.h>

#include "issuerhook/status.h"

struct backup_result {
    int schema_version;
    long long records;
    long long bytes;
};

/* Copies the database at src into a new file dest: written as dest.partial, checked
 * (PRAGMA quick_check), made a single self-contained file (journal_mode=DELETE), mode
 * 0600, fsync'd, then renamed to dest. An existing dest is refused (IH_EINVAL), never
 * overwritten. On failure nothing is left at dest; err says why. */
IH_MUST_CHECK ih_status db_backup(const char *src, const char *dest, struct backup_result *res, char *err,
                                  size_t errlen);

#endif
