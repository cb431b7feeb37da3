/* Hand-written: a card-number scanner is a few lines of digit bookkeeping, and the
 * regular-expression libraries in Debian have no Luhn check (a match would still need
 * this walk). */
#include "issuerhook/panscan.h"

#include <stdlib.h>
#include <string.h>

#include "issuerhook/crypto.h"

#define PAN_MIN 13
#define PAN_MAX 19
#define NONE ((size_t)-1)

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t group_end(const char *s, size_t len, size_t i)
{
    while (i < len && is_digit(s[i]))
        i++;
    return i;
}

/* The start of the group after the one ending at e (one space or dash between), or NONE. */
static size_t next_group(const char *s, size_t len, size_t e)
{
    return e + 1 < len && (s[e] == ' ' || s[e] == '-') && is_digit(s[e + 1]) ? e + 1 : NONE;
}

static bool luhn_ok(const char *s, size_t a, size_t e)
{
    unsigned sum = 0, k = 0;
    for (size_t i = e; i-- > a;) {
        if (!is_digit(s[i]))
            continue;
        unsigned d = (unsigned)(s[i] - '0');
        if (k++ % 2 == 1 && (d *= 2) > 9)
            d -= 9;
        sum += d;
    }
    return sum % 10 == 0;
}

/* Every digit of s[a..e) but the last four becomes '*'. */
static void mask(char *s, size_t a, size_t e)
{
    size_t keep = 4;
    for (size_t i = e; i-- > a;) {
        if (!is_digit(s[i]))
            continue;
        if (keep)
            keep--;
        else
            s[i] = '*';
    }
}

/* A chain of groups glued to a letter, a digit or a decimal part belongs to a longer token. */
static bool glued(const char *s, size_t len, size_t a, size_t e)
{
    if (a > 0 && (is_alnum(s[a - 1]) || ((s[a - 1] == '.' || s[a - 1] == ',') && a >= 2 && is_digit(s[a - 2]))))
        return true;
    return e < len && (is_alnum(s[e]) || ((s[e] == '.' || s[e] == ',') && e + 1 < len && is_digit(s[e + 1])));
}

/* The end of the longest run of whole groups from the group at a with 13 to 19 digits
 * that passes the Luhn check, or NONE. */
static size_t longest_pan(const char *s, size_t len, size_t a)
{
    size_t digits = 0, best = NONE, pos = a;
    for (;;) {
        size_t e = group_end(s, len, pos);
        digits += e - pos;
        if (digits > PAN_MAX)
            return best;
        if (digits >= PAN_MIN && luhn_ok(s, a, e))
            best = e;
        if ((pos = next_group(s, len, e)) == NONE)
            return best;
    }
}

/* Counts (and with w, masks in w) the card numbers of the chain of groups that starts at
 * a; *chain_end: where it ends. */
static size_t scan_chain(const char *s, char *w, size_t len, size_t a, size_t *chain_end)
{
    size_t e = group_end(s, len, a), n = 0, g;
    while ((g = next_group(s, len, e)) != NONE)
        e = group_end(s, len, g);
    *chain_end = e;
    if (glued(s, len, a, e))
        return 0;
    while (a != NONE) {
        size_t end = longest_pan(s, len, a);
        if (end != NONE) {
            if (w)
                mask(w, a, end);
            n++;
        } else {
            end = group_end(s, len, a);
        }
        a = next_group(s, len, end);
    }
    return n;
}

static bool is_uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

/* s is read, w (NULL, or s itself) written: masking a chain never changes what a later
 * chain sees, since only digits of a finished chain turn into '*'. */
static size_t scan(const char *s, char *w, size_t len)
{
    size_t n = 0;
    if (is_uuid(s, len))
        return 0;
    for (size_t i = 0; i < len;) {
        if (!is_digit(s[i])) {
            i++;
            continue;
        }
        n += scan_chain(s, w, len, i, &i);
    }
    return n;
}

size_t panscan_mask(char *s, size_t len)
{
    return scan(s, s, len);
}

bool panscan_has(const char *s, size_t len)
{
    return scan(s, NULL, len) > 0;
}

static bool skipped(const char *key, const char *const *skip)
{
    for (; skip && *skip; skip++)
        if (strcmp(key, *skip) == 0)
            return true;
    return false;
}

/* Renames the member key of obj to its masked form; adds the numbers masked to *masked. */
static ih_status rename_member(json_t *obj, const char *key, size_t *masked)
{
    size_t len = strlen(key);
    char *name = malloc(len + 1);
    ih_status rc = IH_ENOMEM;
    if (!name)
        return rc;
    memcpy(name, key, len + 1);
    *masked += panscan_mask(name, len);
    json_t *v = json_object_get(obj, key);
    if (json_object_get(obj, name))
        rc = IH_EINVAL;
    else if (json_object_set(obj, name, v) == 0 && json_object_del(obj, key) == 0)
        rc = IH_OK;
    crypto_wipe(name, len);
    free(name);
    return rc;
}

/* The members of obj (but skip's): their values scanned, then the names that hold a
 * card number renamed, after the walk (renaming during it would skip or revisit
 * members), from a list made in the same single pass. */
static ih_status scan_object(json_t *obj, const char *const *skip, size_t *masked)
{
    const char *key;
    json_t *m;
    const char **names = NULL;
    size_t n = 0, cap = 0;
    ih_status rc = IH_OK;
    json_object_foreach(obj, key, m) {
        if (skipped(key, skip))
            continue;
        if ((rc = panscan_json(m, NULL, masked)) != IH_OK)
            goto done;
        if (!panscan_has(key, strlen(key)))
            continue;
        if (n == cap) {
            const char **nn = realloc(names, (cap = cap ? cap * 2 : 8) * sizeof(*names));
            if (!nn) {
                rc = IH_ENOMEM;
                goto done;
            }
            names = nn;
        }
        names[n++] = key; /* stays valid until its member is deleted, below */
    }
    for (size_t i = 0; i < n && rc == IH_OK; i++)
        rc = rename_member(obj, names[i], masked);
done:
    free(names);
    return rc;
}

ih_status panscan_json(json_t *v, const char *const *skip, size_t *masked)
{
    ih_status rc = IH_OK;
    if (json_is_string(v)) {
        /* in place: the length does not change, and no copy of the digits is left */
        *masked += panscan_mask((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && rc == IH_OK; i++)
            rc = panscan_json(json_array_get(v, i), NULL, masked);
    } else if (json_is_object(v)) {
        rc = scan_object(v, skip, masked);
    }
    return rc;
}
