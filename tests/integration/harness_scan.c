/* Scan images: the bytes of the files a store keeps (and any the test adds), read once
 * and searched for many strings in one pass. The multi-string search is by hand: a hash
 * set of the needles' first 8 bytes, looked up at every offset (no Debian library does
 * Aho-Corasick for C worth a dependency here). */
#include "harness.h"
#include "harness_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgtmp.h"

#define PREFIX 8 /* bytes of a needle hashed */

struct scan_image {
    char *bytes; /* the files one after another, a NUL between two */
    size_t len, cap;
};

static bool grow(struct scan_image *img, size_t more)
{
    if (img->len + more + 1 <= img->cap)
        return true;
    size_t cap = img->cap ? img->cap : 1 << 20;
    while (cap < img->len + more + 1)
        cap *= 2;
    char *b = realloc(img->bytes, cap);
    if (!b)
        return false;
    img->bytes = b;
    img->cap = cap;
    return true;
}

bool scan_image_add(struct scan_image *img, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true; /* not there: nothing in it */
    bool ok = true;
    for (;;) {
        if (!grow(img, 1 << 16)) {
            ok = false;
            break;
        }
        ssize_t got = read(fd, img->bytes + img->len, img->cap - img->len - 1);
        if (got <= 0) {
            ok = got == 0;
            break;
        }
        img->len += (size_t)got;
    }
    close(fd);
    if (ok)
        img->bytes[img->len++] = '\0'; /* no match runs from one file into the next */
    return ok;
}

bool scan_image_add_bytes(struct scan_image *img, const void *p, size_t n)
{
    if (!grow(img, n + 1))
        return false;
    memcpy(img->bytes + img->len, p, n);
    img->len += n;
    img->bytes[img->len++] = '\0';
    return true;
}

/* Every regular file under dir. */
static bool add_tree(struct scan_image *img, const char *dir)
{
    DIR *dh = opendir(dir);
    bool ok = dh != NULL;
    for (struct dirent *e; ok && (e = readdir(dh)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[1024];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) != 0)
            continue; /* gone meanwhile (a temporary file of the server) */
        if (S_ISDIR(sb.st_mode))
            ok = add_tree(img, path);
        else if (S_ISREG(sb.st_mode))
            ok = scan_image_add(img, path);
    }
    if (dh)
        closedir(dh);
    if (!ok)
        fprintf(stderr, "harness: cannot read all of %s\n", dir);
    return ok;
}

struct scan_image *scan_image_new(void)
{
    return calloc(1, sizeof(struct scan_image));
}

struct scan_image *store_image_read(const struct daemon *d)
{
    struct scan_image *img = scan_image_new();
    bool ok = img != NULL;
    if (ok && test_backend() == TEST_SQLITE) {
        char wal[400];
        snprintf(wal, sizeof(wal), "%s-wal", d->db);
        ok = scan_image_add(img, d->db) && scan_image_add(img, wal);
    } else if (ok) {
        const struct pgtmp *pg = harness_pg(d);
        if (!pg || !pg->own) {
            fprintf(stderr, "harness: a scan of the cluster's files needs a private cluster (pg_private)\n");
            ok = false;
        }
        /* what is committed is in pg_wal already; the checkpoint puts it in the tables' files too */
        ok = ok && db_exec(d, "CHECKPOINT") && add_tree(img, pg->dir);
    }
    if (!ok) {
        scan_image_free(img);
        return NULL;
    }
    return img;
}

bool scan_image_has(const struct scan_image *img, const char *s, size_t n)
{
    return n && img->len && memmem(img->bytes, img->len, s, n) != NULL;
}

static uint64_t prefix_of(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static size_t slot_of(uint64_t v, size_t mask)
{
    return (size_t)((v * 0x9E3779B97F4A7C15ull) >> 17) & mask;
}

long scan_image_find_any(const struct scan_image *img, const char *const *needles, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    long *table = malloc(cap * sizeof(*table)); /* needle index + 1; 0: empty */
    uint64_t *keys = malloc(cap * sizeof(*keys));
    long found = -1;
    if (!table || !keys)
        goto done;
    memset(table, 0, cap * sizeof(*table));
    for (size_t i = 0; i < n; i++) {
        if (strlen(needles[i]) < PREFIX) {
            fprintf(stderr, "harness: scan_image_find_any needs %d bytes at least (%s)\n", PREFIX, needles[i]);
            found = (long)i;
            goto done;
        }
        size_t s = slot_of(prefix_of(needles[i]), cap - 1);
        while (table[s])
            s = (s + 1) & (cap - 1);
        table[s] = (long)i + 1;
        keys[s] = prefix_of(needles[i]);
    }
    for (size_t off = 0; found < 0 && off + PREFIX <= img->len; off++) {
        uint64_t v = prefix_of(img->bytes + off);
        for (size_t s = slot_of(v, cap - 1); table[s] && found < 0; s = (s + 1) & (cap - 1)) {
            const char *nd = needles[table[s] - 1];
            size_t l = strlen(nd);
            if (keys[s] == v && off + l <= img->len && memcmp(img->bytes + off, nd, l) == 0)
                found = table[s] - 1;
        }
    }
done:
    free(table);
    free(keys);
    return found;
}

void scan_image_free(struct scan_image *img)
{
    if (img)
        free(img->bytes);
    free(img);
}
