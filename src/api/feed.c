/* The downstream feed for ledger workers, in the Apiture event-history shapes:
 * GET /banking/recentEventHistory (commit order above a watermark),
 * GET /banking/eventHistory (occurredAt order, pages with nextPage_url),
 * GET /banking/eventTypes (every category and type, from event_types.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "issuerhook/api.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/event_types.h"
#include "issuerhook/feed.h"
#include "issuerhook/feedparams.h"
#include "issuerhook/log.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"
#include "issuerhook/timefmt.h"

#define LIMIT_MAX 10000
#define LIMIT_DEFAULT 1000
#define SCAN_MAX 50000 /* rows read per request at most, however selective the filters */
#define HOUR_MS 3600000LL

struct filters {
    struct feed_names types, categories;
    bool has_types, has_categories, match_nothing;
};

/* The items' JSON text, built as rows arrive: the stored payload (already canonical
 * JSON) is copied in as "data", never held as a tree, so a 10,000-item page costs its
 * text and one item's parse at a time. Grows up to a ceiling. */
#define ITEMS_TEXT_MAX (256u << 20)
struct text {
    char *buf;
    size_t len, cap;
};

static bool text_add(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 65536;
        while (cap < t->len + n + 1)
            cap *= 2;
        if (cap > ITEMS_TEXT_MAX)
            return false;
        char *nb = realloc(t->buf, cap);
        if (!nb)
            return false;
        t->buf = nb;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
    return true;
}

struct collect {
    const struct filters *f;
    struct text items; /* "item,item,..." */
    size_t limit, n;
    int64_t min_ms, max_ms;
    bool failed; /* a record could not be turned into an item: the page must not be served */
};

static void bad_param(struct request *r, const char *name, const char *why)
{
    char detail[256];
    snprintf(detail, sizeof(detail), "the query parameter %s is not valid: %s", name, why);
    respond_error(r, DIALECT_APITURE, 400, "Bad Request", detail, NULL);
}

static bool parse_limit(struct request *r, size_t *limit)
{
    const char *s = request_query(r, "limit");
    *limit = LIMIT_DEFAULT;
    if (!s)
        return true;
    size_t n = strlen(s);
    if (n == 0 || n > 5 || strspn(s, "0123456789") != n || (n > 1 && s[0] == '0') || atol(s) > LIMIT_MAX) {
        bad_param(r, "limit", "must be a whole number from 0 to 10000");
        return false;
    }
    *limit = (size_t)atol(s);
    return true;
}

static bool parse_filters(struct request *r, struct filters *f)
{
    const char *t = request_query(r, "type"), *c = request_query(r, "category");
    memset(f, 0, sizeof(*f));
    if (t && !(f->has_types = feedparams_names_parse(t, 32, 4, 48, &f->types))) {
        bad_param(r, "type", "must be 1 to 32 unique lowerCamelCase type names (4-48 characters) separated by |");
        return false;
    }
    if (c && !(f->has_categories = feedparams_names_parse(c, 16, 4, 40, &f->categories))) {
        bad_param(r, "category", "must be 1 to 16 unique lowerCamelCase category names (4-40 characters) separated by |");
        return false;
    }
    /* no stored event has a session or an agent id: such a filter selects nothing */
    static const char *const none[] = {"sessionId", "agentId"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = request_query(r, none[i]);
        if (v) {
            size_t n = strlen(v);
            if (n < 6 || n > 48 * 16 + 15 || strspn(v, "-_:.~$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789|") != n) {
                bad_param(r, none[i], "must be ids of 6-48 of [-_:.~$a-zA-Z0-9] separated by |");
                return false;
            }
            f->match_nothing = true;
        }
    }
    return true;
}

/* A JSON Pointer of one or two members into the payload. */
static const char *pointer_string(const json_t *data, const char *ptr)
{
    char a[64], b[64];
    if (!ptr)
        return NULL;
    int n = sscanf(ptr, "/%63[^/]/%63s", a, b);
    const json_t *v = n >= 1 ? json_object_get(data, a) : NULL;
    if (n == 2)
        v = json_object_get(v, b);
    return json_string_value(v);
}

