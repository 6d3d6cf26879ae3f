/*
 * sched/lock.h: eddy's internal lock, a futex word with three states
 * (unlocked, locked, locked with sleepers: the classic three-state futex
 * mutex). An uncontended lock and unlock are one atomic each, inlined: the
 * sync primitives take their lock on every send, receive and notify, and
 * glibc's pthread_mutex_lock/unlock cost about 55 instructions a pair there
 * (callgrind, ping_pong). Contended, it spins briefly, then sleeps in the
 * kernel. Not recursive, no owner checks; zero-initialised is unlocked.
 * Hold it only for short critical sections (never across a suspension).
 */
#ifndef EDDY_SCHED_LOCK_H
#define EDDY_SCHED_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

struct eddy__lock {
    _Atomic uint32_t v; /* 0 unlocked, 1 locked, 2 locked with sleepers */
};

#define EDDY__LOCK_INIT { 0 }

/* A spin-wait hint to the CPU. */
#if defined(__x86_64__) || defined(__i386__)
#define eddy__cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define eddy__cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define eddy__cpu_relax() ((void)0)
#endif

/* The contended paths (lock.c). */
void eddy__lock_slow(struct eddy__lock *l);
void eddy__lock_wake(struct eddy__lock *l);

static inline void eddy__lock_init(struct eddy__lock *l)
{
    atomic_init(&l->v, 0);
}

static inline void eddy__lock_acquire(struct eddy__lock *l)
{
    uint32_t expect = 0;
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(&l->v, &expect, 1,
                                                                 memory_order_acquire,
                                                                 memory_order_relaxed),
                         1))
        return;
    eddy__lock_slow(l);
}

static inline void eddy__lock_release(struct eddy__lock *l)
{
    if (__builtin_expect(atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2, 0))
        eddy__lock_wake(l);
}

#endif
