/* libpq connection strings: recognising them, showing them without secrets, and making
 * libpq's messages about them safe to log. Parsing is libpq's (PQconninfoParse); only the
 * rebuilding of the shown form is written here. */
#include "pgconninfo.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "issuerhook/crypto.h"

#define UNREADABLE "(unreadable connection string)"
#define DISPLAY_DEPTH 2 /* a dbname holding a connection string is shown one level down */
#define DISPLAY_MAX 8192

static bool is_secret(const char *keyword)
{
    return strcmp(keyword, "password") == 0 || strcmp(keyword, "sslpassword") == 0;
}

bool pgconninfo_is_uri(const char *s)
{
    return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

/* A dbname that is itself a connection string. */
static bool is_nested(const char *keyword, const char *val)
{
    return strcmp(keyword, "dbname") == 0 && (pgconninfo_is_uri(val) || strchr(val, '='));
}

/* Frees libpq's options, wiping the values first (one may be a password). */
static void free_opts(PQconninfoOption *opts)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->val)
            crypto_wipe(o->val, strlen(o->val));
    PQconninfoFree(opts);
}

bool pgconninfo_is_keyvalue(const char *s)
{
    if (!s)
        return false;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = 0;
    while (s[n] && s[n] != '=' && !isspace((unsigned char)s[n]))
        n++;
    const char *p = s + n;
    while (isspace((unsigned char)*p))
        p++;
    if (n == 0 || *p != '=')
        return false;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse("", &err); /* every keyword, no values */
    bool known = false;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strlen(o->keyword) == n && strncmp(o->keyword, s, n) == 0)
            known = true;
    PQconninfoFree(opts);
    PQfreemem(err);
    return known;
}

/* Copies msg into out as one line, each "quoted" part as "..." when quotes is true. */
static void one_line(const char *msg, bool quotes, char *out, size_t outlen)
{
    size_t o = 0;
    bool in_quote = false;
    if (!outlen)
        return;
    for (const char *p = msg ? msg : ""; *p && o + 1 < outlen; p++) {
        char ch = *p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p;
        if (quotes && ch == '"') {
            in_quote = !in_quote;
            if (in_quote) {
                if (o + 5 >= outlen)
                    break;
                memcpy(out + o, "\"...\"", 5);
                o += 5;
            }
            continue;
        }
        if (!in_quote)
            out[o++] = ch;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

void pgconninfo_scrub(const char *msg, char *out, size_t outlen)
{
    one_line(msg, true, out, outlen);
}

/* text with every occurrence of secret replaced by "...": a new string (caller frees;
 * NULL when out of memory). Done on the whole message, before it is cut to fit a line, so
 * that a cut can never leave the start of a secret at the end. */
static char *masked(const char *text, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0, count = 0;
    for (const char *p = n ? strstr(text, secret) : NULL; p; p = strstr(p + n, secret))
        count++;
    char *out = malloc(strlen(text) + 3 * count + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = text; *p;) {
        if (n && strncmp(p, secret, n) == 0) {
            memcpy(o, "...", 3);
            o += 3;
            p += n;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static void mask_into(char **text, const char *secret)
{
    char *m = *text ? masked(*text, secret) : NULL;
    if (*text)
        crypto_wipe(*text, strlen(*text));
    free(*text);
    *text = m;
}

void pgconninfo_clean(const char *msg, const char *conninfo, const char *extra_secret, char *out, size_t outlen)
{
    char *text = strdup(msg ? msg : "");
    char *err = NULL;
    PQconninfoOption *opts = conninfo ? PQconninfoParse(conninfo, &err) : NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->val && is_secret(o->keyword))
            mask_into(&text, o->val);
    mask_into(&text, extra_secret);
    free_opts(opts);
    PQfreemem(err);
    one_line(text ? text : "(message dropped: out of memory)", false, out, outlen);
    if (text)
        crypto_wipe(text, strlen(text));
    free(text);
}

/* What libpq accepts but the daemon refuses, because it would show a password: a host
 * with '@' (an unencoded '@' in a URI's password: libpq takes the rest for the host) and a
 * connection string inside dbname (libpq would not read it, the server would echo it). */
static const char *refused(const PQconninfoOption *opts)
{
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0 && strchr(o->val, '@'))
            return "a host name holds '@' (in a URI, write an '@' of the password as %40)";
        if (is_nested(o->keyword, o->val))
            return "dbname holds another connection string (give the URI or key=value pairs directly)";
    }
    return NULL;
}

ih_status pgconninfo_check(const char *conninfo, char *err, size_t errlen)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &msg);
    ih_status rc = IH_OK;
    const char *why = NULL;
    if (!opts) {
        rc = msg ? IH_EINVAL : IH_ENOMEM;
        pgconninfo_scrub(msg ? msg : "out of memory", err, errlen);
    } else if ((why = refused(opts)) != NULL) {
        rc = IH_EINVAL;
        snprintf(err, errlen, "%s", why);
    }
    free_opts(opts);
    PQfreemem(msg);
    return rc;
}

