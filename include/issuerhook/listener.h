/* The listening socket, opened by the daemon itself before it touches the disk, then
 * handed to libmicrohttpd. Bound exclusively: no SO_REUSEPORT, so a second daemon on
 * the same address fails with EADDRINUSE instead of sharing the traffic (and the
 * acknowledged events) with the first. */
#ifndef ISSUERHOOK_LISTENER_H
#define ISSUERHOOK_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issuerhook/status.h"

/* Resolves host (numeric or a name), binds port (0: any free one) and listens. On
 * error err says what, with the OS's own words ("Address already in use",
 * "Permission denied", "Cannot assign requested address"). The caller owns *fd. */
IH_MUST_CHECK ih_status listener_open(const char *host, uint16_t port, int *fd, char *err, size_t errlen);
/* The port fd is bound to (0 on error). */
uint16_t listener_port(int fd);
/* Whether fd listens on a loopback address only (127.0.0.0/8, ::1). */
bool listener_is_loopback(int fd);
/* Whether fd is an IPv6 socket. */
bool listener_is_ipv6(int fd);

#endif
