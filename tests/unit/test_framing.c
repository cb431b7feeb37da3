/* Unit tests of strict framing (include/issuerhook/framing.h). Each head is first
 * taken apart the way libmicrohttpd 0.9.75 does it in place (parse() below mirrors
 * get_next_header_line, parse_initial_message_line and process_header_line of its
 * connection.c): line ends become NULs, the separators become NULs, every string
 * ends at the first NUL. What framing_check then sees is what the server sees. */
#include "testutil.h"

#include "issuerhook/framing.h"

struct parsed {
    char buf[2048];
    struct framing_field fields[FRAMING_FIELDS_MAX + 2];
    struct framing_head h;
};

/* The next line from p (CRLF, or a bare LF), its end replaced with NULs; *len: its
 * bytes before the end. */
static char *next_line(char **p, char *end, size_t *len)
{
    for (char *q = *p; q < end; q++) {
        bool crlf = q[0] == '\r' && q + 1 < end && q[1] == '\n';
        if (!crlf && q[0] != '\n')
            continue;
        char *line = *p;
        *len = (size_t)(q - line);
        q[0] = '\0';
        if (crlf)
            q[1] = '\0';
        *p = q + (crlf ? 2 : 1);
        return line;
    }
    return NULL;
}

static struct parsed *parse(const char *raw, size_t len)
{
    static struct parsed P;
    memset(&P, 0, sizeof(P));
    assert_true(len < sizeof(P.buf));
    memcpy(P.buf, raw, len);
    char *p = P.buf, *end = P.buf + len;
    size_t line_len;
    char *line = next_line(&p, end, &line_len);
    assert_non_null(line);
    char *sp = memchr(line, ' ', line_len);
    assert_non_null(sp);
    *sp = '\0';
    char *uri = sp + 1;
    while (*uri == ' ' && (size_t)(uri - line) < line_len)
        uri++;
    char *ver = line + line_len - 1;
    while (*ver == ' ' && ver > uri)
        ver--;
    while (*ver != ' ' && ver > uri)
        ver--;
    assert_true(ver > uri);
    *ver = '\0';
    P.h.start = line;
    P.h.target = uri;
    P.h.target_len = strlen(uri);
    P.h.target_bad = !framing_target_ok(uri);
    P.h.version = ver + 1;
    for (;;) {
        size_t unused;
        char *l = next_line(&p, end, &unused);
        assert_non_null(l);
        if (*l == '\0')
            break;
        char *colon = strchr(l, ':');
        assert_non_null(colon);
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        P.fields[P.h.nfields++] = (struct framing_field){l, v, strlen(l), strlen(v)};
    }
    P.h.size = (size_t)(p - P.buf);
    P.h.fields = P.fields;
    P.h.recover_hidden = true;
    return &P;
}

#define PARSE(raw) parse((raw), sizeof(raw) - 1)
#define CHECK(raw) framing_check(&PARSE(raw)->h)

