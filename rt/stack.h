/*
 * rt/stack.h: fiber stacks and their per-worker pools.
 *
 * Stacks are carved from large MAP_NORESERVE mappings (many stacks per
 * mapping, so a million stacks do not need a million VMAs: vm.max_map_count
 * is 65530 here). Each stack gets a guard below it: MADV_GUARD_INSTALL where
 * the kernel has it (6.13+; no extra VMA), else an mprotect(PROT_NONE) page
 * while the runtime's guard budget lasts (each one splits a VMA), and in
 * every case a canary word at the bottom, checked when the fiber switches
 * out. A stack returned to a pool beyond its high-water mark gets its pages
 * released (MADV_DONTNEED) so a burst does not pin memory.
 *
 * A task takes a stack when it first runs and gives it back when it ends,
 * so queued tasks hold none. The per-worker cache is owned by its worker (no
 * lock); a shared, locked depot refills and drains the caches in batches.
 * When the depot is empty a cache gets fresh stacks, carved a batch at a
 * time outside the lock (a guard and a top page each; stack.c).
 */
#ifndef EDDY_RT_STACK_H
#define EDDY_RT_STACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/fiber.h"

struct eddy__stack {
    struct eddy__stack *next; /* pool link while free */
    void *lo;                 /* lowest usable byte (the canary lives here) */
    size_t size;              /* usable bytes, from lo up to this header */
    uint8_t guard;            /* EDDY__GUARD_* below lo */
    uint8_t released;         /* pages given back while free: get rewrites the canary */
    uint8_t fiber_live;       /* fiber is made and parked at its loop's top */
    void *user;               /* rt: what the fiber runs next */
    /* The stack's own fiber. It outlives the tasks that use the stack: a
       task ends by switching back, and the next task that takes the stack
       resumes the same fiber. That saves making a context per task and
       keeps sanitizers' fiber state balanced (TSan's costs ~100 us to
       create). Destroyed with the pool. */
    struct eddy__fiber fiber;
};

enum { EDDY__GUARD_NONE = 0, EDDY__GUARD_MADVISE = 1, EDDY__GUARD_MPROTECT = 2 };

/** True when addr lies in the guard page below s (a fault there is an
    overflow of s). Async-signal-safe. */
bool eddy__stack_guard_holds(const struct eddy__stack *s, const void *addr);

/* A line each: two workers' caches in one line made every get and put of
   one a cache miss for the other (a tenth of ping_pong's time at 2 workers). */
struct eddy__stack_cache {    /* owner: one worker */
    _Alignas(64)
    struct eddy__stack *free;
    unsigned count;
    long out;                 /* got minus put through this cache (may go below 0) */
};

struct eddy__stack_pool {
    size_t default_size;              /* immutable after init */
    unsigned ncaches;                 /* immutable after init */
    struct eddy__stack_cache *caches; /* [ncaches], owner: worker i */
    uint8_t guard_kind;               /* EDDY__GUARD_* for new stacks; set by init (a
                                         test may lower it before the first get) */
    pthread_mutex_t lock;             /* guards everything below */
    struct eddy__stack *depot;        /* free stacks of default size */
    unsigned depot_count;
    struct eddy__stack *odd;          /* free stacks of other sizes */
    unsigned odd_count;
    void *chunks;                     /* every mapping, for destroy */
    void *carving;                    /* chunk whose slots are still being carved */
    unsigned guards_mprotect;         /* guard pages that cost a VMA */
    unsigned guard_budget;            /* max of the above */
    unsigned fresh;                   /* slots the next fresh carve reserves */
    long live;                        /* got minus put through the locked paths (cache
                                         -1, odd sizes); either part may go below 0:
                                         stacks handed out = live + sum of caches' out */
};

/**
 * Sets up a pool for stacks of default_size usable bytes (0: 64 KiB; the
 * slot is rounded up to pages, and p->default_size holds the usable bytes
 * each default stack really has) with ncaches per-worker caches. Returns 0
 * or -ENOMEM.
 */
int eddy__stack_pool_init(struct eddy__stack_pool *p, size_t default_size, unsigned ncaches);

/**
 * Takes a stack of at least size bytes (0: default). cache is the caller's
 * worker index, or -1 from a thread that owns no cache (takes the lock).
 * NULL when memory or mappings run out.
 */
struct eddy__stack *eddy__stack_get(struct eddy__stack_pool *p, int cache, size_t size);

/** Gives s back (cache as for get). */
void eddy__stack_put(struct eddy__stack_pool *p, int cache, struct eddy__stack *s);

/** True when the canary at the bottom of s is intact. */
bool eddy__stack_canary_ok(const struct eddy__stack *s);

/** Unmaps everything. Stacks still handed out become invalid. */
void eddy__stack_pool_destroy(struct eddy__stack_pool *p);

/** Whether this kernel supports MADV_GUARD_INSTALL (probed once). */
bool eddy__stack_have_madv_guard(void);

#endif
