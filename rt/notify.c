/*
 * rt/notify.c: notify (one stored permit, like Tokio's Notify) and the
 * waitgroup (Go's sync.WaitGroup for tasks and threads).
 */
#include <errno.h>
#include <stdio.h>

#include <eddy/sync.h>

#include "rt/rt_int.h"
#include "rt/sync_int.h" /* struct eddy_notify */
#include "rt/waitq.h"
#include "sched/alloc.h"
#include "sched/lock.h"

int eddy_notify_new(eddy_notify **out)
{
    if (out == NULL)
        return -EINVAL;
    eddy_notify *n = eddy__calloc(sizeof *n);
    if (n == NULL)
        return -ENOMEM;
    eddy__lock_init(&n->lock);
    *out = n;
    return 0;
}

void eddy_notify_free(eddy_notify *n)
{
    if (n == NULL)
        return;
    eddy__dealloc(n, sizeof *n);
}

int eddy_notify_wait(eddy_notify *n, int64_t timeout_ms)
{
    if (n == NULL)
        return -EINVAL;
    int rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    eddy__lock_acquire(&n->lock);
    if (n->permit) {
        n->permit = false;
        eddy__lock_release(&n->lock);
        return 0;
    }
    struct eddy__waiter w;
    rc = eddy__waiter_init(&w, NULL);
    if (rc == 0) {
        eddy__waitq_push(&n->waiters, &w);
        rc = eddy__waitq_wait(&n->lock, &n->waiters, &w, eddy__deadline_after_ms(timeout_ms),
                              EDDY__WAIT_NOTIFY, n);
    }
    eddy__lock_release(&n->lock);
    return rc == EDDY__W_SIGNALLED ? 0 : rc;
}

void eddy_notify_one(eddy_notify *n)
{
    if (n == NULL)
        return;
    eddy__lock_acquire(&n->lock);
    struct eddy__waiter *w = eddy__waitq_pop(&n->waiters);
    if (w != NULL)
        eddy__waiter_signal(w, EDDY__W_SIGNALLED);
    else
        n->permit = true;
    eddy__lock_release(&n->lock);
}

void eddy_notify_all(eddy_notify *n)
{
    if (n == NULL)
        return;
    eddy__lock_acquire(&n->lock);
    eddy__waitq_signal_all(&n->waiters, EDDY__W_SIGNALLED);
    eddy__lock_release(&n->lock);
}

/* -------------------------------------------------------------- waitgroup */

struct eddy_waitgroup {
    struct eddy__lock lock;
    long count;                 /* guarded by: lock */
    struct eddy__waitq waiters; /* guarded by: lock */
};

int eddy_waitgroup_new(eddy_waitgroup **out)
{
    if (out == NULL)
        return -EINVAL;
    eddy_waitgroup *w = eddy__calloc(sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    eddy__lock_init(&w->lock);
    *out = w;
    return 0;
}

void eddy_waitgroup_free(eddy_waitgroup *w)
{
    if (w == NULL)
        return;
    eddy__dealloc(w, sizeof *w);
}

void eddy_waitgroup_add(eddy_waitgroup *w, int n)
{
    if (w == NULL)
        return;
    eddy__lock_acquire(&w->lock);
    w->count += n;
    if (w->count < 0) {
        /* Go panics here; a C library must not: report and treat as 0 */
        fprintf(stderr, "eddy: eddy_waitgroup_add: counter went negative (%ld); reset to 0\n",
                w->count);
        w->count = 0;
    }
    if (w->count == 0)
        eddy__waitq_signal_all(&w->waiters, EDDY__W_SIGNALLED);
    eddy__lock_release(&w->lock);
}

void eddy_waitgroup_done(eddy_waitgroup *w)
{
    eddy_waitgroup_add(w, -1);
}

int eddy_waitgroup_wait(eddy_waitgroup *w)
{
    if (w == NULL)
        return -EINVAL;
    int rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    eddy__lock_acquire(&w->lock);
    if (w->count == 0) {
        eddy__lock_release(&w->lock);
        return 0;
    }
    struct eddy__waiter n;
    rc = eddy__waiter_init(&n, NULL);
    if (rc == 0) {
        eddy__waitq_push(&w->waiters, &n);
        rc = eddy__waitq_wait(&w->lock, &w->waiters, &n, UINT64_MAX, EDDY__WAIT_WAITGROUP, w);
    }
    eddy__lock_release(&w->lock);
    return rc == EDDY__W_SIGNALLED ? 0 : rc;
}
