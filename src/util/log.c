/* JSON-lines logger. Each line is assembled in a bounded stack buffer and written
 * whole (with one write(2), or through logbuf.c while the daemon serves); fields that
 * would overflow the line are cut, never the JSON. */
#include "issuerhook/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/jsonutil.h"
#include "logbuf.h"

#define LINE_MAX_BYTES 2048

static _Atomic int g_min = LOG_INFO;
static _Atomic bool g_json = true;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_configure(enum log_level min, bool json)
{
    atomic_store(&g_min, (int)min);
    atomic_store(&g_json, json);
}

bool log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
    bool json;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (n > sizeof(l->buf) - 2 - l->len) /* keep room for '}' and '\n' */
        n = sizeof(l->buf) - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_str(struct line *l, const char *s)
{
    char esc[512];
    size_t need = jsonutil_escape(s ? s : "", esc, sizeof(esc));
    if (l->json)
        put(l, "\"", 1);
    put(l, esc, need < sizeof(esc) ? need : sizeof(esc) - 1);
    if (l->json)
        put(l, "\"", 1);
}

static void put_field(struct line *l, const char *k, const char *v)
{
    put(l, l->json ? "," : " ", 1);
    if (l->json) {
        put_str(l, k);
        put(l, ":", 1);
    } else {
        put(l, k, strlen(k));
        put(l, "=", 1);
    }
    put_str(l, v);
}

static void put_raw_field(struct line *l, const char *k, const char *raw)
{
    put(l, l->json ? "," : " ", 1);
    if (l->json) {
        put_str(l, k);
        put(l, ":", 1);
    } else {
        put(l, k, strlen(k));
        put(l, "=", 1);
    }
    put(l, raw, strlen(raw));
}

/* Decimal digits of v into out (no NUL); their count. */
static size_t put_digits(char *out, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* The line's time, UTC to the millisecond: "2026-12-03T11:18:40.123Z". The part up to
 * the second is formatted once a second a thread (gmtime_r and strftime were a tenth of
 * an access line). */
static void timestamp(char out[40])
{
    static _Thread_local time_t t_sec = (time_t)-1;
    static _Thread_local char t_prefix[32];
    static _Thread_local size_t t_len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != t_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        t_len = strftime(t_prefix, sizeof(t_prefix), "%Y-%m-%dT%H:%M:%S", &tm);
        t_sec = ts.tv_sec;
    }
    long ms = ts.tv_nsec / 1000000;
    memcpy(out, t_prefix, t_len);
    out[t_len] = '.';
    out[t_len + 1] = (char)('0' + ms / 100);
    out[t_len + 2] = (char)('0' + ms / 10 % 10);
    out[t_len + 3] = (char)('0' + ms % 10);
    out[t_len + 4] = 'Z';
    out[t_len + 5] = '\0';
}

static void begin(struct line *l, enum log_level lvl, const char *msg)
{
    char tbuf[40];
    timestamp(tbuf);
    l->len = 0;
    l->json = atomic_load(&g_json);
    if (l->json) {
        put(l, "{\"ts\":", 6);
        put_str(l, tbuf);
        put(l, ",\"level\":", 9);
        put_str(l, level_names[lvl]);
        put(l, ",\"msg\":", 7);
        put_str(l, msg);
    } else {
        put(l, tbuf, strlen(tbuf));
        put(l, " ", 1);
        put(l, level_names[lvl], strlen(level_names[lvl]));
        put(l, " msg=", 5);
        put_str(l, msg);
    }
}

static void finish(struct line *l, enum log_level lvl)
{
    if (l->json)
        l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    if (logbuf_put(l->buf, l->len, lvl >= LOG_WARN))
        return;
    ssize_t w = write(STDERR_FILENO, l->buf, l->len);
    (void)w; /* nowhere left to report a failed log write */
}

static void vlog(enum log_level lvl, const char *err, const char *msg, va_list ap)
{
    if ((int)lvl < atomic_load(&g_min))
        return;
    struct line l;
    begin(&l, lvl, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        put_field(&l, k, va_arg(ap, const char *));
    }
    if (err)
        put_field(&l, "error", err);
    finish(&l, lvl);
}

void log_msg(enum log_level lvl, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    vlog(lvl, NULL, msg, ap);
    va_end(ap);
}

void log_errno(enum log_level lvl, const char *msg, ...)
{
    char ebuf[128];
    int saved = errno;
    const char *e = strerror_r(saved, ebuf, sizeof(ebuf));
    va_list ap;
    va_start(ap, msg);
    vlog(lvl, e, msg, ap);
    va_end(ap);
}

void log_request(const struct log_request *r)
{
    if (LOG_INFO < atomic_load(&g_min))
        return;
    struct line l;
    char num[32];
    begin(&l, LOG_INFO, "request");
    put_field(&l, "tracing_id", r->tracing_id);
    put_field(&l, "method", r->method);
    put_field(&l, "route", r->route);
    num[put_digits(num, r->status)] = '\0';
    put_raw_field(&l, "status", num);
    if (r->latency_ms >= 0 && r->latency_ms < 1e9) { /* to the microsecond, as %.3f, without printf */
        unsigned long long us = (unsigned long long)(r->latency_ms * 1000.0 + 0.5);
        size_t n = put_digits(num, us / 1000);
        num[n] = '.';
        num[n + 1] = (char)('0' + us % 1000 / 100);
        num[n + 2] = (char)('0' + us % 100 / 10);
        num[n + 3] = (char)('0' + us % 10);
        num[n + 4] = '\0';
    } else {
        snprintf(num, sizeof(num), "%.3f", r->latency_ms);
    }
    put_raw_field(&l, "latency_ms", num);
    if (r->principal)
        put_field(&l, "principal", r->principal);
    if (r->note)
        put_field(&l, "note", r->note);
    finish(&l, LOG_INFO);
}
