/*
 * sched/taskq.c: the mutex-protected task FIFO behind the global inject
 * queue and each worker's inbox. The length is readable without the lock so
 * "is there anything?" costs one load. Batches move under one lock.
 */
#include <stddef.h>

#include "sched/sched_int.h"

void eddy__taskq_init(struct eddy__taskq *q)
{
    /* adaptive: the critical sections are a few pointer moves, so a
       contender spins briefly instead of sleeping in the kernel (remote
       spawns push while a worker pulls) */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&q->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    q->head = q->tail = NULL;
    atomic_init(&q->len, 0);
}

void eddy__taskq_destroy(struct eddy__taskq *q)
{
    pthread_mutex_destroy(&q->lock);
}

void eddy__taskq_push_batch(struct eddy__taskq *q, struct eddy__task *first,
                            struct eddy__task *last, size_t n)
{
    last->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail != NULL)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
    /* release: pairs with the acquire in eddy__taskq_len, so a reader that
       sees the length also finds the tasks once it takes the lock */
    atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) + n,
                          memory_order_release);
    pthread_mutex_unlock(&q->lock);
}

void eddy__taskq_push(struct eddy__taskq *q, struct eddy__task *t)
{
    eddy__taskq_push_batch(q, t, t, 1);
}

struct eddy__task *eddy__taskq_pop_batch(struct eddy__taskq *q, size_t max, size_t *n)
{
    *n = 0;
    if (max == 0 || eddy__taskq_len(q) == 0)
        return NULL;
    pthread_mutex_lock(&q->lock);
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
        atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) - k,
                              memory_order_relaxed);
    }
    pthread_mutex_unlock(&q->lock);
    *n = k;
    return k ? first : NULL;
}

struct eddy__task *eddy__taskq_pop(struct eddy__taskq *q)
{
    size_t n;
    return eddy__taskq_pop_batch(q, 1, &n);
}
