#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issuerhook/crypto.h"
#include "issuerhook/log.h"
#include "issuerhook/tokenize.h"

void keyfile_dirname(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

ih_status keyfile_locate(const char *key_file, const char *credentials_dir, const char *secrets_dir, char *path,
                         size_t cap, char *err, size_t errlen)
{
    if (key_file && *key_file) {
        snprintf(path, cap, "%s", key_file);
        return IH_OK;
    }
    if (credentials_dir && *credentials_dir && snprintf(path, cap, "%s/pan.key", credentials_dir) < (int)cap &&
        exists(path))
        return IH_OK;
    if (secrets_dir && *secrets_dir && snprintf(path, cap, "%s/pan.key", secrets_dir) < (int)cap && exists(path))
        return IH_OK;
    snprintf(err, errlen,
             "no PAN key (ISSUERHOOK_PAN_KEY_FILE is empty; no pan.key in $CREDENTIALS_DIRECTORY or %s): pass the "
             "key file as the systemd credential pan.key (LoadCredential=pan.key:/etc/issuerhook/pan.key), as the "
             "Docker secret pan.key, or in ISSUERHOOK_PAN_KEY_FILE. Keep the key your tokens were made with (an "
             "older issuerhookd made pan.key beside the database: move it); a new one: head -c 32 /dev/urandom",
             secrets_dir ? secrets_dir : "/run/secrets");
    return IH_ENOTFOUND;
}

ih_status keyfile_development(const char *key_file, const char *db_path, char *path, size_t cap, char *err,
                              size_t errlen)
{
    char dir[KEYFILE_PATH_MAX];
    if (key_file && *key_file) {
        snprintf(err, errlen, "ISSUERHOOK_PAN_KEY_DEVELOPMENT and ISSUERHOOK_PAN_KEY_FILE are both set: unset one "
                              "(a development key is never used beside a real one)");
        return IH_EINVAL;
    }
    if (db_path)
        keyfile_dirname(db_path, dir, sizeof(dir));
    else
        snprintf(dir, sizeof(dir), "."); /* no database file: the working directory */
    snprintf(path, cap, "%s/pan.dev.key", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the development PAN key %s: %s", path, strerror(errno));
        return IH_EIO;
    }
    if (fd >= 0) {
        unsigned char k[32];
        bool ok = crypto_random(k, sizeof(k)) == IH_OK && write(fd, k, sizeof(k)) == (ssize_t)sizeof(k) &&
                  fsync(fd) == 0;
        crypto_wipe(k, sizeof(k));
        close(fd);
        if (!ok) {
            unlink(path);
            snprintf(err, errlen, "cannot write the development PAN key %s", path);
            return IH_EIO;
        }
    }
    log_msg(LOG_WARN,
            "DEVELOPMENT PAN KEY IN USE: card numbers are tokenized with pan.dev.key beside the database, where any "
            "copy of the folder carries it along; never run a production daemon like this (unset "
            "ISSUERHOOK_PAN_KEY_DEVELOPMENT and give it a real key)",
            "path", path, NULL);
    return IH_OK;
}

/* Refuses a key in the database's folder or below it: a copy of that folder (a backup,
 * a snapshot, a support bundle) would carry the tokens and the key that reverses them. */
static ih_status check_place(const char *real, const char *path, const char *db_path, char *err, size_t errlen)
{
    char dir[KEYFILE_PATH_MAX], db_dir[PATH_MAX], key_dir[KEYFILE_PATH_MAX];
    if (!db_path)
        return IH_OK; /* the store is not a file: no folder to keep the key out of */
    keyfile_dirname(db_path, dir, sizeof(dir));
    if (!realpath(dir, db_dir))
        return IH_OK; /* no folder yet: nothing can be in it */
    keyfile_dirname(real, key_dir, sizeof(key_dir));
    size_t n = strlen(db_dir);
    bool inside = strcmp(key_dir, db_dir) == 0 ||
                  (strcmp(db_dir, "/") != 0 && strncmp(key_dir, db_dir, n) == 0 && key_dir[n] == '/');
    if (!inside)
        return IH_OK;
    snprintf(err, errlen,
             "the PAN key %s is in the database's folder %s, so every copy of that folder would hold the key to its "
             "tokens: move it out (e.g. to /etc/issuerhook/pan.key, passed as the systemd credential or Docker "
             "secret pan.key) and point ISSUERHOOK_PAN_KEY_FILE or the credential at the new place",
             path, db_dir);
    return IH_EINVAL;
}

static ih_status check_mode(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "the PAN key %s is not a regular file", path);
        return IH_EINVAL;
    }
    if (st.st_mode & 0077) {
        snprintf(err, errlen,
                 "the PAN key %s can be read or changed by group or others (mode %04o): make it the daemon user's "
                 "alone (chown that user, chmod 0400; a swarm secret: uid and mode 0400; a Kubernetes secret: "
                 "defaultMode 0400)",
                 path, (unsigned)(st.st_mode & 07777));
        return IH_EINVAL;
    }
    return IH_OK;
}

bool keyfile_in(const char *path, const char *dir)
{
    size_t n = dir ? strlen(dir) : 0;
    return n && strncmp(path, dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/');
}

ih_status keyfile_read(const char *path, const char *db_path, enum keyfile_checks checks, unsigned char *key,
                       size_t *len, char *err, size_t errlen)
{
    char real[PATH_MAX];
    ih_status rc = IH_EIO;
    int fd = -1;
    ssize_t n = 0, got;
    *len = 0;
    if (!realpath(path, real)) {
        snprintf(err, errlen, "cannot open the PAN key %s: %s", path, strerror(errno));
        return IH_EIO;
    }
    if (checks != KEYFILE_NONE && (rc = check_place(real, path, db_path, err, errlen)) != IH_OK)
        return rc;
    if ((fd = open(real, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "cannot open the PAN key %s: %s", path, strerror(errno));
        return IH_EIO;
    }
    if (checks == KEYFILE_ALL && (rc = check_mode(fd, path, err, errlen)) != IH_OK)
        goto done;
    /* one byte more than the most a key may have, to notice a longer file */
    while (n < TOKENIZE_KEY_MAX && (got = read(fd, key + n, (size_t)(TOKENIZE_KEY_MAX - n))) > 0)
        n += got;
    unsigned char extra;
    if (n == TOKENIZE_KEY_MAX && read(fd, &extra, 1) == 1) {
        snprintf(err, errlen, "the PAN key %s holds more than %d bytes: is it the right file?", path, TOKENIZE_KEY_MAX);
        rc = IH_EINVAL;
    } else if (n < TOKENIZE_KEY_MIN) {
        snprintf(err, errlen, "the PAN key %s holds fewer than %d bytes", path, TOKENIZE_KEY_MIN);
        rc = IH_EINVAL;
    } else {
        *len = (size_t)n;
        rc = IH_OK;
    }
done:
    if (rc != IH_OK)
        crypto_wipe(key, TOKENIZE_KEY_MAX);
    close(fd);
    return rc;
}
