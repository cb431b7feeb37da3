/* One libpq connection kept up: connect, session settings, loss and reconnection with
 * backoff (see pgconn.h). */
#include "pgconn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/crypto.h"
#include "issuerhook/log.h"
#include "pgconninfo.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_S "5"    /* libpq's own bound per host; ours (connect_ms) is shorter */
#define CONNECT_DEADLINE_MS 2000 /* a whole connection attempt at most, when the options say 0 */
#define PG_VERSION_MIN 130000 /* pg_current_xact_id, xid8 */

struct pgconn {
    char *conninfo; /* as configured: may hold a password, never logged */
    char *display;
    char *password_file;
    char name[32];
    unsigned busy_ms, io_ms, connect_ms;
    PGconn *pq;
    char why[512]; /* why the last connection attempt failed, or the session was lost */
    const struct pgstmt *prepared[PGCONN_STMT_MAX];
    size_t nprepared;
    bool down;          /* from a loss (or the start) to the next successful connect */
    bool fatal_notice;  /* the server said FATAL while the session was idle: it is closing it */
    char notice[256];   /* what it said */
    bool outage_logged; /* this outage has had its one log line */
    int64_t down_since_ms, next_try_ms;
    unsigned backoff_ms, attempts;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pgconn_free(struct pgconn *c)
{
    if (!c)
        return;
    if (c->pq)
        PQfinish(c->pq);
    if (c->conninfo)
        crypto_wipe(c->conninfo, strlen(c->conninfo));
    free(c->conninfo);
    free(c->display);
    free(c->password_file);
    free(c);
}

ih_status pgconn_new(const struct pgconn_options *opt, struct pgconn **out, char *err, size_t errlen)
{
    *out = NULL;
    char why[256];
    ih_status rc = pgconninfo_check(opt->conninfo, why, sizeof(why));
    if (rc != IH_OK) {
        snprintf(err, errlen, "not a valid PostgreSQL connection string: %s", why);
        return rc;
    }
    struct pgconn *c = calloc(1, sizeof(*c));
    if (!c)
        return IH_ENOMEM;
    c->conninfo = strdup(opt->conninfo);
    c->display = pgconninfo_display(opt->conninfo);
    if (opt->password_file && *opt->password_file)
        c->password_file = strdup(opt->password_file);
    if (!c->conninfo || !c->display || (opt->password_file && *opt->password_file && !c->password_file)) {
        pgconn_free(c);
        return IH_ENOMEM;
    }
    snprintf(c->name, sizeof(c->name), "%s", opt->name ? opt->name : "store");
    c->busy_ms = opt->busy_timeout_ms;
    /* longer than the statement timeout, so a slow statement is never taken for a loss */
    unsigned long long io = opt->io_timeout_ms ? opt->io_timeout_ms : 2ULL * opt->busy_timeout_ms + 10000;
    c->io_ms = io > UINT32_MAX ? UINT32_MAX : (unsigned)io;
    c->connect_ms = opt->connect_timeout_ms ? opt->connect_timeout_ms : CONNECT_DEADLINE_MS;
    c->down = true;
    *out = c;
    return IH_OK;
}

/* The password: the file's one line, without its line break. */
static ih_status read_password(const char *path, char *pw, size_t cap, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read the password file %s: %s", path, strerror(errno));
        return IH_EIO;
    }
    size_t n = 0;
    ssize_t got = 0;
    while (n < cap && (got = read(fd, pw + n, cap - n)) > 0)
        n += (size_t)got;
    int e = errno;
    close(fd);
    ih_status rc = IH_EINVAL;
    if (got < 0) {
        snprintf(err, errlen, "cannot read the password file %s: %s", path, strerror(e));
        rc = IH_EIO;
        goto done;
    }
    if (n == cap) {
        snprintf(err, errlen, "the password file %s is longer than %zu bytes", path, cap - 1);
        goto done;
    }
    while (n > 0 && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
        n--;
    pw[n] = '\0';
    if (n == 0)
        snprintf(err, errlen, "the password file %s is empty", path);
    else if (memchr(pw, '\n', n) || memchr(pw, '\0', n))
        snprintf(err, errlen, "the password file %s must hold the password alone, on one line", path);
    else
        rc = IH_OK;
done:
    if (rc != IH_OK)
        crypto_wipe(pw, cap);
    return rc;
}

static void on_notice(void *arg, const PGresult *res)
{
    struct pgconn *c = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    char msg[256];
    pgconninfo_clean(PQresultErrorMessage(res), NULL, NULL, msg, sizeof(msg));
    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)) {
        /* an idle session's "terminating connection ...": libpq passes it on as a notice */
        c->fatal_notice = true;
        snprintf(c->notice, sizeof(c->notice), "%s", msg);
    }
    log_msg(LOG_DEBUG, "database notice", "connection", c->name, "notice", msg, NULL);
}

