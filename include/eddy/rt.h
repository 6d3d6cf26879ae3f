/** @file
 * eddy/rt.h: the runtime (worker threads with their reactors, timers and run
 * queues), tasks (stackful fibers) and per-worker metrics.
 *
 * "Suspends" below means: inside a task, the calling task gives up its worker
 * until the call is done (the worker runs other tasks meanwhile); on a plain
 * thread, the call blocks the thread. Every suspending call returns
 * -ECANCELED once its task was aborted and -ETIMEDOUT once an enclosing
 * deadline (eddy_deadline_push) passed. Functions that neither suspend nor
 * say they block return at once. A plain thread's first wait allocates its
 * waiter: -ENOMEM when that fails.
 *
 * Bad use is answered, not followed, where it can be told: NULL handles and
 * out-pointers give -EINVAL (void functions do nothing); a runtime used after
 * eddy_rt_free gives -EINVAL while no new runtime took its address; a
 * suspending call made on a worker thread outside any task (from a signal
 * handler that interrupted the worker between tasks) gives -EPERM instead
 * of blocking the worker. A handler that interrupted a running task is not
 * detected: eddy's functions are not async-signal-safe, and a suspending
 * call there is undefined behaviour. A handler should only write to an
 * eventfd or pipe that a task waits on.
 *
 * Thread safety: every function may be called from any thread unless its
 * comment says otherwise; functions about "the calling task" act on the
 * task running on the calling thread (none on a plain thread).
 */
#ifndef EDDY_RT_H
#define EDDY_RT_H

#include <eddy/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A runtime: its worker threads, reactors, timers and tasks. Opaque. */
typedef struct eddy_rt eddy_rt;

/**
 * Runtime configuration. Initialise with eddy_rt_config_init() and then set
 * the fields you care about; new fields take the reserved slots, so a program
 * built against an older header keeps working.
 */
typedef struct eddy_rt_config {
    unsigned workers;          /**< worker threads; 0: one per online CPU */
    size_t stack_size;         /**< default fiber stack, bytes; 0: 64 KiB */
    unsigned blocking_threads; /**< cap of the blocking pool; 0: 64 */
    int io_backend;            /**< EDDY_IO_AUTO, EDDY_IO_EPOLL, EDDY_IO_URING */
    bool work_stealing;        /**< default true; false: shared-nothing
                                    thread-per-core (tasks never change worker) */
    bool pin_workers;          /**< pin worker i to CPU i (modulo online CPUs) */
    int dump_signal;           /**< a signal (e.g. SIGQUIT) that prints
                                    eddy_rt_dump(rt, 2) of this runtime, the
                                    process going on afterwards; 0: the
                                    environment's EDDY_DUMP_SIGNAL (a name,
                                    QUIT or SIGQUIT, or a number), else none */
    int reserved_int;          /**< must stay zero, as reserved */
    void *reserved[3];         /**< must stay zero (eddy_rt_config_init sets
                                    it; eddy_rt_new refuses any other value
                                    with -EINVAL); room to grow without
                                    breaking ABI */
} eddy_rt_config;

/**
 * Fills *cfg with the defaults: workers 0, stack_size 0 (64 KiB),
 * blocking_threads 0 (64), io_backend EDDY_IO_AUTO, work_stealing true,
 * pin_workers false, dump_signal 0 (EDDY_DUMP_SIGNAL's, else none).
 *
 * Thread safety: any thread.
 */
EDDY_API void eddy_rt_config_init(eddy_rt_config *cfg);

/**
 * Creates a runtime and starts its workers. cfg may be NULL (defaults); it is
 * copied. On success *out holds the runtime, released with eddy_rt_free().
 *
 * Errors: -EINVAL (out NULL, stack_size below 16 KiB or above 1 GiB,
 * workers above 1024, unknown io_backend, reserved fields not zero, a
 * dump_signal that cannot be caught or is a fault: SIGKILL, SIGSTOP,
 * SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS, SIGPIPE, or
 * glibc's own), -ENOMEM, -EAGAIN (1024 runtimes live already), or the
 * errno of a failed thread, pipe, sigaction or epoll creation. Does not
 * suspend.
 *
 * Thread safety: any thread; several runtimes may live in one process.
 */
