/*
 * rt/sem.c: a counting semaphore. release hands the permit straight to the
 * oldest waiter, so permits are never stolen from a woken waiter.
 */
#include <errno.h>

#include <eddy/sync.h>

#include "rt/rt_int.h"
#include "rt/waitq.h"
#include "sched/alloc.h"
#include "sched/lock.h"

struct eddy_sem {
    struct eddy__lock lock;
    unsigned permits;           /* guarded by: lock */
    struct eddy__waitq waiters; /* guarded by: lock */
};

int eddy_sem_new(eddy_sem **out, unsigned initial)
{
    if (out == NULL)
        return -EINVAL;
    eddy_sem *s = eddy__calloc(sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    eddy__lock_init(&s->lock);
    s->permits = initial;
    *out = s;
    return 0;
}

void eddy_sem_free(eddy_sem *s)
{
    if (s == NULL)
        return;
    eddy__dealloc(s, sizeof *s);
}

int eddy_sem_try_acquire(eddy_sem *s)
{
    if (s == NULL)
        return -EINVAL;
    eddy__lock_acquire(&s->lock);
    int rc = -EAGAIN;
    if (s->permits > 0) {
        s->permits--;
        rc = 0;
    }
    eddy__lock_release(&s->lock);
    return rc;
}

int eddy_sem_acquire(eddy_sem *s)
{
    if (s == NULL)
        return -EINVAL;
    int rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    eddy__lock_acquire(&s->lock);
    if (s->permits > 0) {
        s->permits--;
        eddy__lock_release(&s->lock);
        return 0;
    }
    struct eddy__waiter w;
    rc = eddy__waiter_init(&w, NULL);
    if (rc == 0) {
        eddy__waitq_push(&s->waiters, &w);
        rc = eddy__waitq_wait(&s->lock, &s->waiters, &w, UINT64_MAX, EDDY__WAIT_SEM, s);
    }
    eddy__lock_release(&s->lock);
    return rc == EDDY__W_SIGNALLED ? 0 : rc;
}

void eddy_sem_release(eddy_sem *s)
{
    if (s == NULL)
        return;
    eddy__lock_acquire(&s->lock);
    struct eddy__waiter *w = eddy__waitq_pop(&s->waiters);
    if (w != NULL)
        eddy__waiter_signal(w, EDDY__W_SIGNALLED); /* the permit goes with it */
    else
        s->permits++;
    eddy__lock_release(&s->lock);
}
