/* Card data left in memory: the daemon's own server runs in this process (libmicrohttpd's
 * threads, the route handlers, the writer on a real SQLite file), eight card-activity
 * posts arrive over a socket (six with Content-Length, two chunked, so that the body
 * buffer grows; the first four on one connection kept open), and then every readable and
 * writable mapping of the process — heaps, every thread's stack, libmicrohttpd's
 * connection pools, the libraries' data — is searched for each PAN and tax id that was
 * sent, while the server still runs.
 *
 * The client is a child process forked before the server starts, so none of its copies
 * is in the searched memory; the card data is made at run time, before the fork, in one
 * mapping the search skips.
 *
 * Positive control: this binary is linked with -Wl,--wrap=crypto_wipe, and with the
 * argument "control" every wipe the daemon does is skipped: the same search must then
 * find the card data (so it can see what wiping removes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/api.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/crypto.h"
#include "issuerhook/store.h"
#include "issuerhook/keycheck.h"
#include "issuerhook/migrate.h"
#include "issuerhook/ratelimit.h"
#include "issuerhook/server.h"
#include "issuerhook/tokenize.h"
#include "issuerhook/writer.h"

#define CARD_SECRET "card-adapter-key"
#define POSTS 8
#define CHUNKED_FROM 6 /* posts 6 and 7 are chunked, with ITEMS_CHUNKED items each */
#define ITEMS_CHUNKED 4
#define KEPT_ALIVE 4 /* posts 0 to 3 on one kept-alive connection */
#define NEEDLES_MAX 64

static bool control;

void __real_crypto_wipe(void *p, size_t len);
void __wrap_crypto_wipe(void *p, size_t len)
{
    if (!control)
        __real_crypto_wipe(p, len);
}

/* ---- the card data, in one mapping of its own ---- */

struct needle {
    char text[24];
    size_t len;
    int post;
};
static struct needle *needles; /* mmap'ed: the search skips it */
static size_t nneedles;
static const size_t NEEDLE_MAP = 4096 * 4;

static void luhn_complete(char *d, size_t n) /* d[0..n-1) given, d[n-1] computed */
{
    unsigned sum = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned v = (unsigned)(d[n - 2 - i] - '0');
        if (i % 2 == 0 && (v *= 2) > 9)
            v -= 9;
        sum += v;
    }
    d[n - 1] = (char)('0' + (10 - sum % 10) % 10);
}

static struct needle *add(int post)
{
    if (nneedles >= NEEDLES_MAX)
        abort();
    struct needle *nd = &needles[nneedles++];
    nd->post = post;
    return nd;
}

/* A PAN (its spaced form, as free text writes it) and a tax id (with dashes, and digits
 * only as the tokenizer has it) for item k of a post: four needles in a row. */
static void make_card(int post, unsigned k)
{
    struct needle *p = add(post), *s = add(post), *t = add(post), *td = add(post);
    unsigned long long v = 5300000000000000ull / 10 + 7919ull * k + 104729ull * (unsigned long long)post;
    for (int i = 14; i >= 0; i--, v /= 10)
        p->text[i] = (char)('0' + v % 10);
    p->text[0] = '5';
    luhn_complete(p->text, 16);
    p->len = 16;
    for (size_t i = 0, j = 0; i < 16; i++) { /* "5300 0000 0791 9004" */
        if (i && i % 4 == 0)
            s->text[j++] = ' ';
        s->text[j++] = p->text[i];
        s->len = j;
    }
    t->len = (size_t)snprintf(t->text, sizeof(t->text), "9%02u-7%u-%04u", (k * 7 + (unsigned)post) % 100, k % 10,
                              1000 + k + 10u * (unsigned)post);
    for (size_t i = 0, j = 0; i < t->len; i++) /* the tokenizer's form: digits only */
        if (t->text[i] != '-')
            td->text[j++] = t->text[i], td->len = j;
}

static int items_of(int post)
{
    return post >= CHUNKED_FROM ? ITEMS_CHUNKED : 1;
}

static void make_all_cards(void)
{
    for (int k = 0; k < POSTS; k++)
        for (int i = 0; i < items_of(k); i++)
            make_card(k, (unsigned)i);
}

