/* issuerhookd pan-lookup: finds the card activities stored for a PAN. The PAN is read
 * from standard input (never from the command line, which other users and the shell's
 * history see; never logged). For every configured PAN key, the current one and each
 * previous one, it prints the key id, the PAN's token under that key and how many card
 * activities the database holds with that token. */
#ifndef ISSUERHOOK_PANLOOKUP_H
#define ISSUERHOOK_PANLOOKUP_H

#include <stdio.h>

struct config;

/* Returns the exit status: 0 found or not, 1 no key or no database access, 2 not a PAN. */
int panlookup_run(const struct config *cfg, FILE *in, FILE *out, FILE *errout);

#endif
