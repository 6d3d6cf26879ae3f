/*
 * sched/sched_int.h: the scheduler's private structures, shared by the files
 * of sched/ only (worker.c, idle.c, taskq.c, wait.c, blocking.c, sched.c).
 * Layers above see sched/sched.h.
 */
#ifndef EDDY_SCHED_SCHED_INT_H
#define EDDY_SCHED_SCHED_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/deque.h"
#include "sched/lock.h"
#include "sched/sched.h"
#include "sched/timer.h"

/* Polls between looks at the inbox and the global queue (Go's and Tokio
   1.24's 61: prime, so it does not beat with periodic work). */
#define EDDY__GLOBAL_INTERVAL 61
/* Operations a task may complete without suspending before it is made to
   yield anyway (Tokio's coop budget: 128 cut tail latency ~3x). */
#define EDDY__COOP_BUDGET 128
/* Consecutive runs from the LIFO slot before it yields to the queue
   (Tokio #5712: uncapped it starved the queue 30x). */
#define EDDY__LIFO_MAX_RUNS 3
/* How long a worker that found nothing keeps looking before it parks:
   waking a parked worker costs 20-50 us on a VM (eddy_wake_latency), a
   bounded spin saves it when work arrives soon (docs/design.md, "Idle
   workers"). */
#define EDDY__SPIN_NS 30000
/* A victim whose tick has not moved for this long is stuck in one task:
   its LIFO slot may be stolen. Go waits ~3 us before taking runnext. */
#define EDDY__LIFO_STUCK_NS 50000
/* A worker stuck that long in one task (tick still, not parked) gets its
   reactor polled and its timers fired by a searching worker, at most once
   per EDDY__REACTOR_POLL_GAP_NS per searcher (docs/design.md, "Idle
   workers"; Tokio #4730). */
#define EDDY__REACTOR_STUCK_NS 1000000
#define EDDY__REACTOR_POLL_GAP_NS 200000
/* A parked worker wakes this often while another worker is busy, to take
   what a stuck worker would strand (docs/design.md, "Idle workers";
   Tokio #4730). */
#define EDDY__WATCH_NS 1000000
/* One task run in this many is timed for the busy_ns metric. */
#define EDDY__BUSY_SAMPLE 64
/* Least time a shutdown gives aborted tasks to unwind before dropping them. */
#define EDDY__UNWIND_MS 500

/* A FIFO of tasks linked through task->next, pushed by any thread without a
   lock and popped by workers under one (taskq.c): the global inject queue
   and each worker's inbox (wakes and spawns aimed at that worker). */
struct eddy__taskq {
    _Alignas(64) struct eddy__task *_Atomic incoming; /* any thread: pushed stack */
    _Atomic size_t len;             /* tasks in incoming + FIFO (may lag) */
    _Alignas(64) pthread_mutex_t lock;
    struct eddy__task *head, *tail; /* guarded by: lock; arrival order */
};

void eddy__taskq_init(struct eddy__taskq *q);
void eddy__taskq_destroy(struct eddy__taskq *q);
void eddy__taskq_push(struct eddy__taskq *q, struct eddy__task *t);
/* Pushes n tasks at once, in order (one node when memory allows). */
void eddy__taskq_push_array(struct eddy__taskq *q, struct eddy__task *const *tasks, size_t n);
struct eddy__task *eddy__taskq_pop(struct eddy__taskq *q);
/* Pops up to max tasks into out[], oldest first; returns how many. */
size_t eddy__taskq_pop_into(struct eddy__taskq *q, struct eddy__task **out, size_t max);
static inline size_t eddy__taskq_len(struct eddy__taskq *q)
{
    return atomic_load_explicit(&q->len, memory_order_acquire);
}

/* List of suspended tasks, so a shutdown can find them (one per worker). */
struct eddy__owned {
    struct eddy__lock lock;
    struct eddy__task *head; /* guarded by: lock */
    size_t count;            /* guarded by: lock */
};

/* Per-worker counters: written by the owner with relaxed load+store (no RMW
   needed, one writer), read by anyone. */
struct eddy__wmetrics {
    _Atomic uint64_t polls, spawned, stolen, steal_attempts, parks, global_pulls,
        io_events, timers_fired, busy_ns, completed, stuck_polls;
};

static inline void eddy__metric_add(_Atomic uint64_t *c, uint64_t n)
{
    /* release: the shutdown's task accounting reads spawned/completed with
       acquire (free on x86 and ARMv8: a plain store / stlr) */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_release);
}

enum { EDDY__PARK_EMPTY = 0, EDDY__PARK_PARKED = 1, EDDY__PARK_NOTIFIED = 2 };