/* The first needle of post k's item i. */
static size_t card_of(int k, int i)
{
    size_t n = 0;
    for (int j = 0; j < k; j++)
        n += (size_t)items_of(j);
    return 4 * (n + (size_t)i);
}

/* ---- the client: builds in a buffer it wipes ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8192;
        while (cap < b->len + n)
            cap *= 2;
        char *np = malloc(cap);
        if (!np)
            abort();
        if (b->p) {
            memcpy(np, b->p, b->len);
            explicit_bzero(b->p, b->cap);
            free(b->p);
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
#define PUTS(b, s) put((b), (s), strlen(s))

static void buf_wipe(struct buf *b)
{
    explicit_bzero(b->p, b->cap);
    free(b->p);
    *b = (struct buf){0};
}

static void item(struct buf *b, size_t pan, size_t spaced, size_t tax)
{
    PUTS(b, "{\"customerId\":\"d1b95731fb029fec062c\",\"customerTaxId\":\"");
    put(b, needles[tax].text, needles[tax].len);
    PUTS(b, "\",\"cardId\":\"ca0sf8ds0af\",\"pan\":\"");
    put(b, needles[pan].text, needles[pan].len);
    PUTS(b, "\",\"activityType\":\"declined\",\"reasonCode\":\"transactionOccurred\",\"reason\":\"card ");
    put(b, needles[spaced].text, needles[spaced].len);
    PUTS(b, " declined\",\"amount\":{\"value\":\"12.34\",\"currency\":\"USD\"},\"merchant\":{\"category\":"
            "\"shopping.other\",\"name\":\"Amazon\",\"address\":{\"regionCode\":\"WA\",\"countryCode\":\"US\"}},"
            "\"occurredAt\":\"2024-10-01T07:00:00.000Z\",\"location\":\"onlineMerchant\"}");
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* A connection to the server. */
static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        _exit(3);
    return fd;
}

/* One POST on fd (kept open when keep, else closed by the server after the answer);
 * returns the status. */
static int post(int fd, int k, bool keep)
{
    struct buf body = {0}, req = {0};
    PUTS(&body, "{\"institutionId\":\"TIBURON\",\"items\":[");
    for (int i = 0; i < items_of(k); i++) {
        size_t c = card_of(k, i);
        if (i)
            PUTS(&body, ",");
        item(&body, c, c + 1, c + 2);
    }
    PUTS(&body, "]}");
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "POST /system/incomingCardActivity HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Type: application/json\r\nX-API-Key: " CARD_SECRET "\r\nConnection: %s\r\n%s\r\n",
                      keep ? "keep-alive" : "close", k >= CHUNKED_FROM ? "Transfer-Encoding: chunked\r\n" : "");
    put(&req, head, (size_t)hl);
    if (k >= CHUNKED_FROM) {
        for (size_t off = 0; off < body.len; off += 700) {
            size_t n = body.len - off < 700 ? body.len - off : 700;
            hl = snprintf(head, sizeof(head), "%zx\r\n", n);
            put(&req, head, (size_t)hl);
            put(&req, body.p + off, n);
            PUTS(&req, "\r\n");
        }
        PUTS(&req, "0\r\n\r\n");
    } else {
        req.len -= 2; /* the blank line goes after Content-Length */
        hl = snprintf(head, sizeof(head), "Content-Length: %zu\r\n\r\n", body.len);
        put(&req, head, (size_t)hl);
        put(&req, body.p, body.len);
    }
    buf_wipe(&body);
    bool sent = send_all(fd, req.p, req.len);
    buf_wipe(&req);
    if (!sent)
        return 0;
    char answer[2048];
    size_t got = 0;
    ssize_t r;
    /* a 200 here has no body: the answer ends with its header */
    while (got + 1 < sizeof(answer) && (r = recv(fd, answer + got, sizeof(answer) - 1 - got, 0)) > 0) {
        got += (size_t)r;
        answer[got] = '\0';
        if (keep && strstr(answer, "\r\n\r\n"))
            break;
    }
    answer[got] = '\0';
    if (!keep)
        close(fd);
    return strncmp(answer, "HTTP/1.1 ", 9) == 0 ? (int)strtol(answer + 9, NULL, 10) : 0;
}

/* The client process: reads the port from in, posts, tells out "P" when every post was
 * answered 200 ("F" otherwise), keeps the first connection open until in says "S". */
