/* What a card batch job owns, and its items' keys, whichever backend stores it. */
#include <stdio.h>
#include <stdlib.h>

#include "issuerhook/cards.h"
#include "issuerhook/crypto.h"

void card_batch_clear(struct card_batch_job *j)
{
    for (size_t i = 0; j->items && i < j->n; i++)
        events_clear(&j->items[i].ev);
    if (j->items)
        crypto_wipe(j->items, j->n * sizeof(*j->items));
    free(j->items);
    free(j->response);
    free(j->stored_response);
    j->items = NULL;
    j->response = j->stored_response = NULL;
    j->n = 0;
}

_Static_assert(CARDS_KEY_MAX <= EVENTS_KEY_MAX, "a card item's key fits a record's");

void cards_item_key(int64_t occurred_ms, const unsigned char hash[CRYPTO_SHA256_LEN], char out[CARDS_KEY_MAX + 1])
{
    size_t at = 0;
    if (occurred_ms >= 0)
        at = (size_t)snprintf(out, CARDS_KEY_MAX + 1, "%013lld-", (long long)occurred_ms);
    crypto_hex(hash, CRYPTO_SHA256_LEN, out + at);
}
