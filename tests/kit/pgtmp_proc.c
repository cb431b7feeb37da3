/* pgtmp's processes and files: running the server's programs as the cluster's user,
 * finding them, the watchdog, removing folders, free ports. */
#include "pgtmp_internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int pgtmp_run(const struct pgtmp *pg, char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int out = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : open("/dev/null", O_WRONLY);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(126);
        if (pg->as_other && (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0))
            _exit(126);
        if (chdir(pg->dir) != 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT)
        fprintf(stderr, "pgtmp: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

void pgtmp_rmtree(const char *dir)
{
    if (dir && *dir)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int pgtmp_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool has_server(const char *dir)
{
    static const char *const progs[] = {"initdb", "pg_ctl", "postgres"};
    char path[512];
    for (size_t i = 0; i < 3; i++) {
        int n = snprintf(path, sizeof(path), "%s/%s", dir, progs[i]);
        if (n < 0 || (size_t)n >= sizeof(path) || access(path, X_OK) != 0)
            return false;
    }
    return true;
}

/* `pg_config --bindir`: on Debian it names the client's folder, which may be the server's. */
static bool from_pg_config(char *out, size_t len)
{
    FILE *p = popen("pg_config --bindir 2>/dev/null", "r");
    bool ok = p && fgets(out, (int)len, p) != NULL;
    if (p)
        pclose(p);
    out[ok ? strcspn(out, "\n") : 0] = '\0';
    return ok && has_server(out);
}

/* /usr/lib/postgresql/<major>/bin with the highest major that has a server (Debian). */
static bool from_debian(char *out, size_t len)
{
    DIR *d = opendir("/usr/lib/postgresql");
    long best = -1;
    char path[512];
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        char *end = NULL;
        long v = strtol(e->d_name, &end, 10);
        int n = snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin", e->d_name);
        if (end != e->d_name && *end == '\0' && v > best && n > 0 && (size_t)n < len && has_server(path)) {
            best = v;
            memcpy(out, path, (size_t)n + 1);
        }
    }
    if (d)
        closedir(d);
    return best >= 0;
}

static bool from_path(char *out, size_t len)
{
    const char *p = getenv("PATH");
    while (p && *p) {
        size_t n = strcspn(p, ":");
        snprintf(out, len, "%.*s", (int)n, p);
        if (n && has_server(out))
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

int pgtmp_find_bindir(struct pgtmp *pg)
{
    const char *env = getenv("IH_PG_BINDIR");
    if (env && *env) {
        snprintf(pg->bindir, sizeof(pg->bindir), "%s", env);
        if (has_server(pg->bindir))
            return 0;
        fprintf(stderr, "pgtmp: IH_PG_BINDIR=%s has no initdb, pg_ctl and postgres\n", env);
        return -1;
    }
    if (from_pg_config(pg->bindir, sizeof(pg->bindir)) || from_debian(pg->bindir, sizeof(pg->bindir)) ||
        from_path(pg->bindir, sizeof(pg->bindir)))
        return 0;
    fprintf(stderr, "pgtmp: no PostgreSQL server found (initdb, pg_ctl, postgres): install the Debian package "
                    "postgresql (.ci/deps.sh does), or set IH_PG_BINDIR\n");
    return -1;
}

/* The watchdog: waits while its owner lives and the folder is in use, then (owner gone,
 * folder still there) stops the server and removes the folder. Detached (own session,
 * reparented) so a kill of the test's process group or tree does not take it along. */
static const char WATCH_SH[] =
    "owner=$1 dir=$2 pgctl=$3\n"
    "while kill -0 \"$owner\" 2>/dev/null && [ -e \"$dir/owner\" ]; do sleep 0.5; done\n"
    "[ -e \"$dir/owner\" ] || exit 0\n"
    "if [ \"$4\" = 1 ]; then\n"
    "  setpriv --reuid=\"$5\" --regid=\"$6\" --clear-groups -- \"$pgctl\" -D \"$dir/data\" -m immediate -w -s stop\n"
    "else\n"
    "  \"$pgctl\" -D \"$dir/data\" -m immediate -w -s stop\n"
    "fi\n"
    "rm -rf -- \"$dir\"\n";

int pgtmp_watch(const struct pgtmp *pg, pid_t owner)
{
    char own[24], pgctl[300], uid[24], gid[24];
    snprintf(own, sizeof(own), "%d", (int)owner);
    snprintf(pgctl, sizeof(pgctl), "%s/pg_ctl", pg->bindir);
    snprintf(uid, sizeof(uid), "%u", (unsigned)pg->uid);
    snprintf(gid, sizeof(gid), "%u", (unsigned)pg->gid);
    char *const argv[] = {"/bin/sh", "-c", (char *)WATCH_SH, "pgtmp-watchdog", own, (char *)pg->dir, pgctl,
                          pg->as_other ? "1" : "0", uid, gid, NULL};
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setsid();
        if (fork() != 0)
            _exit(0);
        int nul = open("/dev/null", O_RDWR);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
            _exit(126);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

void pgtmp_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char lines[20][512];
    size_t n = 0;
    while (fgets(lines[n % 20], sizeof(lines[0]), f))
        n++;
    fclose(f);
    fprintf(stderr, "pgtmp: the end of %s:\n", path);
    for (size_t i = n > 20 ? n - 20 : 0; i < n; i++)
        fprintf(stderr, "  %s", lines[i % 20]);
}
