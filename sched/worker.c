/*
 * sched/worker.c: the worker loop. Each worker picks its next task (LIFO
 * slot capped at a few runs, its ring, its inbox and the global queue every
 * EDDY__GLOBAL_INTERVAL polls, then stealing), runs it through its kind's
 * vtable, re-queues it when a wake raced the run, fires its timers, polls
 * its driver now and then, runs its requested hooks (hooks.c) between task
 * runs, and parks in the driver when there is nothing to do. It also
 * routes wakes (eddy__schedule) and keeps the owned lists.
 *
 * What it does not own: stealing and standing in for a stuck worker
 * (steal.c), the idle/search accounting (idle.c), the queues' internals
 * (deque.c, taskq.c), waiting (wait.c), lifecycle (sched.c).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sched/alloc.h"
#include "sched/sched_int.h"

_Thread_local struct eddy__worker *eddy__tls_worker;

/* Never inlined: a fiber may resume on another thread, and a compiler may
   keep a thread-local's address in a register across a call. Every read of
   "current" after a suspension goes through these. */
__attribute__((noinline)) struct eddy__worker *eddy__worker_current(void)
{
    struct eddy__worker *w = eddy__tls_worker;
    __asm__ volatile("" ::: "memory");
    return w;
}

__attribute__((noinline)) struct eddy__task *eddy__task_current(void)
{
    struct eddy__worker *w = eddy__tls_worker;
    __asm__ volatile("" ::: "memory");
    return w != NULL ? w->current : NULL;
}

struct eddy__sched *eddy__sched_current(void)
{
    struct eddy__worker *w = eddy__worker_current();
    return w != NULL ? w->s : NULL;
}

int eddy__worker_index_current(void)
{
    struct eddy__worker *w = eddy__worker_current();
    return w != NULL ? (int)w->index : -1;
}

void *eddy__worker_driver_current(void)
{
    struct eddy__worker *w = eddy__worker_current();
    return w != NULL ? w->drv : NULL;
}

uint64_t eddy__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The coarse clock (the kernel's tick, read from the vDSO in ~6 ns
   against ~29 for CLOCK_MONOTONIC on this VM): dumps need no better. */
static uint32_t coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

uint32_t eddy__clock_ms(void)
{
    struct eddy__worker *w = eddy__tls_worker;
    return w != NULL ? w->clock_ms : coarse_ms();
}

/* ---------------------------------------------------------------- wakes */

void eddy__worker_unpark(struct eddy__worker *w)
{
    /* seq_cst: pairs with the parker's CAS to PARKED; whoever comes second
       sees the other (no lost unpark) */
    int prev = atomic_exchange_explicit(&w->park_state, EDDY__PARK_NOTIFIED, memory_order_seq_cst);
    if (prev == EDDY__PARK_PARKED)
        w->s->drv_ops->unpark(w->drv);
}

/* The spill of a solo worker (sched_int.h): a ring of task pointers that
   doubles when full, given back when it empties after a burst. */
#define SPILL_MIN 1024u
#define SPILL_KEEP 65536u

static bool spill_push(struct eddy__worker *w, struct eddy__task *t)
{
    uint32_t len = atomic_load_explicit(&w->spill_len, memory_order_relaxed);
    if (len == w->spill_cap) {
        uint32_t ncap = w->spill_cap ? w->spill_cap * 2 : SPILL_MIN;
        if (ncap <= w->spill_cap)
            return false;
        struct eddy__task **n = eddy__alloc(sizeof *n * ncap);
        if (n == NULL)
            return false;
        for (uint32_t i = 0; i < len; i++)
            n[i] = w->spill[(w->spill_head + i) & (w->spill_cap - 1)];
        eddy__dealloc(w->spill, sizeof *n * w->spill_cap);
        w->spill = n;
        w->spill_head = 0;
        w->spill_cap = ncap;
    }
    w->spill[(w->spill_head + len) & (w->spill_cap - 1)] = t;
    atomic_store_explicit(&w->spill_len, len + 1, memory_order_relaxed);
    return true;
}

struct eddy__task *eddy__worker_spill_pop(struct eddy__worker *w)
{
    uint32_t len = atomic_load_explicit(&w->spill_len, memory_order_relaxed);
    if (len == 0)
        return NULL;
    struct eddy__task *t = w->spill[w->spill_head];
    w->spill_head = (w->spill_head + 1) & (w->spill_cap - 1);
    atomic_store_explicit(&w->spill_len, len - 1, memory_order_relaxed);
    if (len == 1 && w->spill_cap > SPILL_KEEP) {
        eddy__dealloc(w->spill, sizeof *w->spill * w->spill_cap);
        w->spill = NULL;
        w->spill_head = w->spill_cap = 0;
    }
    return t;
}

