/*
 * rt/mutex.c: a task-aware mutex. Unlock hands ownership straight to the
 * oldest waiter (FIFO, no barging), so a waiter that was signalled owns the
 * lock even if its own wait also timed out.
 */
#include <errno.h>

#include <eddy/sync.h>

#include "rt/rt_int.h"
#include "rt/waitq.h"
#include "sched/alloc.h"
#include "sched/lock.h"

struct eddy_mutex {
    struct eddy__lock lock;
    bool locked;                /* guarded by: lock */
    struct eddy__waitq waiters; /* guarded by: lock */
};

int eddy_mutex_new(eddy_mutex **out)
{
    if (out == NULL)
        return -EINVAL;
    eddy_mutex *m = eddy__calloc(sizeof *m);
    if (m == NULL)
        return -ENOMEM;
    eddy__lock_init(&m->lock);
    *out = m;
    return 0;
}

void eddy_mutex_free(eddy_mutex *m)
{
    if (m == NULL)
        return;
    eddy__dealloc(m, sizeof *m);
}

int eddy_mutex_trylock(eddy_mutex *m)
{
    if (m == NULL)
        return -EINVAL;
    eddy__lock_acquire(&m->lock);
    int rc = m->locked ? -EBUSY : 0;
    m->locked = true;
    eddy__lock_release(&m->lock);
    return rc;
}

int eddy_mutex_lock(eddy_mutex *m)
{
    if (m == NULL)
        return -EINVAL;
    int rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    eddy__lock_acquire(&m->lock);
    if (!m->locked) {
        m->locked = true;
        eddy__lock_release(&m->lock);
        return 0;
    }
    struct eddy__waiter w;
    rc = eddy__waiter_init(&w, NULL);
    if (rc == 0) {
        eddy__waitq_push(&m->waiters, &w);
        rc = eddy__waitq_wait(&m->lock, &m->waiters, &w, UINT64_MAX, EDDY__WAIT_MUTEX, m);
    }
    eddy__lock_release(&m->lock);
    return rc == EDDY__W_SIGNALLED ? 0 : rc;
}

void eddy_mutex_unlock(eddy_mutex *m)
{
    if (m == NULL)
        return;
    eddy__lock_acquire(&m->lock);
    struct eddy__waiter *w = eddy__waitq_pop(&m->waiters);
    if (w != NULL)
        eddy__waiter_signal(w, EDDY__W_SIGNALLED); /* stays locked: handed over */
    else
        m->locked = false;
    eddy__lock_release(&m->lock);
}
