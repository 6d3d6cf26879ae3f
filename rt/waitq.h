/*
 * rt/waitq.h: the waiter list every sync primitive uses. A waiter node lives
 * on the waiting task's (or thread's) stack, is linked while it waits, and
 * is unlinked on every return path (signalled, cancelled, timed out), always
 * under the primitive's lock. Wakers signal and wake under that same lock,
 * so a node is never touched after its owner returned.
 *
 * A node may belong to an eddy_select (rt/select.c): one node per consuming
 * case, on several primitives at once, all pointing at the select's claim
 * word. Whoever hands such a node something claims it first (the word goes
 * from open to the node's case index), so exactly one case completes; a
 * node whose select was claimed through another case, or has left, is
 * stale: the waker unlinks it and takes the next waiter. Every pop goes
 * through eddy__waitq_pop, which does that.
 */
#ifndef EDDY_RT_WAITQ_H
#define EDDY_RT_WAITQ_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/lock.h"
#include "sched/sched.h"

enum { EDDY__W_WAITING = 0, EDDY__W_SIGNALLED = 1, EDDY__W_CLOSED = 2 };

/* An eddy_select's claim word: EDDY__SEL_OPEN while no case completed, then
   the index of the one that did, or EDDY__SEL_CLOSED once the select left
   without one (nothing can be claimed any more). Lives on the selector's
   stack; any thread (atomic), always under the lock of the primitive whose
   queue holds the node it claims through. */
enum { EDDY__SEL_OPEN = -1, EDDY__SEL_CLOSED = -2 };
struct eddy__sel {
    _Atomic int winner;
};

struct eddy__waiter {
    struct eddy__waiter *next, *prev;
    struct eddy__task *task;  /* who to wake */
    void *data;               /* primitive-specific (a channel's element) */
    int state;                /* EDDY__W_*; guarded by: the primitive's lock */
    int sel_index;            /* the select's case this node stands for */
    struct eddy__sel *sel;    /* NULL: an ordinary waiter (always claimable) */
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

/* Whether w is linked in q (a node that was never linked, or was popped,
   has no prev and is not the head). Caller holds the lock. */
static inline bool eddy__waitq_linked(const struct eddy__waitq *q, const struct eddy__waiter *w)
{
    return w->prev != NULL || q->head == w;
}

/* Claims w for a hand-over: true for an ordinary waiter; for a select's
   node, true when this claim made its case the select's one. */
static inline bool eddy__waiter_claim(struct eddy__waiter *w)
{
    if (__builtin_expect(w->sel == NULL, 1))
        return true;
    int open = EDDY__SEL_OPEN;
    /* acq_rel: the select that fails its own close reads what it was
       handed only after taking this lock, which orders the rest */
    return atomic_compare_exchange_strong_explicit(&w->sel->winner, &open, w->sel_index,
                                                   memory_order_acq_rel, memory_order_acquire);
}

/* Pops the oldest waiter that can be handed something, claimed (see the
   top of the file): stale select nodes on the way are unlinked and
   dropped (their select finds them unlinked). NULL when none is left.
   Caller holds the lock, and must hand the one returned its due. */
static inline struct eddy__waiter *eddy__waitq_pop(struct eddy__waitq *q)
{
    struct eddy__waiter *w;
    while ((w = q->head) != NULL) {
        eddy__waitq_remove(q, w);
        if (eddy__waiter_claim(w))
            return w;
    }
    return NULL;
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
 * which holds lock; kind and obj say what it waits on (eddy__wait_on). Returns with lock held and w unlinked: EDDY__W_SIGNALLED
 * or EDDY__W_CLOSED as 1 or 2, or the negative error of the wait.
 */
static inline int eddy__waitq_wait(struct eddy__lock *lock, struct eddy__waitq *q,
                                   struct eddy__waiter *w, uint64_t deadline_ns,
                                   unsigned kind, const void *obj)
{
    for (;;) {
        eddy__lock_release(lock);
        int rc = eddy__wait_on(kind, obj, 0, deadline_ns);
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
    w->sel = NULL;
    w->sel_index = 0;
    w->task = eddy__waiter_current();
    return w->task != NULL ? 0 : -ENOMEM;
}

#endif
