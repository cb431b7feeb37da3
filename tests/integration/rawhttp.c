#include "rawhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int raw_connect(int port, const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (source) {
        struct sockaddr_in s = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, source, &s.sin_addr) != 1 || bind(fd, (struct sockaddr *)&s, sizeof(s)) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool raw_send(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void parse_first(struct raw_resp *r)
{
    r->status = 0;
    r->content_length = -1;
    r->head_len = 0;
    if (r->len < 12 || strncmp(r->buf, "HTTP/1.", 7) != 0)
        return;
    r->status = (int)strtol(r->buf + 9, NULL, 10);
    const char *end = strstr(r->buf, "\r\n\r\n");
    if (!end)
        return;
    r->head_len = (size_t)(end - r->buf) + 4;
    for (const char *l = strstr(r->buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
            r->content_length = strtol(l + 17, NULL, 10);
}

void raw_read(int fd, int ms, struct raw_resp *out)
{
    out->len = 0;
    out->closed = false;
    int64_t until = now_ms() + ms;
    while (out->len < sizeof(out->buf) - 1) {
        int left = (int)(until - now_ms());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) != 1)
            break;
        ssize_t n = recv(fd, out->buf + out->len, sizeof(out->buf) - 1 - out->len, 0);
        if (n <= 0) {
            out->closed = n == 0 || errno == ECONNRESET;
            break;
        }
        out->len += (size_t)n;
    }
    out->buf[out->len] = '\0';
    parse_first(out);
}

bool raw_exchange(int port, const char *source, const void *req, size_t len, int ms, struct raw_resp *out)
{
    int fd = raw_connect(port, source);
    if (fd < 0)
        return false;
    bool ok = raw_send(fd, req, len);
    if (ok)
        raw_read(fd, ms, out);
    close(fd);
    return ok;
}

bool raw_has_header(const struct raw_resp *r, const char *name, const char *value)
{
    char want[256];
    snprintf(want, sizeof(want), "\r\n%s: %s\r\n", name, value);
    size_t wl = strlen(want);
    for (size_t i = 0; r->head_len && i + wl <= r->head_len; i++)
        if (strncasecmp(r->buf + i, want, wl) == 0)
            return true;
    return false;
}

const char *raw_body(const struct raw_resp *r)
{
    return r->head_len ? r->buf + r->head_len : "";
}
