#include "issuerhook/feedpage.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/event_types.h"
#include "issuerhook/jsonscan.h"
#include "issuerhook/jsonutil.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/timefmt.h"

/* One scan's text and one item; an item is at most a stored payload (the largest body
 * ISSUERHOOK_MAX_BODY may allow, 64 MiB) and its few fields. */
#define TEXT_MAX (FEEDPAGE_SCAN_BYTES + (64u << 20) + 4096)
#define HEAD_MAX 2048 /* an item's fields but data: ids of at most 48 characters, known types */

struct text {
    char *buf;
    size_t len, cap, off; /* off: how much the client has taken */
};

static bool text_add(struct text *t, const char *s, size_t n)
{
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 65536;
        while (cap < t->len + n)
            cap *= 2;
        if (cap > TEXT_MAX)
            cap = TEXT_MAX;
        if (t->len + n > cap)
            return false;
        char *nb = realloc(t->buf, cap);
        if (!nb)
            return false;
        t->buf = nb;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    return true;
}

enum stage { ST_ITEMS, ST_DONE };

struct feedpage {
    struct store *store;
    struct feedpage_spec spec;
    enum stage stage;
    struct text out;
    struct feedpage_end end;
    bool has_cursor;   /* time order: end.last_ms/last_seq is where the next scan goes on */
    size_t scanned;    /* rows taken so far (items and rows passed over) */
    size_t bytes;      /* item text so far */
    bool scans_done, full, failed, broken;
};

/* The seed's id pattern ^[-_:.~$a-zA-Z0-9]{6,48}$ (primaryId, correlationId). */
static bool seed_id(const char *s, size_t n)
{
    static const char ok[] = "-_:.~$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if (n < 6 || n > 48)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(ok, s[i]))
            return false;
    return true;
}

