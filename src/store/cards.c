/* What a card batch job owns, whichever backend stores it. */
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
