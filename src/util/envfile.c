/* systemd EnvironmentFile= files (include/issuerhook/envfile.h).
 *
 * Written by hand: no library reads systemd's dialect, and the point is to read it
 * exactly as systemd 252 does. The states and the white-space bookkeeping follow
 * parse_env_file_internal() in systemd's src/basic/env-file.c one for one; where that
 * machine would ignore a line, glue text onto a value or run a value over several
 * lines, this one stops with the line instead. tests/unit/test_envfile.c holds a table
 * of inputs with what systemd makes of each and checks it against the libsystemd-shared
 * of the machine when there is one. */
#include "issuerhook/envfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issuerhook/crypto.h"

#define NONE SIZE_MAX
#define NL 256 /* a line end, "\n" or "\r\n" */

enum state { PRE_KEY, KEY, PRE_VALUE, VALUE, VALUE_ESCAPE, SQ, DQ, DQ_ESCAPE, AFTER_QUOTE, COMMENT, COMMENT_ESCAPE };

struct parser {
    const char *name;
    envfile_fn fn;
    void *arg;
    char *err;
    size_t errlen;
    enum state st;
    unsigned line;       /* of the character being read */
    unsigned start;      /* where the assignment being read started */
    unsigned quote_line; /* where its quote opened */
    bool crlf;           /* the line end being read was "\r\n" */
    char *key, *val;     /* each as long as the text, + 1 */
    size_t nkey, key_ws; /* key_ws, val_ws: where trailing white space starts (NONE: none) */
    size_t nval, val_ws;
    bool ws_after_eq; /* white space skipped after '=' */
    char **seen;      /* keys so far (owned), for duplicates */
    unsigned seen_line[ENVFILE_MAX_KEYS];
    size_t nseen;
};

__attribute__((format(printf, 3, 4))) static ih_status fail(struct parser *p, unsigned line, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "line %u of %s: %s", line, p->name, why);
    return IH_EINVAL;
}

static bool is_ws(int c)
{
    return c == ' ' || c == '\t';
}

static bool is_name_char(int c, bool first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* Well-formed UTF-8 whose code points systemd's unichar_is_valid() takes: no
 * overlong forms, surrogates, values past U+10FFFF or non-characters. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        size_t len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (len == 0 || len > n - i)
            return false;
        uint32_t cp = len == 1 ? b : (uint32_t)(b & (0x7f >> len));
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0xfdd0 && cp <= 0xfdef) ||
            (cp & 0xfffe) == 0xfffe)
            return false;
        i += len;
    }
    return true;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* The key just ended by '=': a variable name systemd keeps, not seen before. */
static ih_status key_check(struct parser *p)
{
    const char *k = p->key;
    bool ok = p->nkey > 0;
    for (size_t i = 0; i < p->nkey; i++)
        ok = ok && is_name_char((unsigned char)k[i], i == 0);
    if (!ok && p->start == 1 && strncmp(k, "\xef\xbb\xbf", 3) == 0)
        return fail(p, p->start, "the file starts with a UTF-8 byte order mark, which systemd reads as part of "
                                 "the first key; save the file without it");
    if (!ok && strncmp(k, "export", 6) == 0 && is_ws((unsigned char)k[6]))
        return fail(p, p->start, "`export` is shell syntax: systemd ignores the whole line; write KEY=VALUE");
    if (!ok && printable(k))
        return fail(p, p->start, "\"%s\" is not a variable name (letters, digits and '_', not starting with a "
                                 "digit): systemd ignores the line", k);
    if (!ok)
        return fail(p, p->start, "the key is not a variable name (letters, digits and '_', not starting with a "
                                 "digit): systemd ignores the line");
    for (size_t i = 0; i < p->nseen; i++)
        if (strcmp(p->seen[i], k) == 0)
            return fail(p, p->start, "%s is given twice (first on line %u); systemd would take the last one",
                        k, p->seen_line[i]);
    if (p->nseen == ENVFILE_MAX_KEYS)
        return fail(p, p->start, "more than %u assignments in one file", ENVFILE_MAX_KEYS);
    if (!(p->seen[p->nseen] = strdup(k)))
        return IH_ENOMEM;
    p->seen_line[p->nseen++] = p->start;
    return IH_OK;
}

