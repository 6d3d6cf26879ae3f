/*
 * io/tcp.c: TCP and UDP sockets for tasks: listen (with SO_REUSEPORT),
 * accept (accept4, non-blocking, close-on-exec; backs off on EMFILE/ENFILE
 * instead of spinning), connect with a timeout (host names resolved on the
 * blocking pool), shutdown, UDP bind/sendto/recvfrom. Every call tries the
 * system call first and waits in the reactor only on EAGAIN. Unix stream
 * sockets share accept and connect's waiting.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <eddy/io.h>

#include "io/io_int.h"
#include "sched/sched.h"

/* EMFILE back-off: 1, 2, 4 ... 64 ms between attempts. */
#define ACCEPT_BACKOFF_MAX_MS 64

/* Resolves host:port for a passive socket of socktype and binds the first
   address that works (SO_REUSEADDR; SO_REUSEPORT on request); listens with
   backlog unless it is negative (UDP). *fd receives the socket. */
static int bind_first(const char *host, uint16_t port, int socktype, bool reuseport,
                      int backlog, int *fd)
{
    struct addrinfo *res = NULL;
    int rc = eddy__resolve(host, port, socktype, 1, &res);
    if (rc < 0)
        return rc;
    rc = -EADDRNOTAVAIL;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        int s = socket(a->ai_family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) {
            rc = -errno;
            continue;
        }
        eddy__fd_fresh(s);
        int one = 1;
        if (socktype == SOCK_STREAM)
            (void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if ((reuseport && setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
            bind(s, a->ai_addr, a->ai_addrlen) < 0 ||
            (backlog >= 0 && listen(s, backlog > 0 ? backlog : 128) < 0)) {
            rc = -errno;
            close(s);
            continue;
        }
        *fd = s;
        rc = 0;
        break;
    }
    freeaddrinfo(res);
    return rc;
}

int eddy_tcp_listen(int *fd, const char *host, uint16_t port, int backlog, int flags)
{
    if (fd == NULL || (flags & ~EDDY_REUSEPORT) != 0)
        return -EINVAL;
    return bind_first(host, port, SOCK_STREAM, (flags & EDDY_REUSEPORT) != 0,
                      backlog < 0 ? 0 : backlog, fd);
}

int eddy_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

int eddy_tcp_accept(int lfd, int *cfd, struct sockaddr_storage *peer)
{
    if (cfd == NULL)
        return -EINVAL;
    struct eddy__io_op op;
    int rc = eddy__io_begin(lfd, 0, &op);
    if (rc < 0)
        return rc;
    rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    static atomic_int warned;
    int backoff = 1;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int c = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            eddy__fd_fresh(c);
            if (peer != NULL)
                *peer = ss;
            *cfd = c;
            return 0;
        }
        int e = errno;
        if (e == EINTR || e == ECONNABORTED)
            continue;
        if (e == EMFILE || e == ENFILE) {
            /* out of descriptors: the connection waits in the backlog;
               retry later rather than spin or give up */
            if (eddy__on_worker_outside_task())
                return -EPERM; /* sleeping here would stall the worker */
            if (atomic_exchange(&warned, 1) == 0)
                fprintf(stderr, "eddy: accept: %s; backing off until descriptors free up\n",
                        strerror(e));
            /* a task waits on its timer (an abort wakes it); a plain
               thread sleeps */
            if (eddy__task_current() != NULL)
                (void)eddy__wait(eddy__deadline_after_ms(backoff));
            else
                usleep((useconds_t)backoff * 1000);
            /* whatever ended the wait: stop if aborted or past the deadline */
            rc = eddy__wait_check();
            if (rc < 0)
                return rc;
            if (backoff < ACCEPT_BACKOFF_MAX_MS)
                backoff *= 2;
            continue;
        }
        if (e != EAGAIN && e != EWOULDBLOCK)
            return -e;
        backoff = 1;
        rc = eddy__io_wait(&op, UINT64_MAX);
        if (rc < 0)
            return rc;
    }
}