EDDY_API int eddy_rt_new(eddy_rt **out, const eddy_rt_config *cfg);

/**
 * Runs fn(arg) as a task on rt and blocks the calling thread until it ends
 * (eddy_rt_spawn then eddy_join: from a task of another runtime, that task
 * suspends instead, and its own abort or deadline ends the wait with
 * -ECANCELED / -ETIMEDOUT and aborts fn's task, which is then released when
 * it ends). *result (when result is not NULL) receives fn's return value.
 *
 * Errors: -EINVAL (rt NULL or freed, fn NULL), -EPERM when called from one
 * of rt's own workers (it would block the worker: spawn and join instead),
 * -ECANCELED if the task was aborted (by eddy_rt_shutdown), -ENOMEM,
 * -ESHUTDOWN if rt is shutting down.
 *
 * Thread safety: any thread that is not a worker of rt.
 */
EDDY_API int eddy_rt_block_on(eddy_rt *rt, eddy_fn fn, void *arg, void **result);

/**
 * Spawns fn(arg) as a task on rt from any thread (a worker of rt, a worker of
 * another runtime, or a plain thread). With out NULL the task is detached;
 * otherwise *out is its join handle, to be given to eddy_join() or
 * eddy_detach() exactly once.
 *
 * Errors: -EINVAL (rt NULL or freed, fn NULL), -ENOMEM, -ESHUTDOWN (rt is
 * shutting down). Does not suspend.
 *
 * Thread safety: any thread.
 */
EDDY_API int eddy_rt_spawn(eddy_rt *rt, eddy_task **out, eddy_fn fn, void *arg);

/**
 * Shuts rt down: refuses new spawns from outside, waits up to grace_ms for
 * the tasks to end by themselves, then aborts the rest (their suspensions
 * return -ECANCELED) and waits up to grace_ms more (at least 500 ms) for
 * them to unwind. A negative grace_ms waits without limit. Tasks that are
 * still alive after that (they ignored -ECANCELED) are dropped when rt is
 * freed: their stacks are released without running them further, so any
 * sync object they were blocked on must not be used afterwards.
 *
 * Returns 0 when every task ended by itself, -ETIMEDOUT when some had to be
 * aborted or dropped, -EINVAL (rt NULL or freed), -EPERM when called from a worker
 * of rt. Blocks the calling thread. Calling it again (or eddy_rt_free)
 * while one runs waits for that one to finish, then returns 0; after it,
 * returns 0 at once.
 *
 * Thread safety: any thread that is not a worker of rt.
 */
EDDY_API int eddy_rt_shutdown(eddy_rt *rt, int64_t grace_ms);

/**
 * Shuts rt down (as eddy_rt_shutdown(rt, 0) when not yet done: blocks the
 * calling thread while aborted tasks unwind) and frees it. NULL is a no-op.
 * Join handles of rt's tasks stay valid: joining them returns at once
 * (-ECANCELED for the tasks that were aborted or dropped).
 *
 * Thread safety: any thread that is not a worker of rt (from one of its
 * tasks: a message on stderr, and nothing done). rt must not be used after;
 * a second eddy_rt_free of it prints a message and does nothing.
 */
EDDY_API void eddy_rt_free(eddy_rt *rt);

/**
 * The runtime whose worker runs the caller, NULL on any other thread
 * (including blocking-pool threads).
 *
 * Thread safety: any thread.
 */
EDDY_API eddy_rt *eddy_rt_current(void);

/* ------------------------------------------------------------------ tasks */

/**
 * Options of eddy_spawn_ex(). Initialise with eddy_spawn_opts_init() and
 * then set the fields you care about. A zeroed struct is not the same:
 * its worker is 0, so the task starts on worker 0.
 */
