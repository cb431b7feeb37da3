/* Private to tests/kit/pgtmp*.c: processes, files and ports for the throwaway cluster. */
#ifndef ISSUERHOOK_PGTMP_INTERNAL_H
#define ISSUERHOOK_PGTMP_INTERNAL_H

#include <stddef.h>
#include "pgtmp.h"

/* Runs argv (argv[0] a full path) in pg->dir as the cluster's user, its output appended
 * to log (NULL: /dev/null); the exit status (-1 when it could not run). */
int pgtmp_run(const struct pgtmp *pg, char *const argv[], const char *log);
/* rm -rf of a folder this kit made (nftw, no symlinks followed). */
void pgtmp_rmtree(const char *dir);
/* A port on 127.0.0.1 free right now (0 when none was found). */
int pgtmp_free_port(void);
/* Fills pg->bindir with a folder holding initdb, pg_ctl and postgres. */
int pgtmp_find_bindir(struct pgtmp *pg);
/* Starts the detached watchdog of pg's cluster on behalf of owner. */
int pgtmp_watch(const struct pgtmp *pg, pid_t owner);
/* Prints the last lines of a log file to stderr, after a failure. */
void pgtmp_tail(const char *path);

#endif
