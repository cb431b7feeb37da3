/* The downstream feed for ledger workers, in the Apiture event-history shapes:
 * GET /banking/recentEventHistory (commit order above a watermark),
 * GET /banking/eventHistory (occurredAt order, pages with nextPage_url),
 * GET /banking/eventTypes (every category and type, from event_types.c). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "issuerhook/api.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/event_types.h"
#include "issuerhook/feedpage.h"
#include "issuerhook/feedparams.h"
#include "issuerhook/metrics.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"
#include "issuerhook/timefmt.h"

#define LIMIT_MAX 10000
#define LIMIT_DEFAULT 1000
#define SCAN_MAX 50000 /* rows read per request at most, however selective the filters */
#define HOUR_MS 3600000LL
/* The $id of the schema of a type's data (the seed's Event Type requires one): data is the
 * payload as stored, described in openapi/ledger-feed.yaml under that $id. */
#define FEED_SCHEMA_BASE "https://issuerhook.dev/schemas/feedEvents/"

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
    unsigned long v = n >= 1 && n <= 5 && strspn(s, "0123456789") == n && (n == 1 || s[0] != '0')
                          ? strtoul(s, NULL, 10) : LIMIT_MAX + 1;
    if (v > LIMIT_MAX) {
        bad_param(r, "limit", "must be a whole number from 0 to 10000");
        return false;
    }
    *limit = (size_t)v;
    return true;
}

static bool parse_filters(struct request *r, struct feedpage_filters *f)
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

/* ---- the page, streamed (feedpage.c), one of at most ISSUERHOOK_FEED_READS ---- */

struct stream {
    struct feedpage *page;
    atomic_uint *reads;
};

static long stream_read(void *arg, char *buf, size_t max)
{
    return feedpage_read(((struct stream *)arg)->page, buf, max);
}

static void stream_done(void *arg)
{
    struct stream *st = arg;
    feedpage_free(st->page);
    atomic_fetch_sub(st->reads, 1);
    free(st);
}

/* Reads spec's page and answers it, streamed; or 503 when ISSUERHOOK_FEED_READS pages
 * are being read already, or when the store cannot be read. Takes spec->tail_arg. */
static void serve_page(struct request *r, struct app *app, struct feedpage_spec *spec)
{
    const struct config *cfg = app->cfg;
    struct stream *st = NULL;
    spec->page_bytes = (size_t)cfg->feed_page_bytes;
    if (atomic_fetch_add(&app->feed_reads, 1) >= cfg->feed_reads) {
        atomic_fetch_sub(&app->feed_reads, 1);
        if (spec->tail_free)
            spec->tail_free(spec->tail_arg);
        metrics_inc(M_FEED_REFUSED, "busy");
        request_note(r, "feed_busy");
        respond_unavailable_because(r, DIALECT_APITURE, cfg->retry_after_s,
                                    "more feed pages are being read at once than this service allows "
                                    "(ISSUERHOOK_FEED_READS); retry after the given delay");
        return;
    }
    struct feedpage *page = NULL;
    ih_status rc = feedpage_open(app->store, spec, &page);
    if (rc == IH_OK && !(st = malloc(sizeof(*st))))
        rc = IH_ENOMEM;
    if (rc != IH_OK) {
        feedpage_free(page);
        atomic_fetch_sub(&app->feed_reads, 1);
        metrics_inc(M_FEED_REFUSED, "store");
        respond_read_unavailable(r, DIALECT_APITURE, cfg->retry_after_s);
        return;
    }
    *st = (struct stream){page, &app->feed_reads};
    request_reply_stream(r, 200, "application/json", stream_read, st, stream_done);
}

/* Members every page has after its items: version, and the items' span. */
static void add_span(json_t *body, const struct feedpage_end *e)
{
    char t[TIMEFMT_LEN];
    json_object_set_new(body, "version", json_string("0.1.0"));
    if (!e->n)
        return;
    timefmt_rfc3339_ms(e->min_ms, t);
    json_object_set_new(body, "startsAt", json_string(t));
    timefmt_rfc3339_ms(e->max_ms, t);
    json_object_set_new(body, "endsAt", json_string(t));
}

static char *dump_tail(json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    return text;
}

static char *recent_tail(const struct feedpage_end *e, void *arg)
{
    (void)arg;
    char next[FEED_TOKEN_MAX];
    feedparams_watermark_encode(e->last_pos, next);
    json_t *body = json_object();
    add_span(body, e);
    json_object_set_new(body, "watermark", json_string(next));
    json_object_set_new(body, "hasMore", json_boolean(e->more));
    return dump_tail(body);
}

