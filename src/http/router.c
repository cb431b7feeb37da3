#include "issuerhook/router.h"

#include <stdio.h>
#include <string.h>

/* Matches path against pattern segment by segment; {x} takes one non-empty segment. */
static bool match(const char *pattern, const char *path, struct route_match *m)
{
    const char *p = pattern, *s = path;
    size_t np = 0;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            size_t n = strcspn(s, "/");
            if (!pe || n == 0 || n > ROUTER_PARAM_MAX || np >= ROUTER_MAX_PARAMS)
                return false;
            if (m) {
                memcpy(m->params[np], s, n);
                m->params[np][n] = '\0';
            }
            np++;
            p = pe + 1;
            s += n;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            return false;
        }
    }
    if (*p || *s)
        return false;
    if (m)
        m->nparams = np;
    return true;
}

enum router_result router_match(const struct route *table, size_t n, const char *method, const char *path,
                                struct route_match *m, char *allow, size_t allowlen)
{
    bool path_known = false;
    size_t al = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!match(table[i].pattern, path, NULL))
            continue;
        if (strcmp(table[i].method, method) == 0) {
            match(table[i].pattern, path, m);
            m->route = &table[i];
            return ROUTER_FOUND;
        }
        if (!strstr(allow, table[i].method)) {
            int w = snprintf(allow + al, allowlen - al, "%s%s", al ? ", " : "", table[i].method);
            if (w > 0 && (size_t)w < allowlen - al)
                al += (size_t)w;
            else
                allow[al] = '\0'; /* only whole method names */
        }
        path_known = true;
    }
    return path_known ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}
