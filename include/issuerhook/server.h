/* The HTTP server: libmicrohttpd with a thread pool, routing, authentication before
 * the body is read, bounded bodies, suspended connections while the writer works. */
#ifndef ISSUERHOOK_SERVER_H
#define ISSUERHOOK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "issuerhook/router.h"
#include "issuerhook/status.h"

struct server;
struct app;

/* Starts listening on app->cfg's address. Caller owns *out. */
IH_MUST_CHECK ih_status server_start(struct app *app, const struct route *routes, size_t nroutes,
                                     struct server **out, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
uint16_t server_port(const struct server *s);
/* From now on, requests are authenticated with cfg's API keys, JWT issuers, key header
 * and public health/metrics settings (SIGHUP). Returns the configuration used until
 * now; requests in flight may still read it, so the caller keeps it alive until
 * server_stop. */
struct config;
const struct config *server_swap_credentials(struct server *s, const struct config *cfg);
/* Stops accepting new connections; requests in flight go on. */
void server_quiesce(struct server *s);
/* Requests received and not yet answered. */
size_t server_in_flight(const struct server *s);
/* Closes every connection and frees s. Nothing may still be suspended. */
void server_stop(struct server *s);

#endif