void feed_recent(struct request *r, struct app *app)
{
    const char *wm = request_query(r, "watermark");
    struct feedpage_spec spec = {.tail = recent_tail};
    if (wm && (strlen(wm) > 256 || !feedparams_watermark_decode(wm, &spec.after) ||
               !feed_pos_valid(app->store, spec.after))) {
        bad_param(r, "watermark", "must be a watermark this service returned");
        return;
    }
    if (!wm)
        spec.after = (struct feed_pos){0, 0}; /* the start of the retained history: a ledger must not miss events */
    if (!parse_limit(r, &spec.limit) || !parse_filters(r, &spec.filters))
        return;
    spec.scan_max = spec.limit ? SCAN_MAX : 0;
    serve_page(r, app, &spec);
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

/* What an eventHistory page's envelope needs from its request. */
struct history_tail {
    char start[FEED_TOKEN_MAX];
    size_t limit;
    char rest[8192]; /* "?&limit=...&occurredAt=...": the next page's parameters after start */
};

static char *history_tail(const struct feedpage_end *e, void *arg)
{
    const struct history_tail *h = arg;
    json_t *body = json_object();
    json_object_set_new(body, "start", json_string(h->start));
    json_object_set_new(body, "limit", json_integer((json_int_t)h->limit));
    if (e->more && h->limit > 0) {
        /* the next page repeats every parameter, with the interval made explicit */
        char url[8300] = "/banking/eventHistory", cur[FEED_TOKEN_MAX];
        feedparams_cursor_encode(e->last_ms, e->last_seq, cur);
        add_query(url, sizeof(url), "start", cur);
        snprintf(url + strlen(url), sizeof(url) - strlen(url), "%s", h->rest + 1);
        json_object_set_new(body, "nextPage_url", json_string(url));
    }
    add_span(body, e);
    return dump_tail(body);
}

/* The parameters of feed_history's next page, but its start. */
static void history_rest(struct request *r, const struct feed_interval *iv, bool desc, struct history_tail *h)
{
    char lim[24], a[TIMEFMT_LEN], b[TIMEFMT_LEN], interval[80];
    snprintf(lim, sizeof(lim), "%zu", h->limit);
    timefmt_rfc3339_ms(iv->from_ms, a);
    timefmt_rfc3339_ms(iv->to_ms, b);
    snprintf(interval, sizeof(interval), "[%s,%s)", iv->has_from ? a : "", iv->has_to ? b : "");
    snprintf(h->rest, sizeof(h->rest), "?");
    add_query(h->rest, sizeof(h->rest), "limit", lim);
    add_query(h->rest, sizeof(h->rest), "occurredAt", interval);
    add_query(h->rest, sizeof(h->rest), "sortBy", desc ? "-occurredAt" : "occurredAt");
    static const char *const keep[] = {"type", "category", "sessionId", "agentId"};
    for (size_t i = 0; i < 4; i++)
        if (request_query(r, keep[i]))
            add_query(h->rest, sizeof(h->rest), keep[i], request_query(r, keep[i]));
}

void feed_history(struct request *r, struct app *app)
{
    struct feedpage_spec spec = {.time_order = true, .tail = history_tail, .tail_free = free};
    struct feed_time_query *q = &spec.time;
    const char *start = request_query(r, "start"), *occ = request_query(r, "occurredAt"),
               *sort = request_query(r, "sortBy");
    if (start && *start && !feedparams_cursor_decode(start, &q->cur_ms, &q->cur_seq)) {
        bad_param(r, "start", "must be a cursor from a nextPage_url of this service");
        return;
    }
    q->has_cursor = start && *start;
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
    q->desc = !sort || sort[0] == '-';
    if (!parse_limit(r, &spec.limit) || !parse_filters(r, &spec.filters))
        return;
    q->has_from = iv.has_from;
    q->has_to = iv.has_to;
    q->from_ms = iv.from_ms;
    q->to_ms = iv.to_ms;
    spec.scan_max = spec.limit ? SCAN_MAX : 0;
    struct history_tail *h = calloc(1, sizeof(*h));
    if (!h) {
        respond_read_unavailable(r, DIALECT_APITURE, app->cfg->retry_after_s);
        return;
    }
    snprintf(h->start, sizeof(h->start), "%s", q->has_cursor ? start : "");
    h->limit = spec.limit;
    history_rest(r, &iv, q->desc, h);
    spec.tail_arg = h;
    serve_page(r, app, &spec);
}

void feed_event_types(struct request *r, struct app *app)
{
    (void)app;
    json_t *items = json_array();
    for (size_t i = 0; i < event_types_count; i++) {
        const struct event_type *t = &event_types[i];
        char schema[128];
        snprintf(schema, sizeof(schema), "%s%s", FEED_SCHEMA_BASE, t->type);
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", t->type, "category", t->category,
                                               "description", t->description, "primaryIdDescription",
                                               t->primary_id_description, "schemaId", schema));
    }
    respond_json(r, 200, json_pack("{s:o, s:b}", "items", items, "eventsEnabled", 1));
}
