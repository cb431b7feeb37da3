#include "issuerhook/panlookup.h"

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "issuerhook/config.h"
#include "issuerhook/crypto.h"
#include "issuerhook/store.h"
#include "issuerhook/keycheck.h"
#include "issuerhook/pankeys.h"
#include "issuerhook/tokenize.h"

#define PAN_LINE_MAX 64

/* One line of in into buf, without echo when in is a terminal. */
static bool read_pan(FILE *in, char *buf, size_t cap, FILE *errout)
{
    struct termios old, quiet;
    bool tty = isatty(fileno(in)) && tcgetattr(fileno(in), &old) == 0;
    if (tty) {
        fprintf(errout, "PAN (not echoed): ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(in), TCSAFLUSH, &quiet);
    }
    bool ok = fgets(buf, (int)cap, in) != NULL;
    if (tty) {
        tcsetattr(fileno(in), TCSAFLUSH, &old);
        fprintf(errout, "\n");
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return ok;
}

static void print_key(const struct tokenizer *tk, size_t i, const struct pan_token *t, struct store *db, FILE *out)
{
    fprintf(out, "key %s (%s) token %s", t->key_id, i ? "previous" : "current", t->token);
    long long n, first, last;
    if (!db)
        fprintf(out, "\n");
    else if (pankeys_find_token(db, tokenizer_key_id(tk, i), t->token, &n, &first, &last) != IH_OK)
        fprintf(out, ": cannot read the database\n");
    else if (n == 0)
        fprintf(out, ": no card activity\n");
    else
        fprintf(out, ": %lld card activit%s, records.seq %lld to %lld\n", n, n == 1 ? "y" : "ies", first, last);
}

int panlookup_run(const struct config *cfg, FILE *in, FILE *out, FILE *errout)
{
    char err[600], pan[PAN_LINE_MAX];
    struct tokenizer *tk = NULL;
    struct store *db = NULL;
    struct stat st;
    int ret = 1;
    if (keycheck_load(cfg, &tk, err, sizeof(err)) != IH_OK) {
        fprintf(errout, "issuerhookd pan-lookup: %s\n", err);
        return 1;
    }
    if (!read_pan(in, pan, sizeof(pan), errout)) {
        fprintf(errout, "issuerhookd pan-lookup: give the PAN on standard input\n");
        goto done;
    }
    struct store_options o = {.busy_timeout_ms = cfg->busy_timeout_ms, .read_only = true,
                              .password_file = cfg->db_password_file};
    if (store_db_form(cfg->db_path) == STORE_DB_PATH && stat(cfg->db_path, &st) != 0)
        fprintf(errout, "issuerhookd pan-lookup: no database at %s: printing the tokens only\n", cfg->db_path);
    else if (store_open(cfg->db_path, &o, &db, err, sizeof(err)) != IH_OK)
        fprintf(errout, "issuerhookd pan-lookup: %s: printing the tokens only\n", err);
    for (size_t i = 0; i < tokenizer_key_count(tk); i++) {
        struct pan_token t;
        if (tokenizer_pan_under(tk, i, pan, strlen(pan), &t) != IH_OK) {
            fprintf(errout, "issuerhookd pan-lookup: not a PAN: 12 to 19 digits, spaces or dashes between\n");
            ret = 2;
            goto done;
        }
        print_key(tk, i, &t, db, out);
        crypto_wipe(&t, sizeof(t));
    }
    ret = 0;
done:
    crypto_wipe(pan, sizeof(pan));
    store_close(db);
    tokenizer_free(tk);
    return ret;
}
