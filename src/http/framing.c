/* Hand-written: libmicrohttpd 0.9.75 has no strict mode for these (its
 * MHD_OPTION_STRICT_FOR_CLIENT only refuses a missing Host and spaces in the target,
 * with its own HTML page that no metric sees), and no library parses a head that
 * libmicrohttpd has already taken apart. */
#include "issuerhook/framing.h"

#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

bool framing_target_ok(const char *target)
{
    for (const char *p = target; *p; p++) {
        if (is_ctl((unsigned char)*p) || *p == ' ')
            return false;
        if (p[0] == '%' && p[1] == '0' && p[2] == '0')
            return false;
    }
    return true;
}

/* Length of v without trailing SP/HT (field values carry no trailing OWS). */
static size_t trimmed(const char *v, size_t n)
{
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return n;
}

static bool named(const struct framing_field *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

/* Both bytes at p (inside the head) are what CRLF became: two NULs. */
static bool crlf_at(const struct framing_head *h, const char *p)
{
    return p >= h->start && p + 2 <= h->start + h->size && p[0] == '\0' && p[1] == '\0';
}

/* The request line: method, one SP, the target, one SP, the version, CRLF.
 * Returns where the first field line must start, or NULL. */
static const char *request_line(const struct framing_head *h, enum framing_result *why)
{
    const char *end = h->start + h->size;
    size_t ml = strnlen(h->start, h->size);
    *why = FRAMING_BAD_LINE;
    if (ml == 0 || h->target != h->start + ml + 1 || h->version <= h->target || h->version >= end)
        return NULL;
    for (size_t i = 0; i < ml; i++)
        if (!is_tchar((unsigned char)h->start[i]))
            return NULL;
    if (h->target_bad || h->version != h->target + h->target_len + 1) {
        *why = FRAMING_BAD_TARGET; /* bytes the target's string did not show: a NUL */
        return NULL;
    }
    const char *ve = h->version + strnlen(h->version, (size_t)(end - h->version));
    return crlf_at(h, ve) ? ve + 2 : NULL;
}

/* A field's name is a token and its value holds no control byte but HT. */
static bool field_text_ok(const struct framing_field *f)
{
    if (f->name_len == 0)
        return false;
    for (size_t i = 0; i < f->name_len; i++)
        if (!is_tchar((unsigned char)f->name[i]))
            return false;
    for (size_t i = 0; i < f->value_len; i++)
        if (is_ctl((unsigned char)f->value[i]) && f->value[i] != '\t')
            return false;
    return true;
}

/* The end of one field line's value, the line starting at line; NULL if the name or
 * what separates it from the value is wrong. */
static const char *field_line(const struct framing_head *h, const struct framing_field *f, const char *line)
{
    const char *end = h->start + h->size;
    if (f->name != line || f->name + f->name_len >= end || f->name[f->name_len] != '\0' || !field_text_ok(f))
        return NULL; /* folded, or not where the previous line ended */
    const char *v = f->name + f->name_len + 1;
    if (f->value < v || f->value > end || f->value_len > (size_t)(end - f->value))
        return NULL;
    for (; v < f->value; v++)
        if (*v != ' ' && *v != '\t')
            return NULL;
    return f->value + f->value_len;
}

/* How a line whose strings end at ve reaches the next line at next: exactly CRLF
 * (OK), a bare LF (BAD_LINE), or with bytes the strings did not show (BAD_FIELD). */
static enum framing_result line_end(const struct framing_head *h, const char *ve, const char *next)
{
    if (next == ve + 2 && crlf_at(h, ve))
        return FRAMING_OK;
    return next < ve + 2 ? FRAMING_BAD_LINE : FRAMING_BAD_FIELD;
}

/* The message-length rules of RFC 9112 section 6. */
static enum framing_result lengths(const struct framing_head *h, bool http11)
{
    const struct framing_field *cl = NULL, *te = NULL;
    size_t hosts = 0;
    for (size_t i = 0; i < h->nfields; i++) {
        const struct framing_field *f = &h->fields[i];
        if (named(f, "Host")) {
            hosts++;
        } else if (named(f, "Transfer-Encoding")) {
            if (te)
                return FRAMING_BAD_CODING;
            te = f;
        } else if (named(f, "Content-Length")) {
            size_t a = trimmed(f->value, f->value_len);
            if (cl && (a != trimmed(cl->value, cl->value_len) || memcmp(cl->value, f->value, a) != 0))
                return FRAMING_LENGTHS_DIFFER;
            cl = f;
        }
    }
    if (te && cl)
        return FRAMING_LENGTH_AND_CHUNKED;
    if (te && (!http11 || trimmed(te->value, te->value_len) != 7 || strncasecmp(te->value, "chunked", 7) != 0))
        return FRAMING_BAD_CODING;
    if (hosts > 1 || (http11 && hosts == 0))
        return FRAMING_HOST;
    return FRAMING_OK;
}

/* The request line and every field line hold only their strings and separators. */
static enum framing_result layout(const struct framing_head *h)
{
    enum framing_result why;
    const char *end = h->start + h->size, *blank = end - 2;
    const char *line = request_line(h, &why);
    if (!line)
        return why;
    if (line != (h->nfields ? h->fields[0].name : blank))
        return FRAMING_BAD_LINE; /* a bare LF, or bytes hidden after the version */
    for (size_t i = 0; i < h->nfields; i++) {
        const char *ve = field_line(h, &h->fields[i], line);
        if (!ve)
            return FRAMING_BAD_FIELD;
        line = i + 1 < h->nfields ? h->fields[i + 1].name : blank;
        if ((why = line_end(h, ve, line)) != FRAMING_OK)
            return why;
    }
    return crlf_at(h, blank) ? FRAMING_OK : FRAMING_BAD_LINE; /* the blank line */
}

enum framing_result framing_check(const struct framing_head *h)
{
    enum framing_result why;
    if (!h->start || !h->target || !h->version || (h->recover_hidden && h->size < 4))
        return FRAMING_BAD_LINE;
    if (h->nfields > FRAMING_FIELDS_MAX)
        return FRAMING_TOO_MANY_FIELDS;
    if (h->target_bad)
        return FRAMING_BAD_TARGET;
    if (h->recover_hidden && (why = layout(h)) != FRAMING_OK)
        return why;
    for (size_t i = 0; i < h->nfields; i++)
        if (!field_text_ok(&h->fields[i]))
            return FRAMING_BAD_FIELD;
    return lengths(h, strcmp(h->version, "HTTP/1.0") != 0);
}

const char *framing_reason(enum framing_result r)
{
    static const char *const names[] = {"ok", "length_and_chunked", "content_lengths_differ", "transfer_coding",
                                        "target", "host", "field", "line", "too_many_fields"};
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "line";
}

const char *framing_message(enum framing_result r)
{
    switch (r) {
    case FRAMING_OK:
        return "";
    case FRAMING_LENGTH_AND_CHUNKED:
        return "a request must not carry both Content-Length and Transfer-Encoding";
    case FRAMING_LENGTHS_DIFFER:
        return "the request carries Content-Length fields that differ";
    case FRAMING_BAD_CODING:
        return "Transfer-Encoding must be exactly chunked, once, on HTTP/1.1";
    case FRAMING_BAD_TARGET:
        return "the request target holds a NUL (also %00), a control character or a space";
    case FRAMING_HOST:
        return "an HTTP/1.1 request needs exactly one Host field";
    case FRAMING_BAD_FIELD:
        return "a header field is malformed: its name is not a token, or its value holds a NUL or another control "
               "character";
    case FRAMING_TOO_MANY_FIELDS:
        return "the request has more than 100 header fields";
    case FRAMING_BAD_LINE:
        break;
    }
    return "the request line or a header line is malformed (one space between its parts, CRLF line ends, no NUL)";
}