/* The shown form, grown as needed up to DISPLAY_MAX bytes (a cut one ends in "..."). */
struct shown {
    char *buf;
    size_t len, cap;
    bool oom;
};

static void put(struct shown *s, const char *p, size_t n)
{
    if (s->oom)
        return;
    if (s->len + n + 4 > DISPLAY_MAX)
        n = s->len + 4 < DISPLAY_MAX ? DISPLAY_MAX - 4 - s->len : 0;
    if (s->len + n + 4 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 128;
        while (cap < s->len + n + 4)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->oom = true;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

/* value single-quoted with \' and \\ when it is empty or holds a blank, a quote or a
 * backslash, as libpq reads it back. */
static void put_value(struct shown *s, const char *v)
{
    bool quote = !*v;
    for (const char *p = v; *p && !quote; p++)
        quote = isspace((unsigned char)*p) || *p == '\'' || *p == '\\';
    if (quote)
        put(s, "'", 1);
    for (const char *p = v; *p; p++) {
        if (quote && (*p == '\'' || *p == '\\'))
            put(s, "\\", 1);
        put(s, p, 1);
    }
    if (quote)
        put(s, "'", 1);
}

static char *display_at(const char *conninfo, int depth);

/* The shown value of option o: what refused() refuses is shown masked (a nested
 * connection string without its secrets). */
static char *shown_value(const PQconninfoOption *o, int depth)
{
    if (is_nested(o->keyword, o->val))
        return depth + 1 < DISPLAY_DEPTH ? display_at(o->val, depth + 1) : strdup("...");
    if (strcmp(o->keyword, "host") == 0 && strchr(o->val, '@'))
        return strdup("...");
    return strdup(o->val);
}

static char *display_at(const char *conninfo, int depth)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &msg);
    PQfreemem(msg);
    if (!opts)
        return strdup(UNREADABLE);
    struct shown s = {0};
    put(&s, "", 0);
    for (PQconninfoOption *o = opts; o->keyword && !s.oom; o++) {
        if (!o->val || is_secret(o->keyword))
            continue;
        char *v = shown_value(o, depth);
        s.oom = s.oom || !v;
        if (s.len)
            put(&s, " ", 1);
        put(&s, o->keyword, strlen(o->keyword));
        put(&s, "=", 1);
        if (v)
            put_value(&s, v);
        free(v);
    }
    if (s.len + 4 >= DISPLAY_MAX && !s.oom)
        memcpy(s.buf + s.len, "...", 4);
    free_opts(opts);
    if (s.oom) {
        free(s.buf);
        return NULL;
    }
    return s.buf;
}

char *pgconninfo_display(const char *conninfo)
{
    return display_at(conninfo, 0);
}
