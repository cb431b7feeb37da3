/* The feed's query parameters: opaque watermarks and page cursors, the occurredAt
 * interval syntax of the Apiture seed, and pipe-delimited name lists. Hand-written
 * bounded parsers (no library does these); every one rejects what it does not fully
 * understand. */
#ifndef ISSUERHOOK_FEEDPARAMS_H
#define ISSUERHOOK_FEEDPARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issuerhook/feed.h"

#define FEED_TOKEN_MAX 64

/* A watermark is a position in commit order, never a time: "w1.<b, base 36>" for
 * {0, b} (SQLite's positions), "w2.<a>.<b>" when a > 0. */
void feedparams_watermark_encode(struct feed_pos p, char out[FEED_TOKEN_MAX]);
/* "" is {0, 0} (the start of the retained history). */
bool feedparams_watermark_decode(const char *s, struct feed_pos *p);

/* An eventHistory page cursor: the sort key of the next item ("c1.<ms>.<seq>"). */
void feedparams_cursor_encode(int64_t occurred_ms, int64_t seq, char out[FEED_TOKEN_MAX]);
bool feedparams_cursor_decode(const char *s, int64_t *occurred_ms, int64_t *seq);

/* occurredAt: "[a,b)", "(a,b]", "[a,b]", "(a,b)"; a and b are YYYY-MM-DD (UTC days) or
 * RFC 3339 UTC date-times; either may be empty for an open end. Normalised to the
 * half-open [from_ms, to_ms). */
struct feed_interval {
    bool has_from, has_to;
    int64_t from_ms, to_ms;
};
bool feedparams_interval_parse(const char *s, struct feed_interval *out);

/* A pipe-delimited list of lowerCamelCase names ("^[a-z][a-zA-Z0-9]{min-1,max-1}$"),
 * unique, 1 to max_items of them. */
#define FEED_NAMES_MAX 32
#define FEED_NAME_LEN 48
struct feed_names {
    char v[FEED_NAMES_MAX][FEED_NAME_LEN + 1];
    size_t n;
};
bool feedparams_names_parse(const char *s, size_t max_items, size_t min_len, size_t max_len, struct feed_names *out);
bool feedparams_names_has(const struct feed_names *names, const char *name);

#endif
