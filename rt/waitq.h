/*
 * rt/waitq.h: the waiter list every sync primitive uses. A waiter node lives
 * on the waiting task's (or thread's) stack, is linked while it waits, and
 * is unlinked on every return path (signalled, cancelled, timed out), always
 * under the primitive's lock. Wakers signal and wake under that same lock,
 * so a node is never touched after its owner returned.
 */
#ifndef EDDY_RT_WAITQ_H
#define EDDY_RT_WAITQ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/lock.h"
#include "sched/sched.h"

enum { EDDY__W_WAITING = 0, EDDY__W_SIGNALLED = 1, EDDY__W_CLOSED = 2 };

struct eddy__waiter {
    struct eddy__waiter *next, *prev;
    struct eddy__task *task;  /* who to wake */
    void *data;               /* primitive-specific (a channel's element) */
    int state;                /* EDDY__W_*; guarded by: the primitive's lock */
};

struct eddy__waitq {
    struct eddy__waiter *head, *tail;
};

static inline void eddy__waitq_push(struct eddy__waitq *q, struct eddy__waiter *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

static inline void eddy__waitq_remove(struct eddy__waitq *q, struct eddy__waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->next = w->prev = NULL;
}

static inline struct eddy__waiter *eddy__waitq_pop(struct eddy__waitq *q)
{
    struct eddy__waiter *w = q->head;
    if (w != NULL)
        eddy__waitq_remove(q, w);
    return w;
}

/* Signals w (already unlinked) with state and wakes its owner. Caller holds
   the primitive's lock. */
static inline void eddy__waiter_signal(struct eddy__waiter *w, int state)
{
    w->state = state;
    eddy__wake(w->task);
}

/* Signals every waiter of q with state. Caller holds the lock. */
static inline void eddy__waitq_signal_all(struct eddy__waitq *q, int state)
{
    struct eddy__waiter *w;
    while ((w = eddy__waitq_pop(q)) != NULL)
        eddy__waiter_signal(w, state);
}

/*
 * The wait loop shared by all primitives: w is linked in q by the caller,
 * which holds lock; kind and obj say what it waits on (eddy__wait_note). Returns with lock held and w unlinked: EDDY__W_SIGNALLED
 * or EDDY__W_CLOSED as 1 or 2, or the negative error of the wait.
 */
static inline int eddy__waitq_wait(struct eddy__lock *lock, struct eddy__waitq *q,
                                   struct eddy__waiter *w, uint64_t deadline_ns,
                                   unsigned kind, const void *obj)
{
    for (;;) {
        eddy__wait_note(kind, obj, 0);
        eddy__lock_release(lock);
        int rc = eddy__wait(deadline_ns);
        eddy__lock_acquire(lock);
        if (w->state != EDDY__W_WAITING)
            return w->state;
        if (rc < 0) {
            eddy__waitq_remove(q, w);
            return rc;
        }
    }
}

/* Prepares a node for the caller; -ENOMEM only if a plain thread's parker
   cannot be allocated. */
static inline int eddy__waiter_init(struct eddy__waiter *w, void *data)
{
    w->next = w->prev = NULL;
    w->data = data;
    w->state = EDDY__W_WAITING;
    w->task = eddy__waiter_current();
    return w->task != NULL ? 0 : -ENOMEM;
}

#endif