/* One assignment read: checks its value and hands it on. */
static ih_status push(struct parser *p)
{
    p->val[p->nval] = '\0';
    p->st = PRE_KEY;
    if (!utf8_ok((const unsigned char *)p->val, p->nval))
        return fail(p, p->start, "the value of %s is not valid UTF-8 (systemd refuses the whole file)", p->key);
    for (size_t i = 0; i < p->nval; i++) {
        unsigned char b = (unsigned char)p->val[i];
        if ((b < 0x20 && b != '\t') || b == 0x7f)
            return fail(p, p->start, "the value of %s holds a control character", p->key);
    }
    ih_status rc = p->fn(p->arg, p->key, p->val, p->start, p->err, p->errlen);
    crypto_wipe(p->val, p->nval);
    p->nval = 0;
    return rc;
}

static ih_status hash_after_ws(struct parser *p)
{
    return fail(p, p->line, "a '#' after white space in an unquoted value: systemd keeps it in the value "
                            "(comments only start a line); quote the value, or put the comment on a line of its own");
}

static ih_status pre_key(struct parser *p, int c)
{
    if (c == NL || is_ws(c))
        return IH_OK;
    if (c == '#' || c == ';') {
        p->st = COMMENT;
        return IH_OK;
    }
    if (c == '=')
        return fail(p, p->line, "no key before '=' (systemd ignores the line)");
    p->st = KEY;
    p->start = p->line;
    p->nkey = 0;
    p->key_ws = NONE;
    p->key[p->nkey++] = (char)c;
    return IH_OK;
}

static ih_status in_key(struct parser *p, int c)
{
    if (c == NL)
        return fail(p, p->line, "expected KEY=VALUE (systemd ignores a line without '=')");
    if (c == '=') {
        if (p->key_ws != NONE)
            p->nkey = p->key_ws;
        p->key[p->nkey] = '\0';
        p->st = PRE_VALUE;
        p->nval = 0;
        p->val_ws = NONE;
        p->ws_after_eq = false;
        return key_check(p);
    }
    if (p->nkey == ENVFILE_KEY_MAX)
        return fail(p, p->start, "a key longer than %u bytes", ENVFILE_KEY_MAX);
    if (!is_ws(c))
        p->key_ws = NONE;
    else if (p->key_ws == NONE)
        p->key_ws = p->nkey;
    p->key[p->nkey++] = (char)c;
    return IH_OK;
}

static ih_status pre_value(struct parser *p, int c)
{
    switch (c) {
    case NL:
        return push(p); /* KEY= : the empty value */
    case '\'':
    case '"':
        p->st = c == '"' ? DQ : SQ;
        p->quote_line = p->line;
        return IH_OK;
    case '\\':
        p->st = VALUE_ESCAPE;
        return IH_OK;
    case ' ':
    case '\t':
        p->ws_after_eq = true;
        return IH_OK;
    case '#':
        if (p->ws_after_eq)
            return hash_after_ws(p);
        break;
    }
    p->st = VALUE;
    p->val[p->nval++] = (char)c;
    return IH_OK;
}

static ih_status in_value(struct parser *p, int c)
{
    if (c == NL) {
        if (p->val_ws != NONE) /* trailing white space is dropped */
            p->nval = p->val_ws;
        return push(p);
    }
    if (c == '\\') {
        p->st = VALUE_ESCAPE;
        p->val_ws = NONE;
        return IH_OK;
    }
    if (c == '"' || c == '\'')
        return fail(p, p->line, "a quote inside an unquoted value: systemd keeps it as a character; quote the "
                                "whole value, or put a backslash before the quote");
    if (c == '#' && p->val_ws != NONE)
        return hash_after_ws(p);
    if (!is_ws(c))
        p->val_ws = NONE;
    else if (p->val_ws == NONE)
        p->val_ws = p->nval;
    p->val[p->nval++] = (char)c;
    return IH_OK;
}

