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
#include <stdint.h>

struct eddy__io_driver {
    int epfd;                  /* immutable after new */
    int evfd;                  /* immutable after new */
    _Atomic int nregistered;   /* fds registered besides evfd (any thread
                                  deregisters: eddy_close) */
};

/* Dispatches one epoll event of a registered fd (io/fd.c): data is what
   the fd was registered with. Called by the owning worker's driver. */
void eddy__fd_event(uint64_t data, uint32_t events);

/** The ops table all io drivers share (its drv argument is the driver). */
extern const struct eddy__driver_ops eddy__io_driver_ops;

/** Creates a driver (epoll fd + eventfd). 0 or -errno. */
int eddy__io_driver_new(struct eddy__io_driver **out);

/** Closes a driver's fds and frees it. NULL: no-op. */
void eddy__io_driver_free(struct eddy__io_driver *d);

#endif
