/* pgtmp: a throwaway PostgreSQL for the tests. It finds the server's programs (initdb,
 * pg_ctl, postgres: $IH_PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/<newest>/bin,
 * then $PATH), runs initdb into a new folder under $TMPDIR (or /tmp) as an unprivileged
 * user (root runs it as `postgres`, else `nobody`; anyone else as themselves), starts it
 * with pg_ctl on a free 127.0.0.1 port and a Unix socket in that folder, fsync on, and
 * hands back a database of its own with a conninfo and a password file (scram over TCP;
 * the socket trusts, behind the folder's 0700).
 *
 * One cluster per CTest run: the fixture test `pg_cluster` runs `ihpgtmp start` (see
 * pgtmp_main.c), which leaves a state file named by $IH_PGTMP; pgtmp_start then only
 * creates a database in that cluster. Without $IH_PGTMP (a test binary run by hand, under
 * valgrind, ...) pgtmp_start starts a private cluster.
 *
 * Leftovers: each cluster has a watchdog (a detached shell) that stops the server and
 * removes the folder as soon as its owner process is gone, however it ended (SIGKILL, a
 * CTest timeout); folders whose owner and watchdog are both gone are swept by the next
 * start. Functions return 0 or -1 after saying why on stderr. */
#ifndef ISSUERHOOK_PGTMP_H
#define ISSUERHOOK_PGTMP_H

#include <stdbool.h>
#include <sys/types.h>

#define PGTMP_USER "ihtest" /* the cluster's superuser */

struct pgtmp {
    /* the cluster */
    char dir[128];     /* its folder: data/, sock/, log, pw, owner */
    char bindir[256];  /* where initdb, pg_ctl and postgres are */
    char sockdir[160]; /* the Unix socket's folder */
    int port;          /* on 127.0.0.1 */
    bool as_other;     /* root runs it as uid/gid */
    uid_t uid;
    gid_t gid;
    bool own;          /* started by this process (false: the CTest run's shared cluster) */
    /* the database handed out */
    char dbname[64];
    char conninfo[512];        /* TCP, user PGTMP_USER, no password: use password_file */
    char password_file[192];   /* the user's password, one line */
    char socket_conninfo[512]; /* the Unix socket, no password needed */
};

/* A database of its own in the shared cluster ($IH_PGTMP), else in a new private one. */
int pgtmp_start(struct pgtmp *pg);
/* A database in a new private cluster, whatever $IH_PGTMP says (for tests that stop and
 * restart the server). */
int pgtmp_start_private(struct pgtmp *pg);
/* Drops the database; a private cluster is stopped and its folder removed. */
void pgtmp_stop(struct pgtmp *pg);

/* Another database in pg's cluster: its TCP conninfo into conninfo. */
int pgtmp_createdb(const struct pgtmp *pg, const char *name, char *conninfo, size_t len);
/* A libpq conninfo for database name, over TCP (password: pg->password_file) or the socket. */
void pgtmp_conninfo(const struct pgtmp *pg, const char *name, bool socket, char *out, size_t len);

/* A private cluster's server only: pg_ctl stop with mode "fast" or "immediate" (a crash:
 * recovery at the next start), and start again on the same port. */
int pgtmp_server_stop(struct pgtmp *pg, const char *mode);
int pgtmp_server_start(struct pgtmp *pg);

/* ---- the cluster (for ihpgtmp) ---- */

/* A new cluster, running, watched on behalf of owner (a pid): when owner is gone the
 * watchdog removes it. */
int pgtmp_cluster_start(struct pgtmp *pg, pid_t owner);
/* Stops the server (immediately) and removes the folder. */
void pgtmp_cluster_remove(struct pgtmp *pg);
/* The state file of a shared cluster (write: atomically). */
int pgtmp_state_write(const struct pgtmp *pg, const char *path);
int pgtmp_state_read(struct pgtmp *pg, const char *path);

#endif
