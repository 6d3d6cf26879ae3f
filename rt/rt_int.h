/*
 * rt/rt_int.h: the runtime's private layout and what the files of rt/ share
 * (and what http/ will use): the runtime struct, the fiber task kind, the
 * waiter lists of the sync primitives.
 */
#ifndef EDDY_RT_RT_INT_H
#define EDDY_RT_RT_INT_H

#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <eddy/rt.h>

#include "io/io_int.h"
#include "rt/fiber.h"
#include "rt/stack.h"
#include "sched/sched.h"

#define EDDY__DEFAULT_STACK (64u * 1024u)
#define EDDY__MIN_STACK (16u * 1024u)
#define EDDY__MAX_STACK (1024u * 1024u * 1024u)
#define EDDY__MAX_WORKERS 1024u

/* A worker thread's own context, the one fibers switch back to. One cache
   line each: every switch writes it, and neighbours must not share it. */
struct eddy__thread_ctx {
    _Alignas(64) struct eddy__fiber fiber;
};

struct eddy_rt {
    struct eddy__sched *sched;         /* immutable after new */
    eddy_rt_config cfg;                /* immutable after new (resolved) */
    unsigned nworkers;                 /* immutable after new */
    struct eddy__io_driver **drivers;  /* [nworkers] immutable after new */
    struct eddy__thread_ctx *thread_ctx; /* [nworkers] owner: worker i */
    struct eddy__stack_pool stacks;
    /* 0 running, 1 shutting down, 2 shut down: a second eddy_rt_shutdown
       or eddy_rt_free waits for the first to finish */
    int shut_state;                    /* guarded by: shut_lock */
    pthread_mutex_t shut_lock;
    pthread_cond_t shut_done;
    bool freeing;                      /* guarded by: rt.c's live_lock */
};

/** True when rt is a runtime made by eddy_rt_new and not yet freed. */
bool eddy__rt_live(eddy_rt *rt);

/** The runtime of the calling worker, NULL off the workers. */
eddy_rt *eddy__rt_current(void);

/** rt/task.c: true when t is a fiber task and addr lies in the guard page
    below its stack; *name (may be NULL), *size (usable bytes) and *id (the
    task's id, unique in the process, given on first request) then describe
    it. Async-signal-safe (lock-free atomics only). */
bool eddy__fiber_task_guard_hit(struct eddy__task *t, const void *addr, const char **name,
                                size_t *size, uint64_t *id);

/** What eddy_rt_dump shows of a fiber task (rt/task.c). */
struct eddy__fiber_info {
    const char *name;     /* NULL: unnamed */
    uint64_t id;          /* unique in the process, given on first request */
    uint32_t born_ms;     /* eddy__clock_ms at spawn */
    int worker;           /* the worker it last ran on, -1 before its first run */
    void *stack_lo;       /* its stack (NULL before its first run) */
    size_t stack_size;
    void *saved_sp;       /* the context it switched out with (meaningful only
                             while it cannot run: see eddy_rt_dump) */
};

/** Fills *out for a fiber task; false for other kinds. The caller keeps t
    from ending meanwhile (a reference, or the owned list's lock). stack:
    fill the stack fields too, only for a task that cannot run meanwhile
    (pinned); the others are safe to read from any thread at any time. */
bool eddy__fiber_task_info(struct eddy__task *t, struct eddy__fiber_info *out, bool stack);

/* ------------------------------------------------------------ scopes */

struct eddy_scope;

/** A scope child's place in its scope (rt/scope.c), inside its fiber task. */
struct eddy__scope_link {
    struct eddy_scope *scope;              /* immutable after spawn */
    struct eddy__scope_link *next;         /* the scope's ended stack, then FIFO */
    struct eddy__task *_Atomic *slot;      /* its slot in the scope while live */
    bool kept;                             /* immutable: the scope holds the handle */
};

/** rt/task.c: a fiber task for a scope, not queued yet (start it with
    eddy__sched_spawn, or give it back with eddy__scope_task_discard). It
    holds a reference for the queue and one for the scope; user_handle adds
    the caller's join handle, else the scope's reference is the handle. Its
    end calls eddy__scope_child_ended. NULL on OOM. */
struct eddy__task *eddy__scope_task_new(eddy_rt *rt, eddy_fn fn, void *arg, bool user_handle);
void eddy__scope_task_discard(struct eddy__task *t);
/** eddy_spawn_ex's options: -EINVAL for bad ones, else 0 and *worker. */
int eddy__spawn_opts_check(eddy_rt *rt, const eddy_spawn_opts *o, int *worker);
/** Gives a fiber task that is not queued yet o's stack size and name. */
void eddy__fiber_task_apply_opts(struct eddy__task *t, const eddy_spawn_opts *o);
struct eddy__scope_link *eddy__scope_link_of(struct eddy__task *t);
struct eddy__task *eddy__scope_link_task(struct eddy__scope_link *l);

/** rt/scope.c: a child ended (its kind's ended hook; the scope's reference
    keeps it). */
void eddy__scope_child_ended(struct eddy__task *t);

/** rt/overflow.c: on a worker thread's start and stop. The first start
    installs the SIGSEGV handler that reports a task's stack overflow (not
    under ASan or TSan); each worker gets an alternate signal stack for it,
    unless the thread has one already. */
void eddy__overflow_thread_start(void);
void eddy__overflow_thread_stop(void);

/** rt/dump.c: returns once no eddy_rt_dump is in progress; eddy_rt_free
    calls it after rt left the live table, before freeing the scheduler. */
void eddy__dump_barrier(void);

/** rt/dump_signal.c: the dump signal of a new runtime: cfg_sig when not 0
    (-EINVAL when a dump cannot take it), else EDDY_DUMP_SIGNAL's (an
    unusable value is reported on stderr once and ignored), else 0. */
int eddy__dump_signal_resolve(int cfg_sig, int *out);
/** Makes sig dump rt to stderr (installs the handler, starts the dump
    thread on first use). 0 or -errno. */
int eddy__dump_signal_add(eddy_rt *rt, int sig);
/** Undoes eddy__dump_signal_add, after printing the dumps already asked
    for; the last one restores the handlers and stops the thread. */
void eddy__dump_signal_remove(eddy_rt *rt);

#endif