/* A full fence. ThreadSanitizer does not model standalone fences, so its
   builds use a seq_cst RMW on one shared word instead: both sides of a
   Dekker pair then synchronise through it, which TSan does see. */
#if defined(EDDY_TSAN) || defined(__SANITIZE_THREAD__)
extern _Atomic unsigned eddy__fence_word;
#define EDDY__FENCE_SEQ_CST() \
    ((void)atomic_fetch_add_explicit(&eddy__fence_word, 0, memory_order_seq_cst))
#else
#define EDDY__FENCE_SEQ_CST() atomic_thread_fence(memory_order_seq_cst)
#endif

struct eddy__worker {
    struct eddy__deque q;               /* owner: this worker; thieves steal */
    struct eddy__sched *s;              /* immutable */
    unsigned index;                     /* immutable */
    /* The LIFO slot: the task just woken or spawned here runs next. The
       owner swaps it; a thief may take it only when the owner has not
       moved on for EDDY__LIFO_STUCK_NS (Tokio #4941: an unstealable slot
       strands its task behind a long poll). */
    struct eddy__task *_Atomic lifo;    /* owner swaps; thieves swap when stuck */
    /* A solo worker is one nobody steals from (the only worker, or
       stealing off): its ring needs no CAS to pop, and what overflows the
       ring spills here, in order, instead of onto a linked queue whose pop
       walks cold task headers (a tenth of a burst of spawns). Owner only;
       spill_len is atomic for the stats' reads. */
    bool solo;                          /* immutable */
    struct eddy__task **spill;          /* owner: ring of spill_cap, or NULL */
    uint32_t spill_head, spill_cap;     /* owner */
    _Atomic uint32_t spill_len;         /* owner writes */
    unsigned lifo_runs;                 /* owner */
    unsigned tick;                      /* owner */
    _Alignas(64) _Atomic uint32_t tick_pub; /* owner stores tick; thieves read */
    uint32_t *seen_tick;                /* owner: [nworkers] last tick seen of each */
    uint64_t *seen_at;                  /* owner: [nworkers] when it was first seen */
    uint64_t stuck_polled_at;           /* owner: last poll for a stuck worker */
    _Atomic int cpu_pub;                /* owner stores the CPU it runs tasks on */
    int cpu_seen;                       /* owner: last value stored in cpu_pub */
    /* Standing in for a stuck worker from the same CPU, this worker takes
       itself off that CPU (affinity minus it) until the stuck one moves on:
       otherwise the kernel keeps waking it there, behind the spin. */
    int avoid_worker;                   /* owner: -1, or the stuck worker */
    int avoid_cpu;                      /* owner: its CPU, off this one's mask */
    uint32_t avoid_tick;                /* owner: its tick then */
    bool in_park;                       /* owner: inside the driver's park */
    bool searching;                     /* owner: counted in idle.searching */
    unsigned budget;                    /* owner: operations left in this run */
    uint32_t clock_ms;                  /* owner: eddy__clock_ms's cache,
                                           refreshed by maintenance and parks */
    struct eddy__task *current;         /* owner: the task being run */
    uint32_t rng;                       /* owner: victim choice */
    void *drv;                          /* immutable; owner parks on it */
    _Alignas(64) _Atomic int park_state; /* any thread (atomic): EDDY__PARK_* */
    struct eddy__taskq inbox;           /* any thread pushes; owner pops */
    struct {
        pthread_mutex_t lock;           /* owner and cancellers */
        struct eddy__wheel wheel;       /* guarded by: lock */
        _Atomic uint64_t next_ms;       /* cached next expiry, UINT64_MAX none */
    } timers;
    _Alignas(64) struct eddy__owned owned;
    _Alignas(64) struct eddy__wmetrics m;
    /* hooks (sched.h): requests set bits of hooks_pending (any thread);
       a run takes them all under hook_lock, by the owner or a stand-in */
    _Alignas(64) _Atomic uint32_t hooks_pending;
    pthread_mutex_t hook_lock;          /* held while hooks run, and to install */
    struct {
        eddy__hook_fn fn, fini;         /* written before arg is published */
        void *_Atomic arg;              /* release by install; acquire by runs */
    } hooks[EDDY__HOOK_SLOTS];
    pthread_t thread;
    bool thread_started;
};

/* A pool thread's slot: its handle, so that stop can join it (a thread
   still running its exit code after eddy_rt_free returned would close its
   eventfd late and run code of a library that may be unloaded). */
struct eddy__pool_slot {
    struct eddy__blocking *b;
    pthread_t th;
    int state; /* guarded by: b->lock; POOL_SLOT_* in blocking.c */
};

