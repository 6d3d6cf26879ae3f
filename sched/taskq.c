/*
 * sched/taskq.c: the task FIFO behind the global inject queue and each
 * worker's inbox: many producers (any thread), few consumers (workers).
 *
 * Producers never lock: they push onto a lock-free stack (`incoming`, one
 * CAS; a Treiber stack is ABA-safe for push, and consumers only ever take
 * the whole stack with an exchange). Consumers take `lock`, and when their
 * FIFO runs dry they swap the whole stack out and reverse it onto the FIFO,
 * which restores arrival order. A remote spawn thus costs the spawner one
 * CAS and one add, never a wait behind a worker pulling a batch (that mutex
 * was the remote-spawn bottleneck). The length is readable without the lock
 * so "is there anything?" costs one load.
 */
#include <stddef.h>
#include <string.h>

#include "sched/alloc.h"

#include "sched/sched_int.h"

void eddy__taskq_init(struct eddy__taskq *q)
{
    pthread_mutex_init(&q->lock, NULL);
    q->head = q->tail = NULL;
    atomic_init(&q->incoming, NULL);
    atomic_init(&q->len, 0);
}

void eddy__taskq_destroy(struct eddy__taskq *q)
{
    pthread_mutex_destroy(&q->lock);
}

/* A run of tasks pushed at once (a ring's overflow, up to 129) travels as
   one node: a block headed by a stand-in task (vt == &run_vt), with the
   task pointers in an array. The consumer copies pointers instead of
   walking the run's task headers one dependent load at a time: those are
   cold by the time a worker pulls them, and that walk was a sixth of a
   burst of spawns on two workers. */
struct taskq_run {
    struct eddy__task hdr; /* next links it like any task */
    uint32_t pos, n;       /* guarded by: the queue's lock once pushed */
    struct eddy__task *t[];
};

static const struct eddy__task_vtable run_vt = { .kind = "taskq run" };

static size_t run_bytes(uint32_t n)
{
    return sizeof(struct taskq_run) + sizeof(struct eddy__task *) * n;
}

/* Pushes the chain first..last (rev: linked last to first through next,
   m nodes) standing for n tasks. */
static void push_chain(struct eddy__taskq *q, struct eddy__task *rev_top,
                       struct eddy__task *rev_bottom, size_t n)
{
    struct eddy__task *top = atomic_load_explicit(&q->incoming, memory_order_relaxed);
    do {
        rev_bottom->next = top;
        /* release: publishes the tasks (and the chain) to the consumer's
           acquire exchange */
    } while (!atomic_compare_exchange_weak_explicit(&q->incoming, &top, rev_top,
                                                    memory_order_release, memory_order_relaxed));
    /* seq_cst: a parker's re-check must see it (see eddy__idle_notify_remote) */
    atomic_fetch_add_explicit(&q->len, n, memory_order_seq_cst);
}

void eddy__taskq_push_array(struct eddy__taskq *q, struct eddy__task *const *tasks, size_t n)
{
    if (n == 0)
        return;
    struct taskq_run *r = n > 1 ? eddy__alloc(run_bytes((uint32_t)n)) : NULL;
    if (r != NULL) {
        memset(&r->hdr, 0, sizeof r->hdr);
        r->hdr.vt = &run_vt;
        r->pos = 0;
        r->n = (uint32_t)n;
        memcpy(r->t, tasks, sizeof *tasks * n);
        push_chain(q, &r->hdr, &r->hdr, n);
        return;
    }
    /* one task, or no memory for a run: the tasks themselves, linked. The
       stack is read back reversed, so link them reversed. */
    for (size_t i = 1; i < n; i++)
        tasks[i]->next = tasks[i - 1];
    push_chain(q, tasks[n - 1], tasks[0], n);
}

void eddy__taskq_push(struct eddy__taskq *q, struct eddy__task *t)
{
    push_chain(q, t, t, 1);
}

/* Moves the incoming stack onto the FIFO's tail in arrival order. Caller
   holds the lock. */
static void take_incoming(struct eddy__taskq *q)
{
    /* acquire: pairs with the producers' release CAS */
    struct eddy__task *s = atomic_exchange_explicit(&q->incoming, NULL, memory_order_acquire);
    if (s == NULL)
        return;
    struct eddy__task *fifo = NULL, *tail = s;
    while (s != NULL) {
        struct eddy__task *nx = s->next;
        s->next = fifo;
        fifo = s;
        s = nx;
    }
    if (q->tail != NULL)
        q->tail->next = fifo;
    else
        q->head = fifo;
    q->tail = tail;
}

size_t eddy__taskq_pop_into(struct eddy__taskq *q, struct eddy__task **out, size_t max)
{
    if (max == 0 || eddy__taskq_len(q) == 0)
        return 0;
    struct taskq_run *spent = NULL; /* runs emptied, freed after the unlock */
    size_t k = 0;
    pthread_mutex_lock(&q->lock);
    while (k < max) {
        if (q->head == NULL) {
            take_incoming(q);
            if (q->head == NULL)
                break;
        }
        struct eddy__task *t = q->head;
        if (t->vt == &run_vt) {
            struct taskq_run *r = (struct taskq_run *)t;
            size_t take = r->n - r->pos;
            if (take > max - k)
                take = max - k;
            memcpy(out + k, r->t + r->pos, sizeof *out * take);
            r->pos += (uint32_t)take;
            k += take;
            if (r->pos < r->n)
                break; /* out is full */
        } else {
            out[k++] = t;
        }
        q->head = t->next;
        if (q->head == NULL)
            q->tail = NULL;
        if (t->vt == &run_vt) {
            t->next = spent != NULL ? &spent->hdr : NULL;
            spent = (struct taskq_run *)t;
        }
    }
    pthread_mutex_unlock(&q->lock);
    if (k > 0)
        atomic_fetch_sub_explicit(&q->len, k, memory_order_relaxed);
    while (spent != NULL) {
        struct taskq_run *nx = (struct taskq_run *)spent->hdr.next;
        eddy__dealloc(spent, run_bytes(spent->n));
        spent = nx;
    }
    return k;
}

struct eddy__task *eddy__taskq_pop(struct eddy__taskq *q)
{
    struct eddy__task *t;
    return eddy__taskq_pop_into(q, &t, 1) ? t : NULL;
}
