/* The route table's shape and path matching. The table itself is in api/routes.c:
 * the one place that says which method and path need which scope and handler. */
#ifndef ISSUERHOOK_ROUTER_H
#define ISSUERHOOK_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct request;
struct app;

typedef void (*route_handler)(struct request *r, struct app *app);

enum dialect { DIALECT_AMIKO, DIALECT_APITURE, DIALECT_RIVERTY };

enum route_access {
    ACCESS_SCOPED,  /* needs a credential with the route's scope */
    ACCESS_HEALTH,  /* public unless ISSUERHOOK_HEALTH_PUBLIC=false, then any credential */
    ACCESS_METRICS  /* public unless ISSUERHOOK_METRICS_PUBLIC=false, then any credential */
};

#define ROUTER_MAX_PARAMS 2
#define ROUTER_PARAM_MAX 128

struct route {
    const char *method;
    const char *pattern;     /* "/bookings/{amikoBookingId}": a {name} matches one segment */
    enum route_access access;
    unsigned scope;          /* enum scope bits, for ACCESS_SCOPED */
    bool has_body;           /* JSON body: 415, 413 and strict parsing apply */
    bool tracing_required;   /* 400 without a tracing-id header */
    enum dialect dialect;
    route_handler handler;
};

struct route_match {
    const struct route *route;
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX + 1];
    size_t nparams;
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_BAD_METHOD };

/* Finds method+path in table; HEAD finds the GET route. ROUTER_BAD_METHOD: the path
 * exists with other methods, listed comma-separated in allow (HEAD after GET). */
enum router_result router_match(const struct route *table, size_t n, const char *method, const char *path,
                                 struct route_match *m, char *allow, size_t allowlen);

#endif
