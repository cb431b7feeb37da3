/* One HTTP request as route handlers see it. The server owns it; it lives until the
 * answer has been sent. libmicrohttpd stays behind this header. */
#ifndef ISSUERHOOK_REQUEST_H
#define ISSUERHOOK_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include "issuerhook/status.h"

struct request;

/* The body (not NUL-terminated), valid until the request ends. */
const char *request_body(const struct request *r, size_t *len);
/* The tracing id: the caller's, or one generated for this request. */
const char *request_tracing_id(const struct request *r);
/* The request path (without the query). */
const char *request_path(const struct request *r);
/* The i-th {param} of the route pattern, or NULL. */
const char *request_param(const struct request *r, size_t i);
/* A request header, or NULL. Valid only while the handler runs (not once suspended). */
const char *request_header(const struct request *r, const char *name);
/* Overwrites the received body (it may hold card data) once it has been parsed. */
void request_wipe_body(struct request *r);
/* A query parameter (URL-decoded), or NULL. */
const char *request_query(const struct request *r, const char *name);
/* Wall-clock ms when the request arrived. */
int64_t request_received_ms(const struct request *r);
/* The authenticated caller's name, or NULL. */
const char *request_principal(const struct request *r);

/* Sets the answer. Takes ownership of body (malloc'ed; may be NULL for none). */
void request_reply(struct request *r, unsigned status, const char *content_type, char *body, size_t len);
/* A streamed answer's text: writes 1..max bytes into buf and returns their count,
 * returns 0 at the end, or -1 on a failure, which closes the connection before the end
 * (a chunked answer then lacks its last chunk: the client cannot take it as whole).
 * Called on the server's thread, as the client takes the text. */
typedef long (*request_read_fn)(void *arg, char *buf, size_t max);
/* Sets a streamed answer of unknown length (chunked). Takes ownership of arg: done(arg)
 * runs once, when the answer is finished, abandoned or replaced. */
void request_reply_stream(struct request *r, unsigned status, const char *content_type, request_read_fn read,
                          void *arg, void (*done)(void *));
/* Adds a response header (copied). At most 8 per request. */
void request_add_header(struct request *r, const char *name, const char *value);
/* A short static word for the access log (e.g. "replay"). */
void request_note(struct request *r, const char *note);

/* Per-handler state freed with the request: free_fn(state) runs after the answer. */
void request_set_state(struct request *r, void *state, void (*free_fn)(void *));

/* Parks the connection (no thread waits) before handing the request to another
 * thread; that thread calls request_reply then request_resume. */
void request_suspend(struct request *r);
void request_resume(struct request *r);

#endif
