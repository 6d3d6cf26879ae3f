/*
 * sched/driver.h: the park interface a worker sleeps through. sched defines
 * it and knows nothing else of I/O; io/ implements it (epoll + eventfd, or
 * io_uring) and rt/ hands one driver per worker to sched at start-up. This
 * is how Tokio's scheduler parks on its driver without depending on it.
 */
#ifndef EDDY_SCHED_DRIVER_H
#define EDDY_SCHED_DRIVER_H

#include <stdint.h>

struct eddy__driver_ops {
    /* Owner worker only. Waits up to timeout_ns (< 0: no limit, 0: just
       poll) for I/O readiness or an unpark, handles what is ready (waking
       tasks through eddy__wake) and returns the number of I/O events
       handled (an unpark is not counted), or a negative errno. */
    int (*park)(void *drv, int64_t timeout_ns);
    /* Any thread: makes the current park return, or the next one return at
       once. Must be async-signal-safe and must not allocate. */
    void (*unpark)(void *drv);
    /* True when the driver has registrations worth a zero-timeout poll
       between task runs (an idle driver is skipped). Owner worker. */
    int (*has_io)(void *drv);
    /* Any worker but the owner, while the owner is stuck in one long task:
       handles what is ready without waiting (wakes go to the caller's
       queues, through eddy__wake) and returns the number of I/O events, or
       a negative errno. Never consumes an unpark meant for the owner.
       NULL: the driver cannot be polled from another thread. */
    int (*poll_foreign)(void *drv);
    /* Any thread: true when readiness waits for the owner itself to run
       before it can be delivered (io_uring: completions held by the
       owner's pending task work). A parked owner that stays so for
       EDDY__REACTOR_STUCK_NS was woken but is not running (a busy
       machine), and is stood in for like a stuck one. NULL: never. */
    int (*stranded)(void *drv);
};

#endif
