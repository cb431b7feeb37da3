/* The store's side of the PAN key check (keycheck.h decides; a store only keeps the
 * fingerprints, e.g. SQLite's pan_keys table) and lookups of stored card tokens, on
 * whichever backend holds the store. */
#ifndef ISSUERHOOK_PANKEYS_H
#define ISSUERHOOK_PANKEYS_H

#include "issuerhook/keycheck.h"

struct store;

/* The keycheck store of s: reads on a read connection, the record on the write side
 * (only at start, before the writer takes it over; later, writer_options.gate gets the
 * writer's own). */
void pankeys_store(struct store *s, struct keycheck_store *out);

/* The card activities stored with the PAN token under key key_id: how many, and
 * the seq of the first and the last (0 when none). */
IH_MUST_CHECK ih_status pankeys_find_token(struct store *s, const char *key_id, const char *token, long long *count,
                                           long long *first_seq, long long *last_seq);

#endif
