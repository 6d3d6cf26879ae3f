/*
 * tests/rt/test_mutex_sem.c: mutex and semaphore (rt/mutex.c, rt/sem.c)
 * between tasks pinned to two different workers and between tasks and plain
 * threads: mutual exclusion with exact counts, the holder bound of a
 * semaphore, try variants, hand-off wakeups, abort (-ECANCELED) of a task
 * blocked in lock. Notify and waitgroup are in test_notify_wg.c, abort and
 * deadline scopes of every primitive in test_sync.c, channels in
 * test_chan.c and test_chan_close.c.
 *
 * Cross-worker tests run with work stealing off, so a task spawned with
 * opts.worker = k stays on worker k (each task checks eddy_worker_index()).
 */
/* ctest-labels: concurrency */
#include "tests/rt/sync_checks.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------ mutex */

struct mx {
    eddy_mutex *m;
    uint64_t counter; /* plain: only the mutex protects it */
    atomic_int inside;
    uint64_t iters;
};

struct mx_arg {
    struct mx *x;
    int worker; /* expected worker; -1: a plain thread */
};

static void *mx_loop(void *arg)
{
    struct mx_arg *a = arg;
    struct mx *x = a->x;
    for (uint64_t i = 0; i < x->iters; i++) {
        int rc = eddy_mutex_lock(x->m);
        if (rc < 0) {
            T_OK(rc);
            break;
        }
        if (atomic_fetch_add(&x->inside, 1) != 0)
            t_fail(__LINE__, "two holders at once");
        uint64_t c = x->counter;
        if (i % 8 == 0)
            eddy_yield(); /* others run meanwhile: they must not get in */
        x->counter = c + 1;
        atomic_fetch_sub(&x->inside, 1);
        eddy_mutex_unlock(x->m);
    }
    T_ON_WORKER(a->worker);
    return NULL;
}

#define MX_TASKS 8

static void *mx_root(void *arg)
{
    struct mx_arg *args = arg;
    eddy_task *t[MX_TASKS];
    for (int i = 0; i < MX_TASKS; i++)
        t[i] = spawn_at(args[i].worker, mx_loop, &args[i]);
    for (int i = 0; i < MX_TASKS; i++)
        JOIN_OK(t[i]);
    return NULL;
}