typedef struct eddy_spawn_opts {
    size_t stack_size; /**< 0: the runtime's default */
    const char *name;  /**< for debugging; copied (up to 31 bytes); may be NULL */
    int worker;        /**< -1 (or any negative value): any worker; k >= 0
                            (0 included): start on worker k (it stays there
                            when work_stealing is off) */
    void *reserved[4];  /**< must stay zero (eddy_spawn_opts_init sets it;
                             eddy_spawn_ex refuses any other value with
                             -EINVAL); room to grow without breaking ABI */
} eddy_spawn_opts;

/** Sets stack_size 0, name NULL, worker -1 (any), reserved zero. Any thread. */
EDDY_API void eddy_spawn_opts_init(eddy_spawn_opts *o);

/**
 * Spawns fn(arg) on the current runtime (the caller must run in a task or on
 * a worker). out NULL: detached; else *out is the join handle.
 *
 * Errors: -EPERM outside a runtime (use eddy_rt_spawn), -EINVAL (fn NULL),
 * -ENOMEM, -ESHUTDOWN. Does not suspend.
 *
 * Thread safety: any worker thread.
 */
EDDY_API int eddy_spawn(eddy_task **out, eddy_fn fn, void *arg);

/**
 * eddy_spawn with options (o may be NULL: as eddy_spawn). Errors as
 * eddy_spawn, plus -EINVAL for a worker index out of range, a stack size
 * below 16 KiB or above 1 GiB, or reserved fields not zero.
 *
 * Thread safety: as eddy_spawn (any worker thread).
 */
EDDY_API int eddy_spawn_ex(eddy_task **out, eddy_fn fn, void *arg, const eddy_spawn_opts *o);

/**
 * Runs fn(arg) on the runtime's blocking thread pool (for code that blocks:
 * file I/O, getaddrinfo, CPU-heavy work). Joinable like any task. eddy_abort
 * stops it from starting; once it runs, its eddy calls that wait on a sync
 * object, a join, a sleep or an fd (they block the pool thread) return
 * -ECANCELED, also when already waiting. Plain blocking system calls are
 * not interrupted.
 * The pool has at most eddy_rt_config.blocking_threads threads; further work
 * waits for a free one. Uses the runtime given by eddy_rt_current(), so it
 * must be called on a worker (use eddy_rt_spawn_blocking elsewhere).
 *
 * Errors: -EPERM off a worker, -EINVAL (fn NULL), -ENOMEM, -ESHUTDOWN,
 * -EAGAIN (the pool has no thread and cannot start one). Does not suspend.
 */
EDDY_API int eddy_spawn_blocking(eddy_task **out, eddy_fn fn, void *arg);

/**
 * eddy_spawn_blocking on an explicit runtime, from any thread. Errors as
 * eddy_spawn_blocking, but -EINVAL (not -EPERM) for rt NULL or freed.
 */
EDDY_API int eddy_rt_spawn_blocking(eddy_rt *rt, eddy_task **out, eddy_fn fn, void *arg);

/**
 * Waits for task t to end and consumes the handle. *result (result may be
 * NULL) receives fn's return value.
 *
 * Returns 0, or -ECANCELED when t was aborted before it ended (if fn still
 * returned a value after the abort, *result receives it anyway so nothing
 * leaks; a task aborted before it ever ran gives NULL), -EINVAL
 * (t NULL, or a handle already joined or detached), -EPERM when t is the
 * calling task, and, for the calling task's own cancellation or deadline,
 * -ECANCELED / -ETIMEDOUT with the handle left valid (join again or detach).
 * Suspends.
 *
 * Thread safety: any thread; one joiner per handle.
 */
EDDY_API int eddy_join(eddy_task *t, void **result);

/**
 * eddy_join with a timeout (negative: none). -ETIMEDOUT leaves the handle
 * valid. Suspends.
 *
 * Thread safety: as eddy_join (any thread; one joiner per handle).
 */
