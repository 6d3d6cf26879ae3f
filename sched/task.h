/*
 * sched/task.h: the task header every task kind starts with, its atomic
 * state word and reference count, and the kind vtable.
 *
 * The state word (Tokio's design; docs/design.md, "Task state"):
 *   RUNNING       a worker is executing the task; it is the lock on the body
 *   NOTIFIED      the task is queued, or must be queued again when the
 *                 current run ends (a wake that raced the run is never lost
 *                 and never makes the task run twice at once)
 *   COMPLETE      the body ended (or was dropped); result is final
 *   CANCELLED     eddy_abort was called: suspensions return -ECANCELED
 *   JOIN_INTEREST a join handle exists
 *   JOIN_WAKER    join_waiter holds a joiner to wake at completion
 * and a reference count in the bits above (REF_ONE). References are held by
 * the run queue that holds the task (or the worker running it), the join
 * handle, the owned list of a suspended task, and any waker that took one.
 *
 * Task memory is type-stable: it comes from a process-wide pool and is never
 * returned to the allocator, and each reuse bumps `gen`. Join handles carry
 * the generation in their top 16 bits, so a handle used after join or detach
 * is answered with -EINVAL instead of touching a stranger's task.
 */
#ifndef EDDY_SCHED_TASK_H
#define EDDY_SCHED_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/timer.h"

enum {
    EDDY__T_RUNNING = 1u << 0,
    EDDY__T_NOTIFIED = 1u << 1,
    EDDY__T_COMPLETE = 1u << 2,
    EDDY__T_CANCELLED = 1u << 3,
    EDDY__T_JOIN_INTEREST = 1u << 4,
    EDDY__T_JOIN_WAKER = 1u << 5,
};
#define EDDY__T_REF_SHIFT 8
#define EDDY__T_REF_ONE ((uint64_t)1 << EDDY__T_REF_SHIFT)
#define EDDY__T_FLAGS_MASK (EDDY__T_REF_ONE - 1)

/* Every task kind's memory is one block of this size from the task pool. */
#define EDDY__TASK_BLOCK 320

struct eddy__task;
struct eddy__sched;

enum eddy__poll { EDDY__POLL_PENDING = 0, EDDY__POLL_DONE = 1 };

struct eddy__task_vtable {
    /* Runs the task on the calling worker (its index; -1 on a blocking
       pool thread) until it suspends (PENDING) or ends (DONE; t->result is
       set). Called with RUNNING held. */
    enum eddy__poll (*run)(struct eddy__task *t, int worker);
    /* Optional (NULL: the worker calls run): run cut around its switch
       onto the task's own stack, so that the worker loop makes the switch
       itself and the switch back lands in the loop. Inside run, the return
       that follows the switch back is always mispredicted (the return
       stack buffer holds the task's calls, not the worker's): one pipeline
       flush per run, a quarter of a yield's time. enter prepares the run
       and returns the context to resume, with *save where the worker's
       goes; NULL when the run ended without switching (DONE, t->result
       set). switch_to is the raw switch (it saves the caller's
       callee-saved registers and stack pointer in *save and resumes to);
       leave ends the run once the task switched back. */
    void *(*enter)(struct eddy__task *t, int worker, void ***save);
    void (*switch_to)(void **save, void *to);
    enum eddy__poll (*leave)(struct eddy__task *t, int worker);
    /* Called from eddy__wait inside the running task: gives the worker
       back until the task is run again. */
    void (*suspend)(struct eddy__task *t);
    /* Releases kind resources when the task is dropped without running to
       its end (shutdown): its stack, its deadline scopes. May be NULL. */
    void (*drop)(struct eddy__task *t);
    /* Releases kind resources when the last reference goes. May be NULL. */
    void (*release)(struct eddy__task *t);
    /* Called by eddy__task_complete once t is COMPLETE and its joiner
       woken, on the completing thread; the kind must hold a reference of
       its own for it (the run's is gone by then). May be NULL. */
    void (*ended)(struct eddy__task *t);
    /* Non-NULL for tasks that are not scheduled but parked elsewhere
       (plain threads): replaces the run-queue push of a wake. */
    void (*wake)(struct eddy__task *t);
    const char *kind;
};