static void mutex_run(int threads, uint64_t iters)
{
    eddy_rt *rt = rt_new2(false);
    struct mx x = { .iters = iters };
    assert_ok(eddy_mutex_new(&x.m));
    struct mx_arg args[MX_TASKS + 2];
    for (int i = 0; i < MX_TASKS + threads; i++)
        args[i] = (struct mx_arg){ &x, i < MX_TASKS ? i % 2 : -1 };
    pthread_t th[2];
    for (int i = 0; i < threads; i++)
        assert_int_equal(pthread_create(&th[i], NULL, mx_loop, &args[MX_TASKS + i]), 0);
    run_root(rt, mx_root, args);
    for (int i = 0; i < threads; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    rt_done(rt);
    assert_no_task_failures();
    assert_int_equal(x.counter, (uint64_t)(MX_TASKS + threads) * iters);
    assert_ok(eddy_mutex_trylock(x.m)); /* left unlocked */
    eddy_mutex_unlock(x.m);
    eddy_mutex_free(x.m);
}

static void mutex_excludes_8_tasks_on_2_workers_incrementing_a_plain_counter(void **state)
{
    (void)state;
    mutex_run(0, scaled(10000));
}

static void mutex_excludes_tasks_and_plain_threads_together(void **state)
{
    (void)state;
    mutex_run(2, scaled(4000));
}

static void *tl_lock_and_keep(void *arg)
{
    T_ON_WORKER(0);
    T_OK(eddy_mutex_trylock(arg));
    return NULL; /* ends holding it */
}

static void *tl_other_worker(void *arg)
{
    eddy_mutex *m = arg;
    T_ON_WORKER(1);
    T_ERR(eddy_mutex_trylock(m), -EBUSY);
    T_ERR(eddy_mutex_trylock(m), -EBUSY);
    eddy_mutex_unlock(m); /* unlocking another task's lock is allowed */
    T_OK(eddy_mutex_trylock(m));
    return NULL;
}

static void *tl_root(void *arg)
{
    eddy_mutex *m = arg;
    JOIN_OK(spawn_at(0, tl_lock_and_keep, m));
    JOIN_OK(spawn_at(1, tl_other_worker, m));
    T_ERR(eddy_mutex_trylock(m), -EBUSY);
    eddy_mutex_unlock(m);
    return NULL;
}

static void mutex_trylock_returns_ebusy_while_held_by_task_on_other_worker(void **state)
{
    (void)state;
    assert_err(eddy_mutex_new(NULL), -EINVAL);
    assert_err(eddy_mutex_lock(NULL), -EINVAL);
    assert_err(eddy_mutex_trylock(NULL), -EINVAL);
    eddy_mutex_unlock(NULL);
    eddy_mutex_free(NULL);
    eddy_mutex *m;
    assert_ok(eddy_mutex_new(&m));
    eddy_rt *rt = rt_new2(false);
    run_root(rt, tl_root, m);
    rt_done(rt);
    assert_no_task_failures();
    /* plain thread */
    assert_ok(eddy_mutex_trylock(m));
    assert_err(eddy_mutex_trylock(m), -EBUSY);
    eddy_mutex_unlock(m);
    assert_ok(eddy_mutex_lock(m));
    assert_err(eddy_mutex_trylock(m), -EBUSY);
    eddy_mutex_unlock(m);
    eddy_mutex_free(m);
}

struct pt {
    eddy_mutex *m;
    eddy_sem *s;
    atomic_int held, released, entering;
};

static void *pt_task_holds_mutex(void *arg)
{
    struct pt *x = arg;
    T_OK(eddy_mutex_lock(x->m));
    atomic_store(&x->held, 1);
    eddy_sleep_ms(50);
    atomic_store(&x->released, 1);
    eddy_mutex_unlock(x->m);
    return NULL;
}

static void *pt_task_waits_mutex(void *arg)
{
    struct pt *x = arg;
    atomic_store(&x->entering, 1);
    T_OK(eddy_mutex_lock(x->m));
    T_EQ(atomic_load(&x->released), 1);
    eddy_mutex_unlock(x->m);
    return NULL;
}

static void mutex_plain_thread_and_task_block_each_other_until_unlock(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    struct pt x = { 0 };
    assert_ok(eddy_mutex_new(&x.m));
    eddy_task *t;
    /* a task holds it: the plain thread blocks in lock until the unlock */
    assert_ok(eddy_rt_spawn(rt, &t, pt_task_holds_mutex, &x));
    assert_true(wait_count(&x.held, 1));
    assert_ok(eddy_mutex_lock(x.m));
    assert_int_equal(atomic_load(&x.released), 1);
    eddy_mutex_unlock(x.m);
    assert_ok(eddy_join(t, NULL));
    /* the plain thread holds it: the task suspends until the unlock */
    atomic_store(&x.released, 0);
    assert_ok(eddy_mutex_lock(x.m));
    assert_ok(eddy_rt_spawn(rt, &t, pt_task_waits_mutex, &x));
    assert_true(wait_count(&x.entering, 1));
    eddy_sleep_ms(50);
    atomic_store(&x.released, 1);
    eddy_mutex_unlock(x.m);
    assert_ok(eddy_join(t, NULL));
    rt_done(rt);
    assert_no_task_failures();
    assert_ok(eddy_mutex_trylock(x.m));
    eddy_mutex_unlock(x.m);
    eddy_mutex_free(x.m);
}

struct mab {
    eddy_mutex *m;
    atomic_int entering;
    int rc_b, rc_c;
};

static void *mab_b(void *arg)
{
    struct mab *x = arg;
    T_ON_WORKER(1);
    atomic_fetch_add(&x->entering, 1);
    x->rc_b = eddy_mutex_lock(x->m);
    return NULL;
}

static void *mab_c(void *arg)
{
    struct mab *x = arg;
    T_ON_WORKER(0);
    T_OK(eddy_deadline_push(10000)); /* a lost hand-off fails, not hangs */
    atomic_fetch_add(&x->entering, 1);
    x->rc_c = eddy_mutex_lock(x->m);
    eddy_deadline_pop();
    if (x->rc_c == 0)
        eddy_mutex_unlock(x->m);
    return NULL;
}

static void *mab_root(void *arg)
{
    struct mab *x = arg;
    T_OK(eddy_mutex_lock(x->m));
    eddy_task *b = spawn_at(1, mab_b, x);
    T_CHECK(wait_count(&x->entering, 1));
    eddy_sleep_ms(20);
    eddy_task *c = spawn_at(0, mab_c, x); /* queued behind b */
    T_CHECK(wait_count(&x->entering, 2));
    eddy_sleep_ms(20);
    uint64_t t0 = eddy_now_ns();
    T_OK(eddy_abort(b));
    T_ERR(eddy_join(b, NULL), -ECANCELED);
    T_ELAPSED(t0, 0, SLACK_MS);
    T_EQ(x->rc_b, -ECANCELED);
    eddy_mutex_unlock(x->m); /* goes to c, skipping the aborted b */
    JOIN_OK(c);
    T_EQ(x->rc_c, 0);
    T_OK(eddy_mutex_trylock(x->m));
    eddy_mutex_unlock(x->m);
    return NULL;
}

static void mutex_abort_of_blocked_task_returns_ecanceled_and_next_waiter_gets_lock(void **state)
{
    (void)state;
    struct mab x = { 0 };
    assert_ok(eddy_mutex_new(&x.m));
    eddy_rt *rt = rt_new2(false);
    run_root(rt, mab_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    assert_ok(eddy_mutex_trylock(x.m));
    eddy_mutex_unlock(x.m);
    eddy_mutex_free(x.m);
}

/* -------------------------------------------------------------- semaphore */

#define SEM_N 3
#define SEM_TASKS 8

struct sm {
    eddy_sem *s;
    atomic_int inside, max;
    uint64_t iters;
};

struct sm_arg {
    struct sm *x;
    int worker;
};

static void *sm_loop(void *arg)
{
    struct sm_arg *a = arg;
    struct sm *x = a->x;
    for (uint64_t i = 0; i < x->iters; i++) {
        int rc = eddy_sem_acquire(x->s);
        if (rc < 0) {
            T_OK(rc);
            break;
        }
        int in = atomic_fetch_add(&x->inside, 1) + 1;
        if (in > SEM_N)
            t_fail(__LINE__, "%d holders of a semaphore of %d", in, SEM_N);
        int m = atomic_load(&x->max);
        while (in > m && !atomic_compare_exchange_weak(&x->max, &m, in))
            ;
        eddy_yield();
        if (i % 4 == 0)
            eddy_yield();
        atomic_fetch_sub(&x->inside, 1);
        eddy_sem_release(x->s);
    }
    T_ON_WORKER(a->worker);
    return NULL;
}

static void *sm_root(void *arg)
{
    struct sm_arg *args = arg;
    eddy_task *t[SEM_TASKS];
    for (int i = 0; i < SEM_TASKS; i++)
        t[i] = spawn_at(args[i].worker, sm_loop, &args[i]);
    for (int i = 0; i < SEM_TASKS; i++)
        JOIN_OK(t[i]);
    return NULL;
}

static void sem_never_admits_more_than_n_holders_across_workers_and_threads(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    struct sm x = { .iters = scaled(2000) };
    assert_ok(eddy_sem_new(&x.s, SEM_N));
    struct sm_arg args[SEM_TASKS + 1];
    for (int i = 0; i <= SEM_TASKS; i++)
        args[i] = (struct sm_arg){ &x, i < SEM_TASKS ? i % 2 : -1 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sm_loop, &args[SEM_TASKS]), 0);
    run_root(rt, sm_root, args);
    assert_int_equal(pthread_join(th, NULL), 0);
    rt_done(rt);
    assert_no_task_failures();
    assert_true(atomic_load(&x.max) <= SEM_N);
    assert_int_equal(atomic_load(&x.max), SEM_N); /* and it did admit N */
    /* every permit came back */
    for (int i = 0; i < SEM_N; i++)
        assert_ok(eddy_sem_try_acquire(x.s));
    assert_err(eddy_sem_try_acquire(x.s), -EAGAIN);
    eddy_sem_free(x.s);
}

static void sem_try_acquire_returns_eagain_at_zero(void **state)
{
    (void)state;
    eddy_sem *s;
    assert_err(eddy_sem_new(NULL, 1), -EINVAL);
    assert_err(eddy_sem_acquire(NULL), -EINVAL);
    assert_err(eddy_sem_try_acquire(NULL), -EINVAL);
    eddy_sem_release(NULL);
    eddy_sem_free(NULL);
    assert_ok(eddy_sem_new(&s, 0));
    assert_err(eddy_sem_try_acquire(s), -EAGAIN);
    eddy_sem_free(s);
    assert_ok(eddy_sem_new(&s, 2));
    assert_ok(eddy_sem_try_acquire(s));
    assert_ok(eddy_sem_try_acquire(s));
    assert_err(eddy_sem_try_acquire(s), -EAGAIN);
    eddy_sem_release(s);
    assert_ok(eddy_sem_try_acquire(s));
    assert_err(eddy_sem_try_acquire(s), -EAGAIN);
    eddy_sem_release(s);
    eddy_sem_release(s);
    eddy_sem_release(s); /* above the initial count is fine */
    for (int i = 0; i < 3; i++)
        assert_ok(eddy_sem_acquire(s));
    assert_err(eddy_sem_try_acquire(s), -EAGAIN);
    eddy_sem_free(s);
}

struct sw {
    eddy_sem *s;
    atomic_int entering, acquired;
};

static void *sw_acquirer(void *arg)
{
    struct sw *x = arg;
    T_ON_WORKER(1);
    atomic_store(&x->entering, 1);
    T_OK(eddy_sem_acquire(x->s));
    atomic_store(&x->acquired, 1);
    T_ON_WORKER(1);
    return NULL;
}

static void *sw_releaser(void *arg)
{
    struct sw *x = arg;
    T_ON_WORKER(0);
    T_CHECK(wait_count(&x->entering, 1));
    eddy_sleep_ms(50);
    T_EQ(atomic_load(&x->acquired), 0); /* no permit: still waiting */
    eddy_sem_release(x->s);
    return NULL;
}

static void *sw_root(void *arg)
{
    struct sw *x = arg;
    eddy_task *a = spawn_at(1, sw_acquirer, x);
    eddy_task *r = spawn_at(0, sw_releaser, x);
    JOIN_OK(r);
    JOIN_OK(a);
    T_EQ(atomic_load(&x->acquired), 1);
    /* the permit went to the waiter, not back into the count */
    T_ERR(eddy_sem_try_acquire(x->s), -EAGAIN);
    return NULL;
}

static void *sw_acquirer_any(void *arg)
{
    struct sw *x = arg;
    atomic_store(&x->entering, 1);
    T_OK(eddy_sem_acquire(x->s));
    atomic_store(&x->acquired, 1);
    return NULL;
}

static void *sw_task_releases_later(void *arg)
{
    struct sw *x = arg;
    eddy_sleep_ms(50);
    atomic_store(&x->acquired, 1); /* "released" */
    eddy_sem_release(x->s);
    return NULL;
}

static void sem_release_wakes_blocked_acquirer_on_other_worker_and_plain_thread(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    struct sw x = { 0 };
    assert_ok(eddy_sem_new(&x.s, 0));
    run_root(rt, sw_root, &x);
    assert_no_task_failures();
    /* task -> plain thread */
    atomic_store(&x.acquired, 0);
    eddy_task *t;
    assert_ok(eddy_rt_spawn(rt, &t, sw_task_releases_later, &x));
    assert_ok(eddy_sem_acquire(x.s));
    assert_int_equal(atomic_load(&x.acquired), 1);
    assert_ok(eddy_join(t, NULL));
    /* plain thread -> task */
    atomic_store(&x.entering, 0);
    atomic_store(&x.acquired, 0);
    assert_ok(eddy_rt_spawn(rt, &t, sw_acquirer_any, &x));
    assert_true(wait_count(&x.entering, 1));
    eddy_sleep_ms(50);
    assert_int_equal(atomic_load(&x.acquired), 0);
    eddy_sem_release(x.s);
    assert_ok(eddy_join(t, NULL));
    assert_int_equal(atomic_load(&x.acquired), 1);
    assert_err(eddy_sem_try_acquire(x.s), -EAGAIN);
    rt_done(rt);
    assert_no_task_failures();
    eddy_sem_free(x.s);
}

#define T(fn) cmocka_unit_test_setup(fn, reset_failures)
static const struct CMUnitTest tests[] = {
    T(mutex_excludes_8_tasks_on_2_workers_incrementing_a_plain_counter),
    T(mutex_excludes_tasks_and_plain_threads_together),
    T(mutex_trylock_returns_ebusy_while_held_by_task_on_other_worker),
    T(mutex_plain_thread_and_task_block_each_other_until_unlock),
    T(mutex_abort_of_blocked_task_returns_ecanceled_and_next_waiter_gets_lock),
    T(sem_never_admits_more_than_n_holders_across_workers_and_threads),
    T(sem_try_acquire_returns_eagain_at_zero),
    T(sem_release_wakes_blocked_acquirer_on_other_worker_and_plain_thread),
};

EDDY_TEST_MAIN(tests, 120)