static void push_overflow(struct eddy__worker *w, struct eddy__task *t)
{
    if (w->solo) {
        /* in order: nothing enters the ring while older tasks wait in the
           spill */
        if (atomic_load_explicit(&w->spill_len, memory_order_relaxed) == 0 &&
            eddy__deque_try_push(&w->q, t))
            return;
        if (spill_push(w, t))
            return;
        /* no memory to grow the spill: a linked queue takes it */
        eddy__taskq_push(w->s->stealing ? &w->s->inject : &w->inbox, t);
        return;
    }
    struct eddy__task *batch[EDDY_DEQUE_CAP / 2 + 1];
    unsigned n = eddy__deque_push_or_overflow(&w->q, t, batch);
    if (n != 0)
        eddy__taskq_push_array(&w->s->inject, batch, n);
}

void eddy__worker_push_local(struct eddy__worker *w, struct eddy__task *t, bool lifo)
{
    if (lifo) {
        /* Only the owner puts tasks in the slot; thieves only take them out.
           So an empty slot stays empty until this store: no RMW needed
           (release: a thief's exchange then sees the task's writes). */
        struct eddy__task *prev = atomic_load_explicit(&w->lifo, memory_order_relaxed);
        if (prev == NULL || w->solo) /* a solo worker's slot has no thief */
            atomic_store_explicit(&w->lifo, t, memory_order_release);
        else
            prev = atomic_exchange_explicit(&w->lifo, t, memory_order_acq_rel);
        if (prev == NULL) {
            if (w->in_park)
                return; /* woken by its own reactor: park() notifies after */
            /* the slot runs next on this worker: nobody to wake, unless
               no parked worker keeps watch for a poll that never ends
               (then the slot's task would wait all of it: Tokio #4941) */
            if (w->s->stealing && w->s->nworkers > 1 &&
                atomic_load_explicit(&w->s->watchers, memory_order_relaxed) == 0)
                eddy__idle_nudge_watcher(w->s);
            return;
        }
        t = prev;
    }
    push_overflow(w, t);
    /* surplus work that another worker could take: wake one if none is
       already looking (a no-op load when someone is). Not from inside the
       park: this worker still counts as parked there, and could pick
       itself; park() does it once it counts in again. */
    if (w->s->stealing && w->s->nworkers > 1 && !w->in_park)
        eddy__idle_notify_one(w->s);
}

void eddy__schedule(struct eddy__task *t)
{
    struct eddy__sched *s = t->sched;
    struct eddy__worker *w = eddy__tls_worker;
    if (t->home >= 0 && !s->stealing) {
        struct eddy__worker *home = &s->workers[t->home];
        if (w == home) {
            eddy__worker_push_local(w, t, true);
        } else {
            eddy__taskq_push(&home->inbox, t);
            eddy__worker_unpark(home);
        }
        return;
    }
    if (w != NULL && w->s == s) {
        eddy__worker_push_local(w, t, true);
        return;
    }
    eddy__taskq_push(&s->inject, t);
    eddy__idle_notify_remote(s);
}

/* ---------------------------------------------------------- owned lists */

void eddy__owned_insert(struct eddy__worker *w, struct eddy__task *t)
{
    struct eddy__owned *o = &w->owned;
    eddy__task_ref(t);
    eddy__lock_acquire(&o->lock);
    t->owned_prev = NULL;
    t->owned_next = o->head;
    if (o->head != NULL)
        o->head->owned_prev = t;
    o->head = t;
    o->count++;
    t->owned_list = o;
    eddy__lock_release(&o->lock);
}

void eddy__owned_remove(struct eddy__task *t)
{
    struct eddy__owned *o = t->owned_list;
    eddy__lock_acquire(&o->lock);
    if (t->owned_prev != NULL)
        t->owned_prev->owned_next = t->owned_next;
    else
        o->head = t->owned_next;
    if (t->owned_next != NULL)
        t->owned_next->owned_prev = t->owned_prev;
    o->count--;
    t->owned_list = NULL;
    eddy__lock_release(&o->lock);
    eddy__task_unref(t);
}

/* --------------------------------------------------------------- timers */

/* Fires v's due timers; w (the calling worker: v itself, or a worker
   standing in for a stuck v) counts them and receives the wakes. */
