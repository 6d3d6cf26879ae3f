/*
 * sched/sched.c: the scheduler's lifecycle: creation of the workers, spawn
 * placement, the task accounting a shutdown waits on, the graceful and the
 * forced parts of a shutdown, and the metrics read-out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched/alloc.h"
#include "sched/sched_int.h"

void *eddy__worker_main(void *arg);

void *eddy__sched_ud(struct eddy__sched *s) { return s->ud; }
unsigned eddy__sched_workers(struct eddy__sched *s) { return s->nworkers; }
bool eddy__sched_stealing(struct eddy__sched *s) { return s->stealing; }

static void stop_workers(struct eddy__sched *s)
{
    atomic_store_explicit(&s->stopping, 1, memory_order_release);
    for (unsigned i = 0; i < s->nworkers; i++)
        eddy__worker_unpark(&s->workers[i]);
    for (unsigned i = 0; i < s->nworkers; i++) {
        if (s->workers[i].thread_started) {
            pthread_join(s->workers[i].thread, NULL);
            s->workers[i].thread_started = false;
        }
    }
}

static void destroy(struct eddy__sched *s)
{
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__worker *w = &s->workers[i];
        eddy__taskq_destroy(&w->inbox);
        pthread_mutex_destroy(&w->timers.lock);
        pthread_mutex_destroy(&w->hook_lock);
        eddy__dealloc(w->seen_tick, sizeof(uint32_t) * s->nworkers);
        eddy__dealloc(w->seen_at, sizeof(uint64_t) * s->nworkers);
        eddy__dealloc(w->spill, sizeof *w->spill * w->spill_cap);
    }
    eddy__taskq_destroy(&s->inject);
    pthread_mutex_destroy(&s->sleepers_lock);
    eddy__dealloc(s->sleepers, sizeof(unsigned) * s->nworkers);
    eddy__dealloc_line(s->workers, sizeof(struct eddy__worker) * s->nworkers);
    eddy__dealloc_line(s, sizeof *s);
}

int eddy__sched_new(struct eddy__sched **out, const struct eddy__sched_config *cfg)
{
    if (cfg->workers == 0 || cfg->drv_ops == NULL || cfg->drivers == NULL)
        return -EINVAL;
    struct eddy__sched *s = eddy__calloc_line(sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->nworkers = cfg->workers;
    s->stealing = cfg->work_stealing;
    s->pin = cfg->pin_workers;
    s->drv_ops = cfg->drv_ops;
    s->on_thread_start = cfg->on_thread_start;
    s->on_thread_stop = cfg->on_thread_stop;
    s->ud = cfg->ud;
    s->workers = eddy__calloc_line(sizeof(struct eddy__worker) * s->nworkers);
    s->sleepers = eddy__alloc(sizeof(unsigned) * s->nworkers);
    if (s->workers == NULL || s->sleepers == NULL) {
        eddy__dealloc_line(s->workers, sizeof(struct eddy__worker) * s->nworkers);
        eddy__dealloc(s->sleepers, sizeof(unsigned) * s->nworkers);
        eddy__dealloc_line(s, sizeof *s);
        return -ENOMEM;
    }
    eddy__taskq_init(&s->inject);
    eddy__idle_init(s);
    uint64_t now_ms = eddy__now_ns() / 1000000u;
    bool alloc_failed = false;
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__worker *w = &s->workers[i];
        eddy__deque_init(&w->q);
        w->s = s;
        w->index = i;
        w->solo = s->nworkers == 1 || !s->stealing;
        w->rng = 0x9e3779b9u * (i + 1);
        w->drv = cfg->drivers[i];
        atomic_init(&w->park_state, EDDY__PARK_EMPTY);
        atomic_init(&w->cpu_pub, -1);
        w->cpu_seen = -1;
        w->avoid_worker = -1;
        eddy__taskq_init(&w->inbox);
        pthread_mutex_init(&w->timers.lock, NULL);
        eddy__wheel_init(&w->timers.wheel, now_ms);
        atomic_init(&w->timers.next_ms, UINT64_MAX);
        eddy__lock_init(&w->owned.lock);
        pthread_mutex_init(&w->hook_lock, NULL);
        w->seen_tick = eddy__calloc(sizeof(uint32_t) * s->nworkers);
        w->seen_at = eddy__calloc(sizeof(uint64_t) * s->nworkers);
        if (w->seen_tick == NULL || w->seen_at == NULL)
            alloc_failed = true;
    }
    if (alloc_failed) {
        destroy(s);
        return -ENOMEM;
    }
    int rc = eddy__blocking_init(&s->blocking, s, cfg->blocking_threads);
    if (rc < 0) {
        destroy(s);
        return rc;
    }
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__worker *w = &s->workers[i];
        rc = pthread_create(&w->thread, NULL, eddy__worker_main, w);
        if (rc != 0) {
            stop_workers(s);
            eddy__blocking_stop(&s->blocking);
            destroy(s);
            return -rc;
        }
        w->thread_started = true;
    }
    *out = s;
    return 0;
}

int eddy__sched_spawn(struct eddy__sched *s, struct eddy__task *t, int worker)
{
    struct eddy__worker *w = eddy__tls_worker;
    bool inside = w != NULL && w->s == s;
    if (inside) {
        int closing = atomic_load_explicit(&s->closing, memory_order_acquire);
        if (closing == 2)
            return -ESHUTDOWN;
        eddy__metric_add(&w->m.spawned, 1);
    } else {
        /* counted before closing is read (both seq_cst, against the
           shutdown's store of closing and its reads of the counts): either
           the shutdown waits for this task or this spawn sees closing */
        atomic_fetch_add_explicit(&s->ext_spawned, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&s->closing, memory_order_seq_cst) != 0) {
            atomic_fetch_add_explicit(&s->ext_completed, 1, memory_order_seq_cst);
            return -ESHUTDOWN;
        }
    }

    if (worker < 0 && !s->stealing && !inside) /* round-robin placement */
        worker = (int)(atomic_fetch_add_explicit(&s->spawn_rr, 1, memory_order_relaxed) %
                       s->nworkers);
    if (worker < 0 && !s->stealing)
        worker = (int)w->index;
    if (worker >= 0) {
        t->home = (int16_t)worker;
        struct eddy__worker *target = &s->workers[worker];
        if (target == w) {
            eddy__worker_push_local(w, t, true);
        } else {
            eddy__taskq_push(&target->inbox, t);
            eddy__worker_unpark(target);
        }
        return 0;
    }
    if (inside) {
        eddy__worker_push_local(w, t, true);
    } else {
        eddy__taskq_push(&s->inject, t);
        eddy__idle_notify_remote(s);
    }
    return 0;
}

