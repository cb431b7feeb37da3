/* Private to src/util/log.c: the buffer log lines go through while the daemon serves
 * (logbuf.c). Nothing else includes it. */
#ifndef ISSUERHOOK_LOGBUF_H
#define ISSUERHOOK_LOGBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Queues one whole line (n bytes, its '\n' included) for the writing thread; urgent
 * lines (warn and error) are written at once rather than with the next millisecond's.
 * False when the buffer is not running: the caller writes the line itself. A line that
 * does not fit is dropped and counted (true is returned: the caller must not block). */
bool logbuf_put(const char *line, size_t n, bool urgent);

#endif
