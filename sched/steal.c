/*
 * sched/steal.c: what a worker with nothing of its own does before it
 * parks: steal half of another worker's ring, take from the global queue,
 * and stand in for a worker stuck in one long task (take its LIFO slot,
 * fire its timers, poll its reactor, run its hooks), moving off that
 * worker's CPU meanwhile. Split from worker.c, whose loop calls eddy__steal.
 */
#include <sched.h>
#include <stdatomic.h>

#include "sched/sched_int.h"

/* Affinity: the worker's mask at start (the process's cpuset), minus one
   CPU while it avoids a stuck worker's. Without pin_workers only. */
static void set_affinity_without(int cpu)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    if (cpu >= 0) {
        CPU_CLR(cpu, &set);
        if (CPU_COUNT(&set) == 0)
            return; /* the only CPU this process may use */
    }
    (void)sched_setaffinity(0, sizeof set, &set);
}

static void avoid_cpu_of(struct eddy__worker *w, struct eddy__worker *v)
{
    if (w->s->pin || w->avoid_worker >= 0)
        return;
    int vc = atomic_load_explicit(&v->cpu_pub, memory_order_relaxed);
    if (vc < 0 || vc != sched_getcpu())
        return;
    w->avoid_cpu = vc;
    w->avoid_worker = (int)v->index;
    w->avoid_tick = atomic_load_explicit(&v->tick_pub, memory_order_relaxed);
    set_affinity_without(vc);
}

/* Gives the CPU back once the worker avoided has moved on. */
void eddy__avoid_cpu_end(struct eddy__worker *w)
{
    struct eddy__worker *v = &w->s->workers[w->avoid_worker];
    if (atomic_load_explicit(&v->tick_pub, memory_order_relaxed) == w->avoid_tick &&
        atomic_load_explicit(&v->park_state, memory_order_relaxed) != EDDY__PARK_PARKED)
        return; /* still stuck */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        CPU_SET(w->avoid_cpu, &set);
        (void)sched_setaffinity(0, sizeof set, &set);
    }
    w->avoid_worker = -1;
}

/* Stands in for v, stuck in one long task: fires its due timers and
   handles its reactor's readiness (Tokio #4730: otherwise every I/O and
   timer registered there waits out the task). The wakes land in w's own
   queues; returns the first of them to run, if any. */
static struct eddy__task *poll_for_stuck(struct eddy__worker *w, struct eddy__worker *v,
                                         uint64_t now)
{
    const struct eddy__driver_ops *ops = w->s->drv_ops;
    if (now - w->stuck_polled_at < EDDY__REACTOR_POLL_GAP_NS)
        return NULL;
    w->stuck_polled_at = now;
    eddy__metric_add(&w->m.stuck_polls, 1);
    avoid_cpu_of(w, v);
    eddy__timers_run_of(w, v, now);
    if (ops->poll_foreign != NULL) {
        int n = ops->poll_foreign(v->drv);
        if (n > 0)
            eddy__metric_add(&w->m.io_events, (uint64_t)n);
    }
    /* its hooks too (the readiness just dispatched may have asked for
       them), unless it runs them itself right now */
    if (atomic_load_explicit(&v->hooks_pending, memory_order_relaxed) != 0)
        (void)eddy__hooks_run(v, false);
    struct eddy__task *t = atomic_exchange_explicit(&w->lifo, NULL, memory_order_acq_rel);
    return t != NULL ? t : eddy__deque_pop(&w->q);
}

struct eddy__task *eddy__steal(struct eddy__worker *w)
{
    struct eddy__sched *s = w->s;
    if (!s->stealing || s->nworkers < 2)
        return NULL;
    if (!w->searching) {
        if (!eddy__idle_to_searching(s))
            return NULL;
        w->searching = true;
    }
    eddy__metric_add(&w->m.steal_attempts, 1);
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 17;
    w->rng ^= w->rng << 5;
    unsigned start = w->rng % s->nworkers;
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__worker *v = &s->workers[(start + i) % s->nworkers];
        if (v == w)
            continue;
        unsigned n = 0;
        struct eddy__task *t = eddy__deque_steal_into(&v->q, &w->q, &n);
        if (t != NULL) {
            eddy__metric_add(&w->m.stolen, n);
            return t;
        }
    }
    struct eddy__task *t = eddy__pull_global(w);
    if (t != NULL)
        return t;
    /* last resort: a worker stuck in one long task (its tick has not moved
       and it is not parked) strands its LIFO slot after EDDY__LIFO_STUCK_NS,
       and its reactor and timers after EDDY__REACTOR_STUCK_NS */
    uint64_t now = eddy__now_ns();
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__worker *v = &s->workers[i];
        if (v == w)
            continue;
        uint32_t tk = atomic_load_explicit(&v->tick_pub, memory_order_relaxed);
        /* parked counts as stuck only while its reactor holds readiness
           that it must run to deliver (woken, but not given a CPU) */
        bool parked = atomic_load_explicit(&v->park_state, memory_order_relaxed) ==
                          EDDY__PARK_PARKED &&
                      (s->drv_ops->stranded == NULL || !s->drv_ops->stranded(v->drv));
        if (tk != w->seen_tick[i] || w->seen_at[i] == 0 || parked) {
            w->seen_tick[i] = tk;
            w->seen_at[i] = now;
            continue;
        }
        if (now - w->seen_at[i] < EDDY__LIFO_STUCK_NS)
            continue;
        if (atomic_load_explicit(&v->lifo, memory_order_relaxed) != NULL) {
            t = atomic_exchange_explicit(&v->lifo, NULL, memory_order_acq_rel);
            if (t != NULL) {
                eddy__metric_add(&w->m.stolen, 1);
                return t;
            }
        }
        if (now - w->seen_at[i] >= EDDY__REACTOR_STUCK_NS) {
            t = poll_for_stuck(w, v, now);
            if (t != NULL)
                return t;
        }
    }
    return NULL;
}
