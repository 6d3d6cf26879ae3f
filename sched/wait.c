/*
 * sched/wait.c: "wait until woken" for whoever calls: the running task
 * (suspends through its kind's vtable, with its timer armed for a deadline)
 * or a plain thread (blocks on its parker's futex). Every suspending call of
 * io/ and rt/ is built on eddy__wait plus its own condition loop.
 */
#include <errno.h>
#include <stddef.h>

#include "sched/sched_int.h"

struct eddy__task *eddy__parker_current(void);
int eddy__parker_wait(struct eddy__task *t, uint64_t deadline_ns);

struct eddy__task *eddy__waiter_current(void)
{
    struct eddy__task *t = eddy__task_current();
    return t != NULL ? t : eddy__parker_current();
}

static void task_timer_fired(struct eddy__timer *tm)
{
    struct eddy__task *t = (struct eddy__task *)((char *)tm - offsetof(struct eddy__task, timer));
    eddy__wake(t);
}

/* Cooperative budget: a task whose operations never have to wait still
   lets the others run now and then (and lets a stopping worker stop). */
static void spend_budget(struct eddy__worker *w)
{
    if (w->budget > 0 && --w->budget == 0)
        eddy__yield_current();
}

int eddy__wait_check(void)
{
    struct eddy__worker *w = eddy__worker_current();
    struct eddy__task *t = w != NULL ? w->current : NULL;
    if (t == NULL) {
        struct eddy__task *b = eddy__blocking_current();
        return b != NULL && eddy__task_cancelled(b) ? -ECANCELED : 0;
    }
    spend_budget(w);
    t = eddy__task_current(); /* resumed, maybe on another worker */
    if (eddy__task_cancelled(t))
        return -ECANCELED;
    uint64_t dl = eddy__task_deadline(t);
    if (dl != UINT64_MAX && eddy__now_ns() >= dl)
        return -ETIMEDOUT;
    return 0;
}

/* What t is about to wait on, for the dump (three relaxed stores on the
   task the wait has in hand already). */
static inline void note(struct eddy__task *t, unsigned kind, const void *obj, int64_t arg)
{
    atomic_store_explicit(&t->wait_obj, obj, memory_order_relaxed);
    atomic_store_explicit(&t->wait_arg, arg, memory_order_relaxed);
    atomic_store_explicit(&t->wait_kind, (uint8_t)kind, memory_order_relaxed);
    /* when it began: the worker's cached clock */
    atomic_store_explicit(&t->wait_since_ms, eddy__clock_ms(), memory_order_relaxed);
}

int eddy__wait_on(unsigned kind, const void *obj, int64_t arg, uint64_t deadline_ns)
{
    struct eddy__task *t = eddy__task_current();
    if (t == NULL) {
        if (eddy__worker_current() != NULL)
            return -EPERM; /* a worker outside a task: a signal handler */
        /* a plain thread; on a pool thread its blocking task may be aborted */
        struct eddy__task *b = eddy__blocking_current();
        if (b != NULL && eddy__task_cancelled(b))
            return -ECANCELED;
        struct eddy__task *p = eddy__parker_current();
        if (p == NULL)
            return -ENOMEM;
        int rc = eddy__parker_wait(p, deadline_ns);
        if (b != NULL && eddy__task_cancelled(b))
            return -ECANCELED;
        return rc;
    }
    uint64_t tdl = eddy__task_deadline(t);
    uint64_t dl = deadline_ns < tdl ? deadline_ns : tdl;
    if (eddy__task_cancelled(t) || (dl != UINT64_MAX && eddy__now_ns() >= dl)) {
        /* a wait that ends before it began still spends budget: an aborted
           task retrying it in a loop must not hold its worker for good */
        spend_budget(eddy__worker_current());
        return eddy__task_cancelled(t) ? -ECANCELED : -ETIMEDOUT;
    }
    note(t, kind, obj, arg);
    bool armed = false;
    if (dl != UINT64_MAX) {
        t->timer.fire = task_timer_fired;
        armed = eddy__timer_arm(&t->timer, dl) == 0;
    }
    t->vt->suspend(t);
    /* resumed, maybe on another thread: nothing cached from before */
    atomic_store_explicit(&t->wait_kind, EDDY__WAIT_NONE, memory_order_relaxed);
    if (armed)
        (void)eddy__timer_disarm(&t->timer);
    if (eddy__task_cancelled(t))
        return -ECANCELED;
    if (dl != UINT64_MAX && eddy__now_ns() >= dl)
        return -ETIMEDOUT;
    return 0;
}

void eddy__wait_uncancellable_on(unsigned kind, const void *obj, int64_t arg)
{
    struct eddy__task *t = eddy__task_current();
    if (t != NULL) {
        note(t, kind, obj, arg);
        t->vt->suspend(t);
        atomic_store_explicit(&t->wait_kind, EDDY__WAIT_NONE, memory_order_relaxed);
        return;
    }
    struct eddy__task *p = eddy__parker_current();
    if (p != NULL)
        (void)eddy__parker_wait(p, UINT64_MAX);
}

void eddy__yield_current(void)
{
    struct eddy__task *t = eddy__task_current();
    if (t == NULL)
        return;
    /* the worker puts it at the back of its queue when it switches out,
       still RUNNING (see run_task) */
    t->yielded = 1;
    t->vt->suspend(t);
}