void eddy__timers_run_of(struct eddy__worker *w, struct eddy__worker *v, uint64_t now_ns)
{
    uint64_t now_ms = now_ns / 1000000u;
    if (atomic_load_explicit(&v->timers.next_ms, memory_order_relaxed) > now_ms)
        return;
    pthread_mutex_lock(&v->timers.lock);
    size_t fired = eddy__wheel_advance(&v->timers.wheel, now_ms);
    atomic_store_explicit(&v->timers.next_ms, eddy__wheel_next_expiry(&v->timers.wheel),
                          memory_order_relaxed);
    pthread_mutex_unlock(&v->timers.lock);
    if (fired)
        eddy__metric_add(&w->m.timers_fired, fired);
}

static void timers_run(struct eddy__worker *w, uint64_t now_ns)
{
    eddy__timers_run_of(w, w, now_ns);
}

int eddy__timer_arm(struct eddy__timer *tm, uint64_t deadline_ns)
{
    struct eddy__worker *w = eddy__worker_current();
    if (w == NULL)
        return -EPERM;
    uint64_t ms = deadline_ns / 1000000u + (deadline_ns % 1000000u != 0);
    tm->owner = w;
    pthread_mutex_lock(&w->timers.lock);
    eddy__wheel_insert(&w->timers.wheel, tm, ms);
    if (ms < atomic_load_explicit(&w->timers.next_ms, memory_order_relaxed))
        atomic_store_explicit(&w->timers.next_ms, eddy__wheel_next_expiry(&w->timers.wheel),
                              memory_order_relaxed);
    pthread_mutex_unlock(&w->timers.lock);
    return 0;
}

bool eddy__timer_disarm(struct eddy__timer *tm)
{
    struct eddy__worker *w = tm->owner;
    if (w == NULL)
        return false;
    pthread_mutex_lock(&w->timers.lock);
    bool was = eddy__wheel_cancel(&w->timers.wheel, tm);
    pthread_mutex_unlock(&w->timers.lock);
    return was;
}

/* ------------------------------------------------------------- running */

/* Inlined into the worker loop, both of its calls: a return right after a
   switch back from a task's stack is mispredicted (see the vtable's enter),
   so the switch is made from the loop's own frame. */
