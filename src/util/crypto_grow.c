/* crypto_grow_wiped (include/issuerhook/crypto.h). A file of its own so that its call to
 * crypto_wipe is a call between objects, which test_card_memory's control build
 * (-Wl,--wrap=crypto_wipe) turns off like every other wipe. */
#include "issuerhook/crypto.h"

#include <stdlib.h>
#include <string.h>

void *crypto_grow_wiped(void *old, size_t used, size_t cap)
{
    char *nb = malloc(cap);
    if (nb && old) {
        memcpy(nb, old, used);
        crypto_wipe(old, used);
        free(old);
    }
    return nb;
}
