/* Storing received events exactly once. A store_event is a writer job
 * (WRITER_JOB_EVENT): fill the inputs, submit it, and read the outcome in done. */
#ifndef ISSUERHOOK_EVENTS_H
#define ISSUERHOOK_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include "issuerhook/crypto.h"
#include "issuerhook/writer.h"

#define EVENTS_KEY_MAX 128
#define EVENTS_TRACING_MAX 128

enum events_outcome {
    EVENTS_INSERTED, /* new record committed */
    EVENTS_REPLAY,   /* same key, same canonical payload: stored_* is the first answer */
    EVENTS_CONFLICT  /* same key, different payload: nothing stored */
};

enum events_serial_note { EVENTS_SERIAL_NONE = 0, EVENTS_SERIAL_STALE, EVENTS_SERIAL_GAP };

struct store_event {
    struct writer_job job; /* first: job.kind = WRITER_JOB_EVENT; job.done is the caller's */
    /* inputs; strings are owned by the store_event (free with events_clear) */
    const char *source;    /* static, e.g. "amiko.event" */
    char key[EVENTS_KEY_MAX + 1];
    unsigned char hash[CRYPTO_SHA256_LEN];
    char *type;
    char tracing_id[EVENTS_TRACING_MAX + 1];
    int64_t received_ms;
    int64_t occurred_ms;   /* < 0: unknown */
    char *payload;         /* canonical JSON */
    size_t payload_len;
    unsigned status;       /* the answer stored with the record */
    char *response;
    bool has_serial;
    char *entity_type, *entity_id;
    int64_t serial;
    /* outputs, valid in done */
    enum events_outcome outcome;
    unsigned stored_status;
    char *stored_response; /* owned */
    enum events_serial_note serial_note;
    int64_t serial_last;   /* the entity's highest serial before this one (-1: none) */
    int64_t seq;
};

/* Frees the owned strings (not the struct itself). */
void events_clear(struct store_event *ev);

#endif
