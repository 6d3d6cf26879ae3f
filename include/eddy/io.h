/** @file
 * eddy/io.h: waiting on file descriptors and reading and writing them.
 *
 * Any fd handed to an eddy I/O call is switched to O_NONBLOCK on first use
 * (a socketpair or pipe made by the caller works as is). Every call tries
 * the system call first and waits for readiness only when it would block;
 * inside a task the task suspends (the worker runs others), on a plain
 * thread the thread blocks in poll(). Suspending calls return -ECANCELED
 * once their task was aborted and -ETIMEDOUT once an enclosing deadline
 * passed. Timeouts are in milliseconds; a negative timeout means none.
 *
 * Thread safety: every function may be called from any task or thread, on
 * any fd, concurrently; at most one task waits per fd and direction (a
 * second gets -EBUSY). A suspending call on a worker thread outside a task
 * (a signal handler) returns -EPERM.
 *
 * TCP, UDP and Unix stream sockets are below.
 */
#ifndef EDDY_IO_H
#define EDDY_IO_H

#include <eddy/common.h>

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Readiness bits for eddy_wait_fd. Values are fixed. */
enum { EDDY_READABLE = 1, EDDY_WRITABLE = 2 };

/**
 * Waits until fd is ready for any of events (EDDY_READABLE, EDDY_WRITABLE)
 * and returns the ready ones (> 0). The integration door for third-party
 * non-blocking fds (libpq, hiredis, OpenSSL...). An error or hang-up on the
 * fd counts as ready for both. Returns -ETIMEDOUT after timeout_ms,
 * -ECANCELED, -EBADF when eddy_close closes fd meanwhile, -EINVAL for a
 * negative fd or no events. Suspends.
 *
 * Thread safety: any thread; at most one task waits per fd and direction.
 */
EDDY_API int eddy_wait_fd(int fd, int events, int64_t timeout_ms);

/**
 * Reads up to n bytes; returns the count (0 = end of file) or a negative
 * errno. Suspends while nothing is available.
 */
EDDY_API ssize_t eddy_read(int fd, void *buf, size_t n);

/** eddy_read bounded by timeout_ms: -ETIMEDOUT when nothing came. */
EDDY_API ssize_t eddy_read_timeout(int fd, void *buf, size_t n, int64_t timeout_ms);

/**
 * Writes all n bytes, suspending whenever the fd is full; returns n, or a
 * negative errno (-EPIPE, -ECONNRESET...) if it fails part way (how much
 * was written is then unknown to the caller: treat the stream as broken).
 */
EDDY_API ssize_t eddy_write(int fd, const void *buf, size_t n);

/** eddy_write of cnt buffers in order (writev). Returns the total. */
EDDY_API ssize_t eddy_writev(int fd, const struct iovec *iov, int cnt);

/**
 * Closes fd. Tasks waiting on it wake with -EBADF, and no readiness event
 * of the old fd ever reaches a task that waits on a new fd with the same
 * number. Returns 0 or the negative errno of close(2). An fd that an eddy
 * call has waited on must be closed with eddy_close, not close(2): eddy
 * keeps its registration with a reactor, which a new fd with the same
 * number would otherwise inherit.
 *
 * Thread safety: any thread.
 */
EDDY_API int eddy_close(int fd);

/* ---------------------------------------------------------------- sockets */

/** Flags of eddy_tcp_listen. Values are fixed. */
enum { EDDY_REUSEPORT = 1 };

/**
 * Opens a listening TCP socket on host:port (host NULL or "": all
 * addresses; port 0: any free port, see eddy_local_port). EDDY_REUSEPORT
 * sets SO_REUSEPORT, so each worker may listen on the same port. backlog
 * <= 0 uses 128. *fd receives the socket. Host names are resolved (on the
 * blocking pool inside a task). Errors: -EINVAL, -EADDRINUSE,
 * EDDY_EAI_NONAME...
 */
EDDY_API int eddy_tcp_listen(int *fd, const char *host, uint16_t port, int backlog, int flags);

/** The local port fd is bound to, or a negative errno. */
EDDY_API int eddy_local_port(int fd);

/**
 * Accepts a connection on lfd (TCP or Unix stream): *cfd receives it (non-blocking,
 * close-on-exec), *peer its address (peer may be NULL). Suspends while no
 * connection waits. Out of descriptors (EMFILE, ENFILE), it logs once and
 * retries with a growing back-off (1 to 64 ms) instead of failing or
 * spinning; the connection stays in the backlog meanwhile.
 */
EDDY_API int eddy_tcp_accept(int lfd, int *cfd, struct sockaddr_storage *peer);

/**
 * Connects to host:port (each resolved address in turn), giving up after
 * timeout_ms (negative: none) with -ETIMEDOUT. *fd receives the connected
 * socket (non-blocking, TCP_NODELAY). -ECONNREFUSED, EDDY_EAI_NONAME...
 * host is a name or a numeric address (NULL: -EINVAL).
 * Suspends.
 */
EDDY_API int eddy_tcp_connect(int *fd, const char *host, uint16_t port, int64_t timeout_ms);

/** shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. 0 or a negative errno. */
EDDY_API int eddy_shutdown(int fd, int how);

/**
 * Opens a listening Unix stream socket at path (which must not exist yet;
 * remove it with unlink(2) when done). Accept on it with eddy_tcp_accept.
 * -EINVAL, -ENAMETOOLONG (path over 107 bytes), -EADDRINUSE...
 */
EDDY_API int eddy_unix_listen(int *fd, const char *path, int backlog);

/** Connects to the Unix stream socket at path (timeout as eddy_tcp_connect). */
EDDY_API int eddy_unix_connect(int *fd, const char *path, int64_t timeout_ms);

/** Opens a UDP socket bound to host:port (port 0: any). */
EDDY_API int eddy_udp_bind(int *fd, const char *host, uint16_t port);

/** Sends one datagram to to (tolen bytes). Suspends while the socket is full. */
EDDY_API ssize_t eddy_sendto(int fd, const void *buf, size_t n, const struct sockaddr *to,
                             socklen_t tolen);

/** Receives one datagram (truncated to n); *from (may be NULL) gets the sender. */
EDDY_API ssize_t eddy_recvfrom(int fd, void *buf, size_t n, struct sockaddr_storage *from);

#ifdef __cplusplus
}
#endif
#endif /* EDDY_IO_H */
