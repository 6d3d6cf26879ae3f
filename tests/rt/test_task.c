/*
 * tests/rt/test_task.c: spawn, join, detach, yield, sleep, blocking pool and
 * misuse answers of the task API.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"

static void *return_arg_plus_one(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

static void block_on_returns_the_task_result(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    void *res = NULL;
    assert_ok(eddy_rt_block_on(rt, return_arg_plus_one, (void *)41, &res));
    assert_int_equal((uintptr_t)res, 42);
    eddy_rt_free(rt);
}

#ifndef MANY
#define MANY 100000
#endif

static void *spawn_many_and_join(void *arg)
{
    (void)arg;
    eddy_task **h = calloc(MANY, sizeof *h);
    assert_non_null(h);
    for (uintptr_t i = 0; i < MANY; i++)
        assert_ok(eddy_spawn(&h[i], return_arg_plus_one, (void *)i));
    uintptr_t bad = 0;
    for (uintptr_t i = 0; i < MANY; i++) {
        void *r = NULL;
        assert_ok(eddy_join(h[i], &r));
        if ((uintptr_t)r != i + 1)
            bad++;
    }
    free(h);
    return (void *)bad;
}

static void hundred_thousand_tasks_all_join_with_their_results(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    void *bad = (void *)1;
    assert_ok(eddy_rt_block_on(rt, spawn_many_and_join, NULL, &bad));
    assert_int_equal((uintptr_t)bad, 0);
    eddy_worker_metrics m0, m1;
    assert_ok(eddy_rt_worker_metrics(rt, 0, &m0));
    assert_ok(eddy_rt_worker_metrics(rt, 1, &m1));
    assert_true(m0.polls + m1.polls >= MANY);
    assert_true(m0.spawned + m1.spawned >= MANY);
    eddy_rt_free(rt);
}

struct remote_ctx {
    eddy_rt *rt;
    atomic_uint_fast64_t sum;
    unsigned per_thread;
};

static void *add_to_sum(void *arg)
{
    struct remote_ctx *c = *(struct remote_ctx **)arg;
    uintptr_t v = ((uintptr_t *)arg)[1];
    atomic_fetch_add(&c->sum, v);
    free(arg);
    return NULL;
}

static void *remote_spawner(void *arg)
{
    struct remote_ctx *c = arg;
    eddy_task **h = calloc(c->per_thread, sizeof *h);
    for (unsigned i = 0; i < c->per_thread; i++) {
        uintptr_t *p = malloc(2 * sizeof *p);
        p[0] = (uintptr_t)c;
        p[1] = i + 1;
        assert_ok(eddy_rt_spawn(c->rt, &h[i], add_to_sum, p));
    }
    for (unsigned i = 0; i < c->per_thread; i++)
        assert_ok(eddy_join(h[i], NULL));
    free(h);
    return NULL;
}

static void spawns_from_four_foreign_threads_all_run(void **state)
{
    (void)state;
    struct remote_ctx c = { .rt = eddy_test_new_rt(2), .per_thread = eddy_test_sanitized() ? 2000 : 20000 };
    atomic_init(&c.sum, 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, remote_spawner, &c), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    uint64_t n = c.per_thread;
    assert_int_equal(atomic_load(&c.sum), 4 * n * (n + 1) / 2);
    eddy_rt_free(c.rt);
}

static void *chain(void *arg)
{
    uintptr_t n = (uintptr_t)arg;
    if (n == 0)
        return (void *)1000;
    eddy_task *h;
    assert_ok(eddy_spawn(&h, chain, (void *)(n - 1)));
    void *r;
    assert_ok(eddy_join(h, &r));
    return (void *)((uintptr_t)r + 1);
}

static void chained_spawns_propagate_results(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    void *r = NULL;
    assert_ok(eddy_rt_block_on(rt, chain, (void *)500, &r));
    assert_int_equal((uintptr_t)r, 1500);
    eddy_rt_free(rt);
}

static void *yield_counter(void *arg)
{
    atomic_int *turns = arg;
    for (int i = 0; i < 1000; i++) {
        atomic_fetch_add(turns, 1);
        eddy_yield();
    }
    return NULL;
}

static void yielding_tasks_interleave_on_one_worker(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    atomic_int turns;
    atomic_init(&turns, 0);
    eddy_task *a, *b;
    assert_ok(eddy_rt_spawn(rt, &a, yield_counter, &turns));
    assert_ok(eddy_rt_spawn(rt, &b, yield_counter, &turns));
    assert_ok(eddy_join(a, NULL));
    assert_ok(eddy_join(b, NULL));
    assert_int_equal(atomic_load(&turns), 2000);
    eddy_rt_free(rt);
}

static void *sleep_50ms(void *arg)
{
    (void)arg;
    uint64_t t0 = eddy_now_ns();
    int rc = eddy_sleep_ms(50);
    uint64_t dt = eddy_now_ns() - t0;
    return (void *)(uintptr_t)(rc == 0 ? dt / 1000000u : 999999);
}

static void sleep_waits_at_least_its_duration(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    void *ms = NULL;
    assert_ok(eddy_rt_block_on(rt, sleep_50ms, NULL, &ms));
    assert_true((uintptr_t)ms >= 50);
    assert_true((uintptr_t)ms < 2000);
    eddy_rt_free(rt);
}

static void *many_sleepers(void *arg)
{
    (void)arg;
    enum { N = 2000 };
    static eddy_task *h[N];
    for (int i = 0; i < N; i++)
        assert_ok(eddy_spawn(&h[i], sleep_50ms, NULL));
    for (int i = 0; i < N; i++) {
        void *ms;
        assert_ok(eddy_join(h[i], &ms));
        assert_true((uintptr_t)ms >= 50 && (uintptr_t)ms < 5000);
    }
    return NULL;
}

static void thousands_of_sleepers_all_wake(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    assert_ok(eddy_rt_block_on(rt, many_sleepers, NULL, NULL));
    eddy_rt_free(rt);
}

static void *slow_value(void *arg)
{
    eddy_sleep_ms(300);
    return arg;
}

static void join_timeout_expires_and_leaves_the_handle_valid(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, slow_value, (void *)7));
    void *r = NULL;
    assert_err(eddy_join_timeout(h, &r, 20), -ETIMEDOUT);
    assert_ok(eddy_join_timeout(h, &r, 10000));
    assert_int_equal((uintptr_t)r, 7);
    eddy_rt_free(rt);
}

/* Timeouts too large for nanoseconds mean no limit: the deadline must not
   wrap around into the past and expire at once. */