struct eddy__blocking {
    pthread_mutex_t lock;
    pthread_cond_t cond;            /* work arrived or stopping */
    pthread_cond_t idle_cond;       /* a thread exited (for stop) */
    struct eddy__pool_slot *slots;  /* [max]; immutable pointer */
    struct eddy__task *head, *tail; /* guarded by: lock; queued tasks */
    struct eddy__task *running;     /* guarded by: lock; via owned_next */
    unsigned threads, idle, max;    /* guarded by: lock */
    unsigned notified;              /* guarded by: lock; signals not yet taken */
    bool stopping;                  /* guarded by: lock */
    struct eddy__sched *s;
};

struct eddy__sched {
    unsigned nworkers;                     /* immutable */
    bool stealing;                         /* immutable */
    bool pin;                              /* immutable */
    const struct eddy__driver_ops *drv_ops; /* immutable */
    void (*on_thread_start)(unsigned, void *);
    void (*on_thread_stop)(unsigned, void *);
    void *ud;
    struct eddy__worker *workers;          /* [nworkers] immutable array */
    /* spawns and wakes from outside; on its own lines so its lock's
       traffic does not evict the read-mostly fields above */
    _Alignas(64) struct eddy__taskq inject;
    /* idle coordination (idle.c): searching in the low 16 bits, unparked
       above. */
    _Alignas(64) _Atomic uint32_t idle_state;
    pthread_mutex_t sleepers_lock;
    unsigned *sleepers;                    /* guarded by: sleepers_lock */
    unsigned nsleepers;                    /* guarded by: sleepers_lock */
    _Atomic unsigned spawn_rr;             /* round-robin for remote spawns */
    _Alignas(64) _Atomic unsigned watchers; /* workers parked with the watch
                                               timeout (read on LIFO pushes) */
    /* lifecycle */
    _Atomic int closing;  /* 1: outside spawns refused; 2: all refused, abort */
    _Atomic int stopping; /* workers leave their loops */
    _Atomic uint64_t ext_spawned, ext_completed; /* off-worker accounting */
    struct eddy__blocking blocking;
};

/* worker.c */
void eddy__worker_push_local(struct eddy__worker *w, struct eddy__task *t, bool lifo);
void eddy__worker_unpark(struct eddy__worker *w);
/** Takes the oldest task of w's spill (owner, or any thread once the
    workers stopped); NULL when empty. */
struct eddy__task *eddy__worker_spill_pop(struct eddy__worker *w);
void eddy__schedule(struct eddy__task *t);
void eddy__owned_insert(struct eddy__worker *w, struct eddy__task *t);
void eddy__owned_remove(struct eddy__task *t);

/* Fires v's due timers on w's thread (its own, or standing in). */
void eddy__timers_run_of(struct eddy__worker *w, struct eddy__worker *v, uint64_t now_ns);
/* Takes a share of w's inbox or the global queue; one task to run or NULL. */
struct eddy__task *eddy__pull_global(struct eddy__worker *w);

/* steal.c */
/* Another worker's work for w (stealing, the global queue, a stuck
   worker's slot, timers and reactor); NULL when there is none. */
struct eddy__task *eddy__steal(struct eddy__worker *w);
/* Gives back the CPU w left to a stuck worker, once that one moved on. */
void eddy__avoid_cpu_end(struct eddy__worker *w);

/* Runs v's requested hooks on the calling thread: waiting for v's hook
   lock (the owner), or only if it is free (a stand-in). Returns whether it
   ran them. */
bool eddy__hooks_run(struct eddy__worker *v, bool wait_lock);
/* Calls every installed hook's fini once (eddy__sched_free). */
void eddy__hooks_fini(struct eddy__sched *s);

/* idle.c */
void eddy__idle_notify_one(struct eddy__sched *s);
void eddy__idle_notify_remote(struct eddy__sched *s);
void eddy__idle_nudge_watcher(struct eddy__sched *s);
bool eddy__idle_to_searching(struct eddy__sched *s);
bool eddy__idle_from_searching(struct eddy__sched *s); /* true: was the last */
bool eddy__idle_to_parked(struct eddy__sched *s, unsigned index, bool searching);
bool eddy__idle_from_parked(struct eddy__sched *s, unsigned index); /* true: was notified */
void eddy__idle_init(struct eddy__sched *s);
bool eddy__idle_others_busy(struct eddy__sched *s);

/* blocking.c */
int eddy__blocking_init(struct eddy__blocking *b, struct eddy__sched *s, unsigned max);
void eddy__blocking_stop(struct eddy__blocking *b);
void eddy__blocking_cancel_all(struct eddy__blocking *b);


extern _Thread_local struct eddy__worker *eddy__tls_worker;

#endif
