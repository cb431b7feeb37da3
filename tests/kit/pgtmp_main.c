/* ihpgtmp: the throwaway PostgreSQL of tests/kit/pgtmp.h from the command line.
 *   ihpgtmp start STATE [OWNER]  starts the cluster a CTest run shares (the fixture test
 *                                pg_cluster), writes STATE for the tests ($IH_PGTMP); the
 *                                cluster is removed when OWNER (default: the parent, CTest)
 *                                is gone, or by
 *   ihpgtmp stop STATE           (the fixture test pg_cluster_cleanup), which removes STATE.
 *   ihpgtmp run CMD [ARG...]     runs CMD with a private cluster and database of its own:
 *                                IH_PG_CONNINFO (TCP, no password) and IH_PG_PASSWORD_FILE
 *                                in its environment; removed after; CMD's exit status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgtmp.h"

static int usage(void)
{
    fprintf(stderr, "usage: ihpgtmp start STATE [OWNER_PID] | ihpgtmp stop STATE | ihpgtmp run CMD [ARG...]\n");
    return 2;
}

static int cmd_start(const char *state, const char *owner_arg)
{
    pid_t owner = getppid();
    if (owner_arg) {
        char *end = NULL;
        long v = strtol(owner_arg, &end, 10);
        if (!end || *end || v <= 1)
            return usage();
        owner = (pid_t)v;
    }
    struct pgtmp pg;
    if (pgtmp_cluster_start(&pg, owner) != 0)
        return 1;
    if (pgtmp_state_write(&pg, state) != 0) {
        pgtmp_cluster_remove(&pg);
        return 1;
    }
    printf("cluster %s on 127.0.0.1:%d and %s, for process %d\n", pg.dir, pg.port, pg.sockdir, (int)owner);
    return 0;
}

static int cmd_stop(const char *state)
{
    struct pgtmp pg;
    if (pgtmp_state_read(&pg, state) != 0)
        return 1;
    pg.own = true;
    char dir[sizeof(pg.dir)];
    memcpy(dir, pg.dir, sizeof(dir));
    pgtmp_cluster_remove(&pg);
    unlink(state);
    printf("cluster %s removed\n", dir);
    return 0;
}

static int cmd_run(char **argv)
{
    struct pgtmp pg;
    if (pgtmp_start_private(&pg) != 0)
        return 1;
    int rc = 1;
    pid_t pid = fork();
    if (pid == 0) {
        setenv("IH_PG_CONNINFO", pg.conninfo, 1);
        setenv("IH_PG_PASSWORD_FILE", pg.password_file, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "ihpgtmp: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st = 0;
    if (pid > 0) {
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    pgtmp_stop(&pg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && argc <= 4 && strcmp(argv[1], "start") == 0)
        return cmd_start(argv[2], argc == 4 ? argv[3] : NULL);
    if (argc == 3 && strcmp(argv[1], "stop") == 0)
        return cmd_stop(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv + 2);
    return usage();
}
