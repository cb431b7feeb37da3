#include "issuerhook/feedparams.h"

#include <stdio.h>
#include <string.h>

#include "issuerhook/timefmt.h"

static const char digits36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static size_t b36(int64_t v, char *out)
{
    char tmp[16];
    size_t n = 0;
    uint64_t u = (uint64_t)v;
    do {
        tmp[n++] = digits36[u % 36];
        u /= 36;
    } while (u && n < sizeof(tmp));
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

/* Reads a base-36 number (lower case, no leading zeros, at most 13 digits) at *p,
 * advancing it. */
static bool read_b36(const char **p, int64_t *v)
{
    const char *s = *p;
    uint64_t u = 0;
    size_t n = 0;
    for (; *s && n < 14; s++, n++) {
        const char *d = strchr(digits36, *s);
        if (!d || !*s)
            break;
        if (u > ((uint64_t)INT64_MAX - (uint64_t)(d - digits36)) / 36)
            return false; /* past INT64_MAX: never a position this service gave out */
        u = u * 36 + (uint64_t)(d - digits36);
    }
    if (n == 0 || n > 13 || (n > 1 && **p == '0') || u > (uint64_t)INT64_MAX)
        return false;
    *p = s;
    *v = (int64_t)u;
    return true;
}

/* "w1.<b>" for {0, b} (every SQLite position: the form ledger workers have stored);
 * "w2.<a>.<b>" for a > 0 (a backend whose positions need two numbers). One spelling per
 * position, so that equal watermarks are equal strings. */
void feedparams_watermark_encode(struct feed_pos p, char out[FEED_TOKEN_MAX])
{
    if (p.a <= 0) {
        memcpy(out, "w1.", 3);
        b36(p.b < 0 ? 0 : p.b, out + 3);
        return;
    }
    size_t n = 3;
    memcpy(out, "w2.", 3);
    n += b36(p.a, out + n);
    out[n++] = '.';
    b36(p.b < 0 ? 0 : p.b, out + n);
}

bool feedparams_watermark_decode(const char *s, struct feed_pos *p)
{
    p->a = p->b = 0;
    if (!s || !*s)
        return true;
    const char *q = s + 3;
    if (strncmp(s, "w1.", 3) == 0)
        return read_b36(&q, &p->b) && *q == '\0';
    if (strncmp(s, "w2.", 3) != 0)
        return false;
    int64_t a = 0, b = 0;
    if (!read_b36(&q, &a) || a == 0 || *q++ != '.' || !read_b36(&q, &b) || *q != '\0')
        return false; /* a == 0 is spelt w1 */
    p->a = a;
    p->b = b;
    return true;
}

void feedparams_cursor_encode(int64_t occurred_ms, int64_t seq, char out[FEED_TOKEN_MAX])
{
    size_t n = 3;
    memcpy(out, "c1.", 3);
    n += b36(occurred_ms < 0 ? 0 : occurred_ms, out + n);
    out[n++] = '.';
    b36(seq < 0 ? 0 : seq, out + n);
}

bool feedparams_cursor_decode(const char *s, int64_t *occurred_ms, int64_t *seq)
{
    if (!s || strncmp(s, "c1.", 3) != 0)
        return false;
    const char *p = s + 3;
    if (!read_b36(&p, occurred_ms) || *p++ != '.')
        return false;
    return read_b36(&p, seq) && *p == '\0';
}

/* One end: YYYY-MM-DD (a whole UTC day) or an RFC 3339 UTC date-time. *day says
 * which, so that an inclusive end date takes the whole day. */
static bool parse_end(const char *s, size_t len, int64_t *ms, bool *day)
{
    *day = len == 10;
    if (*day) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%.10sT00:00:00Z", s);
        return timefmt_parse_rfc3339_utc(buf, strlen(buf), ms);
    }
    return len >= 20 && len <= 30 && timefmt_parse_rfc3339_utc(s, len, ms);
}

bool feedparams_interval_parse(const char *s, struct feed_interval *out)
{
    static const int64_t DAY = 86400000;
    memset(out, 0, sizeof(*out));
    size_t len = s ? strlen(s) : 0;
    if (len < 3 || len > 64 || (s[0] != '[' && s[0] != '(') || (s[len - 1] != ']' && s[len - 1] != ')'))
        return false;
    const char *comma = memchr(s, ',', len);
    if (!comma || memchr(comma + 1, ',', (size_t)(s + len - comma - 1)))
        return false;
    size_t alen = (size_t)(comma - s - 1), blen = (size_t)(s + len - 1 - comma - 1);
    bool day;
    if (alen) {
        if (!parse_end(s + 1, alen, &out->from_ms, &day))
            return false;
        out->has_from = true;
        if (s[0] == '(') /* exclusive start: after the day, or after the instant */
            out->from_ms += day ? DAY : 1;
    }
    if (blen) {
        if (!parse_end(comma + 1, blen, &out->to_ms, &day))
            return false;
        out->has_to = true;
        if (s[len - 1] == ']') /* inclusive end: through the day, or the instant itself */
            out->to_ms += day ? DAY : 1;
    }
    return !(out->has_from && out->has_to && out->from_ms >= out->to_ms);
}

bool feedparams_names_parse(const char *s, size_t max_items, size_t min_len, size_t max_len, struct feed_names *out)
{
    out->n = 0;
    if (!s || !*s || max_items > FEED_NAMES_MAX || max_len > FEED_NAME_LEN)
        return false;
    const char *p = s;
    for (;;) {
        size_t n = strcspn(p, "|");
        if (n < min_len || n > max_len || !(p[0] >= 'a' && p[0] <= 'z') || out->n >= max_items)
            return false;
        for (size_t i = 1; i < n; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
                return false;
        }
        memcpy(out->v[out->n], p, n);
        out->v[out->n][n] = '\0';
        if (feedparams_names_has(out, out->v[out->n]))
            return false; /* unique items */
        out->n++;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

bool feedparams_names_has(const struct feed_names *names, const char *name)
{
    for (size_t i = 0; i < names->n; i++)
        if (strcmp(names->v[i], name) == 0)
            return true;
    return false;
}