/* Timeouts and the notice receiver on a new session. */
static ih_status setup_session(struct pgconn *c, PGconn *pq, char *err, size_t errlen)
{
    if (PQserverVersion(pq) < PG_VERSION_MIN) {
        snprintf(err, errlen, "PostgreSQL server version %d is too old: issuerhookd needs 13 or later",
                 PQserverVersion(pq));
        return IH_EINVAL;
    }
    PQsetNoticeReceiver(pq, on_notice, c);
    /* a lock wait ends at the busy timeout and says so (55P03); any other slow statement
     * gets twice that. PostgreSQL applies both per statement, also in a pipeline. */
    char sql[96];
    unsigned long long stmt_ms = 2ULL * c->busy_ms;
    snprintf(sql, sizeof(sql), "SET statement_timeout = %llu; SET lock_timeout = %u", stmt_ms, c->busy_ms);
    PGresult *r = PQexec(pq, sql);
    ih_status rc = IH_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pgconninfo_clean(PQerrorMessage(pq), NULL, NULL, err, errlen);
        rc = IH_EIO;
    }
    PQclear(r);
    return rc;
}

/* PQconnectdbParams with a deadline: libpq's non-blocking connect (PQconnectStartParams,
 * PQconnectPoll) driven by poll(2) until the session is up, fails, or deadline_ms pass
 * (*late). So a server that does not answer holds the calling thread (the writer, an HTTP
 * worker) for deadline_ms at most, not libpq's connect_timeout per host and address. Host
 * name resolution inside libpq stays blocking: give hostaddr to avoid it. */
static PGconn *connect_bounded(const char *const *kw, const char *const *val, unsigned deadline_ms, bool *late)
{
    *late = false;
    PGconn *pq = PQconnectStartParams(kw, val, 1);
    if (!pq || PQstatus(pq) == CONNECTION_BAD)
        return pq;
    int64_t end = now_ms() + deadline_ms;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING; /* as libpq's manual says to begin */
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int64_t left = end - now_ms();
        struct pollfd p = {.fd = PQsocket(pq), .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int r = left > 0 && p.fd >= 0 ? poll(&p, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *late = PQstatus(pq) != CONNECTION_BAD;
            break;
        }
        st = PQconnectPoll(pq);
    }
    return pq;
}

/* One connection attempt; on success c->pq is the new session. */
static ih_status connect_once(struct pgconn *c, char *err, size_t errlen)
{
    char pw[PGCONN_PASSWORD_MAX + 1] = "";
    ih_status rc = IH_OK;
    if (c->password_file && (rc = read_password(c->password_file, pw, sizeof(pw), err, errlen)) != IH_OK)
        return rc;
    char io[24], app[48];
    snprintf(io, sizeof(io), "%u", c->io_ms);
    snprintf(app, sizeof(app), "issuerhookd %s", c->name);
    /* Before dbname: defaults the conninfo may override. After it: the file's password
     * wins over one in the conninfo. An empty value is skipped by libpq. */
    const char *const kw[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                              "tcp_user_timeout", "fallback_application_name", "dbname", "password", NULL};
    const char *const val[] = {CONNECT_TIMEOUT_S, "30", "10", "3", io, app, c->conninfo, pw, NULL};
    bool late = false;
    PGconn *pq = connect_bounded(kw, val, c->connect_ms, &late);
    if (!pq) {
        snprintf(err, errlen, "out of memory");
        rc = IH_ENOMEM;
    } else if (late) {
        snprintf(err, errlen, "no connection within %u ms", c->connect_ms);
        rc = IH_EIO;
    } else if (PQstatus(pq) != CONNECTION_OK) {
        pgconninfo_clean(PQerrorMessage(pq), c->conninfo, pw, err, errlen);
        rc = IH_EIO;
    } else {
        rc = setup_session(c, pq, err, errlen);
    }
    crypto_wipe(pw, sizeof(pw));
    if (rc != IH_OK) {
        PQfinish(pq);
        return rc;
    }
    c->pq = pq;
    c->nprepared = 0;
    c->fatal_notice = false;
    return IH_OK;
}

static void schedule_retry(struct pgconn *c, int64_t now)
{
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    c->next_try_ms = now + c->backoff_ms;
}

static void connected(struct pgconn *c, int64_t now)
{
    if (c->outage_logged) {
        char after[24], tries[16];
        snprintf(after, sizeof(after), "%lld", (long long)(now - c->down_since_ms));
        snprintf(tries, sizeof(tries), "%u", c->attempts);
        log_msg(LOG_INFO, "database connection restored", "connection", c->name, "database", c->display,
                "outage_ms", after, "attempts", tries, NULL);
    }
    c->down = c->outage_logged = false;
    c->attempts = c->backoff_ms = 0;
    c->down_since_ms = 0;
}