static ih_status crlf_after_backslash(struct parser *p)
{
    return fail(p, p->line, "a backslash before a CRLF line end: systemd does not join the lines there; "
                            "use LF line ends");
}

/* After a backslash: unquoted (VALUE_ESCAPE) or in double quotes (DQ_ESCAPE). A
 * backslash before a line end joins the next line. */
static ih_status escaped(struct parser *p, int c)
{
    bool dq = p->st == DQ_ESCAPE;
    p->st = dq ? DQ : VALUE;
    if (c == NL)
        return p->crlf ? crlf_after_backslash(p) : IH_OK;
    if (dq && !strchr("\"\\`$", c))
        p->val[p->nval++] = '\\'; /* kept, as a shell keeps it */
    p->val[p->nval++] = (char)c;
    return IH_OK;
}

static ih_status quoted(struct parser *p, int c)
{
    if (c == NL)
        return fail(p, p->quote_line, "the quote is not closed on its line: systemd would take the lines after "
                                      "it into the value");
    if ((p->st == SQ && c == '\'') || (p->st == DQ && c == '"')) {
        p->st = AFTER_QUOTE;
        return IH_OK;
    }
    if (p->st == DQ && c == '\\') {
        p->st = DQ_ESCAPE;
        return IH_OK;
    }
    p->val[p->nval++] = (char)c;
    return IH_OK;
}

static ih_status after_quote(struct parser *p, int c)
{
    if (c == NL)
        return push(p);
    if (is_ws(c))
        return IH_OK;
    return fail(p, p->line, "text after the closing quote: systemd adds it to the value (KEY=\"v\" # note gives "
                            "\"v# note\"); put a comment on a line of its own");
}

static ih_status comment(struct parser *p, int c)
{
    if (p->st == COMMENT_ESCAPE) {
        if (c == NL)
            return fail(p, p->line, "a comment ending in a backslash: systemd 252 ignores the next line too");
        p->st = COMMENT;
    } else if (c == '\\') {
        p->st = COMMENT_ESCAPE;
    } else if (c == NL) {
        p->st = PRE_KEY;
    }
    return IH_OK;
}

static ih_status step(struct parser *p, int c)
{
    switch (p->st) {
    case PRE_KEY:
        return pre_key(p, c);
    case KEY:
        return in_key(p, c);
    case PRE_VALUE:
        return pre_value(p, c);
    case VALUE:
        return in_value(p, c);
    case VALUE_ESCAPE:
    case DQ_ESCAPE:
        return escaped(p, c);
    case SQ:
    case DQ:
        return quoted(p, c);
    case AFTER_QUOTE:
        return after_quote(p, c);
    case COMMENT:
    case COMMENT_ESCAPE:
        return comment(p, c);
    }
    return IH_EINVAL;
}

/* The end of the text: what a last line without a newline means. */
static ih_status finish(struct parser *p)
{
    switch (p->st) {
    case PRE_KEY:
    case COMMENT:
    case COMMENT_ESCAPE:
        return IH_OK;
    case KEY:
        return fail(p, p->line, "expected KEY=VALUE (systemd ignores a line without '=')");
    case VALUE_ESCAPE:
        return fail(p, p->line, "the file ends in a backslash (systemd drops it)");
    case SQ:
    case DQ:
    case DQ_ESCAPE:
        return fail(p, p->quote_line, "the quote is never closed");
    case VALUE:
    case PRE_VALUE:
    case AFTER_QUOTE:
        return step(p, NL);
    }
    return IH_EINVAL;
}

