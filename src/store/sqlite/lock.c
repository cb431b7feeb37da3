/* The database's lock file: "<database>.lock" beside it, held with flock(2) for as long
 * as this process serves or migrates the database, so that two issuerhookd never serve one
 * SQLite file whatever ports they listen on. The kernel drops the lock when the process
 * dies, however it dies, so a stale file never keeps a daemon from starting; the file is
 * left in place (removing it would race with a daemon taking it). It holds the PID of the
 * holder, for the refusal message. flock, not fcntl: SQLite's own POSIX locks on the
 * database are not disturbed, and a read-only descriptor can still take it. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "internal.h"

/* "<real path of the database>.lock": the same file whichever path (relative, through a
 * symlinked folder or a symlink to the database) names the database. */
static void lock_name(const char *db_path, char *out, size_t cap)
{
    char real[PATH_MAX], dir[PATH_MAX], base[PATH_MAX];
    if (realpath(db_path, real)) {
        snprintf(out, cap, "%s.lock", real);
        return;
    }
    snprintf(dir, sizeof(dir), "%s", db_path);
    snprintf(base, sizeof(base), "%s", db_path);
    char *d = dirname(dir), *b = basename(base);
    if (realpath(d, real))
        snprintf(out, cap, "%s/%s.lock", strcmp(real, "/") == 0 ? "" : real, b);
    else
        snprintf(out, cap, "%s.lock", db_path);
}

/* The PID written in the lock file, or 0. */
static long read_holder(int fd)
{
    char buf[24];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    long pid = strtol(buf, &end, 10);
    return errno == 0 && end != buf && (*end == '\n' || *end == '\0') && pid > 0 ? pid : 0;
}

ih_status lock_take(const char *db_path, int *fd, long *holder, int *os_err, char *lock_path, size_t cap)
{
    *fd = -1;
    *holder = 0;
    *os_err = 0;
    lock_name(db_path, lock_path, cap);
    /* O_NOFOLLOW: the file is truncated below, so never through a planted symlink */
    int f = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    bool writable = f >= 0;
    if (f < 0 && (errno == EROFS || errno == EACCES))
        f = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW); /* read-only media: lock all the same */
    if (f < 0) {
        *os_err = errno;
        return IH_EIO;
    }
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            *holder = read_holder(f);
        close(f);
        *os_err = e;
        return e == EWOULDBLOCK ? IH_EBUSY : IH_EIO;
    }
    if (writable) {
        char pid[24];
        int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
        /* best effort: on a full disk the lock holds without its PID (never half of one) */
        bool written = ftruncate(f, 0) == 0 && pwrite(f, pid, (size_t)n, 0) == n;
        if (!written && ftruncate(f, 0) != 0)
            *holder = 0; /* nothing more can be done: the PID may be missing */
    }
    *fd = f;
    return IH_OK;
}