static void client(int in, int out)
{
    uint16_t port;
    char c = 'F';
    if (read(in, &port, sizeof(port)) != sizeof(port))
        _exit(2);
    int kept = dial(port);
    bool ok = true;
    for (int k = 0; k < POSTS; k++)
        ok = post(k < KEPT_ALIVE ? kept : dial(port), k, k < KEPT_ALIVE) == 200 && ok;
    c = ok ? 'P' : 'F';
    if (write(out, &c, 1) != 1 || read(in, &c, 1) != 1)
        _exit(2);
    close(kept);
    _exit(ok ? 0 : 1);
}

/* ---- the search ---- */

/* Plain loops, not memmem: under AddressSanitizer the search reads freed and unused
 * bytes on purpose. */
__attribute__((no_sanitize("address"))) static size_t count_in(const unsigned char *base, size_t len,
                                                               const struct needle *nd, const unsigned char **first)
{
    size_t hits = 0;
    for (size_t i = 0; i + nd->len <= len; i++) {
        if (base[i] != (unsigned char)nd->text[0])
            continue;
        size_t j = 1;
        while (j < nd->len && base[i + j] == (unsigned char)nd->text[j])
            j++;
        if (j == nd->len && hits++ == 0)
            *first = base + i;
    }
    return hits;
}

/* Searches every rw mapping but the needles' own; prints where each hit is. Returns
 * the hits; *off_stack: those outside the main thread's stack (heaps, pools and the
 * server's threads' stacks, which are anonymous mappings). */
static size_t search(size_t *off_stack)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    assert_non_null(maps);
    char line[512];
    size_t total = 0;
    unsigned long guard_end = 0; /* the end of the last "---p" page: a thread stack's guard */
    *off_stack = 0;
    while (fgets(line, sizeof(line), maps)) {
        /* "lo-hi perms offset dev inode [path]" */
        char *p = line, *path = strchr(line, '/') ? strchr(line, '/') : strchr(line, '[');
        unsigned long lo = strtoul(p, &p, 16), hi = strtoul(p + 1, &p, 16);
        const char *perms = p + 1;
        if (path)
            path[strcspn(path, "\n")] = '\0';
        else
            path = lo == guard_end ? "(a thread's stack)" : "(anonymous)";
        if (perms[0] == '-' && perms[1] == '-' && hi - lo == 4096)
            guard_end = hi;
        if (perms[0] != 'r' || perms[1] != 'w' || hi - lo > (1ul << 30) || strstr(path, "[vvar]"))
            continue;
        if (lo <= (unsigned long)needles && (unsigned long)needles < hi)
            continue;
        for (size_t i = 0; i < nneedles; i++) {
            const unsigned char *at = NULL;
            size_t n = count_in((const unsigned char *)lo, hi - lo, &needles[i], &at);
            if (n) {
                fprintf(stderr, "  post %d: %zu cop%s of a %zu-character card datum in %s at +0x%lx%s\n",
                        needles[i].post, n, n == 1 ? "y" : "ies", needles[i].len, path,
                        (unsigned long)(at - (const unsigned char *)lo), control ? "" : "  <-- not wiped");
                total += n;
                if (!strstr(path, "[stack]"))
                    *off_stack += n;
            }
        }
    }
    fclose(maps);
    return total;
}

/* ---- the daemon, in this process ---- */

struct daemon_parts {
    char dir[64];
    struct config *cfg;
    struct store *db;
    struct tokenizer *tk;
    struct ratelimit *rl;
    struct writer *w;
    struct server *srv;
    struct app app;
};

