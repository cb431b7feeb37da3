/* jansson's memory: the parsed tree from an arena of the parsing thread, the rest from
 * malloc; every block wiped when given back (see jsonarena.h). */
#include "jsonarena.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "issuerhook/crypto.h"

/* No arena under AddressSanitizer, which must see each block of the tree by itself. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENAS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENAS 0
#endif
#endif
#ifndef ARENAS
#define ARENAS 1
#endif

enum {
    SLOTS = 16,              /* threads with an arena (the pool's; others use malloc) */
    SLOT_BYTES = 4 << 20,    /* a 1,000-item card batch's tree takes about 3 MiB */
    BIG = 64 << 10,          /* a block larger than this comes from malloc */
    ALIGN = 16,
};

#define EMPTYING SIZE_MAX /* live while the last block's free wipes the arena */

struct slot {
    atomic_size_t live; /* blocks given out and not freed (or EMPTYING) */
    size_t used;        /* bytes given out since the arena was last empty */
};

/* SLOTS * SLOT_BYTES of address space, reserved at the first parse (MAP_NORESERVE: only
 * what is touched takes memory), so that any thread tells an arena block by its address. */
static _Atomic(char *) g_region;
static struct slot g_slots[SLOTS];
static atomic_uint g_next;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static _Thread_local struct slot *t_slot; /* this thread's arena, or NULL */
static _Thread_local bool t_active, t_tried;

static void reserve(void)
{
    void *p = mmap(NULL, (size_t)SLOTS * SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p != MAP_FAILED)
        atomic_store_explicit(&g_region, (char *)p, memory_order_release);
}

static char *slot_base(const struct slot *s, char *region)
{
    return region + (size_t)(s - g_slots) * SLOT_BYTES;
}

void *jsonarena_alloc(size_t n)
{
    struct slot *s = t_slot;
    if (t_active && n <= BIG) {
        size_t sz = n ? (n + ALIGN - 1) & ~(size_t)(ALIGN - 1) : ALIGN;
        if (s->used + sz <= SLOT_BYTES) {
            char *p = slot_base(s, atomic_load_explicit(&g_region, memory_order_relaxed)) + s->used;
            s->used += sz;
            atomic_fetch_add_explicit(&s->live, 1, memory_order_relaxed);
            return p;
        }
    }
    return malloc(n);
}

/* The arena's tree is gone: its bytes wiped. The pages it touched stay (at most
 * SLOT_BYTES a thread, as malloc's heap kept what it freed): giving them back with
 * madvise cost more system time in page faults than the arena saved. */
static void empty(struct slot *s, char *base)
{
    crypto_wipe(base, s->used);
    s->used = 0;
}

void jsonarena_free(void *p)
{
    if (!p)
        return;
    char *c = p, *region = atomic_load_explicit(&g_region, memory_order_acquire);
    if (region && c >= region && c < region + (size_t)SLOTS * SLOT_BYTES) {
        struct slot *s = &g_slots[(size_t)(c - region) / SLOT_BYTES];
        /* The block that takes live from 1 empties the arena, with live held at EMPTYING
         * meanwhile, so that exactly one thread wipes it even when two free the last blocks
         * of a tree at once, and its owner (which begins a parse only at live 0, and takes
         * blocks only while it parses) cannot begin before it is done. */
        size_t v = atomic_load_explicit(&s->live, memory_order_acquire);
        for (;;) {
            if (v == 1) {
                if (atomic_compare_exchange_weak_explicit(&s->live, &v, EMPTYING, memory_order_acq_rel,
                                                          memory_order_acquire)) {
                    empty(s, slot_base(s, region));
                    atomic_store_explicit(&s->live, 0, memory_order_release);
                    return;
                }
            } else if (atomic_compare_exchange_weak_explicit(&s->live, &v, v - 1, memory_order_acq_rel,
                                                             memory_order_acquire)) {
                return;
            }
        }
    }
    /* malloc_usable_size: the block's whole size (jansson's free gets no size) */
    crypto_wipe(p, malloc_usable_size(p));
    free(p);
}

bool jsonarena_begin(void)
{
    if (!ARENAS)
        return false;
    if (!t_tried) {
        t_tried = true;
        pthread_once(&g_once, reserve);
        unsigned i = atomic_fetch_add(&g_next, 1);
        if (atomic_load(&g_region) && i < SLOTS)
            t_slot = &g_slots[i];
    }
    if (!t_slot || atomic_load_explicit(&t_slot->live, memory_order_acquire) != 0)
        return false;
    t_active = true;
    return true;
}

void jsonarena_end(void)
{
    t_active = false;
}

size_t jsonarena_used(void)
{
    return t_slot ? t_slot->used : 0;
}
