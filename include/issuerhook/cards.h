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

/* An item's record key: its occurredAt in ms since the epoch (13 digits, zero-padded) and
 * the hex SHA-256 of the item with its card data tokenized, "1727769362375-<64 hex>"; the
 * hex alone when occurredAt is before 1970 (occurred_ms < 0, stored as NULL). The hash
 * alone decides what is a repeat (occurredAt is part of what it hashes); the time in front
 * keeps the keys of a batch together in the (source, idem_key) index, so that its items
 * are inserted into a few pages at the index's end rather than one random page each.
 * migrations 0008 rewrote the keys stored before, the same way, on both backends. */
#define CARDS_KEY_MAX (20 + 1 + 2 * CRYPTO_SHA256_LEN)
void cards_item_key(int64_t occurred_ms, const unsigned char hash[CRYPTO_SHA256_LEN], char out[CARDS_KEY_MAX + 1]);

struct card_item {
    struct store_event ev; /* the record; ev.key is cards_item_key's */
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
