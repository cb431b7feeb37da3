/* Private to src/util (jsonutil.c): where jansson's memory comes from.
 *
 * The tree a request's body is parsed into (about 30 blocks an event, 40 000 a 1,000-item
 * card batch) is taken from an arena of the parsing thread instead of malloc, one bump of a
 * pointer a block, and given back all at once when its last block is freed: wiped, as
 * every block jansson frees is (the tree holds card numbers and tax ids until they are
 * tokenized). Every other jansson block is malloc's, wiped when freed.
 *
 * Hand-written because glibc's malloc has no arenas a caller can free at once, and the
 * libraries that have them (talloc, APR pools) cannot stand behind jansson's malloc/free
 * pair: jansson frees each block by itself, with no size and no pool. */
#ifndef ISSUERHOOK_JSONARENA_H
#define ISSUERHOOK_JSONARENA_H

#include <stdbool.h>
#include <stddef.h>

/* jansson's allocation functions (json_set_alloc_funcs). jsonarena_free takes any block
 * jsonarena_alloc gave, from any thread. */
void *jsonarena_alloc(size_t n);
void jsonarena_free(void *p);

/* Until jsonarena_end, the calling thread's jansson blocks come from its arena, if it has
 * one with nothing in it (false otherwise: they come from malloc). A tree outliving its
 * request only makes the next parse on that thread use malloc. */
bool jsonarena_begin(void);
void jsonarena_end(void);

/* For tests: bytes of the calling thread's arena in use (0 when it has none). */
size_t jsonarena_used(void);

#endif
