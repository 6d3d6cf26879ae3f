/*
 * sched/blocking.c: the bounded pool of plain threads that run blocking
 * tasks (eddy_spawn_blocking, DNS). Threads start on demand up to the cap
 * and exit after EDDY__BLOCKING_KEEPALIVE_S idle (Tokio keeps them 10 s).
 * A blocking task is a task like any other for join and abort: abort stops
 * it from starting, and once it runs, its eddy suspending calls (it waits
 * through its thread's parker) return -ECANCELED; plain blocking syscalls
 * are not interrupted.
 */
#include <errno.h>
#include <time.h>

#include "sched/alloc.h"
#include "sched/sched_int.h"

#define EDDY__BLOCKING_KEEPALIVE_S 10

/* eddy__pool_slot.state: free (never used, or joined), running, or exited
   and waiting to be joined (by the next thread start that needs the slot,
   or by stop) */
enum { POOL_SLOT_FREE = 0, POOL_SLOT_RUNNING = 1, POOL_SLOT_EXITED = 2 };

/* The blocking task the calling pool thread runs, NULL elsewhere: its
   cancellation is checked by the parker waits of that thread (wait.c). */
static _Thread_local struct eddy__task *tls_running;

struct eddy__task *eddy__blocking_current(void)
{
    return tls_running;
}

int eddy__blocking_init(struct eddy__blocking *b, struct eddy__sched *s, unsigned max)
{
    b->max = max ? max : 1;
    b->slots = eddy__calloc(sizeof *b->slots * b->max);
    if (b->slots == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < b->max; i++)
        b->slots[i].b = b;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_cond_init(&b->idle_cond, &ca);
    pthread_condattr_destroy(&ca);
    b->head = b->tail = NULL;
    b->running = NULL;
    b->threads = b->idle = b->notified = 0;
    b->stopping = false;
    b->s = s;
    return 0;
}

static void run_one(struct eddy__blocking *b, struct eddy__task *t)
{
    uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
    uint64_t n;
    do {
        n = (st | EDDY__T_RUNNING) & ~(uint64_t)EDDY__T_NOTIFIED;
        /* acquire: pairs with the spawner's release in eddy__task_init */
    } while (!atomic_compare_exchange_weak_explicit(&t->state, &st, n, memory_order_acquire,
                                                    memory_order_relaxed));
    if (!(st & EDDY__T_CANCELLED)) {
        /* abort wakes this thread's parker through the task */
        struct eddy__task *parker = eddy__waiter_current();
        if (parker != NULL) {
            eddy__task_ref(parker);
            atomic_store_explicit(&t->thread_waiter, parker, memory_order_release);
        }
        tls_running = t;
        (void)t->vt->run(t, -1); /* runs the whole body on this thread */
        tls_running = NULL;
        struct eddy__task *p =
            atomic_exchange_explicit(&t->thread_waiter, NULL, memory_order_acq_rel);
        if (p != NULL)
            eddy__task_unref(p);
    } else {
        t->result = NULL;
    }
    pthread_mutex_lock(&b->lock);
    /* unlink from the running list before it may be freed */
    if (t->owned_prev != NULL)
        t->owned_prev->owned_next = t->owned_next;
    else
        b->running = t->owned_next;
    if (t->owned_next != NULL)
        t->owned_next->owned_prev = t->owned_prev;
    pthread_mutex_unlock(&b->lock);
    eddy__task_complete(t);
}

static void *pool_thread(void *arg)
{
    struct eddy__pool_slot *slot = arg;
    struct eddy__blocking *b = slot->b;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (b->head == NULL && !b->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += EDDY__BLOCKING_KEEPALIVE_S;
            b->idle++;
            int rc = pthread_cond_timedwait(&b->cond, &b->lock, &ts);
            b->idle--;
            if (b->notified > 0)
                b->notified--; /* this wake-up was (maybe) meant for us */
            if (rc == ETIMEDOUT && b->head == NULL)
                goto out;
        }
        if (b->head == NULL) /* stopping and drained */
            break;
        struct eddy__task *t = b->head;
        b->head = t->next;
        if (b->head == NULL)
            b->tail = NULL;
        /* the running list (linked through the owned-list fields, which a
           blocking task never uses otherwise) lets a shutdown cancel it */
        t->owned_prev = NULL;
        t->owned_next = b->running;
        if (b->running != NULL)
            b->running->owned_prev = t;
        b->running = t;
        pthread_mutex_unlock(&b->lock);
        run_one(b, t);
        pthread_mutex_lock(&b->lock);
    }
