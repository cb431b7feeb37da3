/* The scope names of the contract, as bits. The one table of scope names. */
#ifndef ISSUERHOOK_SCOPE_H
#define ISSUERHOOK_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

enum scope {
    SCOPE_NONE = 0,
    SCOPE_AMIKO_EVENTS = 1u << 0,      /* amiko:events */
    SCOPE_AMIKO_BOOKINGS = 1u << 1,    /* amiko:bookings */
    SCOPE_LEDGER_READ = 1u << 2,       /* ledger:read */
    SCOPE_LEDGER_WRITE = 1u << 3,      /* ledger:write */
    SCOPE_CARD_ADAPTER_WRITE = 1u << 4, /* cardAdapter/write */
    SCOPE_RIVERTY_EVENTS = 1u << 5,    /* riverty:events */
    SCOPE_BANKING_ADMIN_READ = 1u << 6 /* bankingAdmin/read */
};

/* The name of a single scope bit, or NULL. */
const char *scope_name(unsigned bit);
/* Parses one scope name; 0 when unknown. */
unsigned scope_parse(const char *name, size_t len);
/* Parses a list of scope names separated by any of seps (e.g. "," or " ").
 * Unknown names: false, with the offending name copied to bad (NUL-terminated).
 * When ignore_unknown, unknown names are skipped (tokens from an IdP may carry others). */
bool scope_parse_list(const char *list, const char *seps, bool ignore_unknown, unsigned *mask,
                      char *bad, size_t badlen);

/* Every scope name, ", "-separated, into buf (cut short when len is too small). */
void scope_names(char *buf, size_t len);

#endif
