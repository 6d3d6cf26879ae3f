/*
 * tests/rt/test_hooks.c: worker hooks (sched/sched.h), the door through
 * which http/ drives each worker's curl multi handle outside any task: a
 * request from any thread runs the hook on its worker's thread, also when
 * that worker was parked; requests from many threads are never lost; a
 * worker stuck in one long task has its hooks run by a stand-in, never two
 * runs at once; fini runs once at free. And the uncancellable wait that a
 * cancelled transfer uses to wait for its clean-up.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "helpers.h"
#include "rt/rt_int.h"

struct probe {
    atomic_int runs;
    atomic_int inside;      /* runs under way: must never exceed 1 */
    atomic_int overlaps;
    atomic_int on_worker;   /* index + 1 of the thread of the last run */
    atomic_int in_task;     /* a run happened inside a task */
    atomic_int finis;
    /* work handed to the hook: items queued under lock, counted by it */
    pthread_mutex_t lock;
    long queued, done;
};

static void probe_hook(void *arg)
{
    struct probe *p = arg;
    if (atomic_fetch_add(&p->inside, 1) != 0)
        atomic_fetch_add(&p->overlaps, 1);
    atomic_store(&p->on_worker, eddy_worker_index() + 1);
    if (eddy__task_current() != NULL)
        atomic_store(&p->in_task, 1);
    pthread_mutex_lock(&p->lock);
    p->done = p->queued;
    pthread_mutex_unlock(&p->lock);
    atomic_fetch_add(&p->runs, 1);
    atomic_fetch_sub(&p->inside, 1);
}

static void probe_fini(void *arg)
{
    atomic_fetch_add(&((struct probe *)arg)->finis, 1);
}

static void probe_init(struct probe *p)
{
    atomic_init(&p->runs, 0);
    atomic_init(&p->inside, 0);
    atomic_init(&p->overlaps, 0);
    atomic_init(&p->on_worker, 0);
    atomic_init(&p->in_task, 0);
    atomic_init(&p->finis, 0);
    pthread_mutex_init(&p->lock, NULL);
    p->queued = p->done = 0;
}

static bool wait_for(atomic_int *v, int want, int ms)
{
    int64_t end = eddy_test_now_ms() + ms;
    while (atomic_load(v) < want && eddy_test_now_ms() < end)
        usleep(200);
    return atomic_load(v) >= want;
}

static void a_request_runs_the_hook_on_its_parked_worker(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    struct probe p;
    probe_init(&p);
    assert_ok(eddy__hook_install(rt->sched, 1, EDDY__HOOK_CURL, probe_hook, probe_fini, &p));
    assert_err(eddy__hook_install(rt->sched, 1, EDDY__HOOK_CURL, probe_hook, probe_fini, &p),
               -EBUSY);
    assert_err(eddy__hook_install(rt->sched, 2, EDDY__HOOK_CURL, probe_hook, NULL, &p), -EINVAL);
    assert_ptr_equal(eddy__hook_arg(rt->sched, 1, EDDY__HOOK_CURL), &p);
    assert_null(eddy__hook_arg(rt->sched, 0, EDDY__HOOK_CURL));
    for (int i = 1; i <= 20; i++) {
        usleep(5000); /* long enough for worker 1 to park */
        eddy__hook_request(rt->sched, 1, EDDY__HOOK_CURL);
        assert_true(wait_for(&p.runs, i, 2000));
        assert_int_equal(atomic_load(&p.on_worker), 2); /* worker 1's thread */
    }
    assert_int_equal(atomic_load(&p.in_task), 0);
    assert_int_equal(atomic_load(&p.finis), 0);
    eddy_rt_free(rt);
    assert_int_equal(atomic_load(&p.finis), 1);
}

struct requester {
    eddy_rt *rt;
    struct probe *p; /* the probe of worker's hook */
    unsigned worker;
    int n;
};

static void *request_many(void *arg)
{
    struct requester *r = arg;
    for (int i = 0; i < r->n; i++) {
        pthread_mutex_lock(&r->p->lock);
        r->p->queued++;
        pthread_mutex_unlock(&r->p->lock);
        eddy__hook_request(r->rt->sched, r->worker, EDDY__HOOK_CURL);
        if (i % 64 == 0)
            usleep(50); /* now and then give the workers time to park */
    }
    return NULL;
}

static bool all_done(struct probe *p)
{
    pthread_mutex_lock(&p->lock);
    bool d = p->done == p->queued;
    pthread_mutex_unlock(&p->lock);
    return d;
}

/* 4 threads queue items for the two workers' hooks, each item followed by
   a request of its worker's hook: once they stop, both hooks must have
   taken every item (a lost request leaves the last ones untaken). */
