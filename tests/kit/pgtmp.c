/* pgtmp's cluster: a folder, initdb, settings, pg_ctl start/stop, the watchdog, and the
 * sweep of folders left by runs whose owner and watchdog were both killed. */
#include "pgtmp_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PREFIX "ihpg-"
#define START_TRIES 5   /* another process may take the free port before the server binds it */
#define SWEEP_AGE_S 120 /* a dead owner's folder older than this has lost its watchdog too */

/* Settings: fsync and synchronous commit as in production (the durability tests need the
 * real thing); no replication, no autovacuum, no JIT, fewer checkpoints: faster, and safe
 * for data that lives minutes. */
static const char SETTINGS[] =
    "\n# tests/kit/pgtmp.c: a throwaway cluster for the tests\n"
    "listen_addresses = '127.0.0.1'\n"
    "unix_socket_directories = '%s'\n"
    "unix_socket_permissions = 0700\n"
    "fsync = on\n"
    "synchronous_commit = on\n"
    "full_page_writes = on\n"
    "wal_level = minimal\n"
    "max_wal_senders = 0\n"
    "max_wal_size = '1GB'\n"
    "checkpoint_timeout = '30min'\n"
    "shared_buffers = '32MB'\n"
    "max_connections = 80\n"
    "autovacuum = off\n"
    "jit = off\n"
    "log_min_messages = warning\n"
    "log_line_prefix = '%%m [%%p] '\n";

/* $TMPDIR when it is a short absolute path of plain characters (the socket's path must
 * fit in 107 bytes and pg_ctl hands paths to a shell), else /tmp. */
static const char *base_dir(void)
{
    const char *t = getenv("TMPDIR");
    if (!t || t[0] != '/' || strlen(t) > 48)
        return "/tmp";
    for (const char *p = t; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/._-", *p))
            return "/tmp";
    return t;
}

/* Who runs the cluster: root hands it to postgres (or nobody); others run it themselves. */
static int pick_user(struct pgtmp *pg)
{
    pg->as_other = geteuid() == 0;
    pg->uid = geteuid();
    pg->gid = getegid();
    if (!pg->as_other)
        return 0;
    const struct passwd *pw = getpwnam("postgres");
    if (!pw)
        pw = getpwnam("nobody");
    if (!pw) {
        fprintf(stderr, "pgtmp: running as root, but there is no user postgres or nobody to run PostgreSQL\n");
        return -1;
    }
    pg->uid = pw->pw_uid;
    pg->gid = pw->pw_gid;
    return 0;
}

static int write_file(const struct pgtmp *pg, const char *path, const char *text, bool append)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
    size_t n = strlen(text);
    bool ok = fd >= 0 && write(fd, text, n) == (ssize_t)n;
    if (fd >= 0 && pg->as_other && !append && fchown(fd, pg->uid, pg->gid) != 0)
        ok = false;
    if (fd >= 0)
        close(fd);
    if (!ok)
        fprintf(stderr, "pgtmp: cannot write %s: %s\n", path, strerror(errno));
    return ok ? 0 : -1;
}

/* The folder (0700, the cluster user's), the password file and the owner file. */
static int make_dir(struct pgtmp *pg, pid_t owner)
{
    snprintf(pg->dir, sizeof(pg->dir), "%s/" PREFIX "XXXXXX", base_dir());
    if (!mkdtemp(pg->dir)) {
        fprintf(stderr, "pgtmp: cannot create a folder in %s: %s\n", base_dir(), strerror(errno));
        pg->dir[0] = '\0';
        return -1;
    }
    snprintf(pg->sockdir, sizeof(pg->sockdir), "%s/sock", pg->dir);
    snprintf(pg->password_file, sizeof(pg->password_file), "%s/pw", pg->dir);
    if (mkdir(pg->sockdir, 0700) != 0 ||
        (pg->as_other && (chown(pg->dir, pg->uid, pg->gid) != 0 || chown(pg->sockdir, pg->uid, pg->gid) != 0))) {
        fprintf(stderr, "pgtmp: cannot prepare %s: %s\n", pg->dir, strerror(errno));
        return -1;
    }
    unsigned char rnd[16];
    char pw[40] = "", own[32], path[192];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -1;
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
    snprintf(pw + 2 * sizeof(rnd), 2, "\n");
    snprintf(own, sizeof(own), "%d\n", (int)owner);
    snprintf(path, sizeof(path), "%s/owner", pg->dir);
    return write_file(pg, pg->password_file, pw, false) == 0 && write_file(pg, path, own, false) == 0 ? 0 : -1;
}

