/** @file
 * eddy/io.h: waiting on file descriptors and reading and writing them.
 *
 * The calls that wait on, read or write an fd (eddy_wait_fd included)
 * switch it to O_NONBLOCK on first use, and leave it so (a socketpair or
 * pipe made by the caller works as is). Every call tries the system call
 * first and waits for readiness only when it would block; inside a task the
 * task suspends (the worker runs others), on a plain thread the thread
 * blocks in poll(2).
 * Calls not marked "Suspends." never wait on an fd (the socket calls that
 * take a host name may wait for its resolution: see eddy_tcp_listen).
 * Timeouts are in milliseconds; a negative timeout means none. Errors are
 * negative errno values (EDDY_EAI_* for name resolution).
 *
 * Besides its own errors, a call marked "Suspends." returns -ECANCELED once
 * its task was aborted and -ETIMEDOUT once an enclosing deadline passed
 * (both checked on entry too, before any attempt), -EBADF when eddy_close
 * (or eddy_fd_release) drops the fd while a task or thread waits on it,
 * -EBUSY when another task already waits on the same fd and direction (one
 * task per fd and direction; plain threads may share an fd with each other
 * and with a task), -EPERM when it would wait on a worker thread outside a
 * task (a signal handler), and -ENOMEM. A plain thread blocked in poll(2)
 * is woken like a task: by eddy_close of the fd (-EBADF) and by eddy_abort
 * of the blocking-pool task it runs (-ECANCELED); when several plain
 * threads wait in one direction, only the first is sure to see the close.
 *
 * Thread safety: every function may be called from any task or thread, on
 * any fd, concurrently.
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
 * Waits until fd is ready for any of events (EDDY_READABLE, EDDY_WRITABLE;
 * other bits are ignored) and returns the ready ones (> 0). The integration
 * door for third-party non-blocking fds (libpq, hiredis, OpenSSL...). Like
 * the other calls, it switches fd to O_NONBLOCK on first use. The current
 * level is checked first, so data already buffered counts. An error or
 * hang-up on the fd counts as ready for both. Suspends.
 *
 * Errors: -EINVAL (fd negative, or neither event asked), -ETIMEDOUT after
 * timeout_ms, -EBADF (fd not open), the errno of fcntl(2).
 */
EDDY_API int eddy_wait_fd(int fd, int events, int64_t timeout_ms);

/**
 * Reads up to n bytes; returns the count (0: end of file). Suspends while
 * nothing is available.
 *
 * Errors: -EINVAL (buf NULL with n > 0), -EBADF (fd negative or not open),
 * the errno of fcntl(2) or read(2) (-ECONNRESET...).
 */
EDDY_API ssize_t eddy_read(int fd, void *buf, size_t n);

/**
 * eddy_read bounded by timeout_ms (negative: none): -ETIMEDOUT when nothing
 * came in time. Suspends.
 */
EDDY_API ssize_t eddy_read_timeout(int fd, void *buf, size_t n, int64_t timeout_ms);

/**
 * Writes all n bytes, suspending whenever the fd is full; returns n. No
 * timeout of its own (a deadline scope bounds it). After an error part way,
 * how much was written is unknown to the caller: treat the stream as
 * broken. A peer that has gone gives -EPIPE and never raises SIGPIPE:
 * sockets are written with sendmsg(2) and MSG_NOSIGNAL; for other fds
 * (pipes) SIGPIPE is blocked in the calling thread for the write and the
 * one it raised is consumed (the thread's mask is restored). Suspends.
 *
 * Errors: -EINVAL (buf NULL with n > 0), -EBADF (fd negative or not open),
 * the errno of fcntl(2), sendmsg(2) or writev(2) (-EPIPE, -ECONNRESET...).
 */
EDDY_API ssize_t eddy_write(int fd, const void *buf, size_t n);

/**
 * eddy_write of cnt buffers in order (writev(2)); returns the sum of their
 * lengths (0 for cnt 0). Suspends.
 *
 * Errors: as eddy_write; -EINVAL also for cnt negative or above IOV_MAX, or
 * iov NULL with cnt > 0.
 */
