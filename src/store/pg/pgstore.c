/* The PostgreSQL store: opening and closing it, what health asks of it, how its errors
 * read, this node's lease owner id, and the struct store_backend that store.c and the
 * shared writer call. */
#include "pgstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/crypto.h"
#include "pgconninfo.h"
#include "pgerr.h"
#include "pginternal.h"
#include "pgstmts.h"

/* SQLSTATEs packed into store_error.code as PostgreSQL's MAKE_SQLSTATE does (six bits a
 * character), so that state.c tells one error from another. */
static int pack(const char *s)
{
    int v = 0;
    for (int i = 0; i < 5; i++)
        v |= ((s[i] - '0') & 0x3f) << (6 * i);
    return v;
}

void pg_error_sqlstate(const struct store_error *e, char out[6])
{
    for (int i = 0; i < 5; i++)
        out[i] = (char)(((e->code >> (6 * i)) & 0x3f) + '0');
    out[5] = '\0';
}

void pg_error(struct store_error *e, const char *sqlstate, const char *msg, const char *during)
{
    const char *s = sqlstate && strlen(sqlstate) == 5 ? sqlstate : "08006"; /* connection_failure */
    memset(e, 0, sizeof(*e));
    e->code = pack(s);
    e->during = during;
    ih_status st = pgerr_sqlstate_lost(s) ? IH_EIO : pgerr_status(s);
    e->status = st == IH_OK ? IH_EIO : st;
    snprintf(e->msg, sizeof(e->msg), "%s", msg && *msg ? msg : "the database did not answer");
}

bool pg_sqlstate_store_wide(const char *s)
{
    if (!s || strlen(s) != 5)
        return false;
    /* 53 insufficient resources (disk full, out of memory), 25006 read-only transaction
     * (a standby, default_transaction_read_only), 42501 no privilege, 58 system error */
    return strncmp(s, "53", 2) == 0 || strcmp(s, "25006") == 0 || strcmp(s, "42501") == 0 ||
           strncmp(s, "58", 2) == 0;
}

static const char *pg_error_kind(const struct store_error *e)
{
    char s[6];
    pg_error_sqlstate(e, s);
    if (strcmp(s, "53100") == 0)
        return "full";
    if (strcmp(s, "53200") == 0)
        return "nomem";
    if (strcmp(s, "25006") == 0 || strcmp(s, "42501") == 0)
        return "readonly";
    if (!pgerr_sqlstate_lost(s) && pgerr_status(s) == IH_EBUSY)
        return "busy";
    return "io";
}

/* "could not extend file ...: No space left on device (SQLSTATE 53100 during COMMIT)". */
static void pg_error_text(const struct store_error *e, char *out, size_t cap)
{
    char s[6];
    pg_error_sqlstate(e, s);
    snprintf(out, cap, "%s (SQLSTATE %s during %s)", e->msg, s, e->during ? e->during : "a write");
}

/* hostname:pid:random: another process on the same host (a restart) is another owner. */
static void make_node_id(char *out, size_t cap)
{
    char host[64] = "localhost", rnd[17];
    unsigned char r[8] = {0};
    if (gethostname(host, sizeof(host)) != 0 || !host[0])
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    if (crypto_random(r, sizeof(r)) != IH_OK) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(r, &ts.tv_nsec, sizeof(ts.tv_nsec) < sizeof(r) ? sizeof(ts.tv_nsec) : sizeof(r));
    }
    crypto_hex(r, sizeof(r), rnd);
    snprintf(out, cap, "%s:%ld:%s", host, (long)getpid(), rnd);
}

static void pg_close(struct store *st)
{
    struct pgstore *s = pg_of(st);
    for (int i = 0; i < PG_READERS; i++)
        pgconn_free(s->rd[i]);
    pgconn_free(s->wr);
    store_base_destroy(&s->base);
    pthread_cond_destroy(&s->rd_free);
    pthread_mutex_destroy(&s->rd_lock);
    free(s->display);
    free(s);
}