EDDY_API int eddy_join_timeout(eddy_task *t, void **result, int64_t timeout_ms);

/**
 * Gives up the handle; the task runs on. NULL or a spent handle is ignored.
 * Does not suspend.
 *
 * Thread safety: any thread.
 */
EDDY_API void eddy_detach(eddy_task *t);

/**
 * Asks task t to stop: its pending and future suspensions return -ECANCELED
 * (a task not yet started never runs). Cooperative: a task that never
 * suspends runs to its end. The handle stays valid; eddy_join then returns
 * -ECANCELED, unless t had already ended when the abort came: then the
 * abort changes nothing, and eddy_join returns 0 and t's result. Returns 0
 * (also for a task that already ended or was aborted), -EINVAL for NULL or
 * a spent handle. Does not suspend.
 *
 * Thread safety: any thread.
 */
EDDY_API int eddy_abort(eddy_task *t);

/**
 * Lets the worker run other tasks, then resumes the caller (at the back of
 * the run queue). Outside a task, sched_yield(). Does not fail. Any thread.
 */
EDDY_API void eddy_yield(void);

/**
 * Sleeps ms milliseconds (<= 0: yields once). Returns 0, -ECANCELED or
 * -ETIMEDOUT (deadline). Suspends; a blocking-pool task blocks its thread
 * and an abort of it cuts the sleep short (-ECANCELED); any other plain
 * thread sleeps in nanosleep and returns 0. Any thread.
 */
EDDY_API int eddy_sleep_ms(int64_t ms);

/**
 * Sleeps until eddy_now_ns() >= deadline_ns (returns at once when it is).
 * As eddy_sleep_ms (any thread).
 */
EDDY_API int eddy_sleep_until_ns(uint64_t deadline_ns);

/** Monotonic clock, nanoseconds (CLOCK_MONOTONIC). Any thread. */
EDDY_API uint64_t eddy_now_ns(void);

/**
 * Opens a deadline scope in the calling task: from now until the matching
 * eddy_deadline_pop(), every suspending call returns -ETIMEDOUT once
 * timeout_ms have passed (negative: no limit of its own). Scopes nest; an
 * inner scope never extends an outer one. Returns 0, -EPERM outside a task
 * (a blocking-pool task too), -ENOMEM. Does not suspend.
 *
 * Thread safety: any thread; acts on the task running on it.
 */
EDDY_API int eddy_deadline_push(int64_t timeout_ms);

/**
 * Closes the innermost deadline scope of the calling task (no-op when there
 * is none, or outside a task). Any thread.
 */
EDDY_API void eddy_deadline_pop(void);

/**
 * Runs fn(arg) in the calling task under a deadline scope of timeout_ms and
 * closes the scope when fn returns, by whatever path fn returns: the scope
 * cannot be left open by an early return, as an eddy_deadline_push whose
 * eddy_deadline_pop is skipped is (every later suspension of the task would
 * then end in -ETIMEDOUT). *result (result may be NULL) receives fn's return
 * value. Returns 0, -EINVAL for fn NULL, or eddy_deadline_push's error (fn
 * is then not called). Suspends as fn does.
 *
 * Thread safety: as eddy_deadline_push (acts on the task running on it).
 */
EDDY_API int eddy_with_deadline(int64_t timeout_ms, eddy_fn fn, void *arg, void **result);

#if defined(__GNUC__) || defined(__clang__)
/** For EDDY_DEADLINE_SCOPE: closes the scope its push opened. */
static inline void eddy__deadline_scope_close(const int *rc)
{
    if (*rc == 0)
        eddy_deadline_pop();
}

/**
 * GNU C (gcc, clang): opens a deadline scope that closes by itself when the
 * enclosing block is left by any path (return, break, goto). Declares
 * `int rc`, the result of eddy_deadline_push (0; or -EPERM / -ENOMEM, and
 * then no scope is open):
 *
 *     int read_header(int fd, char *buf, size_t n) {
 *         EDDY_DEADLINE_SCOPE(rc, 200);
 *         if (rc < 0)
 *             return rc;
 *         ssize_t got = eddy_read(fd, buf, n);
 *         if (got < 0)
 *             return (int)got;   // the scope closes here too
 *         ...
 *     }
 */
