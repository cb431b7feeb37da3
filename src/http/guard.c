/* Records come from a pool sized when the guard is made (libmicrohttpd never holds
 * more than connection_limit connections), so opening a connection never allocates.
 * Per-address counts live in a chained hash table whose entries come from a second
 * pool of the same size: each address counted has at least one connection. */
#include "issuerhook/guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum phase { PH_HEAD, PH_BODY, PH_ANSWER };

struct addr_entry {
    unsigned char key[16];
    unsigned count;
    struct addr_entry *next; /* in its bucket, or in the free list */
};

struct guard_conn {
    struct guard_conn *prev, *next; /* in the open list, or next in the free list */
    struct addr_entry *addr;
    int fd;
    enum phase phase;
    bool reaped;
    int64_t since_ms;
    uint64_t body_bytes;
    char text[GUARD_ADDR_MAX];
};

struct guard {
    struct guard_options o;
    pthread_mutex_t lock;
    struct guard_conn *conns, *free_conns, *open;
    size_t nopen;
    struct addr_entry *entries, *free_entries, **buckets;
    size_t nbuckets; /* a power of two */
    pthread_t reaper;
    bool running, stop;
    pthread_cond_t wake;
    void (*on_expired)(void *, enum guard_expiry, const char *);
    void *expired_arg;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* IPv4 as IPv4-mapped IPv6, so both forms of one address count together. */
static bool addr_key(const struct sockaddr *sa, socklen_t len, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false; /* not IP: one shared key (all zero) */
}

static void addr_text(const unsigned char key[16], char *out)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(key, mapped, 12) == 0)
        inet_ntop(AF_INET, key + 12, out, GUARD_ADDR_MAX);
    else
        inet_ntop(AF_INET6, key, out, GUARD_ADDR_MAX);
}

static size_t bucket_of(const struct guard *g, const unsigned char key[16])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    return h & (g->nbuckets - 1);
}

static struct addr_entry *addr_find(struct guard *g, const unsigned char key[16])
{
    for (struct addr_entry *e = g->buckets[bucket_of(g, key)]; e; e = e->next)
        if (memcmp(e->key, key, 16) == 0)
            return e;
    return NULL;
}

ih_status guard_new(const struct guard_options *o, struct guard **out)
{
    struct guard *g = calloc(1, sizeof(*g));
    if (!g)
        return IH_ENOMEM;
    g->o = *o;
    if (!g->o.tick_ms)
        g->o.tick_ms = 250;
    g->nbuckets = 64;
    while (g->nbuckets < o->connection_limit)
        g->nbuckets <<= 1;
    g->conns = calloc(o->connection_limit, sizeof(*g->conns));
    g->entries = calloc(o->connection_limit, sizeof(*g->entries));
    g->buckets = calloc(g->nbuckets, sizeof(*g->buckets));
    if (!g->conns || !g->entries || !g->buckets) {
        guard_free(g);
        return IH_ENOMEM;
    }
    for (size_t i = o->connection_limit; i-- > 0;) {
        g->conns[i].next = g->free_conns;
        g->free_conns = &g->conns[i];
        g->entries[i].next = g->free_entries;
        g->free_entries = &g->entries[i];
    }
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    *out = g;
    return IH_OK;
}

enum guard_admission guard_admit(struct guard *g, const struct sockaddr *sa, socklen_t len)
{
    unsigned char key[16];
    addr_key(sa, len, key);
    pthread_mutex_lock(&g->lock);
    const struct addr_entry *e = addr_find(g, key);
    unsigned held = e ? e->count : 0;
    enum guard_admission v = GUARD_ADMIT;
    if (g->o.per_ip_limit && held >= g->o.per_ip_limit)
        v = GUARD_REFUSE_PER_IP;
    else if (g->o.reserve && g->nopen + g->o.reserve >= g->o.connection_limit && held >= GUARD_FEW)
        v = GUARD_REFUSE_RESERVE;
    pthread_mutex_unlock(&g->lock);
    return v;
}

struct guard_conn *guard_open(struct guard *g, const struct sockaddr *sa, socklen_t len, int fd, int64_t now_ms)
{
    unsigned char key[16];
    addr_key(sa, len, key);
    pthread_mutex_lock(&g->lock);
    struct guard_conn *c = g->free_conns;
    struct addr_entry *e = addr_find(g, key);
    if (!c || (!e && !g->free_entries)) {
        pthread_mutex_unlock(&g->lock);
        return NULL;
    }
    g->free_conns = c->next;
    if (!e) {
        e = g->free_entries;
        g->free_entries = e->next;
        memcpy(e->key, key, 16);
        e->count = 0;
        size_t b = bucket_of(g, key);
        e->next = g->buckets[b];
        g->buckets[b] = e;
    }
    e->count++;
    *c = (struct guard_conn){.addr = e, .fd = fd, .phase = PH_HEAD, .since_ms = now_ms, .next = g->open};
    addr_text(key, c->text);
    if (g->open)
        g->open->prev = c;
    g->open = c;
    g->nopen++;
    pthread_mutex_unlock(&g->lock);
    return c;
}