EDDY_API ssize_t eddy_writev(int fd, const struct iovec *iov, int cnt);

/**
 * Closes fd. Tasks and threads waiting on it wake with -EBADF, and no
 * readiness event of the old fd ever reaches a task that waits on a new fd
 * with the same number. An fd that an eddy
 * call has waited on must be closed with eddy_close, not close(2): eddy
 * keeps its registration with a reactor, which a new fd with the same
 * number would otherwise inherit (other code that closes it with close(2)
 * must be preceded by eddy_fd_release).
 *
 * Errors: -EBADF (fd negative or not open), the errno of close(2) (-EIO...).
 */
EDDY_API int eddy_close(int fd);

/**
 * Makes eddy forget fd without closing it: tasks and threads waiting on it
 * wake with -EBADF, its reactor registration is dropped, no readiness event of it
 * reaches a later fd with the same number, and its flags are left as they
 * are (O_NONBLOCK stays). The counterpart of eddy_close for an fd that
 * other code will close with close(2): call it before that close, e.g.
 * from a third-party library's cleanup hook. The fd may be used with eddy
 * calls again afterwards (they register it anew).
 *
 * Errors: -EBADF (fd negative or not open).
 *
 * Thread safety: any thread. Does not suspend.
 */
EDDY_API int eddy_fd_release(int fd);

/* ---------------------------------------------------------------- sockets */

/** Flags of eddy_tcp_listen. Values are fixed. */
enum { EDDY_REUSEPORT = 1 };

/**
 * Opens a listening TCP socket on host:port (host NULL or "": all
 * addresses; port 0: any free port, see eddy_local_port), bound with
 * SO_REUSEADDR to the first resolved address that works. EDDY_REUSEPORT
 * sets SO_REUSEPORT, so each worker may listen on the same port. backlog
 * <= 0 uses 128. *fd receives the socket (non-blocking, close-on-exec).
 * A host name (not a numeric address) is resolved with getaddrinfo: inside
 * a task on the blocking pool, the task suspending meanwhile (an abort or
 * deadline then gives -ECANCELED / -ETIMEDOUT, a runtime shutting down
 * -ESHUTDOWN); on a plain thread directly, blocking the thread; on a worker
 * outside a task (a signal handler) not at all: -EPERM.
 *
 * Errors: -EINVAL (fd NULL, unknown flags, host over 253 bytes),
 * EDDY_EAI_NONAME, EDDY_EAI_AGAIN, EDDY_EAI_FAIL, -ENOMEM, the errno of
 * socket(2), bind(2) or listen(2) for the last address tried (-EADDRINUSE,
 * -EACCES...).
 */
EDDY_API int eddy_tcp_listen(int *fd, const char *host, uint16_t port, int backlog, int flags);

/**
 * The local port fd is bound to. Errors: the errno of getsockname(2)
 * (-EBADF, -ENOTSOCK), -EAFNOSUPPORT for a socket neither IPv4 nor IPv6.
 */
EDDY_API int eddy_local_port(int fd);

/**
 * Accepts a connection on lfd (TCP or Unix stream): *cfd receives it
 * (non-blocking, close-on-exec), *peer its address (peer may be NULL).
 * Suspends while no connection waits; no timeout of its own (a deadline
 * scope bounds it). ECONNABORTED is retried. Out of descriptors (EMFILE,
 * ENFILE), it logs once per process and retries with a growing back-off
 * (1 to 64 ms) instead of failing or spinning; the connection stays in the
 * backlog meanwhile.
 *
 * Errors: -EINVAL (cfd NULL), -EBADF (lfd negative or not open), the errno
 * of fcntl(2) or accept4(2) (-EINVAL when lfd does not listen...).
 */
EDDY_API int eddy_tcp_accept(int lfd, int *cfd, struct sockaddr_storage *peer);