/* The read pool's connections, and for a store that writes, its write connection. */
static ih_status make_conns(struct pgstore *s, const char *conninfo, const char *password_file, char *err,
                            size_t errlen)
{
    ih_status rc = IH_OK;
    for (int i = 0; i < PG_READERS && rc == IH_OK; i++)
        rc = pg_conn_new(s, conninfo, password_file, "reader", &s->rd[i], err, errlen);
    if (rc == IH_OK && !s->opt.read_only)
        rc = pg_conn_new(s, conninfo, password_file, "writer", &s->wr, err, errlen);
    return rc;
}

/* A read-only store (pan-lookup) must answer now: there is no writer to keep trying. */
static ih_status check_reachable(struct pgstore *s, char *err, size_t errlen)
{
    double ms = 0;
    ih_status rc = s->base.ops->ping(&s->base, &ms);
    if (rc != IH_OK) {
        struct pgconn *c = pg_pool_acquire(s, false);
        snprintf(err, errlen, "cannot read %s: %s", s->display, pgconn_why(c));
        pg_pool_release(s, c);
    }
    return rc;
}

ih_status pgstore_open(const char *conninfo, const struct store_options *opt, struct store **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    char why[256];
    if (pgconninfo_check(conninfo, why, sizeof(why)) != IH_OK) {
        snprintf(err, errlen, "ISSUERHOOK_DB is not a valid PostgreSQL connection string: %s", why);
        return IH_EINVAL;
    }
    struct pgstore *s = calloc(1, sizeof(*s));
    if (!s || !(s->display = pgconninfo_display(conninfo))) {
        free(s);
        return IH_ENOMEM;
    }
    store_base_init(&s->base, &pg_backend, s->display);
    s->opt = *opt;
    s->opt.password_file = NULL; /* each pgconn keeps its own copy */
    s->keys = (struct pg_keys){.s = s};
    pthread_mutex_init(&s->rd_lock, NULL);
    pthread_cond_init(&s->rd_free, NULL);
    make_node_id(s->node, sizeof(s->node));
    ih_status rc = make_conns(s, conninfo, opt->password_file, err, errlen);
    if (rc == IH_OK && opt->read_only)
        rc = check_reachable(s, err, errlen);
    if (rc != IH_OK) {
        pg_close(&s->base);
        return rc;
    }
    if (!opt->read_only) {
        struct store_error e;
        rc = pg_prepare(s, s->wr, true, &e);
        if (rc != IH_OK && e.fatal) {
            snprintf(err, errlen, "%s: %s", s->display, e.msg);
            pg_close(&s->base);
            return rc;
        }
        if (rc != IH_OK)
            state_failed(&s->base, &e, false); /* the writer tries again; the caller says so */
    }
    *out = &s->base;
    return IH_OK;
}

static const char *pg_disk_path(const struct store *s)
{
    (void)s;
    return NULL; /* the database server's disk is its own: no disk:free check */
}

static ih_status pg_ping(struct store *st, double *ms)
{
    struct pgstore *s = pg_of(st);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct pgconn *c = pg_pool_acquire(s, false);
    PGresult *r = NULL;
    ih_status rc = pg_exec(c, &pgstmts_ping, 0, NULL, NULL, NULL, &r, NULL, "a health check");
    PQclear(r);
    pg_pool_release(s, c);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    return rc;
}

const struct store_backend pg_backend = {
    .name = "postgresql",
    .close = pg_close,
    .disk_path = pg_disk_path,
    .ping = pg_ping,
    .error_kind = pg_error_kind,
    .error_text = pg_error_text,
    .writer_attach = pg_writer_attach,
    .writer_detach = pg_writer_detach,
    .writer_connected = pg_writer_connected,
    .writer_prepare = pg_writer_prepare,
    .writer_run = pg_writer_run,
    .keycheck_store = pg_keycheck_store,
    .writer_keycheck_store = pg_writer_keycheck_store,
    .find_token = pg_find_token,
    .bookings_get = pg_bookings_get,
    .bookings_list = pg_bookings_list,
    .outbox_claim = pg_outbox_claim,
    .outbox_stats = pg_outbox_stats,
    .feed_pos_valid = pg_feed_pos_valid,
    .feed_scan_commit_order = pg_feed_scan_commit_order,
    .feed_scan_time_order = pg_feed_scan_time_order,
};
