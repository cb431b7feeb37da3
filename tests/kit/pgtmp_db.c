/* pgtmp's databases and the shared cluster's state file: what a test calls. */
#include "pgtmp_internal.h"

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pgtmp_conninfo(const struct pgtmp *pg, const char *name, bool socket, char *out, size_t len)
{
    snprintf(out, len, "host=%s port=%d user=" PGTMP_USER " dbname=%s", socket ? pg->sockdir : "127.0.0.1",
             pg->port, name);
}

/* Runs one command as the superuser over the socket, in database postgres. */
static int admin(const struct pgtmp *pg, const char *sql)
{
    char ci[512];
    pgtmp_conninfo(pg, "postgres", true, ci, sizeof(ci));
    PGconn *c = PQconnectdb(ci);
    int rc = -1;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgtmp: cannot connect to the cluster in %s: %s", pg->dir, PQerrorMessage(c));
    } else {
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc)
            fprintf(stderr, "pgtmp: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

int pgtmp_createdb(const struct pgtmp *pg, const char *name, char *conninfo, size_t len)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
    if (admin(pg, sql) != 0)
        return -1;
    pgtmp_conninfo(pg, name, false, conninfo, len);
    return 0;
}

/* The test's own database, named after the process so parallel tests never collide. */
static int own_database(struct pgtmp *pg)
{
    static _Atomic unsigned counter;
    snprintf(pg->dbname, sizeof(pg->dbname), "ih_%d_%u", (int)getpid(), atomic_fetch_add(&counter, 1));
    pgtmp_conninfo(pg, pg->dbname, true, pg->socket_conninfo, sizeof(pg->socket_conninfo));
    return pgtmp_createdb(pg, pg->dbname, pg->conninfo, sizeof(pg->conninfo));
}

int pgtmp_start_private(struct pgtmp *pg)
{
    if (pgtmp_cluster_start(pg, getpid()) != 0)
        return -1;
    if (own_database(pg) != 0) {
        pgtmp_cluster_remove(pg);
        return -1;
    }
    return 0;
}

int pgtmp_start(struct pgtmp *pg)
{
    const char *state = getenv("IH_PGTMP");
    if (state && *state) {
        if (pgtmp_state_read(pg, state) == 0 && own_database(pg) == 0)
            return 0;
        fprintf(stderr, "pgtmp: the shared cluster of %s is not usable; starting a private one\n", state);
    }
    return pgtmp_start_private(pg);
}

void pgtmp_stop(struct pgtmp *pg)
{
    if (pg->own) {
        pgtmp_cluster_remove(pg);
        return;
    }
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", pg->dbname);
    (void)admin(pg, sql);
}

int pgtmp_state_write(const struct pgtmp *pg, const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "pgtmp: cannot write %s\n", tmp);
        return -1;
    }
    fprintf(f, "dir=%s\nbindir=%s\nport=%d\nas_other=%d\nuid=%u\ngid=%u\n", pg->dir, pg->bindir, pg->port,
            pg->as_other ? 1 : 0, (unsigned)pg->uid, (unsigned)pg->gid);
    bool ok = fclose(f) == 0 && rename(tmp, path) == 0;
    if (!ok)
        fprintf(stderr, "pgtmp: cannot write %s\n", path);
    return ok ? 0 : -1;
}

static void set_field(struct pgtmp *pg, const char *k, const char *v)
{
    if (strcmp(k, "dir") == 0)
        snprintf(pg->dir, sizeof(pg->dir), "%s", v);
    else if (strcmp(k, "bindir") == 0)
        snprintf(pg->bindir, sizeof(pg->bindir), "%s", v);
    else if (strcmp(k, "port") == 0)
        pg->port = (int)strtol(v, NULL, 10);
    else if (strcmp(k, "as_other") == 0)
        pg->as_other = strcmp(v, "1") == 0;
    else if (strcmp(k, "uid") == 0)
        pg->uid = (uid_t)strtoul(v, NULL, 10);
    else if (strcmp(k, "gid") == 0)
        pg->gid = (gid_t)strtoul(v, NULL, 10);
}

int pgtmp_state_read(struct pgtmp *pg, const char *path)
{
    memset(pg, 0, sizeof(*pg));
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "pgtmp: no state file %s\n", path);
        return -1;
    }
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            set_field(pg, line, eq + 1);
        }
    }
    fclose(f);
    snprintf(pg->sockdir, sizeof(pg->sockdir), "%s/sock", pg->dir);
    snprintf(pg->password_file, sizeof(pg->password_file), "%s/pw", pg->dir);
    return pg->dir[0] && pg->port ? 0 : -1;
}
