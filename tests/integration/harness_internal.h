/* Private to the harness's files (harness.c, harness_store.c, harness_db.c). */
#ifndef IH_TEST_HARNESS_INTERNAL_H
#define IH_TEST_HARNESS_INTERNAL_H

#include "harness.h"

/* The PostgreSQL database d works on (its own or the one it shares); NULL on SQLite. */
const struct pgtmp *harness_pg(const struct daemon *d);
/* Drops the database daemon_prepare made for d (nothing on SQLite). */
void harness_store_drop(struct daemon *d);
/* Gives a new PostgreSQL database the SQLite functions the tests' SQL uses. */
bool harness_pg_compat(const struct daemon *d);

#endif
