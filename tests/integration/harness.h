/* Integration test harness: starts the real issuerhookd on a free loopback port with
 * a temporary database, talks to it over HTTP with libcurl, reads its database. */
#ifndef IH_TEST_HARNESS_H
#define IH_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "issuerhook/feedparams.h"

/* The secrets of the keys every test daemon is configured with. */
#define KEY_FULL "test-key-full"       /* amiko:events */
#define KEY_READ "test-key-read-only"  /* ledger:read */

struct daemon {
    pid_t pid;
    int port;
    char dir[256];  /* temporary folder: database, log */
    char db[320];
    char log[320];
    const char *extra_env[16]; /* "KEY=VALUE", NULL-terminated */
    const char *config;        /* passed as --config when set */
    /* HTTPS: the CA that issued the daemon's certificate (https:// when set), and the
     * client certificate and key the requests present (none when NULL) */
    const char *https_ca, *client_cert, *client_key;
};

/* Creates the folder (once) and starts the daemon; waits until /health answers. */
bool daemon_start(struct daemon *d);
/* Sends sig and waits; returns the exit status (or 128+signal). */
int daemon_stop(struct daemon *d, int sig);
/* Removes the folder. */
void daemon_cleanup(struct daemon *d);

struct http_resp {
    long status;
    char *body;
    size_t len;
    char tracing_id[160];
    char allow[96];
    char retry_after[32];
    char www_authenticate[160];
    char content_type[96];
};

/* POST body to path. headers: NULL-terminated "Name: value" list (may be NULL).
 * Returns false on a transport error. */
bool http_post(const struct daemon *d, const char *path, const char *const *headers, const char *body,
               size_t len, struct http_resp *out);
bool http_get(const struct daemon *d, const char *path, const char *const *headers, struct http_resp *out);
/* Any method, optional body. */
bool http_request(const struct daemon *d, const char *method, const char *path, const char *const *headers,
                  const char *body, size_t len, bool chunked, struct http_resp *out);
void http_resp_free(struct http_resp *r);

/* Looking into the daemon's database. Every test does it through these, so that the
 * store under test is one parameter here: today SQLite, d->db its path. A test that
 * needs SQLite itself (its locks, its WAL, its files, PRAGMAs) says so where it does. */
/* A scalar (the first column of the first row), read-only; -1 on error. */
long long db_scalar(const struct daemon *d, const char *sql);
/* The first column of every row, read-only, into out (at most cap); their count, or -1
 * on error or when there are more than cap. */
long db_column(const struct daemon *d, const char *sql, long long *out, size_t cap);
/* Runs sql (one or more statements) on a connection of its own; false on error (said on
 * stderr). */
bool db_exec(const struct daemon *d, const char *sql);
/* The record seq a watermark stands at (SQLite's positions are {0, seq}); false when it
 * is none. */
bool watermark_seq(const char *wm, int64_t *seq);
/* The watermark that stands at seq. */
void watermark_at(int64_t seq, char out[FEED_TOKEN_MAX]);
/* The value of a Prometheus sample line (exact "name{labels}"), -1 when absent. */
double metric_value(const struct daemon *d, const char *sample);
/* Waits (up to 5 s) until every line the daemon logged before this call is in d->log:
 * while it serves, lines are written by a thread of their own, a moment later (log.h).
 * It logs a GET /health of its own and waits for that line. False when it did not come. */
bool daemon_log_sync(const struct daemon *d);

/* An Amiko event body with this eventId (caller frees). */
char *amiko_event(const char *event_id, const char *type);
/* POSTs a case_created event with eventId id (a fresh one when id is NULL) to
 * /events with headers; returns the status (-1: no answer). keep (may be NULL)
 * receives the answer, which the caller then frees. */
long post_event(const struct daemon *d, const char *const *headers, const char *id, struct http_resp *keep);
/* "ISSUERHOOK_API_KEY_<name>=sha256:<hash of secret> <scopes>" into out. */
void key_line(const char *name, const char *secret, const char *scopes, char *out, size_t cap);
/* A fresh random UUID into buf (37 bytes). */
void test_uuid(char *buf);



/* Runs the daemon binary with args and extra environment ("K=V ..." shell words),
 * capturing stdout+stderr into out (caller frees). Returns the exit status. */
int daemon_run(const char *env, const char *args, char **out);
/* The same, the command prefixed by prefix (e.g. "setpriv --reuid=65534 ..."). */
int daemon_run_as(const char *prefix, const char *env, const char *args, char **out);
#endif