struct eddy__task {
    _Atomic uint64_t state;                /* any thread (atomic) */
    _Atomic uint16_t gen;                  /* any thread (atomic): bumped on
                                              every reuse of the block */
    int16_t home;                          /* bound worker, -1 any */
    uint8_t started;                       /* owner: the running worker */
    uint8_t yielded;                       /* owner: the running task */
    const struct eddy__task_vtable *vt;    /* immutable after spawn */
    struct eddy__task *next;               /* owner: the queue holding it */
    struct eddy__sched *sched;             /* immutable after spawn */
    struct eddy__task *_Atomic join_waiter; /* JOIN_WAKER handshake (relaxed:
                                              ordered by the state word) */
    void *result;                          /* written before COMPLETE */
    struct eddy__task *owned_prev, *owned_next; /* guarded by: owner list lock */
    void *owned_list;                      /* list it is in, NULL if none */
    uint64_t deadline_ns;                  /* owner: the task; UINT64_MAX none */
    struct eddy__timer timer;              /* this task's wait timer */
    struct eddy__task *_Atomic thread_waiter; /* blocking kind: the parker of
                                              the pool thread running it */
    /* A deadline given from outside the task (its scope's, eddy/scope.h),
       on top of deadline_ns: any thread (atomic, relaxed; a setter wakes
       the task so that a wait in progress sees it). UINT64_MAX none. */
    _Atomic uint64_t ext_deadline_ns;
    /* What the task waits on, for eddy_rt_dump (eddy__wait_on): written
       by the task (relaxed atomics: a dump reads them from any thread and
       may see a mix of two waits, never a torn field). */
    const void *_Atomic wait_obj;
    _Atomic int64_t wait_arg;
    _Atomic uint32_t wait_since_ms;        /* eddy__clock_ms when it began */
    _Atomic uint8_t wait_kind;             /* enum eddy__wait_kind */
};

/** Allocates a task block (EDDY__TASK_BLOCK bytes); eddy__task_init sets
    its header, the kind the rest. NULL on OOM. */
struct eddy__task *eddy__task_alloc(void);

/** Returns a block that was never spawned (or whose last reference went)
    to the pool, bumping its generation. */
void eddy__task_pool_release(struct eddy__task *t);

/** Sets every header field: state = NOTIFIED | refs, home -1, no deadline,
    no links, no result. */
void eddy__task_init(struct eddy__task *t, const struct eddy__task_vtable *vt,
                     struct eddy__sched *s, unsigned refs, bool joinable);

static inline void eddy__task_ref(struct eddy__task *t)
{
    atomic_fetch_add_explicit(&t->state, EDDY__T_REF_ONE, memory_order_relaxed);
}

/** Drops one reference; the last one releases the task to the pool. */
void eddy__task_unref(struct eddy__task *t);

/**
 * Wakes t (by reference: consumes nothing). Idle: marks it NOTIFIED and
 * queues it (taking a reference for the queue). Running: marks it NOTIFIED
 * so it runs again after its current run. Complete or already notified:
 * nothing. Any thread.
 */
void eddy__wake(struct eddy__task *t);

/** Join handle <-> task, with the generation tag (see top of file). */
struct eddy_task *eddy__task_handle(struct eddy__task *t);
/** NULL for NULL, a stale handle or one without join interest. */
struct eddy__task *eddy__task_from_handle(struct eddy_task *h);

static inline uint64_t eddy__task_flags(struct eddy__task *t)
{
    return atomic_load_explicit(&t->state, memory_order_acquire) & EDDY__T_FLAGS_MASK;
}

/** True once eddy_abort was called on t. */
static inline bool eddy__task_cancelled(struct eddy__task *t)
{
    return (eddy__task_flags(t) & EDDY__T_CANCELLED) != 0;
}

/** The deadline the task sees now: its own (deadline scopes) or the one
    given from outside (its eddy_scope's), whichever comes first. The task's
    own thread, or anyone for an estimate. */
static inline uint64_t eddy__task_deadline(struct eddy__task *t)
{
    uint64_t ext = atomic_load_explicit(&t->ext_deadline_ns, memory_order_relaxed);
    return ext < t->deadline_ns ? ext : t->deadline_ns;
}

#endif
