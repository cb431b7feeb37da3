/* The store's one face: which backend ISSUERHOOK_DB names, opening it, and what every
 * caller asks of any store. A backend is reached only through its struct store_backend
 * (backend.h); this file is the one place that knows the backends by name. */
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "issuerhook/pankeys.h"
#include "pg/pgstore.h"
#include "sqlite/sqlite.h"

/* "scheme://" at the start (RFC 3986: a letter, then letters, digits, "+", "-", "."). */
static size_t uri_scheme(const char *s)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (!strchr(alpha, s[0]) || !s[0])
        return 0;
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return strncmp(s + n, "://", 3) == 0 ? n : 0;
}

/* A libpq conninfo string starts with "keyword=" (blanks allowed around "="). A path
 * that looks like one can be written "./name=...". libpq itself refuses an unknown
 * keyword, naming it (so "dbnme=ih" is refused, not taken for a file). */
static bool conninfo(const char *s)
{
    size_t word = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_");
    const char *after = s + word + strspn(s + word, " \t");
    return word > 0 && *after == '=';
}

enum store_db_form store_db_form(const char *db)
{
    if (!db || !*db)
        return STORE_DB_UNKNOWN;
    if (strncmp(db, "file:", 5) == 0) /* SQLite's URI form, "file:///..." too */
        return STORE_DB_SQLITE_URI;
    size_t scheme = uri_scheme(db);
    if (scheme)
        return (scheme == 10 && strncmp(db, "postgresql", 10) == 0) || (scheme == 8 && strncmp(db, "postgres", 8) == 0)
                   ? STORE_DB_POSTGRESQL
                   : STORE_DB_UNKNOWN;
    return conninfo(db) ? STORE_DB_POSTGRESQL : STORE_DB_PATH;
}

ih_status store_open(const char *db, const struct store_options *opt, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    switch (store_db_form(db)) {
    case STORE_DB_PATH:
    case STORE_DB_SQLITE_URI:
        return sqlite_open(db, opt, out, err, errlen);
    case STORE_DB_POSTGRESQL:
        return pgstore_open(db, opt, out, err, errlen);
    case STORE_DB_UNKNOWN:
    default:
        break;
    }
    snprintf(err, errlen,
             "ISSUERHOOK_DB must be a path (SQLite) or a PostgreSQL URI (postgresql://...) or conninfo (host=... dbname=...)");
    return IH_EINVAL;
}

ih_status store_backup(const char *db, const char *dest, struct backup_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    enum store_db_form f = store_db_form(db);
    if (f == STORE_DB_PATH || f == STORE_DB_SQLITE_URI)
        return sqlite_backup(db, dest, res, err, errlen);
    snprintf(err, errlen, "%s",
             f == STORE_DB_POSTGRESQL
                 ? "backup copies an SQLite database only: back PostgreSQL up with its own tools (pg_dump, pg_basebackup)"
                 : "ISSUERHOOK_DB is not a database path");
    return IH_EINVAL;
}

void store_base_init(struct store *s, const struct store_backend *ops, const char *describe)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops;
    s->describe = describe;
    state_init(&s->state);
}

void store_base_destroy(struct store *s)
{
    state_destroy(&s->state);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

const char *store_backend_name(const struct store *s)
{
    return s->ops->name;
}

const char *store_describe(const struct store *s)
{
    return s->describe;
}

const char *store_disk_path(const struct store *s)
{
    return s->ops->disk_path(s);
}

int store_schema_version(const struct store *s)
{
    return s->schema_version;
}

ih_status store_ping(struct store *s, double *ms)
{
    return s->ops->ping(s, ms);
}

void pankeys_store(struct store *s, struct keycheck_store *out)
{
    s->ops->keycheck_store(s, out);
}

ih_status pankeys_find_token(struct store *s, const char *key_id, const char *token, long long *count,
                             long long *first_seq, long long *last_seq)
{
    return s->ops->find_token(s, key_id, token, count, first_seq, last_seq);
}