#define EDDY_DEADLINE_SCOPE(rc, timeout_ms)                                                       \
    int rc __attribute__((cleanup(eddy__deadline_scope_close))) = eddy_deadline_push(timeout_ms)
#endif

/** Index of the worker running the caller, -1 outside a worker. Any thread. */
EDDY_API int eddy_worker_index(void);

/* ------------------------------------------------------------------ dump */

/**
 * Writes to fd a text dump of rt's tasks, for a human: a header line, then
 * one block per task that has suspended at least once: its id, name,
 * worker, state and age, and for a suspended task what it waits on (a
 * channel's send or receive, a mutex, a semaphore, a notify, a waitgroup,
 * fd N readable or writable, a sleep with the time left, the join of task
 * M, ...) and for how long, followed by its stack, one frame a line,
 * innermost first (function+offset and module, from the frame pointers of
 * the context it switched out with, named by dladdr: link programs with
 * -rdynamic, and build them with -fno-omit-frame-pointer, or their frames
 * are missing or unnamed). A running task (also one queued after
 * eddy_yield) is shown as running and a woken one as runnable, both
 * without a stack. Last come the tasks queued on each worker, the
 * blocking pool's, and the count of tasks not listed (queued before their
 * first run, or in it).
 *
 * While the dump reads a suspended task's stack that task cannot run (a
 * wake meanwhile runs it right after); it is never stopped otherwise, and
 * nothing is held while the text is written. Bounded: the tasks alive at
 * the start, at most 64 frames each; the calling thread (in a task: its
 * worker) blocks while fd is not writable, a non-blocking fd included.
 * Costs nothing until called. See eddy_rt_config.dump_signal for a dump
 * on a signal.
 *
 * Returns 0, -EINVAL (rt NULL or freed, fd negative), -ENOMEM, or the
 * -errno of a failed write (then the dump stops; -EPIPE does not raise
 * SIGPIPE).
 *
 * Thread safety: any thread (a task included: it shows itself running),
 * but not a signal handler. One dump runs at a time in the process (others
 * wait for it), and an eddy_rt_free of rt waits for it too.
 */
EDDY_API int eddy_rt_dump(eddy_rt *rt, int fd);

/* ---------------------------------------------------------------- metrics */

/**
 * Counters of one worker since the runtime started. Readable at any time from
 * any thread; each field is read atomically, the set is not a snapshot.
 */
typedef struct eddy_worker_metrics {
    uint64_t polls;          /**< task runs */
    uint64_t spawned;        /**< tasks spawned on this worker */
    uint64_t stolen;         /**< tasks this worker stole from others */
    uint64_t steal_attempts; /**< steal operations tried */
    uint64_t parks;          /**< times the worker went to sleep */
    uint64_t global_pulls;   /**< tasks taken from the global/inbox queues */
    uint64_t io_events;      /**< readiness events handled */
    uint64_t timers_fired;   /**< timers expired on this worker's wheel */
    uint64_t busy_ns;        /**< time spent running tasks */
    uint32_t queue_depth;    /**< tasks in the local run queue now */
    uint32_t reserved32;     /**< zero; room to grow without breaking ABI */
    uint64_t reserved[7];    /**< zero; new counters take these slots */
} eddy_worker_metrics;

/** Number of workers of rt (0 for NULL). Any thread. */
EDDY_API unsigned eddy_rt_workers(eddy_rt *rt);

/**
 * Copies worker's counters into *m. -EINVAL for a NULL argument or a worker
 * index out of range. Any thread.
 */
EDDY_API int eddy_rt_worker_metrics(eddy_rt *rt, unsigned worker, eddy_worker_metrics *m);

#ifdef __cplusplus
}
#endif
#endif /* EDDY_RT_H */