static atomic_int huge_started;

static void *sleep_without_a_limit(void *arg)
{
    (void)arg;
    atomic_fetch_add(&huge_started, 1);
    return (void *)(intptr_t)eddy_sleep_ms(INT64_MAX);
}

static void *join_without_a_limit(void *arg)
{
    atomic_fetch_add(&huge_started, 1);
    return (void *)(intptr_t)eddy_join_timeout(arg, NULL, INT64_MAX);
}

static void *recv_without_a_limit(void *arg)
{
    int v = 0;
    atomic_fetch_add(&huge_started, 1);
    int rc = eddy_chan_recv_timeout(arg, &v, INT64_MAX);
    return (void *)(intptr_t)(rc == 0 ? v : rc);
}

static void *sleep_in_a_huge_deadline_scope(void *arg)
{
    (void)arg;
    if (eddy_deadline_push(INT64_MAX) < 0)
        return (void *)1;
    int rc = eddy_sleep_ms(10);
    eddy_deadline_pop();
    return (void *)(intptr_t)rc;
}

static void huge_timeouts_wait_instead_of_wrapping_around(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    eddy_chan *c;
    assert_ok(eddy_chan_new(&c, 1, sizeof(int)));
    atomic_store(&huge_started, 0);
    eddy_task *sleeper, *joiner, *receiver;
    assert_ok(eddy_rt_spawn(rt, &sleeper, sleep_without_a_limit, NULL));
    assert_ok(eddy_rt_spawn(rt, &joiner, join_without_a_limit, sleeper));
    assert_ok(eddy_rt_spawn(rt, &receiver, recv_without_a_limit, c));
    int64_t until = eddy_test_now_ms() + 5000;
    while (atomic_load(&huge_started) < 3 && eddy_test_now_ms() < until)
        sched_yield();
    assert_int_equal(atomic_load(&huge_started), 3);
    void *r = (void *)1;
    /* all three still wait 50 ms later */
    assert_err(eddy_join_timeout(receiver, &r, 50), -ETIMEDOUT);
    assert_err(eddy_join_timeout(joiner, &r, 0), -ETIMEDOUT);
    int v = 42;
    assert_ok(eddy_chan_send(c, &v));
    assert_ok(eddy_join_timeout(receiver, &r, 5000));
    assert_int_equal((intptr_t)r, 42);
    /* the joiner sees the sleeper end by abort */
    assert_ok(eddy_abort(sleeper));
    assert_ok(eddy_join_timeout(joiner, &r, 5000));
    assert_int_equal((intptr_t)r, -ECANCELED);
    /* a scope without a real limit cuts nothing short */
    assert_ok(eddy_rt_block_on(rt, sleep_in_a_huge_deadline_scope, NULL, &r));
    assert_int_equal((intptr_t)r, 0);
    eddy_chan_free(c);
    eddy_rt_free(rt);
}