/* Appends one event item: its fields, then the stored payload verbatim as data. */
static bool append_item(struct text *out, const struct feed_row *row, const struct event_type *t, bool first)
{
    char id[32], when[TIMEFMT_LEN];
    snprintf(id, sizeof(id), "evt-%06lld", (long long)row->seq);
    timefmt_rfc3339_ms(row->occurred_ms, when);
    json_t *data = json_loads(row->payload, JSON_DECODE_ANY, NULL); /* only for primaryId and institutionId */
    json_t *it = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "category", t->category, "type", t->type,
                           "occurredAt", when, "correlationId", row->tracing_id ? row->tracing_id : "", "agentType",
                           "system");
    bool ok = false;
    if (it && data) {
        const char *primary = pointer_string(data, t->primary_id);
        if (primary)
            json_object_set_new(it, "primaryId", json_string(primary));
        const char *institution = json_string_value(json_object_get(data, "institutionId"));
        if (institution)
            json_object_set_new(it, "institutionId", json_string(institution));
        char *head = json_dumps(it, JSON_COMPACT | JSON_PRESERVE_ORDER);
        size_t hl = head ? strlen(head) : 0;
        ok = head && hl >= 2 && (first || text_add(out, ",", 1)) && text_add(out, head, hl - 1) &&
             text_add(out, ",\"data\":", 8) && text_add(out, row->payload, strlen(row->payload)) &&
             text_add(out, "}", 1);
        free(head);
    }
    json_decref(it);
    json_decref(data);
    return ok;
}

/* {"items":[<items>], <the envelope's members>} as the answer. Takes env. */
static void respond_page(struct request *r, struct collect *c, json_t *env, unsigned retry_after_s)
{
    char *rest = env ? json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(env);
    struct text body = {0};
    bool ok = rest && text_add(&body, "{\"items\":[", 10) && (!c->items.len || text_add(&body, c->items.buf, c->items.len)) &&
              text_add(&body, "]", 1) && (strlen(rest) <= 2 || (text_add(&body, ",", 1) && text_add(&body, rest + 1, strlen(rest) - 1)));
    free(rest);
    free(c->items.buf);
    c->items.buf = NULL;
    if (!ok) {
        free(body.buf);
        respond_read_unavailable(r, DIALECT_APITURE, retry_after_s);
        return;
    }
    request_reply(r, 200, "application/json", body.buf, body.len);
}

static bool collect_row(const struct feed_row *row, void *arg)
{
    struct collect *c = arg;
    const struct event_type *t = event_type_of(row->source, row->type);
    if (!t) {
        /* a source missing from event_types.c: a bug; skipping it would lose the record
         * for every worker past this watermark, so the page fails instead */
        log_msg(LOG_ERROR, "a stored record has no feed type; the feed page is refused", "source", row->source, NULL);
        c->failed = true;
        return false;
    }
    if (c->f->match_nothing || (c->f->has_types && !feedparams_names_has(&c->f->types, t->type)) ||
        (c->f->has_categories && !feedparams_names_has(&c->f->categories, t->category)))
        return true; /* passed over; the scan goes on */
    if (!append_item(&c->items, row, t, c->n == 0)) {
        c->failed = true;
        return false;
    }
    {
        if (c->n == 0 || row->occurred_ms < c->min_ms)
            c->min_ms = row->occurred_ms;
        if (c->n == 0 || row->occurred_ms > c->max_ms)
            c->max_ms = row->occurred_ms;
        c->n++;
    }
    return c->n < c->limit;
}

static void add_span(json_t *body, const struct collect *c)
{
    char t[TIMEFMT_LEN];
    json_object_set_new(body, "version", json_string("0.1.0"));
    if (!c->n)
        return;
    timefmt_rfc3339_ms(c->min_ms, t);
    json_object_set_new(body, "startsAt", json_string(t));
    timefmt_rfc3339_ms(c->max_ms, t);
    json_object_set_new(body, "endsAt", json_string(t));
}

void feed_recent(struct request *r, struct app *app)
{
    const char *wm = request_query(r, "watermark");
    int64_t after;
    size_t limit;
    struct filters f;
    if (wm && (strlen(wm) > 256 || !feedparams_watermark_decode(wm, &after))) {
        bad_param(r, "watermark", "must be a watermark this service returned");
        return;
    }
    if (!wm)
        after = 0; /* the start of the retained history: a ledger must not miss events */
    if (!parse_limit(r, &limit) || !parse_filters(r, &f))
        return;
    struct collect c = {.f = &f, .limit = limit};
    struct feed_scan_result res;
    ih_status rc = feed_scan_commit_order(app->db, after, limit ? SCAN_MAX : 0, collect_row, &c, &res);
    if (rc != IH_OK || c.failed) {
        free(c.items.buf);
        respond_read_unavailable(r, DIALECT_APITURE, app->cfg->retry_after_s);
        return;
    }
    char next[FEED_TOKEN_MAX];
    feedparams_watermark_encode(res.last_seq, next);
    json_t *body = json_object();
    add_span(body, &c);
    json_object_set_new(body, "watermark", json_string(next));
    json_object_set_new(body, "hasMore", json_boolean(res.more));
    respond_page(r, &c, body, app->cfg->retry_after_s);
}

