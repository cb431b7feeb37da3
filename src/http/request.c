/* What route handlers see of a request (request.h), over the server's struct. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "issuerhook/app.h"
#include "issuerhook/crypto.h"
#include "issuerhook/request.h"
#include "issuerhook/writer.h"

const char *request_body(const struct request *r, size_t *len)
{
    *len = r->body_len;
    return r->body ? r->body : "";
}
const char *request_tracing_id(const struct request *r) { return r->tracing_id; }
const char *request_path(const struct request *r) { return r->path; }
int64_t request_received_ms(const struct request *r) { return r->received_ms; }
const char *request_principal(const struct request *r) { return r->principal; }

const char *request_header(const struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void request_wipe_body(struct request *r)
{
    /* only the bytes the body was written to: the rest of the buffer never held any (a
     * buffer that grew was copied, and the old one wiped, by crypto_grow_wiped) */
    if (r->body && !r->body_wiped)
        crypto_wipe(r->body, r->body_len);
    r->body_wiped = true;
}

const char *request_query(const struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *request_param(const struct request *r, size_t i)
{
    return i < r->match.nparams ? r->match.params[i] : NULL;
}

void request_stream_drop(struct request *r)
{
    if (r->stream_done)
        r->stream_done(r->stream_arg);
    r->stream_read = NULL;
    r->stream_arg = NULL;
    r->stream_done = NULL;
}

void request_reply_stream(struct request *r, unsigned status, const char *content_type, request_read_fn read,
                          void *arg, void (*done)(void *))
{
    request_reply(r, status, content_type, NULL, 0);
    r->stream_read = read;
    r->stream_arg = arg;
    r->stream_done = done;
}

void request_reply(struct request *r, unsigned status, const char *content_type, char *body, size_t len)
{
    request_stream_drop(r);
    free(r->resp);
    r->status = status;
    r->ctype = content_type;
    r->resp = body;
    r->resp_len = body ? len : 0;
    r->replied = true;
}

void request_add_header(struct request *r, const char *name, const char *value)
{
    if (r->nhdr >= MAX_HEADERS)
        return;
    snprintf(r->hdr_name[r->nhdr], sizeof(r->hdr_name[0]), "%s", name);
    snprintf(r->hdr_value[r->nhdr], sizeof(r->hdr_value[0]), "%s", value);
    r->nhdr++;
}

void request_note(struct request *r, const char *note) { r->note = note; }

void request_set_state(struct request *r, void *state, void (*free_fn)(void *))
{
    r->state = state;
    r->state_free = free_fn;
}

void request_suspend(struct request *r)
{
    MHD_suspend_connection(r->conn);
    /* a handler suspends just before it submits its job: from here the job is the
     * writer's to see, no longer a request on its way */
    if (r->expecting) {
        r->expecting = false;
        writer_unexpect(r->srv->app->writer);
    }
}
void request_resume(struct request *r) { MHD_resume_connection(r->conn); }