static void *blocking_work(void *arg)
{
    struct timespec ts = { 0, 20 * 1000000 };
    nanosleep(&ts, NULL); /* really blocks this thread */
    assert_int_equal(eddy_worker_index(), -1);
    return (void *)((uintptr_t)arg * 2);
}

static void *spawn_blocking_from_task(void *arg)
{
    (void)arg;
    eddy_task *h[8];
    for (uintptr_t i = 0; i < 8; i++)
        assert_ok(eddy_spawn_blocking(&h[i], blocking_work, (void *)i));
    uintptr_t sum = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        assert_ok(eddy_join(h[i], &r));
        sum += (uintptr_t)r;
    }
    return (void *)sum;
}

static void spawn_blocking_runs_off_the_workers_and_joins(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    void *sum = NULL;
    assert_ok(eddy_rt_block_on(rt, spawn_blocking_from_task, NULL, &sum));
    assert_int_equal((uintptr_t)sum, 2 * 28);
    eddy_rt_free(rt);
}

static atomic_int blocking_sleeping;

static void *blocking_sleep_long(void *arg)
{
    (void)arg;
    atomic_store(&blocking_sleeping, 1);
    return (void *)(intptr_t)eddy_sleep_ms(10000);
}

/* Once a blocking task runs, its eddy suspending calls answer an abort:
   a sleep on the pool thread too. */
static void abort_wakes_a_blocking_task_from_its_sleep(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    atomic_store(&blocking_sleeping, 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn_blocking(rt, &h, blocking_sleep_long, NULL));
    int64_t until = eddy_test_now_ms() + 5000;
    while (!atomic_load(&blocking_sleeping) && eddy_test_now_ms() < until)
        sched_yield();
    assert_true(atomic_load(&blocking_sleeping));
    usleep(50000);
    int64_t t0 = eddy_test_now_ms();
    assert_ok(eddy_abort(h));
    void *r = (void *)1;
    assert_err(eddy_join_timeout(h, &r, 5000), -ECANCELED);
    assert_int_equal((intptr_t)r, -ECANCELED);
    assert_true(eddy_test_now_ms() - t0 < 2000);
    eddy_rt_free(rt);
}

static void *join_self(void *arg)
{
    (void)arg;
    return NULL;
}

static void misuse_is_answered_with_errors_not_crashes(void **state)
{
    (void)state;
    eddy_task *h = NULL;
    assert_err(eddy_spawn(&h, join_self, NULL), -EPERM);        /* no runtime */
    assert_err(eddy_spawn_blocking(&h, join_self, NULL), -EPERM);
    assert_err(eddy_join(NULL, NULL), -EINVAL);
    assert_err(eddy_abort(NULL), -EINVAL);
    eddy_detach(NULL);
    assert_err(eddy_rt_new(NULL, NULL), -EINVAL);
    assert_err(eddy_deadline_push(10), -EPERM);
    assert_int_equal(eddy_worker_index(), -1);
    assert_null(eddy_rt_current());
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.stack_size = 100;
    eddy_rt *rt = NULL;
    assert_err(eddy_rt_new(&rt, &cfg), -EINVAL);
    cfg.stack_size = 0;
    cfg.io_backend = 99;
    assert_err(eddy_rt_new(&rt, &cfg), -EINVAL);

    rt = eddy_test_new_rt(1);
    assert_err(eddy_rt_spawn(rt, &h, NULL, NULL), -EINVAL);
    assert_err(eddy_rt_spawn(NULL, &h, join_self, NULL), -EINVAL);
    assert_ok(eddy_rt_spawn(rt, &h, join_self, NULL));
    assert_ok(eddy_join(h, NULL));
    assert_err(eddy_join(h, NULL), -EINVAL);    /* joined twice */
    assert_err(eddy_abort(h), -EINVAL);
    eddy_detach(h);                             /* spent: ignored */
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    assert_int_equal(o.worker, -1);
    eddy_rt_free(rt);
    eddy_rt_free(NULL);
}

static void *join_myself(void *arg)
{
    eddy_task *_Atomic *slot = arg;
    while (atomic_load(slot) == NULL)
        eddy_yield();
    return (void *)(intptr_t)eddy_join(atomic_load(slot), NULL);
}

