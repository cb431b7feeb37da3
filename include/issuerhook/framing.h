/* Strict HTTP/1.1 framing (RFC 9112), checked on a request's head before it is routed,
 * authenticated or its body read. What is refused, and why it matters behind a proxy
 * (request smuggling) or to the router (a path cut short):
 *   - Content-Length and Transfer-Encoding together, two differing Content-Lengths, a
 *     Transfer-Encoding other than "chunked", Transfer-Encoding on HTTP/1.0;
 *   - a NUL, other control byte or space in the request target, or an encoded NUL
 *     (%00) anywhere in it;
 *   - HTTP/1.1 without Host, or with two;
 *   - a field name that is not an RFC 9110 token (e.g. a space before the colon), a
 *     control byte (NUL, bare CR, ...) in a value, folded (obs-fold) lines, bare-LF
 *     line ends, and bytes libmicrohttpd kept out of the strings it hands over.
 *
 * libmicrohttpd 0.9.75 parses the head in place and ends every string at the first
 * NUL, so "X-API-Key: good\0junk" reaches the application as "good". It keeps no note
 * of what it cut, but each field's name and value still point into the received head,
 * in order, and it reports the head's size in bytes: the bytes between one string's
 * end and the next string's start are exactly what each line held beyond its strings.
 * framing_check recovers them and refuses a head whose lines hold anything but the
 * separators (one SP in the request line, the colon and SP/HT after a name, CRLF at
 * each end). The one case that leaves no trace is a NUL just before a bare LF ("\0\n"
 * and "\r\n" both end as two NULs); it hides no byte from the strings.
 *
 * libmicrohttpd from 0.9.76 parses differently and refuses NULs, bare LF (at client
 * discipline 1) and Content-Length with chunked itself; with it the server leaves
 * recover_hidden false and only the checks on the strings apply. */
#ifndef ISSUERHOOK_FRAMING_H
#define ISSUERHOOK_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

struct framing_field {
    const char *name, *value; /* as libmicrohttpd hands them over: into the head */
    size_t name_len, value_len;
};

struct framing_head {
    const char *start; /* the head's first byte: the method */
    size_t size;       /* bytes of request line, fields and the blank line */
    const char *target, *version;
    size_t target_len; /* the target's length as received, before %-decoding */
    bool target_bad;   /* framing_target found a bad byte in it */
    bool recover_hidden; /* laid out as libmicrohttpd 0.9.75 leaves it: look for hidden bytes */
    const struct framing_field *fields;
    size_t nfields;
};

enum framing_result {
    FRAMING_OK,
    FRAMING_LENGTH_AND_CHUNKED, /* "length_and_chunked" */
    FRAMING_LENGTHS_DIFFER,     /* "content_lengths_differ" */
    FRAMING_BAD_CODING,         /* "transfer_coding" */
    FRAMING_BAD_TARGET,         /* "target" */
    FRAMING_HOST,               /* "host" */
    FRAMING_BAD_FIELD,          /* "field" */
    FRAMING_BAD_LINE,           /* "line" */
    FRAMING_TOO_MANY_FIELDS     /* "too_many_fields": more than FRAMING_FIELDS_MAX */
};

#define FRAMING_FIELDS_MAX 100

/* Checks the raw target (as received, before %-decoding; its strlen at that time is
 * target_len). True when it is clean. */
bool framing_target_ok(const char *target);
/* Checks h. FRAMING_OK or the first problem found. */
enum framing_result framing_check(const struct framing_head *h);
/* The metric label of a result ("length_and_chunked", ...). */
const char *framing_reason(enum framing_result r);
/* A sentence for the answer's description. */
const char *framing_message(enum framing_result r);

#endif