/**
 * Connects to host:port, trying each resolved address in turn until one
 * connects. timeout_ms (negative: none) bounds the connection attempts
 * together, not the name resolution (resolved as for eddy_tcp_listen; ""
 * means localhost). *fd receives the connected socket (non-blocking,
 * close-on-exec, TCP_NODELAY). Suspends.
 *
 * Errors: -EINVAL (fd or host NULL, port 0, host over 253 bytes),
 * -ETIMEDOUT, EDDY_EAI_NONAME, EDDY_EAI_AGAIN, EDDY_EAI_FAIL, or the error
 * of the last address tried (-ECONNREFUSED, -ENETUNREACH...).
 */
EDDY_API int eddy_tcp_connect(int *fd, const char *host, uint16_t port, int64_t timeout_ms);

/**
 * shutdown(2) of fd: how is SHUT_RD, SHUT_WR or SHUT_RDWR. Errors: the errno
 * of shutdown(2) (-EBADF, -ENOTCONN, -EINVAL...).
 */
EDDY_API int eddy_shutdown(int fd, int how);

/**
 * Opens a listening Unix stream socket at path (which must not exist yet;
 * remove it with unlink(2) when done). *fd receives the socket
 * (non-blocking, close-on-exec). backlog <= 0 uses 128. Accept on it with
 * eddy_tcp_accept.
 *
 * Errors: -EINVAL (fd NULL, path NULL or ""), -ENAMETOOLONG (path over 107
 * bytes), the errno of socket(2), bind(2) or listen(2) (-EADDRINUSE when
 * path exists...).
 */
EDDY_API int eddy_unix_listen(int *fd, const char *path, int backlog);

/**
 * Connects to the Unix stream socket at path; *fd receives the connected
 * socket (non-blocking, close-on-exec). Linux completes or refuses a Unix
 * connect at once, so the call does not wait and timeout_ms has no effect:
 * a listener with a full backlog gives -EAGAIN.
 *
 * Errors: -EINVAL (fd NULL, path NULL or ""), -ENAMETOOLONG (path over 107
 * bytes), -ECANCELED / -ETIMEDOUT (the task's abort or deadline, checked on
 * entry), the errno of socket(2) or connect(2) (-ENOENT, -ECONNREFUSED,
 * -EAGAIN...).
 */
EDDY_API int eddy_unix_connect(int *fd, const char *path, int64_t timeout_ms);

/**
 * Opens a UDP socket bound to host:port (host NULL or "": all addresses;
 * port 0: any), the first resolved address that works; names are resolved
 * as for eddy_tcp_listen. *fd receives the socket (non-blocking,
 * close-on-exec).
 *
 * Errors: -EINVAL (fd NULL, host over 253 bytes), EDDY_EAI_NONAME,
 * EDDY_EAI_AGAIN, EDDY_EAI_FAIL, -ENOMEM, the errno of socket(2) or bind(2)
 * (-EADDRINUSE...).
 */
EDDY_API int eddy_udp_bind(int *fd, const char *host, uint16_t port);

/**
 * Sends one datagram of n bytes to to (tolen bytes; to NULL and tolen 0: the
 * connected peer), with MSG_NOSIGNAL; returns the count sent. Suspends while
 * the socket is full; no timeout of its own.
 *
 * Errors: -EINVAL (buf NULL with n > 0, or to NULL with tolen not 0),
 * -EBADF (fd negative or not open), the errno of fcntl(2) or sendto(2)
 * (-EMSGSIZE, -EDESTADDRREQ...).
 */
EDDY_API ssize_t eddy_sendto(int fd, const void *buf, size_t n, const struct sockaddr *to,
                             socklen_t tolen);

/**
 * Receives one datagram and returns its length, truncated to n (the rest of
 * a longer datagram is dropped); *from (may be NULL) gets the sender.
 * Suspends while none is queued; no timeout of its own.
 *
 * Errors: -EINVAL (buf NULL with n > 0), -EBADF (fd negative or not open),
 * the errno of fcntl(2) or recvfrom(2).
 */
EDDY_API ssize_t eddy_recvfrom(int fd, void *buf, size_t n, struct sockaddr_storage *from);

#ifdef __cplusplus
}
#endif
#endif /* EDDY_IO_H */
