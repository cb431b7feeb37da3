/* The SQLite side of the PAN key check (keycheck.h decides; this only keeps the
 * fingerprints in the pan_keys table) and lookups of stored card tokens. */
#ifndef ISSUERHOOK_PANKEYS_H
#define ISSUERHOOK_PANKEYS_H

#include "issuerhook/keycheck.h"

struct db;

/* The keycheck store of db: reads on a read connection, the record on the write
 * connection (only at start, before the writer thread owns it). */
void pankeys_store(struct db *db, struct keycheck_store *out);
/* The same on the writer's connection, in the writer thread (writer_options.gate),
 * outside a batch's transaction. */
struct writer_txn;
void pankeys_store_txn(struct writer_txn *txn, struct keycheck_store *out);

/* The card activities stored with the PAN token under key key_id: how many, and
 * the seq of the first and the last (0 when none). */
IH_MUST_CHECK ih_status pankeys_find_token(struct db *db, const char *key_id, const char *token, long long *count,
                                           long long *first_seq, long long *last_seq);

#endif