void eddy__sched_task_done(struct eddy__sched *s)
{
    struct eddy__worker *w = eddy__tls_worker;
    if (w != NULL && w->s == s)
        eddy__metric_add(&w->m.completed, 1);
    else
        atomic_fetch_add_explicit(&s->ext_completed, 1, memory_order_release);
}


static bool wait_all_done(struct eddy__sched *s, int64_t grace_ms)
{
    uint64_t until = eddy__deadline_after_ms(grace_ms);
    for (;;) {
        if (eddy__sched_tasks_alive(s) == 0)
            return true;
        if (eddy__now_ns() >= until)
            return false;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void abort_owned(struct eddy__sched *s)
{
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__owned *o = &s->workers[i].owned;
        eddy__lock_acquire(&o->lock);
        for (struct eddy__task *t = o->head; t != NULL; t = t->owned_next) {
            uint64_t st = atomic_fetch_or_explicit(&t->state, EDDY__T_CANCELLED,
                                                   memory_order_acq_rel);
            (void)st;
            /* a wake only queues or flags; the owned lock is never taken
               by a wake, so this cannot deadlock */
            eddy__wake(t);
        }
        eddy__lock_release(&o->lock);
    }
}

int eddy__sched_shutdown(struct eddy__sched *s, int64_t grace_ms)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&s->closing, &expect, 1) && expect == 2)
        return 0;
    if (wait_all_done(s, grace_ms))
        return 0;
    atomic_store(&s->closing, 2); /* queued tasks start cancelled */
    abort_owned(s);
    eddy__blocking_cancel_all(&s->blocking);
    /* Aborted tasks get time to unwind even with no grace: a task dropped
       while suspended leaves its waiter nodes linked in user objects
       (channels, mutexes), so dropping is the last resort. */
    int64_t unwind = grace_ms < 0 ? -1 : grace_ms < EDDY__UNWIND_MS ? EDDY__UNWIND_MS : grace_ms;
    (void)wait_all_done(s, unwind);
    return -ETIMEDOUT;
}

