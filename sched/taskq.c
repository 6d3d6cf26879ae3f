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

void eddy__taskq_push_batch(struct eddy__taskq *q, struct eddy__task *first,
                            struct eddy__task *last, size_t n)
{
    /* the stack is read back reversed: push the chain reversed too, so the
       batch keeps its order */
    struct eddy__task *rev = NULL, *t = first;
    for (size_t i = 0; i < n; i++) {
        struct eddy__task *nx = t->next;
        t->next = rev;
        rev = t;
        t = nx;
    }
    (void)last;
    /* rev is last..first; first is now its tail */
    struct eddy__task *top = atomic_load_explicit(&q->incoming, memory_order_relaxed);
    do {
        first->next = top;
        /* release: publishes the tasks (and the chain) to the consumer's
           acquire exchange */
    } while (!atomic_compare_exchange_weak_explicit(&q->incoming, &top, rev, memory_order_release,
                                                    memory_order_relaxed));
    /* seq_cst: a parker's re-check must see it (see eddy__idle_notify_remote) */
    atomic_fetch_add_explicit(&q->len, n, memory_order_seq_cst);
}

void eddy__taskq_push(struct eddy__taskq *q, struct eddy__task *t)
{
    t->next = NULL;
    eddy__taskq_push_batch(q, t, t, 1);
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

struct eddy__task *eddy__taskq_pop_batch(struct eddy__taskq *q, size_t max, size_t *n)
{
    *n = 0;
    if (max == 0 || eddy__taskq_len(q) == 0)
        return NULL;
    pthread_mutex_lock(&q->lock);
    if (q->head == NULL)
        take_incoming(q);
    struct eddy__task *first = q->head, *last = NULL, *t = first;
    size_t k = 0;
    while (t != NULL && k < max) {
        last = t;
        t = t->next;
        k++;
    }
    if (k > 0) {
        q->head = t;
        if (t == NULL)
            q->tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    if (k > 0)
        atomic_fetch_sub_explicit(&q->len, k, memory_order_relaxed);
    *n = k;
    return k ? first : NULL;
}

struct eddy__task *eddy__taskq_pop(struct eddy__taskq *q)
{
    size_t n;
    return eddy__taskq_pop_batch(q, 1, &n);
}
