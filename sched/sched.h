/*
 * sched/sched.h: what the scheduling core offers the layers above (io, rt).
 *
 * A scheduler owns N workers (threads), each with its run queue, LIFO slot,
 * inbox, timer wheel and driver; a global inject queue for work from outside;
 * the idle/search coordination; the blocking pool; and the lists that let a
 * shutdown find every task. Task kinds (fibers live in rt/) plug in through
 * struct eddy__task_vtable.
 */
#ifndef EDDY_SCHED_SCHED_H
#define EDDY_SCHED_SCHED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/driver.h"
#include "sched/task.h"
#include "sched/timer.h"

struct eddy__sched;
struct eddy__worker;

struct eddy__sched_config {
    unsigned workers;                       /* >= 1 */
    bool work_stealing;
    bool pin_workers;
    unsigned blocking_threads;              /* >= 1 */
    const struct eddy__driver_ops *drv_ops; /* one ops table for all */
    void **drivers;                         /* [workers], borrowed */
    /* Called on each worker thread before its loop starts and after it
       ends (rt sets up the thread's fiber context there). May be NULL. */
    void (*on_thread_start)(unsigned worker, void *ud);
    void (*on_thread_stop)(unsigned worker, void *ud);
    void *ud;
};

/** Creates the scheduler and starts its workers. 0 or -errno. */
int eddy__sched_new(struct eddy__sched **out, const struct eddy__sched_config *cfg);

/** The user data given in the config. Immutable. */
void *eddy__sched_ud(struct eddy__sched *s);
unsigned eddy__sched_workers(struct eddy__sched *s);
bool eddy__sched_stealing(struct eddy__sched *s);

/**
 * Graceful part of a shutdown: refuses spawns from outside, waits up to
 * grace_ms for the tasks to end, then aborts the rest and waits up to
 * grace_ms more. Returns 0 if all ended by themselves, -ETIMEDOUT otherwise.
 * Does not stop the workers.
 */
int eddy__sched_shutdown(struct eddy__sched *s, int64_t grace_ms);

/**
 * Stops the workers, drops every task still alive (kind drop hook; joiners
 * see COMPLETE|CANCELLED), stops the blocking pool and frees s.
 */
void eddy__sched_free(struct eddy__sched *s);

/**
 * Queues a new task t (initialised with eddy__task_init, one reference for
 * the queue already counted). worker >= 0 places it on that worker (its
 * home when stealing is off). From one of s's workers it goes to the local
 * queue, else to the inject queue or the target's inbox. Returns 0 or
 * -ESHUTDOWN (then t is untouched: the caller frees it).
 */
int eddy__sched_spawn(struct eddy__sched *s, struct eddy__task *t, int worker);

/** Queues t on the blocking pool. 0, -ESHUTDOWN, -EAGAIN (no thread). */
int eddy__sched_spawn_blocking(struct eddy__sched *s, struct eddy__task *t);

/** Counts a task that ends (by run or drop) for the shutdown accounting. */
void eddy__sched_task_done(struct eddy__sched *s);

/**
 * Marks t complete (COMPLETE, RUNNING cleared), wakes its joiner, removes it
 * from the owned list and drops the references of its run and of the owned
 * list. For kinds run outside the workers too (blocking pool).
 */
void eddy__task_complete(struct eddy__task *t);

/* ----------------------------------------------------- the current thread */

/** The worker running the caller, NULL off the workers. */
struct eddy__worker *eddy__worker_current(void);
/** The scheduler of the current worker, NULL off the workers. */
struct eddy__sched *eddy__sched_current(void);
/** Index of the current worker, -1 off the workers. */
int eddy__worker_index_current(void);
/** The driver the current worker parks on (io's), NULL off the workers. */
void *eddy__worker_driver_current(void);

/**
 * The task running on the calling thread, NULL on a worker's own stack or
 * on a plain thread. Re-read after every suspension (never cached: fibers
 * move between threads).
 */
struct eddy__task *eddy__task_current(void);

/**
 * True on a worker thread outside any task: its scheduler loop, which only
 * a signal handler (or a hook) can interrupt with a call of ours. A call
 * that would suspend there must refuse (-EPERM): blocking would stall
 * every task of the worker.
 */
static inline bool eddy__on_worker_outside_task(void)
{
    return eddy__worker_current() != NULL && eddy__task_current() == NULL;
}

