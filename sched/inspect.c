/*
 * sched/inspect.c: what eddy_rt_dump (rt/dump.c) sees of the scheduler:
 * a snapshot of the tasks that have switched out at least once (the
 * owned lists), the depth of the queues, and the pin that holds a
 * suspended task still while its stack is read.
 *
 * Nothing here runs on the hot paths: a dump costs nothing until called.
 */
#include <errno.h>

#include "sched/alloc.h"
#include "sched/sched_int.h"

/* ------------------------------------------------------------- snapshot */

static bool snap_reserve(struct eddy__task_snap **arr, size_t *cap, size_t want)
{
    if (want <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < want)
        ncap *= 2;
    struct eddy__task_snap *n = eddy__realloc(*arr, sizeof **arr * *cap, sizeof **arr * ncap);
    if (n == NULL)
        return false;
    *arr = n;
    *cap = ncap;
    return true;
}

int eddy__sched_snapshot(struct eddy__sched *s, struct eddy__task_snap **arr, size_t *len,
                         size_t *cap)
{
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__owned *o = &s->workers[i].owned;
        for (;;) {
            eddy__lock_acquire(&o->lock);
            size_t n = o->count;
            if (*len + n > *cap) {
                /* grow outside the lock (the list's owner takes it at
                   every first suspension), then look again */
                eddy__lock_release(&o->lock);
                if (!snap_reserve(arr, cap, *len + n + n / 2 + 16))
                    return -ENOMEM;
                continue;
            }
            for (struct eddy__task *t = o->head; t != NULL; t = t->owned_next) {
                /* the list's own reference keeps t alive while we take ours */
                eddy__task_ref(t);
                (*arr)[*len].t = t;
                (*arr)[*len].worker = i;
                (*len)++;
            }
            eddy__lock_release(&o->lock);
            break;
        }
    }
    return 0;
}

void eddy__sched_snapshot_free(struct eddy__task_snap *arr, size_t len, size_t cap)
{
    for (size_t i = 0; i < len; i++)
        eddy__task_unref(arr[i].t);
    eddy__dealloc(arr, sizeof *arr * cap);
}

/* ----------------------------------------------------------------- facts */

size_t eddy__sched_worker_queued(struct eddy__sched *s, unsigned i)
{
    if (i >= s->nworkers)
        return 0;
    struct eddy__worker *w = &s->workers[i];
    size_t n = eddy__deque_len(&w->q);
    n += atomic_load_explicit(&w->spill_len, memory_order_relaxed);
    n += atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL;
    n += eddy__taskq_len(&w->inbox);
    return n;
}

size_t eddy__sched_inject_queued(struct eddy__sched *s)
{
    return eddy__taskq_len(&s->inject);
}

void eddy__sched_blocking_counts(struct eddy__sched *s, size_t *running, size_t *queued)
{
    struct eddy__blocking *b = &s->blocking;
    size_t r = 0, q = 0;
    pthread_mutex_lock(&b->lock);
    for (struct eddy__task *t = b->running; t != NULL; t = t->owned_next)
        r++;
    for (struct eddy__task *t = b->head; t != NULL; t = t->next)
        q++;
    pthread_mutex_unlock(&b->lock);
    *running = r;
    *queued = q;
}

/* Completions are read first: every counted completion's spawn is
   counted by the later read of spawns, so 0 means nothing was alive when
   the completions were read (sched.c's shutdown waits on that). */
uint64_t eddy__sched_tasks_alive(struct eddy__sched *s)
{
    uint64_t done = atomic_load_explicit(&s->ext_completed, memory_order_seq_cst);
    for (unsigned i = 0; i < s->nworkers; i++)
        done += atomic_load_explicit(&s->workers[i].m.completed, memory_order_acquire);
    uint64_t spawned = atomic_load_explicit(&s->ext_spawned, memory_order_seq_cst);
    for (unsigned i = 0; i < s->nworkers; i++)
        spawned += atomic_load_explicit(&s->workers[i].m.spawned, memory_order_acquire);
    return spawned >= done ? spawned - done : 0;
}

/* ------------------------------------------------------------------- pin */

/*
 * The pin borrows the worker's own lock on a task body, RUNNING (see
 * run_task in worker.c and sched/task.h), for a thread that only reads.
 *
 * Pin: only an idle task can be pinned. Idle means no queue holds it
 * (NOTIFIED clear), no worker runs it (RUNNING clear) and it has not
 * ended. Setting RUNNING then makes every wake take the "running" branch
 * of eddy__wake: it sets NOTIFIED and queues nothing, exactly as for a
 * wake that races a run. A queued task (NOTIFIED) must never be pinned: a
 * worker that pops it would take our RUNNING for a yield's and run it.
 * The acquire pairs with the release of run_task's end-of-run CAS, so the
 * run's writes (its stack, the kind's fields) are visible to the reader.
 *
 * References: a run holds one reference, which run_task's end-of-run CAS
 * either drops (not notified) or hands to the queue (notified: the task
 * goes back to a queue at once). The pin holds none of its own (the
 * caller's snapshot reference keeps t alive), and a wake that came while
 * it held RUNNING added none (eddy__wake adds the queue's reference only
 * when it queues). So unpin, when NOTIFIED came meanwhile, adds the
 * queue's reference in the same CAS that clears RUNNING and then queues
 * the task, as eddy__wake would have; otherwise it only clears RUNNING.
 * Between the CAS and eddy__schedule nobody else queues t: NOTIFIED stays
 * set, and every other wake returns early on it.
 */
bool eddy__task_pin(struct eddy__task *t, uint64_t *seen)
{
    uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);
    do {
        if (st & (EDDY__T_RUNNING | EDDY__T_NOTIFIED | EDDY__T_COMPLETE)) {
            if (seen != NULL)
                *seen = st;
            return false;
        }
    } while (!atomic_compare_exchange_weak_explicit(&t->state, &st, st | EDDY__T_RUNNING,
                                                    memory_order_acquire, memory_order_acquire));
    if (seen != NULL)
        *seen = st | EDDY__T_RUNNING;
    return true;
}

void eddy__task_unpin(struct eddy__task *t)
{
    uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
    uint64_t n;
    do {
        n = st & ~(uint64_t)EDDY__T_RUNNING;
        if (st & EDDY__T_NOTIFIED)
            n += EDDY__T_REF_ONE; /* the queue's reference */
        /* release: our reads of its stack happen before its next run
           (whose acquire reads this value, or a wake's RMW after it) */
    } while (!atomic_compare_exchange_weak_explicit(&t->state, &st, n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (st & EDDY__T_NOTIFIED)
        eddy__schedule(t);
}