void guard_close(struct guard *g, struct guard_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->open = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g->nopen--;
    struct addr_entry *e = c->addr;
    if (--e->count == 0) {
        struct addr_entry **pp = &g->buckets[bucket_of(g, e->key)];
        while (*pp != e)
            pp = &(*pp)->next;
        *pp = e->next;
        e->next = g->free_entries;
        g->free_entries = e;
    }
    c->prev = NULL;
    c->next = g->free_conns;
    g->free_conns = c;
    pthread_mutex_unlock(&g->lock);
}

static void set_phase(struct guard *g, struct guard_conn *c, enum phase p, int64_t now_ms)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    c->phase = p;
    c->since_ms = now_ms;
    c->body_bytes = 0;
    pthread_mutex_unlock(&g->lock);
}

void guard_headers_done(struct guard *g, struct guard_conn *c, bool has_body, int64_t now_ms)
{
    set_phase(g, c, has_body ? PH_BODY : PH_ANSWER, now_ms);
}

void guard_body_bytes(struct guard *g, struct guard_conn *c, size_t n)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    c->body_bytes += n;
    pthread_mutex_unlock(&g->lock);
}

void guard_answering(struct guard *g, struct guard_conn *c)
{
    set_phase(g, c, PH_ANSWER, 0);
}

void guard_request_done(struct guard *g, struct guard_conn *c, int64_t now_ms)
{
    set_phase(g, c, PH_HEAD, now_ms);
}

const char *guard_conn_addr(const struct guard_conn *c)
{
    return c ? c->text : "";
}

size_t guard_open_count(struct guard *g)
{
    pthread_mutex_lock(&g->lock);
    size_t n = g->nopen;
    pthread_mutex_unlock(&g->lock);
    return n;
}

int64_t guard_header_deadline(const struct guard_options *o, int64_t since_ms)
{
    return since_ms + (int64_t)o->header_timeout_s * 1000;
}

int64_t guard_body_deadline(const struct guard_options *o, int64_t since_ms, uint64_t bytes)
{
    uint64_t extra_ms = bytes / o->body_min_rate * 1000 + bytes % o->body_min_rate * 1000 / o->body_min_rate;
    return since_ms + (int64_t)o->body_timeout_s * 1000 + (int64_t)extra_ms;
}

size_t guard_reap(struct guard *g, int64_t now_ms)
{
    size_t n = 0;
    pthread_mutex_lock(&g->lock);
    for (struct guard_conn *c = g->open; c; c = c->next) {
        if (c->reaped || c->phase == PH_ANSWER)
            continue;
        bool head = c->phase == PH_HEAD;
        int64_t due = head ? guard_header_deadline(&g->o, c->since_ms)
                           : guard_body_deadline(&g->o, c->since_ms, c->body_bytes);
        if (now_ms < due)
            continue;
        /* libmicrohttpd reads end-of-file and closes the connection itself; the fd
         * is still this connection's: it is closed only after guard_close, which
         * waits for this lock */
        shutdown(c->fd, SHUT_RDWR);
        c->reaped = true;
        n++;
        if (g->on_expired)
            g->on_expired(g->expired_arg, head ? GUARD_EXPIRED_HEADERS : GUARD_EXPIRED_BODY, c->text);
    }
    pthread_mutex_unlock(&g->lock);
    return n;
}

static void *reaper_main(void *arg)
{
    struct guard *g = arg;
    int64_t last_tick = mono_ms();
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)g->o.tick_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        if (g->stop)
            break;
        pthread_mutex_unlock(&g->lock);
        int64_t now = mono_ms();
        guard_reap(g, now);
        if (g->o.on_tick && now - last_tick >= 1000) {
            g->o.on_tick(g->o.tick_arg, now);
            last_tick = now;
        }
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

ih_status guard_start(struct guard *g, void (*on_expired)(void *, enum guard_expiry, const char *), void *arg)
{
    g->on_expired = on_expired;
    g->expired_arg = arg;
    if (pthread_create(&g->reaper, NULL, reaper_main, g) != 0)
        return IH_ENOMEM;
    g->running = true;
    return IH_OK;
}

void guard_free(struct guard *g)
{
    if (!g)
        return;
    if (g->running) {
        pthread_mutex_lock(&g->lock);
        g->stop = true;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->reaper, NULL);
    }
    if (g->conns && g->entries && g->buckets) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
    }
    free(g->conns);
    free(g->entries);
    free(g->buckets);
    free(g);
}