/**
 * The blocking task the calling blocking-pool thread runs, NULL elsewhere.
 * Its abort wakes the thread's waits (eddy__wait).
 */
struct eddy__task *eddy__blocking_current(void);

/**
 * The waiter to register before waiting: the running task, else the
 * calling thread's parker (a task-shaped object a plain thread blocks on;
 * NULL only when it cannot be allocated).
 */
struct eddy__task *eddy__waiter_current(void);

/**
 * What a task waits on, as eddy_rt_dump shows it. A suspending call says
 * it to eddy__wait_on, which records it on the task with when the wait
 * began and clears it once it returns.
 */
enum eddy__wait_kind {
    EDDY__WAIT_NONE = 0,
    EDDY__WAIT_CHAN_SEND,  /* obj: the channel */
    EDDY__WAIT_CHAN_RECV,  /* obj: the channel */
    EDDY__WAIT_MUTEX,      /* obj: the mutex */
    EDDY__WAIT_SEM,        /* obj: the semaphore */
    EDDY__WAIT_NOTIFY,     /* obj: the notify */
    EDDY__WAIT_WAITGROUP,  /* obj: the waitgroup */
    EDDY__WAIT_FD,         /* arg: fd | EDDY_READABLE/WRITABLE << 32 */
    EDDY__WAIT_SLEEP,      /* arg: the deadline, ns (eddy__now_ns) */
    EDDY__WAIT_JOIN,       /* obj: the struct eddy__task joined */
    EDDY__WAIT_SELECT,     /* obj: the case array; arg: its length */
    EDDY__WAIT_SCOPE,      /* obj: the scope (close or next) */
    EDDY__WAIT_HTTP,       /* obj: the transfer */
    EDDY__WAIT_OTHER,
};

/**
 * Put after a call in tail position in a public function that suspends:
 * the call is then not made a sibling call, which would replace the public
 * function's frame with the callee's, so that eddy_rt_dump names the call
 * the task blocks in (eddy_chan_recv, not a static helper of no name). The
 * cost is one return.
 */
#define EDDY__KEEP_FRAME() __asm__ volatile("")

/**
 * A coarse clock in milliseconds (wraps every 49 days: use differences):
 * on a worker, the value its loop refreshed between task runs (at most a
 * few ms stale, free to read); elsewhere CLOCK_MONOTONIC_COARSE.
 */
uint32_t eddy__clock_ms(void);

/**
 * Suspends the caller until it is woken (eddy__wake on the waiter), until
 * deadline_ns (UINT64_MAX: none; the task's deadline scope applies too),
 * or until its task is aborted. Returns 0 when woken (possibly spuriously:
 * callers loop on their own condition), -ETIMEDOUT, -ECANCELED. Returns
 * at once when the deadline already passed or the task is cancelled.
 * kind, obj and arg say what the task waits on (enum eddy__wait_kind) for
 * eddy_rt_dump, which shows them while it waits.
 */
int eddy__wait_on(unsigned kind, const void *obj, int64_t arg, uint64_t deadline_ns);

/** eddy__wait_on for a wait with nothing to show (internal ones). */
static inline int eddy__wait(uint64_t deadline_ns)
{
    return eddy__wait_on(EDDY__WAIT_NONE, NULL, 0, deadline_ns);
}

/**
 * A plain thread's wait on an fd: poll(2) on fd for events that a wake of
 * its parker t (eddy__wake: an eddy_close of the fd, an abort of the
 * thread's blocking task) also ends. Returns 0 with *revents set when the
 * fd is ready, 0 with *revents 0 when woken, -ETIMEDOUT at deadline_ns
 * (UINT64_MAX: none), or -errno.
 */
int eddy__parker_poll(struct eddy__task *t, int fd, short events, uint64_t deadline_ns,
                      short *revents);

/**
 * eddy__parker_poll over n fds at once (eddy_select): pf[0..n-1] as for
 * poll(2), and pf[n] room for the parker's eventfd. Returns 0 when one of
 * the n is ready (its revents set) or when woken (all zero), -ETIMEDOUT at
 * deadline_ns, or -errno.
 */
struct pollfd;
int eddy__parker_poll_fds(struct eddy__task *t, struct pollfd *pf, unsigned n,
                          uint64_t deadline_ns);