static int connect_one(const struct addrinfo *a, uint64_t deadline, int *out)
{
    int s = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (s < 0)
        return -errno;
    eddy__fd_fresh(s);
    if (connect(s, a->ai_addr, a->ai_addrlen) == 0) {
        *out = s;
        return 0;
    }
    if (errno != EINPROGRESS) {
        int e = errno;
        close(s);
        return -e;
    }
    struct eddy__io_op op;
    int rc = eddy__io_begin(s, 1, &op);
    while (rc == 0) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
            rc = -errno;
            break;
        }
        if (err != 0 && err != EINPROGRESS) {
            rc = -err;
            break;
        }
        /* connected once writable with no error pending */
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        if (err == 0 && getpeername(s, (struct sockaddr *)&peer, &plen) == 0) {
            *out = s;
            return 0;
        }
        rc = eddy__io_wait(&op, deadline);
    }
    (void)eddy_close(s);
    return rc;
}

int eddy_tcp_connect(int *fd, const char *host, uint16_t port, int64_t timeout_ms)
{
    if (fd == NULL || host == NULL || port == 0)
        return -EINVAL;
    uint64_t deadline = eddy__deadline_after_ms(timeout_ms);
    int rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    struct addrinfo *res = NULL;
    rc = eddy__resolve(host, port, SOCK_STREAM, 0, &res);
    if (rc < 0)
        return rc;
    rc = -ECONNREFUSED;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        rc = connect_one(a, deadline, fd);
        if (rc == 0 || rc == -ETIMEDOUT || rc == -ECANCELED)
            break;
    }
    freeaddrinfo(res);
    if (rc == 0) {
        int one = 1;
        (void)setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return rc;
}

int eddy_shutdown(int fd, int how)
{
    return shutdown(fd, how) < 0 ? -errno : 0;
}

/* ------------------------------------------------------------------ UDP */

int eddy_udp_bind(int *fd, const char *host, uint16_t port)
{
    if (fd == NULL)
        return -EINVAL;
    return bind_first(host, port, SOCK_DGRAM, false, -1, fd);
}

ssize_t eddy_sendto(int fd, const void *buf, size_t n, const struct sockaddr *to, socklen_t tolen)
{
    if (fd >= 0 && ((buf == NULL && n > 0) || (to == NULL && tolen != 0)))
        return -EINVAL;
    struct eddy__io_op op;
    int rc = eddy__io_begin(fd, 1, &op);
    if (rc < 0)
        return rc;
    rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    for (;;) {
        ssize_t w = sendto(fd, buf, n, MSG_NOSIGNAL, to, tolen);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        rc = eddy__io_wait(&op, UINT64_MAX);
        if (rc < 0)
            return rc;
    }
}

ssize_t eddy_recvfrom(int fd, void *buf, size_t n, struct sockaddr_storage *from)
{
    if (fd >= 0 && buf == NULL && n > 0)
        return -EINVAL;
    struct eddy__io_op op;
    int rc = eddy__io_begin(fd, 0, &op);
    if (rc < 0)
        return rc;
    rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    for (;;) {
        socklen_t len = sizeof(struct sockaddr_storage);
        ssize_t r = recvfrom(fd, buf, n, 0, (struct sockaddr *)from, from != NULL ? &len : NULL);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        rc = eddy__io_wait(&op, UINT64_MAX);
        if (rc < 0)
            return rc;
    }
}

/* ---------------------------------------------------------- Unix stream */

static int unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
    if (path == NULL || path[0] == '\0')
        return -EINVAL;
    size_t n = strlen(path);
    if (n >= sizeof sa->sun_path)
        return -ENAMETOOLONG;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int eddy_unix_listen(int *fd, const char *path, int backlog)
{
    struct sockaddr_un sa;
    socklen_t len;
    if (fd == NULL)
        return -EINVAL;
    int rc = unix_addr(path, &sa, &len);
    if (rc < 0)
        return rc;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    eddy__fd_fresh(s);
    if (bind(s, (struct sockaddr *)&sa, len) < 0 || listen(s, backlog > 0 ? backlog : 128) < 0) {
        rc = -errno;
        close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

int eddy_unix_connect(int *fd, const char *path, int64_t timeout_ms)
{
    struct sockaddr_un sa;
    socklen_t len;
    if (fd == NULL)
        return -EINVAL;
    int rc = unix_addr(path, &sa, &len);
    if (rc < 0)
        return rc;
    rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    struct addrinfo a;
    memset(&a, 0, sizeof a);
    a.ai_family = AF_UNIX;
    a.ai_socktype = SOCK_STREAM;
    a.ai_addr = (struct sockaddr *)&sa;
    a.ai_addrlen = len;
    rc = connect_one(&a, eddy__deadline_after_ms(timeout_ms), fd);
    EDDY__KEEP_FRAME(); /* a dump names eddy_unix_connect, see sched.h */
    return rc;
}
