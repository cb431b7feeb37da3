/* The systemd service manager's notification protocol (sd_notify(3)) and its watchdog.
 *
 * Written by hand rather than linking libsystemd: the protocol is one datagram of
 * "KEY=VALUE" lines to the AF_UNIX socket named in $NOTIFY_SOCKET, which systemd
 * documents as stable for independent implementations, and the Docker image then
 * needs no libsystemd. Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op. */
#ifndef ISSUERHOOK_NOTIFY_H
#define ISSUERHOOK_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "issuerhook/status.h"

/* Sends state ("READY=1\nSTATUS=…") to $NOTIFY_SOCKET. Returns false when the socket is
 * set but the message could not be sent (logged once by the caller's choice); true when
 * sent or when there is no service manager to tell. Thread-safe. */
bool notify_send(const char *state);

/* A liveness probe: the monotonic ms of the last proof of life of what the watchdog
 * guards (here: the writer loop's heartbeat). */
typedef int64_t (*watchdog_alive_fn)(void *arg);

struct watchdog;

/* Starts the watchdog thread when the service manager asked for one ($WATCHDOG_USEC set
 * and $WATCHDOG_PID unset or ours). The thread pings WATCHDOG=1 every interval/3 while
 * alive() is younger than the interval, and stops pinging (so systemd restarts the
 * service) when it is not. *out is NULL when no watchdog was asked for. */
IH_MUST_CHECK ih_status watchdog_start(watchdog_alive_fn alive, void *arg, struct watchdog **out);
/* Stops and frees the thread; NULL is fine. */
void watchdog_stop(struct watchdog *wd);

/* The watchdog interval systemd asked for in microseconds, 0 for none. env_usec and
 * env_pid are the variables' values (NULL when unset), pid ours. Pure: for tests. */
uint64_t watchdog_interval_usec(const char *env_usec, const char *env_pid, long pid);
/* Whether a heartbeat at heartbeat_ms is proof of life at now_ms for an interval of
 * interval_usec. Pure: for tests. */
bool watchdog_alive(int64_t now_ms, int64_t heartbeat_ms, uint64_t interval_usec);

#endif