/** True when waiter t is a plain thread's parker, not a task. */
bool eddy__waiter_is_thread(const struct eddy__task *t);

/**
 * Entry check of every suspending call: spends one unit of the running
 * task's cooperative budget (yielding when it runs out), then returns
 * -ECANCELED / -ETIMEDOUT when the task was aborted or its deadline passed,
 * else 0. On a plain thread: 0.
 */
int eddy__wait_check(void);

/** Yields the running task to the back of its worker's queue. */
void eddy__yield_current(void);

/**
 * Suspends the running task (a plain thread: blocks) until it is woken,
 * whatever its cancellation or deadline: for the clean-up a cancelled call
 * still owes before it may return (a transfer the worker's curl must let
 * go of before the caller's memory can). Wakes may be spurious: callers
 * loop on their own condition, which must come true without them. kind,
 * obj and arg as eddy__wait_on's.
 */
void eddy__wait_uncancellable_on(unsigned kind, const void *obj, int64_t arg);
static inline void eddy__wait_uncancellable(void)
{
    eddy__wait_uncancellable_on(EDDY__WAIT_NONE, NULL, 0);
}

/* ----------------------------------------------------------- worker hooks */

/*
 * A hook is work the layers above need done on one worker's own thread but
 * outside any task (http's curl multi of that worker): fn(arg) runs each
 * time it was requested, in the worker's loop between two task runs. While
 * the worker is stuck in one long task, a worker standing in for it runs
 * its requested hooks instead, on the stand-in's thread; never two runs of
 * one worker's hooks at once (each worker's hook lock). fn must not
 * suspend; it may request hooks and wake tasks. fini(arg) runs once in
 * eddy__sched_free, after the workers stopped, on the freeing thread.
 */
enum { EDDY__HOOK_CURL = 0, EDDY__HOOK_SLOTS = 4 };
typedef void (*eddy__hook_fn)(void *arg);

/** Installs slot of worker: 0, -EBUSY (the slot has a hook already),
    -EINVAL. Any thread. */
int eddy__hook_install(struct eddy__sched *s, unsigned worker, unsigned slot, eddy__hook_fn fn,
                       eddy__hook_fn fini, void *arg);
/** The arg of slot's hook on worker, NULL while none is installed. Any
    thread (acquire: what was written before the install is visible). */
void *eddy__hook_arg(struct eddy__sched *s, unsigned worker, unsigned slot);
/** Asks for slot's hook to run on worker soon (waking it when parked).
    Any thread; requests before a run coalesce into it. */
void eddy__hook_request(struct eddy__sched *s, unsigned worker, unsigned slot);

/* ---------------------------------------------------------------- timers */

/**
 * Arms timer tm (fire set by the caller) on the current worker's wheel, at
 * deadline_ns rounded up to the wheel's 1 ms tick. Off the workers returns
 * -EPERM. fire runs on the owning worker (or a thread stealing its timers)
 * with the wheel's lock held: it must only wake tasks.
 */
int eddy__timer_arm(struct eddy__timer *tm, uint64_t deadline_ns);
/** Disarms tm wherever it is armed; true if it had not fired. Any thread. */
bool eddy__timer_disarm(struct eddy__timer *tm);

/* --------------------------------------------------------- join, abort */

/**
 * Waits for t to complete (deadline as eddy__wait), then stores its result
 * and consumes the join handle's reference. 0, -ECANCELED (t was aborted;
 * the result is stored anyway), or the caller's own -ECANCELED/-ETIMEDOUT/
 * -ENOMEM with the handle left valid; -EPERM when t is the caller.
 */
int eddy__task_join(struct eddy__task *t, void **result, uint64_t deadline_ns);
/** Gives up the join handle's reference. */
void eddy__task_detach(struct eddy__task *t);
/**
 * A join in pieces, for eddy_select. arm: 1 when t completed (nothing
 * registered), 0 when self is now the joiner t's completion wakes, -EBUSY
 * when another joiner waits. disarm: takes an arm back (a no-op once t
 * completed). take: consumes the handle of a completed t as
 * eddy__task_join does (0 or -ECANCELED, *result when result is not
 * NULL); -EAGAIN while t runs.
 */