/* An idle session has nothing to read: when its socket is readable, the server said
 * something (a shutdown's FATAL message) or closed it. Found before a statement is sent,
 * the loss costs a reconnection, not a failed batch. Usually one poll(2) and nothing else:
 * the reads happen only when the server did send something. */
static bool idle_broken(struct pgconn *c)
{
    PGconn *pq = c->pq;
    for (int round = 0; round < 3 && !c->fatal_notice; round++) {
        struct pollfd p = {.fd = PQsocket(pq), .events = POLLIN};
        if (p.fd < 0)
            return true;
        if (poll(&p, 1, 0) <= 0)
            return false;
        if (!PQconsumeInput(pq) || PQstatus(pq) != CONNECTION_OK)
            return true;
        (void)PQisBusy(pq); /* parses what came: an error message reaches on_notice */
    }
    return c->fatal_notice;
}

ih_status pgconn_open(struct pgconn *c, char *err, size_t errlen)
{
    int64_t now = now_ms();
    if (c->pq && PQstatus(c->pq) == CONNECTION_OK && !idle_broken(c))
        return IH_OK;
    if (c->pq)
        pgconn_lost(c, c->fatal_notice ? c->notice : PQerrorMessage(c->pq));
    if (!c->down_since_ms)
        c->down_since_ms = now;
    c->attempts++;
    ih_status rc = connect_once(c, err, errlen);
    if (rc == IH_OK) {
        connected(c, now);
        return IH_OK;
    }
    c->outage_logged = true; /* the caller reports err */
    snprintf(c->why, sizeof(c->why), "%s", err);
    schedule_retry(c, now);
    return rc;
}

ih_status pgconn_ready(struct pgconn *c)
{
    if (c->pq && PQstatus(c->pq) == CONNECTION_OK && !idle_broken(c))
        return IH_OK;
    if (c->pq)
        pgconn_lost(c, c->fatal_notice ? c->notice : PQerrorMessage(c->pq));
    int64_t now = now_ms();
    if (now < c->next_try_ms)
        return IH_EIO;
    if (!c->down_since_ms)
        c->down_since_ms = now;
    c->attempts++;
    char err[512];
    if (connect_once(c, err, sizeof(err)) == IH_OK) {
        connected(c, now_ms());
        return IH_OK;
    }
    schedule_retry(c, now);
    snprintf(c->why, sizeof(c->why), "%s", err);
    if (!c->outage_logged) {
        log_msg(LOG_WARN, "cannot connect to the database; retrying with backoff", "connection", c->name,
                "database", c->display, "reason", err, NULL);
        c->outage_logged = true;
    }
    return IH_EIO;
}

void pgconn_lost(struct pgconn *c, const char *reason)
{
    char why[512];
    pgconninfo_clean(reason && *reason ? reason : "connection lost", c->conninfo, NULL, why, sizeof(why));
    snprintf(c->why, sizeof(c->why), "%s", why);
    if (c->pq)
        PQfinish(c->pq);
    c->pq = NULL;
    c->nprepared = 0;
    if (!c->down) {
        c->down = true;
        c->down_since_ms = now_ms();
        c->next_try_ms = c->down_since_ms; /* the first retry at once, then the backoff */
        c->attempts = c->backoff_ms = 0;
    }
    if (!c->outage_logged) {
        log_msg(LOG_WARN, "database connection lost", "connection", c->name, "database", c->display, "reason",
                why, NULL);
        c->outage_logged = true;
    }
}

void pgconn_reset(struct pgconn *c)
{
    if (c->pq)
        PQfinish(c->pq);
    c->pq = NULL;
    c->nprepared = 0;
    c->next_try_ms = now_ms();
}

PGconn *pgconn_pq(struct pgconn *c)
{
    return c->pq;
}

bool pgconn_down(const struct pgconn *c)
{
    return c->down;
}

const char *pgconn_display(const struct pgconn *c)
{
    return c->display;
}

const char *pgconn_why(const struct pgconn *c)
{
    return c->why[0] ? c->why : "not connected yet";
}

unsigned pgconn_io_timeout_ms(const struct pgconn *c)
{
    return c->io_ms;
}

bool pgconn_prepared(const struct pgconn *c, const struct pgstmt *s)
{
    for (size_t i = 0; i < c->nprepared; i++)
        if (c->prepared[i] == s)
            return true;
    return false;
}

bool pgconn_set_prepared(struct pgconn *c, const struct pgstmt *s)
{
    if (pgconn_prepared(c, s))
        return true;
    if (c->nprepared == PGCONN_STMT_MAX)
        return false;
    c->prepared[c->nprepared++] = s;
    return true;
}