/* Appends "&name=<percent-encoded value>" (RFC 3986 unreserved characters kept). */
static void add_query(char *url, size_t cap, const char *name, const char *value)
{
    size_t n = strlen(url);
    n += (size_t)snprintf(url + n, cap > n ? cap - n : 0, "%s%s=", strchr(url, '?') ? "&" : "?", name);
    for (const unsigned char *p = (const unsigned char *)value; *p && n + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            url[n++] = (char)*p;
        else
            n += (size_t)snprintf(url + n, cap - n, "%%%02X", *p);
    }
    url[n < cap ? n : cap - 1] = '\0';
}

void feed_history(struct request *r, struct app *app)
{
    size_t limit;
    struct filters f;
    struct feed_time_query q = {.desc = true};
    const char *start = request_query(r, "start"), *occ = request_query(r, "occurredAt"),
               *sort = request_query(r, "sortBy");
    if (start && *start && !feedparams_cursor_decode(start, &q.cur_ms, &q.cur_seq)) {
        bad_param(r, "start", "must be a cursor from a nextPage_url of this service");
        return;
    }
    q.has_cursor = start && *start;
    struct feed_interval iv;
    if (occ && !feedparams_interval_parse(occ, &iv)) {
        bad_param(r, "occurredAt",
                  "must be an interval such as [2023-05-01,2023-06-01) of dates or RFC 3339 UTC date-times");
        return;
    }
    if (!occ) { /* the seed's default: the past hour */
        iv = (struct feed_interval){.has_from = true, .has_to = true, .to_ms = timefmt_now_ms() + 1};
        iv.from_ms = iv.to_ms - HOUR_MS;
    }
    if (sort && strcmp(sort, "occurredAt") && strcmp(sort, "-occurredAt")) {
        bad_param(r, "sortBy", "must be occurredAt or -occurredAt");
        return;
    }
    q.desc = !sort || sort[0] == '-';
    if (!parse_limit(r, &limit) || !parse_filters(r, &f))
        return;
    q.has_from = iv.has_from;
    q.has_to = iv.has_to;
    q.from_ms = iv.from_ms;
    q.to_ms = iv.to_ms;
    struct collect c = {.f = &f, .limit = limit};
    struct feed_time_result res;
    ih_status rc = feed_scan_time_order(app->db, &q, limit ? SCAN_MAX : 0, collect_row, &c, &res);
    if (rc != IH_OK || c.failed) {
        free(c.items.buf);
        respond_read_unavailable(r, DIALECT_APITURE, app->cfg->retry_after_s);
        return;
    }
    json_t *body = json_object();
    json_object_set_new(body, "start", json_string(start ? start : ""));
    json_object_set_new(body, "limit", json_integer((json_int_t)limit));
    if (res.more && limit > 0) {
        /* the next page repeats every parameter, with the interval made explicit */
        char url[8192] = "/banking/eventHistory", cur[FEED_TOKEN_MAX], lim[24], a[TIMEFMT_LEN], b[TIMEFMT_LEN],
             interval[80];
        feedparams_cursor_encode(res.last_ms, res.last_seq, cur);
        snprintf(lim, sizeof(lim), "%zu", limit);
        timefmt_rfc3339_ms(iv.from_ms, a);
        timefmt_rfc3339_ms(iv.to_ms, b);
        snprintf(interval, sizeof(interval), "[%s,%s)", iv.has_from ? a : "", iv.has_to ? b : "");
        add_query(url, sizeof(url), "start", cur);
        add_query(url, sizeof(url), "limit", lim);
        add_query(url, sizeof(url), "occurredAt", interval);
        add_query(url, sizeof(url), "sortBy", q.desc ? "-occurredAt" : "occurredAt");
        static const char *const keep[] = {"type", "category", "sessionId", "agentId"};
        for (size_t i = 0; i < 4; i++)
            if (request_query(r, keep[i]))
                add_query(url, sizeof(url), keep[i], request_query(r, keep[i]));
        json_object_set_new(body, "nextPage_url", json_string(url));
    }
    add_span(body, &c);
    respond_page(r, &c, body, app->cfg->retry_after_s);
}

void feed_event_types(struct request *r, struct app *app)
{
    (void)app;
    json_t *items = json_array();
    for (size_t i = 0; i < event_types_count; i++) {
        const struct event_type *t = &event_types[i];
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s}", "type", t->type, "category", t->category,
                                               "description", t->description, "primaryIdDescription",
                                               t->primary_id_description));
    }
    respond_json(r, 200, json_pack("{s:o, s:b}", "items", items, "eventsEnabled", 1));
}