int eddy__task_join_arm(struct eddy__task *t, struct eddy__task *self);
void eddy__task_join_disarm(struct eddy__task *t, struct eddy__task *self);
int eddy__task_join_take(struct eddy__task *t, void **result);
/** Sets CANCELLED and wakes t. Always 0. */
int eddy__task_abort(struct eddy__task *t);

/* --------------------------------------------------------------- metrics */

struct eddy__metrics {
    uint64_t polls, spawned, stolen, steal_attempts, parks, global_pulls,
             io_events, timers_fired, busy_ns;
    uint64_t stuck_polls; /* polls of a stuck worker's reactor and timers */
    uint32_t queue_depth;
};
/** Reads worker i's counters. -EINVAL when out of range. Any thread. */
int eddy__sched_metrics(struct eddy__sched *s, unsigned i, struct eddy__metrics *m);
/** Timers armed on all workers' wheels now (tests: nothing left behind). */
size_t eddy__sched_timers_armed(struct eddy__sched *s);
/** Tasks suspended now (waiting, not queued or running), over all
    workers: what tests check to see that nothing waits. Any thread. */
size_t eddy__sched_tasks_suspended(struct eddy__sched *s);

/** Adds n I/O events to the current worker's counter (drivers call it). */
void eddy__metrics_io_events(unsigned n);

uint64_t eddy__now_ns(void);

/**
 * The deadline timeout_ms from now, in ns on eddy__now_ns's clock:
 * UINT64_MAX (none) when timeout_ms is negative, and when it is so large
 * that the sum would overflow (it is beyond any real wait anyway).
 */
static inline uint64_t eddy__deadline_after_ms(int64_t timeout_ms)
{
    if (timeout_ms < 0)
        return UINT64_MAX;
    uint64_t now = eddy__now_ns();
    if ((uint64_t)timeout_ms > (UINT64_MAX - now) / 1000000u)
        return UINT64_MAX;
    return now + (uint64_t)timeout_ms * 1000000u;
}

/* ------------------------------------------------- inspection (the dump) */
/* What eddy_rt_dump needs of the scheduler (sched/inspect.c). */

/** A task found by eddy__sched_snapshot: t carries a reference of the
    snapshot's, dropped by eddy__sched_snapshot_free. */
struct eddy__task_snap {
    struct eddy__task *t;
    unsigned worker; /* the worker whose owned list held it */
};

/**
 * Appends to *arr every task on the workers' owned lists (it switched out
 * at least once and has not ended), each with a reference taken under its
 * list's lock. *arr grows (eddy__realloc) with *len and *cap; it may start
 * NULL, 0, 0. Allocates outside the locks and does nothing else under them.
 * Returns 0, or -ENOMEM with what was appended kept. Any thread.
 */
int eddy__sched_snapshot(struct eddy__sched *s, struct eddy__task_snap **arr, size_t *len,
                         size_t *cap);
/** Drops the snapshot's references and frees its array. */
void eddy__sched_snapshot_free(struct eddy__task_snap *arr, size_t len, size_t cap);

/** Tasks waiting in worker i's queues now (ring, spill, LIFO slot, inbox),
    counted without locks: an estimate. 0 for i out of range. */
size_t eddy__sched_worker_queued(struct eddy__sched *s, unsigned i);
/** Tasks in the global inject queue now (an estimate). */
size_t eddy__sched_inject_queued(struct eddy__sched *s);
/** The blocking pool's tasks running and queued now (under its lock). */
void eddy__sched_blocking_counts(struct eddy__sched *s, size_t *running, size_t *queued);
/** Tasks spawned and not ended, every kind (an estimate while they churn). */
uint64_t eddy__sched_tasks_alive(struct eddy__sched *s);

/**
 * Pins an idle task (suspended: none of RUNNING, NOTIFIED, COMPLETE) by
 * setting RUNNING, the lock on its body: no worker runs it, and nothing
 * queues it, until eddy__task_unpin (a wake meanwhile only sets NOTIFIED).
 * Its stack and kind fields may then be read from any thread. Returns
 * false, with *seen (may be NULL) the state that refused, when t is not
 * idle. The caller holds a reference on t.
 */
bool eddy__task_pin(struct eddy__task *t, uint64_t *seen);
/** Ends a pin: clears RUNNING and queues t if a wake came meanwhile. */
void eddy__task_unpin(struct eddy__task *t);

#endif