static void test_clean_requests_pass(void **state)
{
    (void)state;
    assert_int_equal(CHECK("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_OK);
    assert_int_equal(CHECK("POST /events?a=%41 HTTP/1.1\r\nHost: h:8080\r\nContent-Type: application/json\r\n"
                           "Content-Length: 12\r\nX-API-Key:\tk\r\nX-Empty:\r\nX-Trail: v  \r\n\r\n"),
                     FRAMING_OK);
    assert_int_equal(CHECK("GET / HTTP/1.0\r\n\r\n"), FRAMING_OK); /* HTTP/1.0 needs no Host */
    assert_int_equal(CHECK("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"), FRAMING_OK);
    assert_int_equal(CHECK("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\ncontent-length: 5 \r\n\r\n"),
                     FRAMING_OK);
}

static void test_message_length_rules(void **state)
{
    (void)state;
    assert_int_equal(CHECK("POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
                     FRAMING_LENGTH_AND_CHUNKED);
    assert_int_equal(CHECK("POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"),
                     FRAMING_LENGTH_AND_CHUNKED);
    assert_int_equal(CHECK("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n"),
                     FRAMING_LENGTHS_DIFFER);
    assert_int_equal(CHECK("POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
                     FRAMING_BAD_CODING);
    assert_int_equal(CHECK("POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
                     FRAMING_BAD_CODING);
    assert_int_equal(CHECK("POST /e HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), FRAMING_BAD_CODING);
}

static void test_host(void **state)
{
    (void)state;
    assert_int_equal(CHECK("GET /health HTTP/1.1\r\n\r\n"), FRAMING_HOST);
    assert_int_equal(CHECK("GET /health HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), FRAMING_HOST);
    assert_int_equal(CHECK("GET /health HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), FRAMING_HOST);
}

static void test_target(void **state)
{
    (void)state;
    /* %00 cuts the decoded path: /banking/recentEventHistory would answer */
    assert_int_equal(CHECK("GET /banking/recentEventHistory%00.css HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_BAD_TARGET);
    assert_int_equal(CHECK("POST /events%00/../x HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_BAD_TARGET);
    assert_int_equal(CHECK("GET /feed?cursor=a%00b HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_BAD_TARGET);
    /* a raw NUL: the target's string ends early, the version is further on */
    assert_int_equal(CHECK("GET /he\0alth HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_BAD_TARGET);
    assert_int_equal(CHECK("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_BAD_TARGET);
    assert_int_equal(CHECK("GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_BAD_TARGET);
    assert_int_equal(CHECK("GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_BAD_TARGET);
    assert_true(framing_target_ok("/bookings/B-1?status=pending&x=%2F%41"));
    assert_false(framing_target_ok("/x%00"));
}

static void test_request_line(void **state)
{
    (void)state;
    assert_int_equal(CHECK("GET  /health HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_BAD_LINE); /* two spaces */
    assert_int_equal(CHECK("GET /health HTTP/1.1\nHost: x\r\n\r\n"), FRAMING_BAD_LINE);   /* bare LF */
    assert_int_equal(CHECK("GET /health HTTP/1.1\r\nHost: x\n\n"), FRAMING_BAD_LINE);
    assert_int_equal(CHECK("G(T /health HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_BAD_LINE);  /* method not a token */
}

static void test_fields(void **state)
{
    (void)state;
    /* a NUL in a value: the string is "good", the rest would vanish */
    assert_int_equal(CHECK("GET /h HTTP/1.1\r\nHost: x\r\nX-API-Key: good\0junk\r\n\r\n"), FRAMING_BAD_FIELD);
    assert_int_equal(CHECK("GET /h HTTP/1.1\r\nX-API-Key: good\0junk\r\nHost: x\r\n\r\n"), FRAMING_BAD_FIELD);
    assert_int_equal(CHECK("GET /h HTTP/1.1\r\nHost: x\r\nX-A: ab\0\r\n\r\n"), FRAMING_BAD_FIELD);
    assert_int_equal(CHECK("GET /h HTTP/1.1\r\nHost: x\0y\r\nX: 1\r\n\r\n"), FRAMING_BAD_FIELD);
    /* a NUL right after the colon: the value is empty, its bytes are not */
    assert_int_equal(CHECK("GET /h HTTP/1.1\r\nX:\0 hidden\r\nHost: x\r\n\r\n"), FRAMING_BAD_FIELD);
    /* a space before the colon: "Content-Length " is not Content-Length */
    assert_int_equal(CHECK("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n"), FRAMING_BAD_FIELD);
    assert_int_equal(CHECK("GET /h HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"), FRAMING_BAD_FIELD); /* bare CR */
    assert_int_equal(CHECK("GET /h HTTP/1.1\r\nHost: x\r\nX-A: a\x01\r\n\r\n"), FRAMING_BAD_FIELD);
}

static void test_too_many_fields(void **state)
{
    (void)state;
    static char raw[1800];
    size_t n = (size_t)snprintf(raw, sizeof(raw), "GET /h HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < FRAMING_FIELDS_MAX; i++)
        n += (size_t)snprintf(raw + n, sizeof(raw) - n, "A%d:1\r\n", i);
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "\r\n");
    assert_int_equal(framing_check(&parse(raw, n)->h), FRAMING_TOO_MANY_FIELDS);
}

/* What a layout this module does not expect (a future libmicrohttpd) gives: a refusal,
 * never a pass. */
static void test_unexpected_layout_is_refused(void **state)
{
    (void)state;
    struct parsed *p = PARSE("GET /h HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\n");
    assert_int_equal(framing_check(&p->h), FRAMING_OK);
    struct framing_field f[2] = {p->fields[1], p->fields[0]}; /* out of order */
    p->h.fields = f;
    assert_int_not_equal(framing_check(&p->h), FRAMING_OK);
    p->h.fields = p->fields;
    p->h.size -= 1;
    assert_int_not_equal(framing_check(&p->h), FRAMING_OK);
    p->h.size = 0;
    assert_int_equal(framing_check(&p->h), FRAMING_BAD_LINE);
}

/* Without the layout (a libmicrohttpd that refuses hidden bytes itself), the rules on
 * the strings still hold; bytes hidden behind a NUL are not looked for. */
static void test_strings_only(void **state)
{
    (void)state;
    struct parsed *p = PARSE("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    p->h.recover_hidden = false;
    assert_int_equal(framing_check(&p->h), FRAMING_LENGTH_AND_CHUNKED);
    p = PARSE("GET /h HTTP/1.1\r\nHost: x\r\nX-A: good\0junk\r\n\r\n");
    p->h.recover_hidden = false;
    assert_int_equal(framing_check(&p->h), FRAMING_OK);
    p->h.recover_hidden = true;
    assert_int_equal(framing_check(&p->h), FRAMING_BAD_FIELD);
    p = PARSE("GET /h%00 HTTP/1.1\r\nHost: x\r\n\r\n");
    p->h.recover_hidden = false;
    assert_int_equal(framing_check(&p->h), FRAMING_BAD_TARGET);
    p = PARSE("GET /h HTTP/1.1\r\nContent-Length : 1\r\n\r\n");
    p->h.recover_hidden = false;
    assert_int_equal(framing_check(&p->h), FRAMING_BAD_FIELD);
}

static void test_reasons_and_messages(void **state)
{
    (void)state;
    for (int r = FRAMING_OK; r <= FRAMING_TOO_MANY_FIELDS; r++) {
        assert_non_null(framing_reason((enum framing_result)r));
        assert_non_null(framing_message((enum framing_result)r));
    }
    assert_string_equal(framing_reason(FRAMING_LENGTH_AND_CHUNKED), "length_and_chunked");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_requests_pass),
        cmocka_unit_test(test_message_length_rules),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_unexpected_layout_is_refused),
        cmocka_unit_test(test_strings_only),
        cmocka_unit_test(test_reasons_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
