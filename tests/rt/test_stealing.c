/*
 * tests/rt/test_stealing.c: work stealing keeps a second worker busy while
 * the first is stuck in a long CPU task; with stealing off, tasks never
 * change worker.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "helpers.h"

static atomic_int done_small;
static atomic_int hog_running;

static void *small(void *arg)
{
    (void)arg;
    atomic_fetch_add(&done_small, 1);
    return NULL;
}

static void *hog(void *arg)
{
    (void)arg;
    atomic_store(&hog_running, 1);
    /* spins without ever suspending until the small tasks all ran (or 10 s) */
    int64_t until = eddy_test_now_ms() + 10000;
    while (atomic_load(&done_small) < 100 && eddy_test_now_ms() < until)
        ;
    return (void *)(intptr_t)atomic_load(&done_small);
}

static void *spawn_hog_and_smalls(void *arg)
{
    (void)arg;
    /* the small tasks queue on this worker; then this task turns into the
       hog by running it inline: only a thief can run them */
    for (int i = 0; i < 100; i++)
        assert_ok(eddy_spawn(NULL, small, NULL));
    return hog(NULL);
}

static void a_long_cpu_task_does_not_stop_the_other_worker(void **state)
{
    (void)state;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    eddy_rt *rt;
    assert_ok(eddy_rt_new(&rt, &cfg));
    atomic_store(&done_small, 0);
    void *seen = NULL;
    assert_ok(eddy_rt_block_on(rt, spawn_hog_and_smalls, NULL, &seen));
    assert_int_equal((intptr_t)seen, 100); /* all ran while the hog spun */
    eddy_worker_metrics m0, m1;
    assert_ok(eddy_rt_worker_metrics(rt, 0, &m0));
    assert_ok(eddy_rt_worker_metrics(rt, 1, &m1));
    assert_true(m0.stolen + m1.stolen > 0);
    eddy_rt_free(rt);
}

struct pinned_ctx {
    atomic_int moved;
    eddy_chan *c;
};

static void *stay_put(void *arg)
{
    struct pinned_ctx *p = arg;
    int w = eddy_worker_index();
    for (int i = 0; i < 200; i++) {
        if (i % 3 == 0)
            eddy_yield();
        else if (i % 3 == 1)
            eddy_sleep_ms(0);
        else {
            int v = i;
            /* the channel is shared by tasks of both workers: wakes cross */
            if (eddy_chan_send_timeout(p->c, &v, 1) == 0)
                (void)eddy_chan_recv_timeout(p->c, &v, 1);
        }
        if (eddy_worker_index() != w)
            atomic_fetch_add(&p->moved, 1);
    }
    return (void *)(intptr_t)w;
}

static void with_stealing_off_tasks_never_change_worker(void **state)
{
    (void)state;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    cfg.work_stealing = false;
    eddy_rt *rt;
    assert_ok(eddy_rt_new(&rt, &cfg));
    struct pinned_ctx p;
    atomic_init(&p.moved, 0);
    assert_ok(eddy_chan_new(&p.c, 4, sizeof(int)));
    enum { N = 64 };
    eddy_task *h[N];
    for (int i = 0; i < N; i++)
        assert_ok(eddy_rt_spawn(rt, &h[i], stay_put, &p));
    int per_worker[2] = { 0, 0 };
    for (int i = 0; i < N; i++) {
        void *w;
        assert_ok(eddy_join(h[i], &w));
        assert_true((intptr_t)w == 0 || (intptr_t)w == 1);
        per_worker[(intptr_t)w]++;
    }
    assert_int_equal(atomic_load(&p.moved), 0);
    /* remote spawns are placed round-robin */
    assert_int_equal(per_worker[0], N / 2);
    assert_int_equal(per_worker[1], N / 2);
    eddy_worker_metrics m;
    for (unsigned i = 0; i < 2; i++) {
        assert_ok(eddy_rt_worker_metrics(rt, i, &m));
        assert_int_equal(m.stolen, 0);
    }
    eddy_chan_free(p.c);
    eddy_rt_free(rt);
}

static void *where_am_i(void *arg)
{
    (void)arg;
    eddy_yield();
    return (void *)(intptr_t)eddy_worker_index();
}

static void *spawn_on_each_worker(void *arg)
{
    (void)arg;
    uintptr_t ok = 0;
    for (int w = 0; w < 2; w++) {
        eddy_spawn_opts o;
        eddy_spawn_opts_init(&o);
        o.worker = w;
        o.name = "placed";
        eddy_task *h;
        assert_ok(eddy_spawn_ex(&h, where_am_i, NULL, &o));
        void *r;
        assert_ok(eddy_join(h, &r));
        if ((intptr_t)r == w)
            ok++;
    }
    eddy_spawn_opts bad;
    eddy_spawn_opts_init(&bad);
    bad.worker = 2;
    assert_err(eddy_spawn_ex(NULL, where_am_i, NULL, &bad), -EINVAL);
    bad.worker = -1;
    bad.stack_size = 1000;
    assert_err(eddy_spawn_ex(NULL, where_am_i, NULL, &bad), -EINVAL);
    return (void *)ok;
}

static void spawn_ex_places_tasks_on_the_requested_worker(void **state)
{
    (void)state;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    cfg.work_stealing = false;
    eddy_rt *rt;
    assert_ok(eddy_rt_new(&rt, &cfg));
    void *ok = NULL;
    assert_ok(eddy_rt_block_on(rt, spawn_on_each_worker, NULL, &ok));
    assert_int_equal((uintptr_t)ok, 2);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_long_cpu_task_does_not_stop_the_other_worker),
    cmocka_unit_test(with_stealing_off_tasks_never_change_worker),
    cmocka_unit_test(spawn_ex_places_tasks_on_the_requested_worker),
};

EDDY_TEST_MAIN(tests, 120)
