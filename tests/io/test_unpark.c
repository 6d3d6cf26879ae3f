/*
 * tests/io/test_unpark.c: a worker parked in its reactor always wakes for
 * the work another worker hands it. Two tasks bound to different workers
 * (stealing off, so nobody else can take the work) pass a token back and
 * forth; every hand-off parks the receiver and unparks it through its
 * reactor's eventfd. A lost unpark shows as a receive that times out
 * (both sides wait with a timeout, so the test cannot hang). Two plain
 * threads spin beside them, so that the workers are preempted and
 * interrupted between deciding to park and waiting. Found on io_uring: a
 * park that reaped its own unpark completion went on to wait out its
 * whole timeout (with two CPU hogs, the first run hung).
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "helpers.h"

#define TIMEOUT_MS 2000

struct token_pass {
    eddy_chan *to_b, *to_a;
    int rounds;
    atomic_int slow; /* hand-offs that took over SLOW_NS */
    _Atomic uint64_t slowest_ns;
};

/* A lost unpark is recovered only by the receiver's own timeout (the
   TIMEOUT_MS timer of its wait: with stealing off nothing else wakes a
   parked worker), so it shows as a hand-off of nearly TIMEOUT_MS. Half of
   it tells that apart from a worker the kernel did not run for a while: on
   this 2-CPU VM, beside the two hogs and a parallel ctest (load 5), a
   hand-off took over 100 ms now and then (the old bound, which failed
   then), while the slowest seen under a CI run's load is 16 ms. */
#define SLOW_NS ((uint64_t)TIMEOUT_MS * 1000000u / 2)

/* Up to rounds hand-offs or 5 s, whichever comes first (a hand-off that
   must wait for the scheduler to run a worker beside two hogs costs up to
   a few ms), then -1 tells the other side to stop. */
static void *pass_a(void *arg)
{
    struct token_pass *p = arg;
    uint64_t end = eddy_now_ns() + 5000000000u;
    for (int i = 0; i < p->rounds && eddy_now_ns() < end; i++) {
        uint64_t t0 = eddy_now_ns();
        int v = i;
        EDDY_TASK_CHECK(eddy_chan_send_timeout(p->to_b, &v, TIMEOUT_MS) == 0);
        EDDY_TASK_CHECK(eddy_chan_recv_timeout(p->to_a, &v, TIMEOUT_MS) == 0);
        EDDY_TASK_CHECK(v == i);
        uint64_t took = eddy_now_ns() - t0;
        if (took > SLOW_NS)
            atomic_fetch_add(&p->slow, 1);
        if (took > atomic_load(&p->slowest_ns))
            atomic_store(&p->slowest_ns, took);
    }
    int stop = -1;
    EDDY_TASK_CHECK(eddy_chan_send_timeout(p->to_b, &stop, TIMEOUT_MS) == 0);
    return NULL;
}

static void *pass_b(void *arg)
{
    struct token_pass *p = arg;
    for (;;) {
        int v;
        EDDY_TASK_CHECK(eddy_chan_recv_timeout(p->to_b, &v, TIMEOUT_MS) == 0);
        if (v < 0)
            return NULL;
        EDDY_TASK_CHECK(eddy_chan_send_timeout(p->to_a, &v, TIMEOUT_MS) == 0);
    }
}

static void *start_both(void *arg)
{
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    eddy_task *a, *b;
    o.worker = 0;
    EDDY_TASK_CHECK(eddy_spawn_ex(&a, pass_a, arg, &o) == 0);
    o.worker = 1;
    EDDY_TASK_CHECK(eddy_spawn_ex(&b, pass_b, arg, &o) == 0);
    void *la = NULL, *lb = NULL;
    EDDY_TASK_CHECK(eddy_join(a, &la) == 0);
    EDDY_TASK_CHECK(eddy_join(b, &lb) == 0);
    return la != NULL ? la : lb;
}

static atomic_bool hogs_stop;

static void *hog(void *arg)
{
    (void)arg;
    int64_t end = eddy_test_now_ms() + 60000;
    while (!atomic_load_explicit(&hogs_stop, memory_order_relaxed) && eddy_test_now_ms() < end)
        ;
    return NULL;
}

static void every_hand_off_to_a_parked_worker_wakes_it(void **state)
{
    (void)state;
    pthread_t hogs[2];
    atomic_store(&hogs_stop, false);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&hogs[i], NULL, hog, NULL), 0);
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    cfg.work_stealing = false; /* only the bound worker may run each side */
    eddy_rt *rt = NULL;
    assert_ok(eddy_rt_new(&rt, &cfg));
    struct token_pass p = { .rounds = eddy_test_sanitized() ? 5000 : 20000 };
    assert_ok(eddy_chan_new(&p.to_b, 0, sizeof(int)));
    assert_ok(eddy_chan_new(&p.to_a, 0, sizeof(int)));
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, start_both, &p, &line));
    atomic_store(&hogs_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(hogs[i], NULL);
    if (line != NULL)
        fail_msg("check failed in a task at line %d (a hand-off timed out: lost unpark?)",
                 (int)(intptr_t)line);
    print_message("slowest hand-off %.1f ms, %d over %d ms\n",
                  (double)atomic_load(&p.slowest_ns) / 1e6, atomic_load(&p.slow), TIMEOUT_MS / 2);
    assert_int_equal(atomic_load(&p.slow), 0);
    eddy_chan_free(p.to_b);
    eddy_chan_free(p.to_a);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_hand_off_to_a_parked_worker_wakes_it),
};

EDDY_TEST_MAIN(tests, 300)
