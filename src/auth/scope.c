#include "issuerhook/scope.h"

#include <stdio.h>
#include <string.h>

static const struct {
    unsigned bit;
    const char *name;
} scopes[] = {
    {SCOPE_AMIKO_EVENTS, "amiko:events"},
    {SCOPE_AMIKO_BOOKINGS, "amiko:bookings"},
    {SCOPE_LEDGER_READ, "ledger:read"},
    {SCOPE_LEDGER_WRITE, "ledger:write"},
    {SCOPE_CARD_ADAPTER_WRITE, "cardAdapter/write"},
    {SCOPE_RIVERTY_EVENTS, "riverty:events"},
    {SCOPE_BANKING_ADMIN_READ, "bankingAdmin/read"},
};

const char *scope_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
        if (scopes[i].bit == bit)
            return scopes[i].name;
    return NULL;
}

unsigned scope_parse(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
        if (strlen(scopes[i].name) == len && memcmp(scopes[i].name, name, len) == 0)
            return scopes[i].bit;
    return 0;
}

bool scope_parse_list(const char *list, const char *seps, bool ignore_unknown, unsigned *mask,
                      char *bad, size_t badlen)
{
    unsigned m = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, seps);
        if (n > 0) {
            unsigned bit = scope_parse(p, n);
            if (!bit && !ignore_unknown) {
                snprintf(bad, badlen, "%.*s", (int)(n > 64 ? 64 : n), p);
                return false;
            }
            m |= bit;
        }
        p += n;
        if (*p)
            p++;
    }
    *mask = m;
    return true;
}

void scope_names(char *buf, size_t len)
{
    size_t n = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
        int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", scopes[i].name);
        if (w < 0 || (size_t)w >= len - n)
            return; /* cut short; still NUL-terminated */
        n += (size_t)w;
    }
}
