/* Whether the store takes writes, as its writer last saw it. The writer reports every
 * failure and every success; /health reads the result (db_writable). A failure is logged
 * the first time it is seen since the store last took writes (one line per distinct
 * error, with SQLite's message), then only counted (issuerhook_store_errors_total); the
 * recovery is logged with how long writes failed and how many were refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sqlite/internal.h"
#include "issuerhook/log.h"
#include "issuerhook/writer.h"

void state_init(struct store_state *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->writable = true;
}

void state_destroy(struct store_state *s)
{
    pthread_mutex_destroy(&s->lock);
}

/* SQLite's name of a primary result code (it has no function for it). */
static const char *code_name(int code)
{
    static const char *const names[] = {
        [SQLITE_ERROR] = "SQLITE_ERROR",   [SQLITE_PERM] = "SQLITE_PERM",         [SQLITE_BUSY] = "SQLITE_BUSY",
        [SQLITE_LOCKED] = "SQLITE_LOCKED", [SQLITE_NOMEM] = "SQLITE_NOMEM",       [SQLITE_READONLY] = "SQLITE_READONLY",
        [SQLITE_IOERR] = "SQLITE_IOERR",   [SQLITE_CORRUPT] = "SQLITE_CORRUPT",   [SQLITE_FULL] = "SQLITE_FULL",
        [SQLITE_CANTOPEN] = "SQLITE_CANTOPEN", [SQLITE_PROTOCOL] = "SQLITE_PROTOCOL",
        [SQLITE_SCHEMA] = "SQLITE_SCHEMA", [SQLITE_NOTADB] = "SQLITE_NOTADB",
    };
    int p = code & 0xff;
    return p > 0 && p < (int)(sizeof(names) / sizeof(names[0])) && names[p] ? names[p] : NULL;
}

/* "database or disk is full (SQLITE_FULL during commit: No space left on device)";
 * an extended code is given as a number after the primary name. */
static void describe(const struct store_error *e, char *out, size_t cap)
{
    char code[40] = "";
    const char *name = code_name(e->code);
    if (e->code && e->code != (e->code & 0xff))
        snprintf(code, sizeof(code), "%s %d ", name ? name : "SQLite code", e->code);
    else if (e->code)
        snprintf(code, sizeof(code), "%s ", name ? name : "SQLite code");
    snprintf(out, cap, "%s (%sduring %s%s%s)", e->msg, code, e->during, e->os_errno ? ": " : "",
             e->os_errno ? strerror(e->os_errno) : "");
}

static bool seen_before(struct store_state *s, const struct store_error *e)
{
    for (size_t i = 0; i < s->nseen; i++)
        if (s->seen[i].code == e->code && s->seen[i].os_errno == e->os_errno)
            return true;
    if (s->nseen < sizeof(s->seen) / sizeof(s->seen[0])) {
        s->seen[s->nseen].code = e->code;
        s->seen[s->nseen].os_errno = e->os_errno;
        s->nseen++;
    }
    return false; /* past eight distinct errors in one outage, each new one is logged */
}

void state_failed(struct db *db, const struct store_error *e, bool log)
{
    struct store_state *s = &db->state;
    char what[560];
    describe(e, what, sizeof(what));
    pthread_mutex_lock(&s->lock);
    if (s->writable) { /* an outage starts */
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->since, sizeof(s->since), "%Y-%m-%dT%H:%M:%SZ", &tm);
        s->since_ms = writer_now_ms();
        s->refused = 0;
        s->nseen = 0;
    }
    s->writable = false;
    snprintf(s->why, sizeof(s->why), "writes fail since %s: %s", s->since, what);
    bool first = !seen_before(s, e);
    pthread_mutex_unlock(&s->lock);
    if (log && first)
        log_msg(LOG_ERROR, "the store cannot take writes: they answer 503 and /health fails until it can", "path",
                db->path, "reason", what, NULL);
}

void state_refused(struct db *db)
{
    pthread_mutex_lock(&db->state.lock);
    db->state.refused++;
    pthread_mutex_unlock(&db->state.lock);
}

void state_ok(struct db *db)
{
    struct store_state *s = &db->state;
    pthread_mutex_lock(&s->lock);
    bool was = s->writable;
    s->writable = true;
    s->why[0] = '\0';
    unsigned long refused = s->refused;
    int64_t since = s->since_ms;
    pthread_mutex_unlock(&s->lock);
    if (was)
        return;
    char after[32], n[24];
    snprintf(after, sizeof(after), "%.1f", (double)(writer_now_ms() - since) / 1000.0);
    snprintf(n, sizeof(n), "%lu", refused);
    log_msg(LOG_INFO, "the store takes writes again", "path", db->path, "after_s", after, "writes_refused", n, NULL);
}

bool db_writable(struct db *db, char *why, size_t len)
{
    pthread_mutex_lock(&db->state.lock);
    bool ok = db->state.writable;
    if (len)
        snprintf(why, len, "%s", ok ? "" : db->state.why);
    pthread_mutex_unlock(&db->state.lock);
    return ok;
}