static void start(struct daemon_parts *d)
{
    char err[600], dbenv[128], keyenv[200], hex[65];
    unsigned char h[32];
    snprintf(d->dir, sizeof(d->dir), "/tmp/ihmem.XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(dbenv, sizeof(dbenv), "ISSUERHOOK_DB=%s/var/issuerhook.db", d->dir);
    crypto_sha256(CARD_SECRET, strlen(CARD_SECRET), h);
    crypto_hex(h, 32, hex);
    snprintf(keyenv, sizeof(keyenv), "ISSUERHOOK_API_KEY_CARD=sha256:%s cardAdapter/write", hex);
    char *env[] = {"ISSUERHOOK_LISTEN=127.0.0.1:0", dbenv, keyenv, "ISSUERHOOK_PAN_KEY_DEVELOPMENT=true",
                   "ISSUERHOOK_RATE_LIMIT=0", "ISSUERHOOK_THREADS=4", "ISSUERHOOK_LOG_LEVEL=error", NULL};
    struct store_options o = {.busy_timeout_ms = 5000};
    assert_int_equal(config_load(NULL, env, &d->cfg, err, sizeof(err)), IH_OK);
    log_configure(LOG_ERROR, true);
    assert_int_equal(server_prepare(d->cfg, &d->srv, err, sizeof(err)), IH_OK);
    assert_int_equal(store_open(d->cfg->db_path, &o, &d->db, err, sizeof(err)), IH_OK); /* migrates */
    bool pending = true;
    assert_int_equal(keycheck_open(d->cfg, d->db, &d->tk, &pending, err, sizeof(err)), IH_OK);
    assert_false(pending);
    assert_int_equal(ratelimit_new(0, 1, &d->rl), IH_OK);
    struct writer_options wo = {.batch_max = 64, .queue_max = 100};
    assert_int_equal(writer_start(d->db, &wo, &d->w), IH_OK);
    d->app = (struct app){.cfg = d->cfg, .store = d->db, .writer = d->w, .tokenizer = d->tk, .ratelimit = d->rl};
    assert_int_equal(server_start(d->srv, &d->app, api_routes, api_routes_count, err, sizeof(err)), IH_OK);
}

static void stop(struct daemon_parts *d)
{
    server_stop(d->srv);
    writer_stop(d->w);
    writer_free(d->w);
    ratelimit_free(d->rl);
    tokenizer_free(d->tk);
    store_close(d->db);
    config_free(d->cfg);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
    assert_int_equal(system(cmd), 0);
}

static size_t post_everything_and_search(size_t *off_stack)
{
    needles = mmap(NULL, NEEDLE_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(needles != MAP_FAILED);
    make_all_cards();
    /* the client, forked while this process is one thread and has seen no card data */
    int to_client[2], from_client[2];
    assert_int_equal(pipe(to_client), 0);
    assert_int_equal(pipe(from_client), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(to_client[1]);
        close(from_client[0]);
        client(to_client[0], from_client[1]);
    }
    close(to_client[0]);
    close(from_client[1]);
    struct daemon_parts d = {0};
    start(&d);
    uint16_t port = server_port(d.srv);
    char c = 0;
    assert_int_equal(write(to_client[1], &port, sizeof(port)), sizeof(port));
    assert_int_equal(read(from_client[0], &c, 1), 1);
    assert_int_equal(c, 'P'); /* every post answered 200; the first connection still open */
    /* the connections' last callbacks run after the client has read the answer */
    for (int i = 0; i < 100 && server_in_flight(d.srv) > 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    fprintf(stderr, "searching the process's memory for %zu card data of %d posts (%s)\n", nneedles, POSTS,
            control ? "control: wiping off" : "wiping on");
    size_t hits = search(off_stack);
    int status = 0;
    c = 'S';
    assert_int_equal(write(to_client[1], &c, 1), 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(to_client[1]);
    close(from_client[0]);
    stop(&d);
    munmap(needles, NEEDLE_MAP);
    return hits;
}

static void test_no_card_data_left_in_memory(void **state)
{
    (void)state;
    size_t off_stack;
    assert_int_equal(post_everything_and_search(&off_stack), 0);
}

/* With every wipe skipped, the card data is there to find, in freed heap memory. */
static void test_control_finds_card_data_when_not_wiped(void **state)
{
    (void)state;
    size_t off_stack;
    assert_true(post_everything_and_search(&off_stack) > 0);
    assert_true(off_stack > 0);
}

int main(int argc, char **argv)
{
    control = argc > 1 && strcmp(argv[1], "control") == 0;
    const struct CMUnitTest normal[] = {cmocka_unit_test(test_no_card_data_left_in_memory)};
    const struct CMUnitTest with_control[] = {cmocka_unit_test(test_control_finds_card_data_when_not_wiped)};
    return control ? cmocka_run_group_tests(with_control, NULL, NULL) : cmocka_run_group_tests(normal, NULL, NULL);
}