static ih_status run(struct parser *p, const char *text, size_t len)
{
    ih_status rc = IH_OK;
    for (size_t i = 0; i < len && rc == IH_OK; i++) {
        int c = (unsigned char)text[i];
        if (c == '\0')
            return fail(p, p->line, "a NUL byte (systemd refuses the whole file)");
        p->crlf = c == '\r';
        if (c == '\r' && (i + 1 == len || text[i + 1] != '\n'))
            return fail(p, p->line, "a carriage return not followed by a newline (systemd starts a new line there)");
        if (c == '\r')
            i++;
        if (c == '\r' || c == '\n')
            c = NL;
        rc = step(p, c);
        if (c == NL)
            p->line++;
    }
    return rc == IH_OK ? finish(p) : rc;
}

ih_status envfile_parse(const char *text, size_t len, const char *name, envfile_fn fn, void *arg, char *err,
                        size_t errlen)
{
    struct parser *p = calloc(1, sizeof(*p));
    ih_status rc = IH_ENOMEM;
    if (!p)
        return rc;
    *p = (struct parser){.name = name, .fn = fn, .arg = arg, .err = err, .errlen = errlen, .line = 1};
    p->key = malloc(len + 1);
    p->val = malloc(len + 1);
    p->seen = calloc(ENVFILE_MAX_KEYS, sizeof(*p->seen));
    if (p->key && p->val && p->seen)
        rc = run(p, text, len);
    if (p->val)
        crypto_wipe(p->val, len + 1);
    for (size_t i = 0; i < p->nseen; i++)
        free(p->seen[i]);
    free(p->seen);
    free(p->key);
    free(p->val);
    free(p);
    return rc;
}

/* Reads fd to its end into *buf (caller wipes and frees), at most ENVFILE_MAX_BYTES.
 * Grows by copying, so that no unwiped copy of the bytes is left in freed memory. */
static ih_status read_all(int fd, char **buf, size_t *len, int *error)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    ih_status rc = IH_OK;
    while (b) {
        if (n == cap && cap > ENVFILE_MAX_BYTES) {
            rc = IH_ETOOBIG;
            break;
        }
        if (n == cap) {
            size_t ncap = cap * 2 > ENVFILE_MAX_BYTES ? ENVFILE_MAX_BYTES + 1 : cap * 2;
            char *nb = malloc(ncap);
            if (nb)
                memcpy(nb, b, n);
            crypto_wipe(b, cap);
            free(b);
            b = nb;
            cap = ncap;
            continue;
        }
        ssize_t got = read(fd, b + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *error = errno;
            rc = IH_EIO;
            break;
        }
        if (got == 0) {
            *buf = b;
            *len = n;
            return IH_OK;
        }
        n += (size_t)got;
    }
    if (!b)
        return IH_ENOMEM;
    crypto_wipe(b, cap);
    free(b);
    return rc;
}

ih_status envfile_read(const char *path, envfile_fn fn, void *arg, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int error = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the configuration file %s: %s", path, strerror(errno));
        return IH_EIO;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "the configuration file %s is a directory; --config takes a KEY=VALUE file", path);
        return IH_EIO;
    }
    ih_status rc = read_all(fd, &buf, &len, &error);
    close(fd);
    if (rc == IH_OK) {
        rc = envfile_parse(buf, len, path, fn, arg, err, errlen);
        crypto_wipe(buf, len);
        free(buf);
        return rc;
    }
    if (rc == IH_ETOOBIG)
        snprintf(err, errlen, "the configuration file %s is larger than %u bytes", path, ENVFILE_MAX_BYTES);
    else if (rc == IH_EIO)
        snprintf(err, errlen, "cannot read the configuration file %s: %s", path, strerror(error));
    else
        snprintf(err, errlen, "cannot read the configuration file %s: out of memory", path);
    return rc == IH_ENOMEM ? rc : IH_EIO;
}
