/* Binding is done here rather than by libmicrohttpd so that its errors carry errno,
 * it happens before the database is opened, and SO_REUSEPORT is never set. */
#include "issuerhook/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 1024

static int bind_one(const struct addrinfo *ai, int *eno)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        *eno = errno;
        return -1;
    }
    /* SO_REUSEADDR lets a restart bind while old connections sit in TIME_WAIT; on
     * Linux it never lets two sockets listen on one address (SO_REUSEPORT would). */
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, BACKLOG) != 0) {
        *eno = errno;
        close(fd);
        return -1;
    }
    return fd;
}

ih_status listener_open(const char *host, uint16_t port, int *fd, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ps[8];
    *fd = -1;
    snprintf(ps, sizeof(ps), "%u", port);
    int gai = getaddrinfo(host, ps, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "ISSUERHOOK_LISTEN: cannot resolve %s: %s", host, gai_strerror(gai));
        return IH_EINVAL;
    }
    int eno = 0;
    for (const struct addrinfo *p = ai; p && *fd < 0; p = p->ai_next)
        *fd = bind_one(p, &eno);
    freeaddrinfo(ai);
    if (*fd < 0) {
        snprintf(err, errlen, "ISSUERHOOK_LISTEN: cannot listen on %s:%u: %s", host, port, strerror(eno));
        return IH_EIO;
    }
    return IH_OK;
}

uint16_t listener_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &l) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

bool listener_is_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &l) != 0)
        return false;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
    return false;
}

bool listener_is_ipv6(int fd)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    return getsockname(fd, (struct sockaddr *)&ss, &l) == 0 && ss.ss_family == AF_INET6;
}