static inline __attribute__((always_inline)) void run_task(struct eddy__worker *w,
                                                           struct eddy__task *t)
{
    struct eddy__sched *s = w->s;
    if (w->searching) {
        w->searching = false;
        /* the last searcher found work: ramp up one more */
        if (eddy__idle_from_searching(s))
            eddy__idle_notify_one(s);
    }
    uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);
    uint64_t n;
    bool aborting = atomic_load_explicit(&s->closing, memory_order_relaxed) == 2;
    if (st & EDDY__T_RUNNING) {
        /* back from a yield: RUNNING stayed set while it was queued (wakes
           meanwhile only set NOTIFIED), so there is nothing to take over;
           only a wake that did come is consumed */
        while ((st & EDDY__T_NOTIFIED) || (aborting && !(st & EDDY__T_CANCELLED))) {
            n = st & ~(uint64_t)EDDY__T_NOTIFIED;
            if (aborting)
                n |= EDDY__T_CANCELLED;
            if (atomic_compare_exchange_weak_explicit(&t->state, &st, n, memory_order_acq_rel,
                                                      memory_order_acquire))
                break;
        }
    } else {
        do {
            n = (st | EDDY__T_RUNNING) & ~(uint64_t)EDDY__T_NOTIFIED;
            if (aborting)
                n |= EDDY__T_CANCELLED;
            /* acquire: pairs with the waker's release, so the task sees
               what was written before it was woken */
        } while (!atomic_compare_exchange_weak_explicit(&t->state, &st, n, memory_order_acquire,
                                                        memory_order_acquire));
    }
    w->current = t;
    w->budget = EDDY__COOP_BUDGET;
    enum eddy__poll r;
    const struct eddy__task_vtable *vt = t->vt;
    if (vt->enter != NULL) {
        void **save;
        void *to = vt->enter(t, (int)w->index, &save);
        if (to != NULL) {
            vt->switch_to(save, to);
            r = vt->leave(t, (int)w->index);
        } else {
            r = EDDY__POLL_DONE;
        }
    } else {
        r = vt->run(t, (int)w->index);
    }
    w->current = NULL;
    eddy__metric_add(&w->m.polls, 1);
    if (r == EDDY__POLL_DONE) {
        eddy__task_complete(t);
        return;
    }
    if (t->owned_list == NULL) {
        eddy__owned_insert(w, t);
        /* abort_owned may have scanned the lists before this insert: it
           stores closing before taking the list lock this insert took, so
           whichever came second sees the other */
        if (atomic_load_explicit(&s->closing, memory_order_seq_cst) == 2)
            atomic_fetch_or_explicit(&t->state, EDDY__T_CANCELLED | EDDY__T_NOTIFIED,
                                     memory_order_acq_rel);
    }
    if (t->yielded) {
        /* a yield keeps RUNNING (the queue holds the run's reference): no
           atomic on the state word for the round trip through the queue */
        t->yielded = 0;
        push_overflow(w, t);
        return;
    }
    st = atomic_load_explicit(&t->state, memory_order_relaxed);
    for (;;) {
        if (st & EDDY__T_NOTIFIED) {
            n = st & ~(uint64_t)EDDY__T_RUNNING;
        } else {
            n = (st & ~(uint64_t)EDDY__T_RUNNING) - EDDY__T_REF_ONE;
        }
        /* release: the run's writes are visible to the next runner */
        if (atomic_compare_exchange_weak_explicit(&t->state, &st, n, memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    if (st & EDDY__T_NOTIFIED) {
        /* woken during the run: to the back of the queue, so a task that
           keeps waking itself cannot starve the others */
        if (t->home >= 0 && !s->stealing && (unsigned)t->home != w->index) {
            eddy__taskq_push(&s->workers[t->home].inbox, t);
            eddy__worker_unpark(&s->workers[t->home]);
        } else {
            push_overflow(w, t);
        }
    }
    /* not notified: the reference of the run went with the CAS; the owned
       list keeps the task alive while it waits */
}

/* The most pull_global takes at once: a ring's overflow. */
#define PULL_MAX (EDDY_DEQUE_CAP / 2 + 1)

/* Runs the first of got tasks pulled from a queue; the rest go local. */
static struct eddy__task *take_pulled(struct eddy__worker *w, struct eddy__task **got, size_t n)
{
    eddy__metric_add(&w->m.global_pulls, n);
    for (size_t i = 1; i < n; i++)
        push_overflow(w, got[i]);
    return got[0];
}

/* Takes up to a fair share of the global queue into the local ring and
   returns one task to run. */
struct eddy__task *eddy__pull_global(struct eddy__worker *w)
{
    struct eddy__sched *s = w->s;
    struct eddy__task *got[PULL_MAX];
    size_t room = eddy__deque_room(&w->q);
    size_t want = room / 2 + 1;
    size_t n = eddy__taskq_pop_into(&w->inbox, got, want < PULL_MAX ? want : PULL_MAX);
    if (n > 0)
        return take_pulled(w, got, n);
    size_t len = eddy__taskq_len(&s->inject);
    if (len == 0)
        return NULL;
    want = len / s->nworkers + 1;
    if (want > room + 1)
        want = room + 1;
    if (want > 128)
        want = 128;
    n = eddy__taskq_pop_into(&s->inject, got, want);
    return n > 0 ? take_pulled(w, got, n) : NULL;
}

static struct eddy__task *next_task(struct eddy__worker *w)
{
    struct eddy__task *t;
    w->tick++;
    atomic_store_explicit(&w->tick_pub, w->tick, memory_order_relaxed);
    if (w->tick % EDDY__GLOBAL_INTERVAL == 0) {
        t = eddy__pull_global(w);
        if (t != NULL)
            return t;
    }
    if ((t = atomic_load_explicit(&w->lifo, memory_order_relaxed)) != NULL &&
        (w->solo ? (atomic_store_explicit(&w->lifo, NULL, memory_order_relaxed), true)
                 : (t = atomic_exchange_explicit(&w->lifo, NULL, memory_order_acq_rel)) != NULL)) {
        /* a solo worker's slot has no thief: no read-modify-write */
        if (w->lifo_runs < EDDY__LIFO_MAX_RUNS ||
            (eddy__deque_len(&w->q) == 0 &&
             atomic_load_explicit(&w->spill_len, memory_order_relaxed) == 0)) {
            /* over the cap with an empty ring, nothing local is starved:
               keep the chain here rather than offer it to a thief */
            w->lifo_runs++;
            return t;
        }
        push_overflow(w, t);
    }
    w->lifo_runs = 0;
    if (w->solo) {
        if ((t = eddy__deque_pop_solo(&w->q)) != NULL || (t = eddy__worker_spill_pop(w)) != NULL)
            return t;
        return eddy__pull_global(w);
    }
    t = eddy__deque_pop(&w->q);
    if (t != NULL)
        return t;
    return eddy__pull_global(w);
}

/* Work this worker could take: its own queues (its LIFO slot too: a wake
   dispatched by its own maintenance poll lands there), and with stealing
   the global queue and the other rings (not their LIFO slots: those are
   taken only from a stuck worker, which the park's watch timeout covers). */
static bool work_pending(struct eddy__worker *w)
{
    struct eddy__sched *s = w->s;
    if (atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL ||
        eddy__taskq_len(&w->inbox) != 0 || eddy__deque_len(&w->q) != 0 ||
        atomic_load_explicit(&w->spill_len, memory_order_relaxed) != 0 ||
        atomic_load_explicit(&w->hooks_pending, memory_order_relaxed) != 0)
        return true;
    if (!s->stealing)
        return false;
    if (eddy__taskq_len(&s->inject) != 0)
        return true;
    for (unsigned i = 0; i < s->nworkers; i++)
        if (eddy__deque_len(&s->workers[i].q) != 0)
            return true;
    return false;
}

/* Publishes the CPU this worker runs on, for avoid_cpu_of (sampled: after
   a park and every EDDY__GLOBAL_INTERVAL runs, not per run). */
static void publish_cpu(struct eddy__worker *w)
{
    int cpu = sched_getcpu();
    if (cpu != w->cpu_seen) {
        w->cpu_seen = cpu;
        atomic_store_explicit(&w->cpu_pub, cpu, memory_order_relaxed);
    }
}

static void maintenance(struct eddy__worker *w)
{
    publish_cpu(w);
    w->clock_ms = coarse_ms();
    if (atomic_load_explicit(&w->timers.next_ms, memory_order_relaxed) != UINT64_MAX)
        timers_run(w, eddy__now_ns());
    const struct eddy__driver_ops *ops = w->s->drv_ops;
    if (ops->has_io != NULL && ops->has_io(w->drv)) {
        int n = ops->park(w->drv, 0);
        if (n > 0)
            eddy__metric_add(&w->m.io_events, (uint64_t)n);
    }
}

/* Counted back in with work to run: the notifications skipped while this
   worker counted as parked. Surplus in its ring wakes a thief. Any other
   work (its LIFO slot, its inbox, the global queue its re-check saw) may be
   one task that never yields, and a worker that parked while this one was
   counted out parked without the watch: nudge one back to keep it. */
static void after_park_notify(struct eddy__worker *w)
{
    struct eddy__sched *s = w->s;
    if (!s->stealing || s->nworkers < 2)
        return;
    if (eddy__deque_len(&w->q) != 0)
        eddy__idle_notify_one(s);
    else if (atomic_load_explicit(&s->watchers, memory_order_relaxed) == 0 &&
             (atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL ||
              eddy__taskq_len(&w->inbox) != 0 || eddy__taskq_len(&s->inject) != 0))
        eddy__idle_nudge_watcher(s);
}

static void park(struct eddy__worker *w)
{
    struct eddy__sched *s = w->s;
    (void)eddy__idle_to_parked(s, w->index, w->searching);
    w->searching = false;
    /* Re-check after being counted out (the fence pairs with the one in
       eddy__idle_notify_remote): a push that saw this worker still counted
       in did not wake anyone, so its task must be seen here. */
    EDDY__FENCE_SEQ_CST();
    if (work_pending(w)) {
        /* a notifier may have picked this worker meanwhile: take its
           notification now, or it would make every later park return */
        atomic_store_explicit(&w->park_state, EDDY__PARK_EMPTY, memory_order_seq_cst);
        if (eddy__idle_from_parked(s, w->index))
            w->searching = true;
        after_park_notify(w);
        return;
    }

    if (w->avoid_worker >= 0)
        eddy__avoid_cpu_end(w);
    int64_t timeout = -1;
    uint64_t next_ms = atomic_load_explicit(&w->timers.next_ms, memory_order_relaxed);
    if (next_ms != UINT64_MAX) {
        uint64_t now = eddy__now_ns();
        uint64_t dl = next_ms * 1000000u;
        timeout = dl > now ? (int64_t)(dl - now) : 0;
    }
    /* another worker is busy: keep watch, coming back soon to take what a
       poll that never ends would strand in its LIFO slot */
    bool watch = s->stealing && s->nworkers > 1 && eddy__idle_others_busy(s);
    if (watch && (timeout < 0 || timeout > EDDY__WATCH_NS))
        timeout = EDDY__WATCH_NS;
    if (watch)
        atomic_fetch_add_explicit(&s->watchers, 1, memory_order_relaxed);
    int expect = EDDY__PARK_EMPTY;
    /* seq_cst: pairs with eddy__worker_unpark's exchange */
    if (atomic_compare_exchange_strong_explicit(&w->park_state, &expect, EDDY__PARK_PARKED,
                                                memory_order_seq_cst, memory_order_seq_cst)) {
        eddy__metric_add(&w->m.parks, 1);
        w->in_park = true;
        int n = s->drv_ops->park(w->drv, timeout);
        w->in_park = false;
        if (n > 0)
            eddy__metric_add(&w->m.io_events, (uint64_t)n);
    }
    atomic_store_explicit(&w->park_state, EDDY__PARK_EMPTY, memory_order_seq_cst);
    if (watch)
        atomic_fetch_sub_explicit(&s->watchers, 1, memory_order_relaxed);
    if (eddy__idle_from_parked(s, w->index))
        w->searching = true;
    publish_cpu(w);
    w->clock_ms = coarse_ms();
    after_park_notify(w);
    timers_run(w, eddy__now_ns());
}

void *eddy__worker_main(void *arg)
{
    struct eddy__worker *w = arg;
    struct eddy__sched *s = w->s;
    eddy__tls_worker = w;
    w->clock_ms = coarse_ms();
    if (s->pin) {
        cpu_set_t set;
        CPU_ZERO(&set);
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        CPU_SET(w->index % (unsigned)(ncpu > 0 ? ncpu : 1), &set);
        (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    if (s->on_thread_start != NULL)
        s->on_thread_start(w->index, s->ud);

    while (!atomic_load_explicit(&s->stopping, memory_order_acquire)) {
        if (atomic_load_explicit(&w->hooks_pending, memory_order_relaxed) != 0)
            (void)eddy__hooks_run(w, true);
        struct eddy__task *t = next_task(w);
        if (t == NULL)
            t = eddy__steal(w);
        if (t != NULL) {
            uint64_t t0 = 0;
            /* busy time is sampled: one run in EDDY__BUSY_SAMPLE is timed
               (a clock read costs about as much as a yield) */
            if (w->tick % EDDY__BUSY_SAMPLE == 0)
                t0 = eddy__now_ns();
            run_task(w, t);
            if (t0 != 0)
                eddy__metric_add(&w->m.busy_ns, (eddy__now_ns() - t0) * EDDY__BUSY_SAMPLE);
            if (w->tick % EDDY__GLOBAL_INTERVAL == 0)
                maintenance(w);
            continue;
        }
        maintenance(w);
        /* bounded spin: work often arrives within microseconds */
        uint64_t until = eddy__now_ns() + EDDY__SPIN_NS;
        bool found = false;
        while (eddy__now_ns() < until) {
            if (eddy__deque_len(&w->q) || atomic_load_explicit(&w->lifo, memory_order_relaxed) ||
                atomic_load_explicit(&w->spill_len, memory_order_relaxed) ||
                eddy__taskq_len(&w->inbox) || (s->stealing && eddy__taskq_len(&s->inject)) ||
                atomic_load_explicit(&w->hooks_pending, memory_order_relaxed) ||
                atomic_load_explicit(&s->stopping, memory_order_relaxed)) {
                found = true;
                break;
            }
            /* an unpark aimed at this worker: consume it (acq_rel pairs
               with the unparker's exchange, so its push is visible) */
            if (atomic_load_explicit(&w->park_state, memory_order_relaxed) == EDDY__PARK_NOTIFIED &&
                atomic_exchange_explicit(&w->park_state, EDDY__PARK_EMPTY, memory_order_acq_rel) ==
                    EDDY__PARK_NOTIFIED) {
                found = true;
                break;
            }
            if (w->searching || work_pending(w)) {
                t = eddy__steal(w);
                if (t != NULL) {
                    run_task(w, t);
                    found = true;
                    break;
                }
            }
            sched_yield();
        }
        if (found)
            continue;
        park(w);
    }
    if (w->searching) {
        w->searching = false;
        eddy__idle_from_searching(s);
    }
    if (s->on_thread_stop != NULL)
        s->on_thread_stop(w->index, s->ud);
    eddy__tls_worker = NULL;
    return NULL;
}
