/* Private to src/store/: libpq connection strings (postgresql:// URIs and key=value
 * conninfo) as the daemon checks and shows them. Shown means without secrets: the
 * password and sslpassword are dropped, and libpq's own parse errors, which quote what
 * they could not read (a malformed URI whole, password and all), have every quoted part
 * replaced by "...". */
#ifndef ISSUERHOOK_PGCONNINFO_H
#define ISSUERHOOK_PGCONNINFO_H

#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"

/* true when s starts as a libpq URI does ("postgresql://" or "postgres://"). */
bool pgconninfo_is_uri(const char *s);
/* true when s is "keyword=..." for a keyword libpq knows (leading blanks allowed). */
bool pgconninfo_is_keyvalue(const char *s);

/* IH_OK when libpq can parse conninfo; else IH_EINVAL (IH_ENOMEM) and err says why,
 * scrubbed as pgconninfo_scrub does. */
IH_MUST_CHECK ih_status pgconninfo_check(const char *conninfo, char *err, size_t errlen);

/* conninfo as key=value pairs without password and sslpassword (a dbname that is itself
 * a connection string is shown the same way). An unparseable string shows as
 * "(unreadable connection string)". Caller frees; NULL only when out of memory. */
char *pgconninfo_display(const char *conninfo);

/* A libpq parse error made fit for a log line: every "quoted" part replaced by "...",
 * line breaks and tabs turned into spaces, trailing blanks dropped; cut to fit outlen. */
void pgconninfo_scrub(const char *msg, char *out, size_t outlen);
/* Any other libpq message (a failed connection names its host and user, which helps):
 * one line as above, quoted parts kept, but every occurrence of a secret of conninfo
 * (password, sslpassword) and of extra_secret (may be NULL) replaced by "...". */
void pgconninfo_clean(const char *msg, const char *conninfo, const char *extra_secret, char *out, size_t outlen);

#endif
