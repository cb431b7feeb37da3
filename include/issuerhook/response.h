/* Answers in each upstream API's dialect. The checker's neutral violation list is
 * rendered here, once per dialect (see the contract's "Error dialects"). */
#ifndef ISSUERHOOK_RESPONSE_H
#define ISSUERHOOK_RESPONSE_H

#include <jansson.h>
#include "issuerhook/check.h"
#include "issuerhook/router.h"

struct request;

/* 2xx/any JSON answer; steals body. Falls back to a 503 if it cannot be serialized. */
void respond_json(struct request *r, unsigned status, json_t *body);
/* An error in dialect d: summary is a short static sentence; detail (may be NULL) a
 * longer one; violations (may be NULL) are listed one by one with their pointers. */
void respond_error(struct request *r, enum dialect d, unsigned status, const char *summary, const char *detail,
                   const struct check_result *violations);
/* 503 with Retry-After: the store could not take the write; the caller must retry. */
void respond_unavailable(struct request *r, enum dialect d, unsigned retry_after_s);
/* 503 with Retry-After and a detail saying why. */
void respond_unavailable_because(struct request *r, enum dialect d, unsigned retry_after_s, const char *detail);
/* 503 with Retry-After for a read the store could not answer. */
void respond_read_unavailable(struct request *r, enum dialect d, unsigned retry_after_s);

#endif
