#include "nodes.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void configure(struct nodes *ns, size_t i)
{
    struct daemon *d = &ns->d[i];
    size_t k = 0;
    for (; ns->env[k] && k < 15; k++)
        d->extra_env[k] = ns->env[k];
    d->extra_env[k] = NULL;
}

bool nodes_start(struct nodes *ns, size_t n, const char *const *extra)
{
    if (n < 1 || n > NODES_MAX)
        return false;
    memset(ns, 0, sizeof(*ns));
    ns->n = n;
    key_line("BOOKING", NODES_BOOKING_SECRET, "amiko:bookings", ns->keys[0], sizeof(ns->keys[0]));
    key_line("LEDGER", NODES_LEDGER_SECRET, "ledger:read,ledger:write", ns->keys[1], sizeof(ns->keys[1]));
    key_line("READER", NODES_READER_SECRET, "bankingAdmin/read", ns->keys[2], sizeof(ns->keys[2]));
    size_t e = 0;
    for (; e < 3; e++)
        ns->env[e] = ns->keys[e];
    for (size_t k = 0; extra && extra[k] && e < 11; k++)
        ns->env[e++] = extra[k];
    ns->env[e] = NULL;
    /* the store first (a database in a private cluster), then every node on it */
    ns->d[0].pg_private = true;
    if (!daemon_prepare(&ns->d[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        ns->d[i].same_store = &ns->d[0];
    struct daemon *all[NODES_MAX];
    for (size_t i = 0; i < n; i++) {
        configure(ns, i);
        all[i] = &ns->d[i];
    }
    if (daemons_start(all, n))
        return true;
    for (size_t i = 0; i < n; i++)
        if (ns->d[i].pid <= 0)
            fprintf(stderr, "nodes: node %zu did not start (log %s)\n", i, ns->d[i].log);
    return false;
}

bool nodes_restart(struct nodes *ns, size_t i)
{
    if (i >= ns->n)
        return false;
    if (ns->d[i].pid > 0)
        return true;
    configure(ns, i);
    return daemon_start(&ns->d[i]);
}

int nodes_stop(struct nodes *ns)
{
    int sum = 0;
    for (size_t i = ns->n; i-- > 0;) {
        if (ns->d[i].pid > 0)
            sum += daemon_stop(&ns->d[i], SIGTERM);
        daemon_cleanup(&ns->d[i]); /* the first node's last: it drops the store */
    }
    return sum;
}
