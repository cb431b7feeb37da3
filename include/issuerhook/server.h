/* The HTTP server: libmicrohttpd with a thread pool, optional TLS (GnuTLS), strict
 * framing, routing, authentication before the body is read, bounded bodies, clocks on
 * slow clients, suspended connections while the writer works. */
#ifndef ISSUERHOOK_SERVER_H
#define ISSUERHOOK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "issuerhook/router.h"
#include "issuerhook/status.h"

struct server;
struct app;
struct config;

/* What can fail from the configuration and the network, done before the daemon
 * touches the disk: binds cfg's address exclusively (err carries the OS's error) and
 * loads the TLS files. Warns when the address is not loopback and TLS is off. cfg
 * must stay alive until server_stop (or the reload that replaces it). Caller owns
 * *out (server_stop, also when server_start is never called). */
IH_MUST_CHECK ih_status server_prepare(const struct config *cfg, struct server **out, char *err, size_t errlen);
/* Starts serving app (app->cfg is the configuration prepared with) on s's socket. */
IH_MUST_CHECK ih_status server_start(struct server *s, struct app *app, const struct route *routes, size_t nroutes,
                                     char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
uint16_t server_port(const struct server *s);
/* SIGHUP: reads cfg's TLS files again (certificate, key and client CA, all or none)
 * and from then on authenticates with cfg's API keys, JWT issuers, key header,
 * client certificate subjects and public health/metrics settings. On error nothing
 * changes and err says why. *old is the configuration used until now; requests in
 * flight may still read it, so the caller keeps it alive until server_stop. */
IH_MUST_CHECK ih_status server_reload(struct server *s, const struct config *cfg, const struct config **old,
                                      char *err, size_t errlen);
/* Stops accepting new connections; requests in flight go on. */
void server_quiesce(struct server *s);
/* Requests received and not yet answered. */
size_t server_in_flight(const struct server *s);
/* Closes every connection and frees s (NULL is fine). Nothing may still be suspended. */
void server_stop(struct server *s);

#endif