static void joining_yourself_is_refused(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    eddy_task *_Atomic slot = NULL;
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, join_myself, (void *)&slot));
    atomic_store(&slot, h);
    /* the task tries to join its own handle (refused, handle intact), then
       this thread joins it normally */
    int64_t until = eddy_test_now_ms() + 5000;
    void *r = (void *)1;
    assert_ok(eddy_join(h, &r));
    assert_true(eddy_test_now_ms() < until);
    assert_int_equal((intptr_t)r, -EPERM);
    eddy_rt_free(rt);
}


struct budget_ctx {
    eddy_chan *c;
    atomic_int other_ran;
    int sends_before_other;
};

static void *greedy_sender(void *arg)
{
    struct budget_ctx *b = arg;
    /* the channel never fills: no send ever has to wait */
    for (int i = 0; i < 100000; i++) {
        assert_ok(eddy_chan_send(b->c, &i));
        if (atomic_load(&b->other_ran) && b->sends_before_other < 0)
            b->sends_before_other = i;
    }
    return NULL;
}

static void *mark_ran(void *arg)
{
    struct budget_ctx *b = arg;
    atomic_store(&b->other_ran, 1);
    return NULL;
}

static void *spawn_greedy_then_other(void *arg)
{
    eddy_task *g, *o;
    assert_ok(eddy_spawn(&g, greedy_sender, arg));
    assert_ok(eddy_spawn(&o, mark_ran, arg));
    assert_ok(eddy_join(g, NULL));
    assert_ok(eddy_join(o, NULL));
    return NULL;
}

static void a_task_that_never_waits_still_lets_others_run(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    struct budget_ctx b = { .sends_before_other = -1 };
    atomic_init(&b.other_ran, 0);
    assert_ok(eddy_chan_new(&b.c, 200000, sizeof(int)));
    assert_ok(eddy_rt_block_on(rt, spawn_greedy_then_other, &b, NULL));
    /* the other task ran long before the 100,000 sends were over */
    assert_true(b.sends_before_other >= 0);
    assert_true(b.sends_before_other < 1000);
    eddy_chan_free(b.c);
    eddy_rt_free(rt);
}


static void *wait_for_partner(void *arg)
{
    return (void *)(intptr_t)eddy_notify_wait(arg, 3000);
}

static void *wake_partner(void *arg)
{
    eddy_notify_one(arg);
    return NULL;
}

static void *nothing(void *arg)
{
    return arg;
}

static void back_to_back_blocking_tasks_get_their_own_threads(void **state)
{
    (void)state;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1;
    cfg.blocking_threads = 8;
    eddy_rt *rt;
    assert_ok(eddy_rt_new(&rt, &cfg));
    for (int round = 0; round < 5; round++) {
        /* leave exactly one pool thread idle */
        eddy_task *h;
        assert_ok(eddy_rt_spawn_blocking(rt, &h, nothing, NULL));
        assert_ok(eddy_join(h, NULL));
        eddy_notify *n;
        assert_ok(eddy_notify_new(&n));
        /* the first waits for the second: they must not share a thread */
        eddy_task *a, *b;
        assert_ok(eddy_rt_spawn_blocking(rt, &a, wait_for_partner, n));
        assert_ok(eddy_rt_spawn_blocking(rt, &b, wake_partner, n));
        void *rc = (void *)1;
        assert_ok(eddy_join(a, &rc));
        assert_int_equal((intptr_t)rc, 0);
        assert_ok(eddy_join(b, NULL));
        eddy_notify_free(n);
    }
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(block_on_returns_the_task_result),
    cmocka_unit_test(hundred_thousand_tasks_all_join_with_their_results),
    cmocka_unit_test(spawns_from_four_foreign_threads_all_run),
    cmocka_unit_test(chained_spawns_propagate_results),
    cmocka_unit_test(yielding_tasks_interleave_on_one_worker),
    cmocka_unit_test(sleep_waits_at_least_its_duration),
    cmocka_unit_test(thousands_of_sleepers_all_wake),
    cmocka_unit_test(join_timeout_expires_and_leaves_the_handle_valid),
    cmocka_unit_test(huge_timeouts_wait_instead_of_wrapping_around),
    cmocka_unit_test(spawn_blocking_runs_off_the_workers_and_joins),
    cmocka_unit_test(abort_wakes_a_blocking_task_from_its_sleep),
    cmocka_unit_test(misuse_is_answered_with_errors_not_crashes),
    cmocka_unit_test(joining_yourself_is_refused),
    cmocka_unit_test(a_task_that_never_waits_still_lets_others_run),
    cmocka_unit_test(back_to_back_blocking_tasks_get_their_own_threads),
};

EDDY_TEST_MAIN(tests, 120)
