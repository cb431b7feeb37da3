/* Private to src/auth/: finding and reading the PAN key files for tokenize.c, with the
 * checks that keep a key apart from the data it protects. */
#ifndef ISSUERHOOK_AUTH_KEYFILE_H
#define ISSUERHOOK_AUTH_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"

#define KEYFILE_PATH_MAX 1100

/* The current key's file: key_file when set, else pan.key in credentials_dir (may be NULL
 * or empty), else pan.key in secrets_dir. IH_ENOTFOUND (err says where to put it). */
IH_MUST_CHECK ih_status keyfile_locate(const char *key_file, const char *credentials_dir, const char *secrets_dir,
                                       char *path, size_t cap, char *err, size_t errlen);

/* The development key pan.dev.key beside db_path (NULL: the store is not a file; in the
 * working directory), created (32 random bytes, mode 0600) when missing; refused when
 * key_file is set too. Logs loudly that it is in use. */
IH_MUST_CHECK ih_status keyfile_development(const char *key_file, const char *db_path, char *path, size_t cap,
                                            char *err, size_t errlen);

/* What keyfile_read refuses: a file in the folder of db_path (or below it; db_path NULL:
 * no such folder); with
 * KEYFILE_ALL also one that gives group or others any access. A systemd credential gets
 * only KEYFILE_PLACE: systemd makes it readable by the service alone, by owner or by an
 * ACL, and an ACL shows as a group bit in the mode. */
enum keyfile_checks { KEYFILE_NONE, KEYFILE_PLACE, KEYFILE_ALL };

/* Reads a key file into key (TOKENIZE_KEY_MAX bytes). */
IH_MUST_CHECK ih_status keyfile_read(const char *path, const char *db_path, enum keyfile_checks checks,
                                     unsigned char *key, size_t *len, char *err, size_t errlen);

/* Whether path lies in dir (NULL or empty: never). */
bool keyfile_in(const char *path, const char *dir);

/* The folder part of path ("." when it has none). */
void keyfile_dirname(const char *path, char *out, size_t cap);

#endif
