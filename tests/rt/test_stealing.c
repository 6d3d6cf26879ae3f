/*
 * tests/rt/test_stealing.c: work stealing keeps a second worker busy while
 * the first is stuck in a long CPU task; with stealing off, tasks never
 * change worker.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

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


static atomic_int lifo_ran;

static void *set_lifo_ran(void *arg)
{
    (void)arg;
    atomic_store(&lifo_ran, 1);
    return NULL;
}

static void *spawn_one_then_spin(void *arg)
{
    (void)arg;
    /* both workers park; this task comes back on its worker's timer, with
       the other worker parked for good */
    assert_ok(eddy_sleep_ms(50));
    /* the child lands in this worker's LIFO slot, which no ring steal
       reaches; then this task never suspends until the child ran */
    assert_ok(eddy_spawn(NULL, set_lifo_ran, NULL));
    int64_t t0 = eddy_test_now_ms();
    while (!atomic_load(&lifo_ran) && eddy_test_now_ms() - t0 < 3000)
        ;
    return (void *)(intptr_t)(eddy_test_now_ms() - t0);
}

static void a_lifo_task_behind_a_long_poll_is_stolen_even_when_all_were_idle(void **state)
{
    (void)state;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    eddy_rt *rt;
    assert_ok(eddy_rt_new(&rt, &cfg));
    for (int round = 0; round < 3; round++) {
        atomic_store(&lifo_ran, 0);
        /* let both workers park with nothing to watch */
        struct timespec ts = { 0, 50 * 1000000 };
        nanosleep(&ts, NULL);
        void *waited = NULL;
        assert_ok(eddy_rt_block_on(rt, spawn_one_then_spin, NULL, &waited));
        assert_int_equal(atomic_load(&lifo_ran), 1);
        assert_true((intptr_t)waited < 1000); /* stolen, not run after the spin */
    }
    eddy_rt_free(rt);
}

struct home_ctx {
    atomic_int off_home;
    atomic_int ran;
};

static void *check_home(void *arg)
{
    struct home_ctx *h = arg;
    if (eddy_worker_index() != 0)
        atomic_fetch_add(&h->off_home, 1);
    eddy_yield();
    if (eddy_worker_index() != 0)
        atomic_fetch_add(&h->off_home, 1);
    atomic_fetch_add(&h->ran, 1);
    return NULL;
}

static void *spawn_many_children(void *arg)
{
    /* far more than a ring holds: the overflow must stay on this worker */
    for (int i = 0; i < 2000; i++)
        assert_ok(eddy_spawn(NULL, check_home, arg));
    return NULL;
}

static void with_stealing_off_an_overflowing_queue_keeps_its_tasks(void **state)
{
    (void)state;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    cfg.work_stealing = false;
    eddy_rt *rt;
    assert_ok(eddy_rt_new(&rt, &cfg));
    struct home_ctx h;
    atomic_init(&h.off_home, 0);
    atomic_init(&h.ran, 0);
    eddy_task *root;
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    (void)o;
    /* remote spawns go round-robin: the first lands on worker 0 */
    assert_ok(eddy_rt_spawn(rt, &root, spawn_many_children, &h));
    assert_ok(eddy_join(root, NULL));
    int64_t until = eddy_test_now_ms() + 10000;
    while (atomic_load(&h.ran) < 2000 && eddy_test_now_ms() < until)
        sched_yield();
    assert_int_equal(atomic_load(&h.ran), 2000);
    assert_int_equal(atomic_load(&h.off_home), 0);
    eddy_rt_free(rt);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void *spin_20ms(void *arg)
{
    (void)arg;
    uint64_t t0 = eddy_now_ns();
    while (eddy_now_ns() - t0 < 20000000u)
        ;
    return NULL;
}

static void idle_workers_sleep_after_cross_worker_spawns(void **state)
{
    (void)state;
    for (int stealing = 0; stealing < 2; stealing++) {
        eddy_rt_config cfg;
        eddy_rt_config_init(&cfg);
        cfg.workers = 2;
        cfg.work_stealing = stealing;
        eddy_rt *rt;
        assert_ok(eddy_rt_new(&rt, &cfg));
        /* spawns from outside that land while their worker is busy: the
           unpark finds it running, and must not leave it spinning after */
        eddy_task *h[4];
        struct timespec gap = { 0, 5 * 1000000 };
        for (int i = 0; i < 4; i++) {
            assert_ok(eddy_rt_spawn(rt, &h[i], spin_20ms, NULL));
            nanosleep(&gap, NULL);
        }
        for (int i = 0; i < 4; i++)
            assert_ok(eddy_join(h[i], NULL));
        struct timespec ts = { 0, 50 * 1000000 };
        nanosleep(&ts, NULL);
        double c0 = cpu_seconds();
        ts.tv_nsec = 400 * 1000000;
        nanosleep(&ts, NULL);
        double used = cpu_seconds() - c0;
        /* parked: a few ms of CPU at most in 400 ms (a spinning worker
           would burn ~400 ms) */
        print_message("stealing=%d: %.1f ms CPU while idle\n", stealing, used * 1e3);
        assert_true(used < 0.1);
        eddy_rt_free(rt);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_long_cpu_task_does_not_stop_the_other_worker),
    cmocka_unit_test(with_stealing_off_tasks_never_change_worker),
    cmocka_unit_test(spawn_ex_places_tasks_on_the_requested_worker),
    cmocka_unit_test(a_lifo_task_behind_a_long_poll_is_stolen_even_when_all_were_idle),
    cmocka_unit_test(with_stealing_off_an_overflowing_queue_keeps_its_tasks),
    cmocka_unit_test(idle_workers_sleep_after_cross_worker_spawns),
};

EDDY_TEST_MAIN(tests, 120)
