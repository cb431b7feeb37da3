/* Structured logs: one JSON object per line on stderr (or logfmt-like text).
 * Lines never interleave: each is written whole, with a single write(2) of its own, or,
 * while the buffer runs (log_buffer_start), with the lines of the same millisecond by the
 * buffer's thread, so that a slow log target never blocks the thread that logs (lines
 * that do not fit are dropped and counted in issuerhook_log_lines_dropped_total).
 * Never pass a credential, a body or card data to these functions. */
#ifndef ISSUERHOOK_LOG_H
#define ISSUERHOOK_LOG_H

#include <stdbool.h>

#include "issuerhook/status.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Process-wide settings; safe to call again on reload. */
void log_configure(enum log_level min, bool json);
/* Parses "debug|info|warn|error"; returns false on anything else. */
bool log_level_parse(const char *s, enum log_level *out);

/* Starts the buffer and its thread (serving); until then and after log_buffer_stop,
 * each line is written by the thread that logs it. */
IH_MUST_CHECK ih_status log_buffer_start(void);
/* Writes what is buffered and stops the thread. */
void log_buffer_stop(void);

/* A log line: msg plus key/value string fields (NULL-terminated list of pairs). */
void log_msg(enum log_level lvl, const char *msg, ...) __attribute__((sentinel));
/* Same, with ", error": strerror(errno) appended (the httpd log_warn habit). */
void log_errno(enum log_level lvl, const char *msg, ...) __attribute__((sentinel));

/* The access line written for every request. */
struct log_request {
    const char *tracing_id, *method, *route, *principal;
    unsigned status;
    double latency_ms;
    const char *note; /* e.g. "replay", "conflict", "store_unavailable"; may be NULL */
};
void log_request(const struct log_request *r);

#endif
