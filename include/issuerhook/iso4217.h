/* ISO 4217 currencies: alphabetic code, numeric code and minor units (the number of
 * decimals an amount in that currency may have). One table, in src/check/iso4217.c. */
#ifndef ISSUERHOOK_ISO4217_H
#define ISSUERHOOK_ISO4217_H

#include <stdbool.h>
#include <stddef.h>

struct iso4217 {
    char alpha[4];        /* "USD" */
    char numeric[4];      /* "840" (three digits, leading zeros kept: "008") */
    unsigned minor_units; /* 2 for USD, 0 for JPY, 3 for KWD */
    const char *name;     /* "US Dollar" */
};

/* The entry for an alphabetic code (exact, upper case), or NULL. */
const struct iso4217 *iso4217_by_alpha(const char *alpha);
/* The entry for a three-digit numeric code, or NULL. */
const struct iso4217 *iso4217_by_numeric(const char *numeric);
/* The whole table, for tests and documentation. */
const struct iso4217 *iso4217_table(size_t *n);

#endif
