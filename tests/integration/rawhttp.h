/* Raw TCP for the tests that attack the HTTP edge: bytes no HTTP client would send,
 * half-sent requests, many idle connections, a chosen source address. */
#ifndef IH_TEST_RAWHTTP_H
#define IH_TEST_RAWHTTP_H

#include <stdbool.h>
#include <stddef.h>

/* A TCP connection to 127.0.0.1:port from source (e.g. "127.0.0.2"; NULL: any).
 * -1 on error. */
int raw_connect(int port, const char *source);
/* Sends len bytes; false on error. */
bool raw_send(int fd, const void *data, size_t len);

struct raw_resp {
    char buf[65536];
    size_t len;
    bool closed;  /* the server closed the connection (EOF or reset) within the wait */
    int status;   /* of the first response, 0 if none */
    long content_length; /* of the first response, -1 if none */
    size_t head_len;     /* bytes of the first response's head (status line to blank line) */
};

/* Reads what arrives within ms milliseconds, or until the server closes. */
void raw_read(int fd, int ms, struct raw_resp *out);
/* raw_connect + raw_send + raw_read + close. False if it could not connect or send. */
bool raw_exchange(int port, const char *source, const void *req, size_t len, int ms, struct raw_resp *out);
/* Whether the first response's head has this header line (case-insensitive name). */
bool raw_has_header(const struct raw_resp *r, const char *name, const char *value);
/* The first response's body (after its head), or "" . */
const char *raw_body(const struct raw_resp *r);

#endif