out:
    slot->state = POOL_SLOT_EXITED;
    b->threads--;
    pthread_cond_broadcast(&b->idle_cond);
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* Starts a pool thread in a free slot, joining an exited one to reuse its
   slot. Caller holds b->lock. 0 or the errno of pthread_create. */
static int start_thread(struct eddy__blocking *b)
{
    struct eddy__pool_slot *slot = NULL;
    for (unsigned i = 0; i < b->max && slot == NULL; i++)
        if (b->slots[i].state == POOL_SLOT_FREE)
            slot = &b->slots[i];
    for (unsigned i = 0; i < b->max && slot == NULL; i++) {
        if (b->slots[i].state == POOL_SLOT_EXITED) {
            slot = &b->slots[i];
            /* it has given up the lock and is returning: a short wait */
            (void)pthread_join(slot->th, NULL);
            slot->state = POOL_SLOT_FREE;
        }
    }
    if (slot == NULL)
        return EAGAIN; /* b->threads < b->max: cannot happen */
    int rc = pthread_create(&slot->th, NULL, pool_thread, slot);
    if (rc == 0)
        slot->state = POOL_SLOT_RUNNING;
    return rc;
}

int eddy__sched_spawn_blocking(struct eddy__sched *s, struct eddy__task *t)
{
    struct eddy__blocking *b = &s->blocking;
    pthread_mutex_lock(&b->lock);
    if (b->stopping || atomic_load_explicit(&s->closing, memory_order_acquire) == 2) {
        pthread_mutex_unlock(&b->lock);
        return -ESHUTDOWN;
    }
    /* Wake an idle thread nobody has signalled yet; otherwise start one
       (Tokio's num_notify): two spawns in a row must not both count on the
       same idle thread, or the second waits behind the first. */
    if (b->idle > b->notified) {
        b->notified++;
        pthread_cond_signal(&b->cond);
    } else if (b->threads < b->max) {
        int rc = start_thread(b);
        if (rc == 0) {
            b->threads++;
        } else if (b->threads == 0) {
            pthread_mutex_unlock(&b->lock);
            return -EAGAIN;
        }
    }
    /* counted only once it cannot fail any more */
    atomic_fetch_add_explicit(&s->ext_spawned, 1, memory_order_seq_cst);
    t->next = NULL;
    if (b->tail != NULL)
        b->tail->next = t;
    else
        b->head = t;
    b->tail = t;
    pthread_mutex_unlock(&b->lock);
    return 0;
}

void eddy__blocking_cancel_all(struct eddy__blocking *b)
{
    pthread_mutex_lock(&b->lock);
    for (struct eddy__task *t = b->head; t != NULL; t = t->next)
        atomic_fetch_or_explicit(&t->state, EDDY__T_CANCELLED, memory_order_acq_rel);
    /* running ones: their eddy waits return -ECANCELED from now on */
    for (struct eddy__task *t = b->running; t != NULL; t = t->owned_next)
        (void)eddy__task_abort(t);
    pthread_mutex_unlock(&b->lock);
}

void eddy__blocking_stop(struct eddy__blocking *b)
{
    eddy__blocking_cancel_all(b);
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_broadcast(&b->cond);
    /* queued tasks still complete (as cancelled) through the threads; a
       running task that never makes an eddy call is waited for */
    while (b->threads > 0)
        pthread_cond_wait(&b->idle_cond, &b->lock);
    pthread_mutex_unlock(&b->lock);
    /* joined: their exit (thread-local caches, the parker's eventfd) is
       over before the runtime is gone */
    for (unsigned i = 0; i < b->max; i++)
        if (b->slots[i].state == POOL_SLOT_EXITED)
            (void)pthread_join(b->slots[i].th, NULL);
    eddy__dealloc(b->slots, sizeof *b->slots * b->max);
    b->slots = NULL;
    pthread_cond_destroy(&b->cond);
    pthread_cond_destroy(&b->idle_cond);
    pthread_mutex_destroy(&b->lock);
}
