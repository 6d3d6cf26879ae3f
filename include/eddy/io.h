/*
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
 * Sockets (TCP, UDP, Unix) come with the rest of the I/O layer.
 */
#ifndef EDDY_IO_H
#define EDDY_IO_H

#include <eddy/common.h>

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
 * number. Returns 0 or the negative errno of close(2).
 *
 * Thread safety: any thread.
 */
EDDY_API int eddy_close(int fd);

#ifdef __cplusplus
}
#endif
#endif /* EDDY_IO_H */