/* ^[A-Z0-9_]{2,8}$ (institutionId) */
static bool seed_institution(const char *s, size_t n)
{
    if (n < 2 || n > 8)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* Appends ,"name":"value" (or {"name":"value" as the first member) to b[*n..cap): the
 * value escaped; false when it does not fit. */
static bool head_member(char *b, size_t *n, size_t cap, const char *name, const char *v, size_t vlen)
{
    char esc[256];
    size_t el = vlen < sizeof(esc) ? jsonutil_escape(v, esc, sizeof(esc)) : sizeof(esc);
    if (el >= sizeof(esc) || strlen(v) != vlen)
        return false; /* no field of a head is that long, nor holds a NUL */
    int w = snprintf(b + *n, cap - *n, "%c\"%s\":\"%s\"", *n ? ',' : '{', name, esc);
    if (w < 0 || (size_t)w >= cap - *n)
        return false;
    *n += (size_t)w;
    return true;
}

/* The item's fields before data, as "{...," text into b (cap bytes): the text jansson's
 * compact writer made of them, written directly (building and dumping a jansson object
 * per item was three quarters of a page's cost). Ids the seed's patterns do not allow are
 * left out (the payload in data still has them). Its length, 0 when it does not fit. */
static size_t item_head(const struct feed_row *row, const struct event_type *t, char *b, size_t cap)
{
    char id[32], when[TIMEFMT_LEN];
    size_t n = 0;
    snprintf(id, sizeof(id), "evt-%06lld", (long long)row->seq);
    timefmt_rfc3339_ms(row->occurred_ms, when);
    bool ok = head_member(b, &n, cap, "id", id, strlen(id)) &&
              head_member(b, &n, cap, "category", t->category, strlen(t->category)) &&
              head_member(b, &n, cap, "type", t->type, strlen(t->type)) &&
              head_member(b, &n, cap, "occurredAt", when, strlen(when));
    if (ok && row->tracing_id && seed_id(row->tracing_id, strlen(row->tracing_id)))
        ok = head_member(b, &n, cap, "correlationId", row->tracing_id, strlen(row->tracing_id));
    ok = ok && head_member(b, &n, cap, "agentType", "system", 6);
    const char *s;
    size_t sl;
    if (ok && t->primary_id && jsonscan_string(row->payload, row->payload_len, t->primary_id, &s, &sl) &&
        seed_id(s, sl)) {
        char v[64];
        snprintf(v, sizeof(v), "%.*s", (int)sl, s);
        ok = head_member(b, &n, cap, "primaryId", v, sl);
    }
    if (ok && jsonscan_string(row->payload, row->payload_len, "/institutionId", &s, &sl) && seed_institution(s, sl)) {
        char v[16];
        snprintf(v, sizeof(v), "%.*s", (int)sl, s);
        ok = head_member(b, &n, cap, "institutionId", v, sl);
    }
    if (!ok || n + 1 >= cap)
        return 0;
    b[n++] = ',';
    return n;
}

static void span(struct feedpage_end *e, int64_t ms)
{
    if (e->n == 0 || ms < e->min_ms)
        e->min_ms = ms;
    if (e->n == 0 || ms > e->max_ms)
        e->max_ms = ms;
}

/* feed_row_fn: renders the row as an item, unless filtered out or over the budget. */
static enum feed_take take_row(const struct feed_row *row, void *arg)
{
    struct feedpage *p = arg;
    const struct feedpage_filters *f = &p->spec.filters;
    const struct event_type *t = event_type_of(row->source, row->type);
    if (!t) {
        /* a source missing from event_types.c: a bug; skipping it would lose the record
         * for every worker past this watermark, so the page fails instead */
        log_msg(LOG_ERROR, "a stored record has no feed type; the feed page is refused", "source", row->source, NULL);
        p->failed = true;
        return FEED_BACK;
    }
    if (f->match_nothing || (f->has_types && !feedparams_names_has(&f->types, t->type)) ||
        (f->has_categories && !feedparams_names_has(&f->categories, t->category))) {
        p->scanned++;
        return FEED_NEXT; /* passed over; the position moves on */
    }
    char head[HEAD_MAX];
    size_t hl = item_head(row, t, head, sizeof(head)), comma = p->end.n ? 1 : 0;
    if (!hl) {
        p->failed = true;
        return FEED_BACK;
    }
    size_t item = comma + hl + 7 + row->payload_len + 1; /* [,]{...,"data":<payload>} */
    if (p->end.n > 0 && p->bytes + item > p->spec.page_bytes) {
        p->full = true;
        return FEED_BACK; /* the first of the next page */
    }
    bool ok = (!comma || text_add(&p->out, ",", 1)) && text_add(&p->out, head, hl) &&
              text_add(&p->out, "\"data\":", 7) && text_add(&p->out, row->payload, row->payload_len) &&
              text_add(&p->out, "}", 1);
    if (!ok) {
        p->failed = true;
        return FEED_BACK;
    }
    span(&p->end, row->occurred_ms);
    p->end.n++;
    p->bytes += item;
    p->scanned++;
    if (p->end.n >= p->spec.limit) {
        p->full = true;
        return FEED_LAST;
    }
    return p->out.len - p->out.off >= FEEDPAGE_SCAN_BYTES ? FEED_LAST : FEED_NEXT;
}

/* One scan from where the last one stopped. */
static ih_status scan(struct feedpage *p)
{
    size_t left = p->spec.scan_max - p->scanned;
    size_t rows = left < FEEDPAGE_SCAN_ROWS ? left : FEEDPAGE_SCAN_ROWS;
    ih_status rc;
    bool more;
    if (!p->spec.time_order) {
        struct feed_scan_result res;
        rc = feed_scan_commit_order(p->store, p->end.last_pos, rows, take_row, p, &res);
        p->end.last_pos = res.last;
        more = res.more;
    } else {
        struct feed_time_query q = p->spec.time;
        q.has_cursor = p->has_cursor;
        q.cur_ms = p->end.last_ms;
        q.cur_seq = p->end.last_seq;
        struct feed_time_result res;
        size_t before = p->scanned;
        rc = feed_scan_time_order(p->store, &q, rows, take_row, p, &res);
        p->end.last_ms = res.last_ms;
        p->end.last_seq = res.last_seq;
        p->has_cursor = p->has_cursor || p->scanned > before;
        more = res.more;
    }
    if (rc == IH_OK && p->failed)
        rc = IH_EIO;
    if (rc != IH_OK)
        return rc;
    if (p->full || !more || p->scanned >= p->spec.scan_max) {
        p->scans_done = true;
        p->end.more = more;
    }
    return IH_OK;
}

/* "]" and the tail's members. */
static ih_status finish(struct feedpage *p)
{
    char *tail = p->spec.tail(&p->end, p->spec.tail_arg);
    size_t tl = tail ? strlen(tail) : 0;
    bool ok = tail && tl >= 2 && tail[0] == '{' && text_add(&p->out, "]", 1) &&
              (tl == 2 || text_add(&p->out, ",", 1)) && text_add(&p->out, tail + 1, tl - 1);
    free(tail);
    p->stage = ST_DONE;
    return ok ? IH_OK : IH_ENOMEM;
}

/* More text once the client has taken all there was. */
static ih_status advance(struct feedpage *p)
{
    if (p->out.cap > 2 * FEEDPAGE_SCAN_BYTES) { /* after a large item: give it back */
        free(p->out.buf);
        p->out.buf = NULL;
        p->out.cap = 0;
    }
    p->out.len = p->out.off = 0;
    return p->scans_done ? finish(p) : scan(p);
}

ih_status feedpage_open(struct store *s, const struct feedpage_spec *spec, struct feedpage **out)
{
    *out = NULL;
    struct feedpage *p = calloc(1, sizeof(*p));
    if (!p) {
        if (spec->tail_free)
            spec->tail_free(spec->tail_arg);
        return IH_ENOMEM;
    }
    p->store = s;
    p->spec = *spec;
    p->end.last_pos = spec->after;
    p->end.last_seq = spec->time.cur_seq;
    p->end.last_ms = spec->time.cur_ms;
    p->has_cursor = spec->time_order && spec->time.has_cursor;
    ih_status rc = text_add(&p->out, "{\"items\":[", 10) ? scan(p) : IH_ENOMEM;
    if (rc != IH_OK) {
        feedpage_free(p);
        return rc;
    }
    *out = p;
    return IH_OK;
}

long feedpage_read(void *page, char *buf, size_t max)
{
    struct feedpage *p = page;
    while (p->out.off == p->out.len) {
        if (p->broken)
            return -1; /* never an end that looks whole */
        if (p->stage == ST_DONE)
            return 0;
        ih_status rc = advance(p);
        if (rc != IH_OK) {
            p->broken = true;
            metrics_inc(M_FEED_REFUSED, "aborted");
            log_msg(LOG_ERROR, "a feed page could not be read to its end; the connection is closed before it",
                    "error", ih_status_str(rc), NULL);
            return -1;
        }
    }
    size_t n = p->out.len - p->out.off;
    if (n > max)
        n = max;
    if (n > (size_t)LONG_MAX)
        n = (size_t)LONG_MAX;
    memcpy(buf, p->out.buf + p->out.off, n);
    p->out.off += n;
    return (long)n;
}

void feedpage_free(struct feedpage *p)
{
    if (!p)
        return;
    if (p->spec.tail_free)
        p->spec.tail_free(p->spec.tail_arg);
    free(p->out.buf);
    free(p);
}
