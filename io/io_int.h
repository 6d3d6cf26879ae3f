/*
 * io/io_int.h: what io/ offers rt/: the per-worker I/O driver that
 * implements sched's park interface (sched/driver.h). This driver
 * is epoll + an eventfd for unpark; fd registration and sockets come with
 * the I/O layer.
 */
#ifndef EDDY_IO_IO_INT_H
#define EDDY_IO_IO_INT_H

#include "sched/driver.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct eddy__io_driver {
    int epfd;                  /* immutable after new */
    int evfd;                  /* immutable after new */
    _Atomic int nregistered;   /* fds registered besides evfd (any thread
                                  deregisters: eddy_close) */
    _Atomic bool dead;         /* freed with its runtime: the struct stays
                                  (fd entries may still name it), its fds
                                  are closed */
    /* Set when another worker polled this reactor because its owner was
       stuck in one long task; cleared by the owner's next poll. While set,
       an fd a task waits on from another worker moves to that worker's
       reactor (io/fd.c), so it stops waiting on a stuck one. */
    _Atomic bool stuck;
    struct eddy__io_driver *next_dead; /* guarded by: the dead list's lock */
};

/* Dispatches one epoll event of a registered fd (io/fd.c): data is what
   the fd was registered with. Called by the owning worker's driver. */
void eddy__fd_event(uint64_t data, uint32_t events);

/* One I/O attempt on an fd (io/fd.c), for the socket calls: begin it,
   try the syscall, and on EAGAIN wait, then try again. */
struct eddy__io_op {
    void *entry;
    int fd, dir;
    uint64_t tick;
    uint32_t gen;
};
/* Makes fd non-blocking and opens an attempt (write: 0 read, 1 write). */
int eddy__io_begin(int fd, int write, struct eddy__io_op *op);
/* Waits for readiness after EAGAIN: 0, -ETIMEDOUT, -ECANCELED, -EBADF. */
int eddy__io_wait(struct eddy__io_op *op, uint64_t deadline_ns);
/* Resolves host:port (numeric at once; names on the blocking pool when
   called in a task). *res is freed with freeaddrinfo. 0 or -errno/EDDY_EAI_*. */
struct addrinfo;
int eddy__resolve(const char *host, uint16_t port, int socktype, int passive,
                  struct addrinfo **res);

/* Level-triggered interest for a foreign fd whose owner cannot work with
   edges (libcurl: HTTP-NOTES.md 1.1). fn is called with EDDY_READABLE /
   EDDY_WRITABLE (plus EDDY__HANGUP on EPOLLHUP/ERR) each time the
   reactor sees the fd ready, from the worker that polls the reactor: its
   owner, or a worker standing in for it while it is stuck, so fn must be
   thread-safe, must not suspend, and should only record and wake: it runs
   under the fd's lock and must not watch, unwatch or close that fd. Once
   eddy__fd_unwatch (or eddy_close) returns, fn is not running. The
   callback repeats while the condition lasts: consume it or change the
   interest.
   eddy__fd_watch sets (or changes) the interest; the first call registers
   the fd with the current worker's reactor (-EPERM off a worker). events
   0 keeps the fd registered with no interest. eddy__fd_unwatch drops the
   registration (a no-op for an fd never watched); it does not close the
   fd. eddy_close does both. Tasks may still eddy_wait_fd on a watched fd. */
#define EDDY__HANGUP 0x100
typedef void (*eddy__watch_fn)(void *arg, int fd, int events);
int eddy__fd_watch(int fd, int events, eddy__watch_fn fn, void *arg);
int eddy__fd_unwatch(int fd);

/** The ops table all io drivers share (its drv argument is the driver). */
extern const struct eddy__driver_ops eddy__io_driver_ops;

/** Creates a driver (epoll fd + eventfd). 0 or -errno. */
int eddy__io_driver_new(struct eddy__io_driver **out);

/** Closes a driver's fds and frees it. NULL: no-op. */
void eddy__io_driver_free(struct eddy__io_driver *d);

#endif
