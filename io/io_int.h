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
#include <sys/epoll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum { EDDY__BACKEND_EPOLL = 1, EDDY__BACKEND_URING = 2 };

struct eddy__io_driver {
    int backend;               /* EDDY__BACKEND_*; immutable after new */
    int epfd;                  /* epoll backend: the set; immutable */
    int evfd;                  /* the unpark eventfd; immutable after new */
    struct eddy__uring *ring;  /* io_uring backend (io/uring.c) */
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

/* Dispatches one readiness event of a registered fd (io/fd.c): data is
   what the fd was registered with, events EPOLL* bits. Called by the
   worker polling the driver. */
void eddy__fd_event(uint64_t data, uint32_t events);
/* io_uring (io/fd_uring.c): the poll registered with data on d ended with
   res (a one-shot level poll that fired, a multishot the kernel stopped, a
   poll whose arming thread exited, or one we cancelled). If it still is the
   fd's registration and res is an event or -ECANCELED, it is armed again;
   on another error, or when arming fails, the registration is dropped and
   the fd's waiters are woken, so that they try again and register anew. */
void eddy__fd_poll_ended(struct eddy__io_driver *d, uint64_t data, int res);

/* io_uring: a worker standing in for d's stuck owner finds nothing to
   reap, because a poll's completion is posted only when the thread that
   armed it runs (a preempted owner holds them all). This checks the fds
   registered with d that a task waits on (or that are watched) with
   poll(2) and dispatches the ready ones like reactor events; the tasks
   woken then re-register where they run. Returns how many were ready. */
int eddy__fd_poll_stranded(struct eddy__io_driver *d);

/* The backend interface io/fd.c registers through (any thread). events
   are EPOLL* bits, EPOLLET for edge-triggered; data is never 0 (the
   eventfd's). mod may replace data; del takes what the fd was
   registered with. 0 or -errno (epoll: ENOENT for a number closed with
   close(2) and reused). */
int eddy__io_add(struct eddy__io_driver *d, int fd, uint32_t events, uint64_t data);
int eddy__io_mod(struct eddy__io_driver *d, int fd, uint32_t events, uint64_t old_data,
                 uint64_t data);
void eddy__io_del(struct eddy__io_driver *d, int fd, uint64_t data);

#ifdef EDDY_HAVE_URING
int eddy__uring_new(struct eddy__io_driver *d);
void eddy__uring_free(struct eddy__io_driver *d);
int eddy__uring_park(struct eddy__io_driver *d, int64_t timeout_ns);
int eddy__uring_poll_foreign(struct eddy__io_driver *d);
int eddy__uring_stranded(struct eddy__io_driver *d);
int eddy__uring_add(struct eddy__io_driver *d, int fd, uint32_t events, uint64_t data);
int eddy__uring_mod(struct eddy__io_driver *d, int fd, uint32_t events, uint64_t old_data,
                    uint64_t data);
void eddy__uring_del(struct eddy__io_driver *d, uint64_t data);
#endif

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
/* One fd case of an eddy_select (rt/select.c): eddy_wait_fd cut into
   pieces, so that one task or thread waits on several things at once.
   check makes fd non-blocking, notes the ticks and polls its level: the
   ready bits (> 0), 0, or -errno (-EBADF: not open). arm, after a check
   that found nothing: for a task, the reactor's edges now wake self (it
   takes the direction slots, as eddy_wait_fd does), or the ready bits
   when an edge came since the check (nothing armed), -EBUSY (another task
   waits on a direction), -EBADF (closed since); for a plain thread, it
   takes the free slots only, so that eddy_close wakes it, and 0. disarm:
   gives the slots back; the ready bits the reactor reported (tasks;
   plain threads poll and see their own), or -EBADF when fd was closed
   meanwhile. self is the caller's waiter (eddy__waiter_current): the
   same one for the arm and its disarm. */
struct eddy__fd_wait {
    void *entry;
    int fd, events;
    uint32_t gen;
    uint64_t tick[2];
};
struct eddy__task;
int eddy__fd_wait_check(struct eddy__fd_wait *w, int fd, int events);
int eddy__fd_wait_arm(struct eddy__fd_wait *w, struct eddy__task *self);
int eddy__fd_wait_disarm(struct eddy__fd_wait *w, struct eddy__task *self);
/* poll(2) events for EDDY_READABLE|EDDY_WRITABLE, and the ready bits of
   revents (an error or hang-up counts as ready for both; POLLNVAL gives
   -EBADF), for a plain thread's own poll. */
short eddy__fd_poll_events(int events);
int eddy__fd_poll_ready(short revents, int events);

/* Resolves host:port (numeric at once; names on the blocking pool when
   called in a task). *res is freed with freeaddrinfo. 0 or -errno/EDDY_EAI_*. */
struct addrinfo;
int eddy__resolve(const char *host, uint16_t port, int socktype, int passive,
                  struct addrinfo **res);

/* For a number the kernel just handed out (socket, accept4): what eddy
   kept for that number belongs to a file closed with close(2) behind its
   back. Drops it (a stale registration would keep the new fd off its
   reactor, and its waits would never end; waiters of the old file wake
   with -EBADF) and says so once on stderr, naming the fd, when it was
   registered. Any thread. */
void eddy__fd_fresh(int fd);

/* Level-triggered interest for a foreign fd whose owner cannot work with
   edges (libcurl: docs/design.md, "Readiness for libcurl"). fn is called with EDDY_READABLE /
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

/* A one-shot read-readiness callback, for connections that wait between
   requests holding no task (the HTTP server's idle keep-alive ones).
   eddy__fd_read_tick is one read(2) of fd that never waits: bytes (> 0),
   0 at EOF, -EAGAIN or another -errno; *tick gets the fd's read tick as
   it was before the read. When a read found fd drained (-EAGAIN, or fewer
   bytes than asked of a stream socket: a short read takes all there is,
   as Tokio's TcpStream also assumes), eddy__fd_arm_after(fd, tick, fn,
   arg) arms fn(arg) to run once on the next read readiness, with no edge
   lost in between (the tick rule of the waits): 0 armed, 1 not armed
   because bytes came since (read again), or -errno (-EEXIST: armed
   already; -EPERM off a worker). The fd stays registered where it is
   (with the current worker's reactor when it is not yet): a stuck
   reactor is polled by a stand-in, and an idle connection need not move.
   fn runs on the worker polling that reactor (its owner, or a stand-in
   for it while it is stuck), outside any task and without the fd's lock:
   it may spawn tasks and call non-blocking code, never suspend.
   eddy__fd_read_or_arm is both in one: bytes, 0 at EOF, -EINPROGRESS when
   armed, -errno; with n == 0 it only arms (0: known readable, not armed).
   eddy__fd_disarm takes the arm back: true when it did (fn will not run),
   false when none was armed (fn has run or is being called): exactly one
   of the two callers owns what arg names. eddy_close drops an arm. */
typedef void (*eddy__arm_fn)(void *arg);
ssize_t eddy__fd_read_tick(int fd, void *buf, size_t n, uint64_t *tick);
int eddy__fd_arm_after(int fd, uint64_t tick, eddy__arm_fn fn, void *arg);
ssize_t eddy__fd_read_or_arm(int fd, void *buf, size_t n, eddy__arm_fn fn, void *arg);
bool eddy__fd_disarm(int fd);

/** The ops table all io drivers share (its drv argument is the driver). */
extern const struct eddy__driver_ops eddy__io_driver_ops;

/** Creates a driver: backend is EDDY_IO_AUTO, EDDY_IO_EPOLL or
    EDDY_IO_URING (eddy/common.h). Where io_uring is asked for and the kernel
    (or the build) refuses it, the driver uses epoll and one line says why
    on stderr. 0 or -errno. */
int eddy__io_driver_new(struct eddy__io_driver **out, int backend);

/** Closes a driver's fds and frees it. NULL: no-op. */
void eddy__io_driver_free(struct eddy__io_driver *d);

#endif