static int init_cluster(struct pgtmp *pg)
{
    char initdb[300], data[160], log[160], conf[192], settings[1024];
    snprintf(initdb, sizeof(initdb), "%s/initdb", pg->bindir);
    snprintf(data, sizeof(data), "%s/data", pg->dir);
    snprintf(log, sizeof(log), "%s/initdb.log", pg->dir);
    char *const argv[] = {initdb, "-D", data, "-U", PGTMP_USER, "--pwfile", pg->password_file, "-A",
                          "scram-sha-256", "--auth-local", "trust", "-E", "UTF8", "--no-locale", "--no-sync",
                          "--no-instructions", NULL};
    if (pgtmp_run(pg, argv, log) != 0) {
        fprintf(stderr, "pgtmp: initdb failed\n");
        pgtmp_tail(log);
        return -1;
    }
    snprintf(conf, sizeof(conf), "%s/postgresql.conf", data);
    snprintf(settings, sizeof(settings), SETTINGS, pg->sockdir);
    return write_file(pg, conf, settings, true);
}

int pgtmp_server_start(struct pgtmp *pg)
{
    char pgctl[300], data[160], log[160], port[32];
    snprintf(pgctl, sizeof(pgctl), "%s/pg_ctl", pg->bindir);
    snprintf(data, sizeof(data), "%s/data", pg->dir);
    snprintf(log, sizeof(log), "%s/log", pg->dir);
    for (int i = 0; i < START_TRIES; i++) {
        if (!pg->port && !(pg->port = pgtmp_free_port()))
            continue;
        snprintf(port, sizeof(port), "-p %d", pg->port);
        char *const argv[] = {pgctl, "-D", data, "-l", log, "-o", port, "-w", "-t", "60", "-s", "start", NULL};
        if (pgtmp_run(pg, argv, NULL) == 0)
            return 0;
        pg->port = 0; /* taken meanwhile, most likely: another one */
    }
    fprintf(stderr, "pgtmp: the server in %s did not start\n", pg->dir);
    pgtmp_tail(log);
    return -1;
}

int pgtmp_server_stop(struct pgtmp *pg, const char *mode)
{
    char pgctl[300], data[160];
    snprintf(pgctl, sizeof(pgctl), "%s/pg_ctl", pg->bindir);
    snprintf(data, sizeof(data), "%s/data", pg->dir);
    char *const argv[] = {pgctl, "-D", data, "-m", (char *)mode, "-w", "-t", "60", "-s", "stop", NULL};
    return pgtmp_run(pg, argv, NULL) == 0 ? 0 : -1;
}

/* Folders of earlier runs whose owner is dead and which nobody removed (a watchdog
 * killed too, a reboot). Only folders this user may read are looked at. */
static void sweep(const struct pgtmp *self)
{
    DIR *d = opendir(base_dir());
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        struct pgtmp old = *self;
        char path[600];
        int n = snprintf(path, sizeof(path), "%s/%s", base_dir(), e->d_name);
        if (n <= 0 || (size_t)n >= sizeof(old.dir))
            continue;
        memcpy(old.dir, path, (size_t)n + 1);
        snprintf(path, sizeof(path), "%s/owner", old.dir);
        struct stat sb;
        FILE *f = fopen(path, "r");
        long pid = 0;
        char line[32];
        if (f && fgets(line, sizeof(line), f))
            pid = strtol(line, NULL, 10);
        if (f)
            fclose(f);
        bool gone = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (!gone || stat(path, &sb) != 0 || time(NULL) - sb.st_mtime < SWEEP_AGE_S)
            continue;
        old.as_other = sb.st_uid != geteuid(); /* pg_ctl runs as the folder's owner */
        old.uid = sb.st_uid;
        old.gid = sb.st_gid;
        fprintf(stderr, "pgtmp: removing %s, left by process %ld\n", old.dir, pid);
        (void)pgtmp_server_stop(&old, "immediate");
        pgtmp_rmtree(old.dir);
    }
    if (d)
        closedir(d);
}

int pgtmp_cluster_start(struct pgtmp *pg, pid_t owner)
{
    memset(pg, 0, sizeof(*pg));
    pg->own = true;
    if (pgtmp_find_bindir(pg) != 0 || pick_user(pg) != 0)
        return -1;
    sweep(pg);
    if (make_dir(pg, owner) != 0 || init_cluster(pg) != 0 || pgtmp_watch(pg, owner) != 0 ||
        pgtmp_server_start(pg) != 0) {
        pgtmp_cluster_remove(pg);
        return -1;
    }
    return 0;
}

void pgtmp_cluster_remove(struct pgtmp *pg)
{
    if (!pg->dir[0])
        return;
    char path[192];
    snprintf(path, sizeof(path), "%s/owner", pg->dir);
    unlink(path); /* the watchdog leaves the folder to us */
    char pid[192];
    snprintf(pid, sizeof(pid), "%s/data/postmaster.pid", pg->dir);
    if (access(pid, F_OK) == 0)
        (void)pgtmp_server_stop(pg, "immediate");
    pgtmp_rmtree(pg->dir);
    pg->dir[0] = '\0';
}
