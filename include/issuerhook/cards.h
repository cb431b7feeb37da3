/* Storing a card activity batch atomically: one writer job (WRITER_JOB_CARD_BATCH), every item a record
 * (deduplicated by the hash of the item with its PAN tokenized) plus its tokens, and
 * the whole request's answer under its Idempotency-Key when one was sent. */
#ifndef ISSUERHOOK_CARDS_H
#define ISSUERHOOK_CARDS_H

#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/events.h"
#include "issuerhook/tokenize.h"
#include "issuerhook/writer.h"

struct card_item {
    struct store_event ev; /* the record; ev.key is the hex hash of the tokenized item */
    struct pan_token pan;
    bool has_tax_id;
    char tax_id_token[TOKENIZE_TOKEN_LEN + 1];
};

enum cards_outcome { CARDS_STORED, CARDS_IDEM_REPLAY, CARDS_IDEM_CONFLICT };

struct card_batch_job {
    struct writer_job job; /* first: job.kind = WRITER_JOB_CARD_BATCH */
    struct card_item *items; /* owned, n of them */
    size_t n;
    bool has_idem;
    char idem_scope[320], idem_key[256]; /* scope: route + caller (a token caller is up to ~200 bytes) */
    unsigned char request_hash[CRYPTO_SHA256_LEN];
    unsigned status;  /* the answer recorded under the Idempotency-Key */
    char *response;   /* owned */
    /* out */
    enum cards_outcome outcome;
    unsigned stored_status;
    char *stored_response; /* owned */
    size_t inserted, duplicates;
};

/* Frees what the job owns (not the job). */
void card_batch_clear(struct card_batch_job *j);

#endif
