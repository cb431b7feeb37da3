/* KEY=VALUE files as systemd's EnvironmentFile= reads them (load_env_file() in
 * systemd 252, src/basic/env-file.c), because the unit hands the daemon's one
 * configuration file both to systemd and to --config.
 *
 * The contract: every file this parser accepts gives exactly the variables systemd
 * gives for it. What systemd would ignore, refuse, or read otherwise than it looks is
 * refused, with the line: a line without '=', an invalid name (`export KEY=...`, a
 * space in the key, a leading digit, a UTF-8 byte order mark), text after a closing
 * quote (`KEY="v" # c`: systemd gives `v# c`), a '#' after white space or a quote
 * inside an unquoted value, a quote not closed on its line (systemd would take the
 * following lines into the value), a comment ending in a backslash (systemd 252 also
 * ignores the next line), a backslash before a CRLF line end, a backslash at the end
 * of the file, a carriage return not followed by a newline, a NUL byte, invalid UTF-8,
 * a control character other than tab in a value, and a key given twice.
 *
 * Accepted, as systemd and a POSIX shell read them: blank lines; comments starting
 * with '#' or ';' as the first character after white space; white space around the key
 * and after '='; trailing white space of an unquoted value (dropped); a backslash in an
 * unquoted value taking the next character literally, and before a newline joining the
 * next line; 'single quotes' (everything literal); "double quotes" where \" \\ \` \$
 * stand for the character, a backslash before a newline joins the lines, and any other
 * backslash is kept; empty values; CRLF line ends. No variable is expanded ($HOME stays
 * "$HOME"). */
#ifndef ISSUERHOOK_ENVFILE_H
#define ISSUERHOOK_ENVFILE_H

#include <stddef.h>
#include "issuerhook/status.h"

#define ENVFILE_MAX_BYTES (1u << 20) /* a larger file is refused */
#define ENVFILE_MAX_KEYS 4096        /* assignments in one file */
#define ENVFILE_KEY_MAX 255          /* bytes of one key */

/* Called for each assignment, in file order; line: where the assignment starts. key
 * and value are valid during the call only (value is wiped afterwards). A status other
 * than IH_OK stops the parse and is returned, with the callback's message in err. */
typedef ih_status (*envfile_fn)(void *arg, const char *key, const char *value, unsigned line, char *err,
                                size_t errlen);

/* Parses len bytes of text; name (e.g. the path) is used in messages only. IH_EINVAL
 * with err "line N of NAME: why" for what the file says; IH_ENOMEM. The message never
 * quotes a value. */
IH_MUST_CHECK ih_status envfile_parse(const char *text, size_t len, const char *name, envfile_fn fn, void *arg,
                                      char *err, size_t errlen);

/* Reads the file at path (a directory, an unreadable file, or one over
 * ENVFILE_MAX_BYTES: IH_EIO with err naming path and the reason) and parses it. The
 * bytes read are wiped before returning. */
IH_MUST_CHECK ih_status envfile_read(const char *path, envfile_fn fn, void *arg, char *err, size_t errlen);

#endif
