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

/* Appends name to the comma-separated allow list unless it is there already. */
static void allow_add(char *allow, size_t allowlen, size_t *al, const char *name)
{
    for (const char *p = allow; (p = strstr(p, name)) != NULL; p += strlen(name))
        if ((p == allow || p[-1] == ' ') && (p[strlen(name)] == ',' || p[strlen(name)] == '\0'))
            return;
    int w = snprintf(allow + *al, allowlen - *al, "%s%s", *al ? ", " : "", name);
    if (w > 0 && (size_t)w < allowlen - *al)
        *al += (size_t)w;
    else
        allow[*al] = '\0'; /* only whole method names */
}

enum router_result router_match(const struct route *table, size_t n, const char *method, const char *path,
                                struct route_match *m, char *allow, size_t allowlen)
{
    bool path_known = false;
    size_t al = 0;
    allow[0] = '\0';
    /* HEAD is GET without the body (RFC 9110 section 9.3.2): libmicrohttpd sends the
     * GET answer's headers, Content-Length included, and leaves the body out */
    const char *as = strcmp(method, "HEAD") == 0 ? "GET" : method;
    for (size_t i = 0; i < n; i++) {
        if (!match(table[i].pattern, path, NULL))
            continue;
        if (strcmp(table[i].method, as) == 0) {
            match(table[i].pattern, path, m);
            m->route = &table[i];
            return ROUTER_FOUND;
        }
        allow_add(allow, allowlen, &al, table[i].method);
        if (strcmp(table[i].method, "GET") == 0)
            allow_add(allow, allowlen, &al, "HEAD");
        path_known = true;
    }
    return path_known ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}