/* Drops a task that will never run again: its kind releases its stack, a
   joiner sees it cancelled. The caller then completes it. */
static void drop_task(struct eddy__task *t)
{
    atomic_fetch_or_explicit(&t->state, EDDY__T_CANCELLED, memory_order_acq_rel);
    t->timer.armed_in = NULL; /* its wheel is gone */
    if (t->vt->drop != NULL)
        t->vt->drop(t);
    t->result = NULL;
}

/* Completes every queued task as dropped; true if there was any. Each
   queue entry holds the task's run reference, which completion drops. */
static bool drop_queued(struct eddy__sched *s)
{
    bool any = false;
    struct eddy__task *t;
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__worker *w = &s->workers[i];
        while ((t = atomic_exchange(&w->lifo, NULL)) != NULL ||
               (t = eddy__deque_pop(&w->q)) != NULL || (t = eddy__worker_spill_pop(w)) != NULL ||
               (t = eddy__taskq_pop(&w->inbox)) != NULL) {
            drop_task(t);
            eddy__task_complete(t);
            any = true;
        }
    }
    while ((t = eddy__taskq_pop(&s->inject)) != NULL) {
        drop_task(t);
        eddy__task_complete(t);
        any = true;
    }
    return any;
}

void eddy__sched_free(struct eddy__sched *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->closing, 2);
    stop_workers(s);
    eddy__blocking_stop(&s->blocking);
    /* Workers are stopped: this thread now owns every queue. Timers point
       into tasks: forget them all. */
    for (unsigned i = 0; i < s->nworkers; i++)
        eddy__wheel_init(&s->workers[i].timers.wheel, 0);
    /* Dropping a task wakes its joiner, which may be queued then: repeat
       until the queues and the owned lists stay empty. */
    for (;;) {
        bool any = drop_queued(s);
        for (unsigned i = 0; i < s->nworkers; i++) {
            struct eddy__owned *o = &s->workers[i].owned;
            for (struct eddy__task *t = o->head, *next; t != NULL; t = next) {
                next = t->owned_next;
                /* woken meanwhile (a dropped task's joiner): it is queued,
                   and the queue pass of the next round drops it */
                if (eddy__task_flags(t) & EDDY__T_NOTIFIED)
                    continue;
                drop_task(t);
                eddy__task_ref(t); /* stands in for the run's reference */
                eddy__task_complete(t);
                any = true;
            }
        }
        if (!any)
            break;
    }
    eddy__hooks_fini(s); /* no task is left to need them */
    destroy(s);
}

int eddy__sched_metrics(struct eddy__sched *s, unsigned i, struct eddy__metrics *m)
{
    if (s == NULL || m == NULL || i >= s->nworkers)
        return -EINVAL;
    struct eddy__worker *w = &s->workers[i];
#define RD(f) m->f = atomic_load_explicit(&w->m.f, memory_order_relaxed)
    RD(polls);
    RD(spawned);
    RD(stolen);
    RD(steal_attempts);
    RD(parks);
    RD(global_pulls);
    RD(io_events);
    RD(timers_fired);
    RD(busy_ns);
    RD(stuck_polls);
#undef RD
    m->queue_depth = eddy__deque_len(&w->q) + atomic_load_explicit(&w->spill_len, memory_order_relaxed);
    return 0;
}

size_t eddy__sched_timers_armed(struct eddy__sched *s)
{
    size_t n = 0;
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__worker *w = &s->workers[i];
        pthread_mutex_lock(&w->timers.lock);
        n += w->timers.wheel.count;
        pthread_mutex_unlock(&w->timers.lock);
    }
    return n;
}

size_t eddy__sched_tasks_suspended(struct eddy__sched *s)
{
    size_t n = 0;
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct eddy__owned *o = &s->workers[i].owned;
        eddy__lock_acquire(&o->lock);
        n += o->count;
        eddy__lock_release(&o->lock);
    }
    return n;
}

void eddy__metrics_io_events(unsigned n)
{
    struct eddy__worker *w = eddy__tls_worker;
    if (w != NULL)
        eddy__metric_add(&w->m.io_events, n);
}
