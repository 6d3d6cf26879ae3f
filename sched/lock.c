/*
 * sched/lock.c: the contended paths of eddy's internal lock (lock.h).
 */
#include "sched/lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Spins before sleeping: critical sections here are a few dozen
   instructions, so a holder on another CPU lets go well within this. */
#define SPINS 100

void eddy__lock_slow(struct eddy__lock *l)
{
    for (int i = 0; i < SPINS; i++) {
        uint32_t expect = 0;
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->v, &expect, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        eddy__cpu_relax();
    }
    /* mark it contended; whoever held it wakes one sleeper on release.
       Taking it this way leaves it marked 2, so our own release wakes the
       next sleeper, if any (at worst one wake too many). */
    while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0)
        syscall(SYS_futex, (uint32_t *)&l->v, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

void eddy__lock_wake(struct eddy__lock *l)
{
    syscall(SYS_futex, (uint32_t *)&l->v, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
