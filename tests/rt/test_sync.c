/*
 * tests/rt/test_sync.c: abort (-ECANCELED) and deadline scopes (-ETIMEDOUT)
 * of a task blocked in each primitive of eddy/sync.h (mutex, semaphore,
 * notify, waitgroup), after which the primitive must still work. The other
 * tests of those primitives are in test_mutex_sem.c and test_notify_wg.c,
 * channels in test_chan.c and test_chan_close.c.
 *
 * Cross-worker tests run with work stealing off, so a task spawned with
 * opts.worker = k stays on worker k (each task checks eddy_worker_index()).
 */
/* ctest-labels: concurrency */
#include "tests/rt/sync_checks.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

/* ------------------------------------- abort and deadline of blocked calls */
/* For each primitive: a call that blocks (mutex held, semaphore at 0, no
   notify permit, waitgroup at 1), and, once the blocked call failed, the
   release that must reach the primitive itself, not the departed waiter. */

enum { K_MUTEX, K_SEM, K_NOTIFY, K_WG, K_COUNT };
static const char *const kind_name[K_COUNT] = { "mutex", "sem", "notify", "waitgroup" };

struct prims {
    eddy_mutex *m;
    eddy_sem *s;
    eddy_notify *n;
    eddy_waitgroup *w;
    int kind;
    atomic_int entering;
    int rc;
};

static void prims_new(struct prims *p)
{
    memset(p, 0, sizeof *p);
    assert_ok(eddy_mutex_new(&p->m));
    assert_ok(eddy_mutex_trylock(p->m));
    assert_ok(eddy_sem_new(&p->s, 0));
    assert_ok(eddy_notify_new(&p->n));
    assert_ok(eddy_waitgroup_new(&p->w));
    eddy_waitgroup_add(p->w, 1);
}

static void prims_free(struct prims *p)
{
    eddy_mutex_free(p->m);
    eddy_sem_free(p->s);
    eddy_notify_free(p->n);
    eddy_waitgroup_free(p->w);
}

static int prims_block(struct prims *p)
{
    switch (p->kind) {
    case K_MUTEX: return eddy_mutex_lock(p->m);
    case K_SEM: return eddy_sem_acquire(p->s);
    case K_NOTIFY: return eddy_notify_wait(p->n, -1);
    default: return eddy_waitgroup_wait(p->w);
    }
}

/* Releases the blocking condition and checks it reached the primitive; then
   puts it back in its blocking state. */
static void prims_check_released(struct prims *p)
{
    switch (p->kind) {
    case K_MUTEX:
        eddy_mutex_unlock(p->m);
        T_OK(eddy_mutex_trylock(p->m)); /* not handed to the departed waiter */
        break;
    case K_SEM:
        eddy_sem_release(p->s);
        T_OK(eddy_sem_try_acquire(p->s));
        break;
    case K_NOTIFY:
        eddy_notify_one(p->n);
        T_OK(eddy_notify_wait(p->n, 0)); /* stored as a permit */
        break;
    default:
        eddy_waitgroup_done(p->w);
        T_OK(eddy_waitgroup_wait(p->w));
        eddy_waitgroup_add(p->w, 1);
        break;
    }
}

static void *prims_blocked_task(void *arg)
{
    struct prims *p = arg;
    T_ON_WORKER(1);
    atomic_fetch_add(&p->entering, 1);
    p->rc = prims_block(p);
    if (p->rc == 0)
        t_fail(__LINE__, "%s: blocked call returned 0", kind_name[p->kind]);
    return (void *)(intptr_t)p->rc;
}

static void *abort_root(void *arg)
{
    struct prims *p = arg;
    for (p->kind = 0; p->kind < K_COUNT; p->kind++) {
        atomic_store(&p->entering, 0);
        eddy_task *t = spawn_at(1, prims_blocked_task, p);
        T_CHECK(wait_count(&p->entering, 1));
        eddy_sleep_ms(30);
        uint64_t t0 = eddy_now_ns();
        T_OK(eddy_abort(t));
        void *res = NULL;
        T_ERR(eddy_join(t, &res), -ECANCELED);
        T_ELAPSED(t0, 0, SLACK_MS);
        T_EQ((intptr_t)res, -ECANCELED);
        T_EQ(p->rc, -ECANCELED);
        prims_check_released(p);
    }
    return NULL;
}

static void abort_of_task_blocked_in_each_primitive_returns_ecanceled_and_primitive_works(
    void **state)
{
    (void)state;
    struct prims p;
    prims_new(&p);
    eddy_rt *rt = rt_new2(false);
    run_root(rt, abort_root, &p);
    rt_done(rt);
    assert_no_task_failures();
    prims_free(&p);
}

static void *deadline_task(void *arg)
{
    struct prims *p = arg;
    T_ON_WORKER(1);
    for (p->kind = 0; p->kind < K_COUNT; p->kind++) {
        uint64_t t0 = eddy_now_ns();
        T_OK(eddy_deadline_push(50));
        T_ERR(prims_block(p), -ETIMEDOUT);
        T_ELAPSED(t0, 50, 50 + SLACK_MS);
        T_ERR(prims_block(p), -ETIMEDOUT); /* expired scope: fails at once */
        eddy_deadline_pop();
        prims_check_released(p);
    }
    return NULL;
}

static void *deadline_root(void *arg)
{
    JOIN_OK(spawn_at(1, deadline_task, arg));
    return NULL;
}

static void deadline_scope_times_out_blocking_call_of_each_primitive(void **state)
{
    (void)state;
    struct prims p;
    prims_new(&p);
    eddy_rt *rt = rt_new2(false);
    run_root(rt, deadline_root, &p);
    rt_done(rt);
    assert_no_task_failures();
    prims_free(&p);
}

#define T(fn) cmocka_unit_test_setup(fn, reset_failures)
static const struct CMUnitTest tests[] = {
    T(abort_of_task_blocked_in_each_primitive_returns_ecanceled_and_primitive_works),
    T(deadline_scope_times_out_blocking_call_of_each_primitive),
};

EDDY_TEST_MAIN(tests, 120)