static void requests_from_many_threads_are_never_lost(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    struct probe p[2];
    for (unsigned w = 0; w < 2; w++) {
        probe_init(&p[w]);
        assert_ok(eddy__hook_install(rt->sched, w, EDDY__HOOK_CURL, probe_hook, probe_fini, &p[w]));
    }
    pthread_t th[4];
    struct requester r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct requester){ .rt = rt, .p = &p[i % 2], .worker = (unsigned)i % 2,
                                   .n = eddy_test_sanitized() ? 5000 : 20000 };
        assert_int_equal(pthread_create(&th[i], NULL, request_many, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* no more requests: each worker's last run must have taken the last
       item queued for it */
    int64_t end = eddy_test_now_ms() + 5000;
    while ((!all_done(&p[0]) || !all_done(&p[1])) && eddy_test_now_ms() < end)
        usleep(1000);
    assert_true(all_done(&p[0]));
    assert_true(all_done(&p[1]));
    assert_int_equal(atomic_load(&p[0].overlaps) + atomic_load(&p[1].overlaps), 0);
    eddy_rt_free(rt);
    assert_int_equal(atomic_load(&p[0].finis), 1);
    assert_int_equal(atomic_load(&p[1].finis), 1);
}

static atomic_int spinning, stop_spin;

static void *spin_task(void *arg)
{
    (void)arg;
    atomic_store(&spinning, eddy_worker_index() + 1);
    int64_t end = eddy_test_now_ms() + 3000;
    while (!atomic_load(&stop_spin) && eddy_test_now_ms() < end)
        ;
    return NULL;
}

static void a_stuck_workers_hook_is_run_by_a_stand_in(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_store(&spinning, 0);
    atomic_store(&stop_spin, 0);
    eddy_task *t;
    assert_ok(eddy_rt_spawn(rt, &t, spin_task, NULL));
    assert_true(wait_for(&spinning, 1, 2000));
    unsigned stuck = (unsigned)atomic_load(&spinning) - 1;
    struct probe p;
    probe_init(&p);
    assert_ok(eddy__hook_install(rt->sched, stuck, EDDY__HOOK_CURL, probe_hook, NULL, &p));
    int64_t t0 = eddy_test_now_ms();
    for (int i = 1; i <= 5; i++) {
        eddy__hook_request(rt->sched, stuck, EDDY__HOOK_CURL);
        assert_true(wait_for(&p.runs, i, 1000));
        /* the stuck worker is busy spinning: the run was another's */
        assert_int_equal(atomic_load(&p.on_worker), (int)(1 - stuck) + 1);
    }
    assert_true(eddy_test_now_ms() - t0 < 1000);
    atomic_store(&stop_spin, 1);
    assert_ok(eddy_join(t, NULL));
    /* back from the spin, the worker runs its own again */
    usleep(20000);
    eddy__hook_request(rt->sched, stuck, EDDY__HOOK_CURL);
    assert_true(wait_for(&p.runs, 6, 2000));
    assert_int_equal(atomic_load(&p.overlaps), 0);
    eddy_rt_free(rt);
}

/* ------------------------------------------------- the uncancellable wait */

static atomic_int cleanup_done, waiting_uncancellable;
static struct eddy__task *_Atomic waiter;

static void *wait_through_abort(void *arg)
{
    (void)arg;
    atomic_store(&waiter, eddy__task_current());
    atomic_store(&waiting_uncancellable, 1);
    int wakes = 0;
    while (!atomic_load(&cleanup_done)) {
        eddy__wait_uncancellable();
        wakes++;
    }
    /* cancelled all along, and still here: the clean-up came first */
    return (void *)(intptr_t)(eddy__wait_check() == -ECANCELED ? 1 : 0);
}

static void an_uncancellable_wait_outlasts_an_abort(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_store(&cleanup_done, 0);
    atomic_store(&waiting_uncancellable, 0);
    eddy_task *t;
    assert_ok(eddy_rt_spawn(rt, &t, wait_through_abort, NULL));
    assert_true(wait_for(&waiting_uncancellable, 1, 2000));
    usleep(5000);
    assert_ok(eddy_abort(t));
    void *r = NULL;
    assert_err(eddy_join_timeout(t, &r, 100), -ETIMEDOUT); /* still waiting */
    atomic_store(&cleanup_done, 1);
    eddy__wake(atomic_load(&waiter));
    assert_err(eddy_join_timeout(t, &r, 2000), -ECANCELED);
    assert_int_equal((intptr_t)r, 1);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_request_runs_the_hook_on_its_parked_worker),
    cmocka_unit_test(requests_from_many_threads_are_never_lost),
    cmocka_unit_test(a_stuck_workers_hook_is_run_by_a_stand_in),
    cmocka_unit_test(an_uncancellable_wait_outlasts_an_abort),
};

EDDY_TEST_MAIN(tests, 120)
