/*
 * tests/rt/test_solo.c: a worker nobody steals from (the only worker, or
 * stealing off) spills what overflows its ring into a growable array of
 * its own: a burst far larger than the ring runs whole, once each, in the
 * order it was spawned, tasks that keep yielding do not overtake it, and
 * the queue depth the metrics report counts the spill.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"

enum { BURST = 5000 }; /* ~20 rings of 256 */

struct burst {
    _Atomic uint32_t next_slot;
    uint32_t order[BURST];  /* order[k]: index of the k-th task to run */
    _Atomic int ran[BURST];
    _Atomic int wrong_worker;
    int worker;             /* where all of them must run */
    unsigned peak_depth;    /* queue depth seen by the spawner */
    eddy_rt *rt;
};

struct child {
    struct burst *b;
    uint32_t index;
};

static struct child children[BURST];

static void *record_run(void *arg)
{
    struct child *c = arg;
    struct burst *b = c->b;
    if (eddy_worker_index() != b->worker)
        atomic_fetch_add(&b->wrong_worker, 1);
    atomic_fetch_add(&b->ran[c->index], 1);
    b->order[atomic_fetch_add(&b->next_slot, 1)] = c->index;
    return NULL;
}

/* Spawns the burst without waiting (nothing runs meanwhile on a solo
   worker), reads the queue depth, then joins all of it. */
static void *spawn_burst(void *arg)
{
    struct burst *b = arg;
    eddy_task **h = calloc(BURST, sizeof *h);
    if (h == NULL)
        return (void *)(intptr_t)-ENOMEM;
    intptr_t rc = 0;
    for (uint32_t i = 0; i < BURST && rc == 0; i++) {
        children[i] = (struct child){ b, i };
        rc = eddy_spawn(&h[i], record_run, &children[i]);
    }
    eddy_worker_metrics m;
    if (rc == 0)
        rc = eddy_rt_worker_metrics(b->rt, (unsigned)b->worker, &m);
    if (rc == 0)
        b->peak_depth = (unsigned)m.queue_depth;
    for (uint32_t i = 0; i < BURST; i++)
        if (h[i] != NULL)
            (void)eddy_join(h[i], NULL);
    free(h);
    return (void *)rc;
}

static void *spawn_burst_on_worker_1(void *arg)
{
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    o.worker = 1;
    eddy_task *h;
    int rc = eddy_spawn_ex(&h, spawn_burst, arg, &o);
    if (rc < 0)
        return (void *)(intptr_t)rc;
    void *res = NULL;
    rc = eddy_join(h, &res);
    return rc < 0 ? (void *)(intptr_t)rc : res;
}

static void check_burst(struct burst *b)
{
    assert_int_equal(atomic_load(&b->next_slot), BURST);
    for (uint32_t i = 0; i < BURST; i++)
        assert_int_equal(atomic_load(&b->ran[i]), 1);
    assert_int_equal(atomic_load(&b->wrong_worker), 0);
    /* the queue held the whole burst but the task in the LIFO slot */
    assert_true(b->peak_depth >= BURST - 1);
    /* spawn order, but for the last one spawned: the LIFO slot runs it
       first */
    uint32_t k = 0;
    if (b->order[0] == BURST - 1)
        k = 1;
    for (uint32_t prev = 0, first = 1; k < BURST; k++) {
        if (b->order[k] == BURST - 1)
            continue;
        if (!first)
            assert_true(b->order[k] > prev);
        prev = b->order[k];
        first = 0;
    }
}

static void one_worker_runs_a_burst_once_each_in_spawn_order(void **state)
{
    (void)state;
    struct burst *b = calloc(1, sizeof *b);
    assert_non_null(b);
    b->rt = eddy_test_new_rt(1);
    b->worker = 0;
    void *res = NULL;
    assert_ok(eddy_rt_block_on(b->rt, spawn_burst, b, &res));
    assert_int_equal((intptr_t)res, 0);
    check_burst(b);
    eddy_rt_free(b->rt);
    free(b);
}

static void with_stealing_off_a_burst_stays_on_its_worker_in_order(void **state)
{
    (void)state;
    struct burst *b = calloc(1, sizeof *b);
    assert_non_null(b);
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    cfg.work_stealing = false;
    assert_ok(eddy_rt_new(&b->rt, &cfg));
    b->worker = 1;
    void *res = NULL;
    assert_ok(eddy_rt_block_on(b->rt, spawn_burst_on_worker_1, b, &res));
    assert_int_equal((intptr_t)res, 0);
    check_burst(b);
    eddy_rt_free(b->rt);
    free(b);
}

/* Tasks that keep yielding go behind the spilled burst, not ahead of it:
   each yielder stops once the burst is done, or after a bound far above
   what an in-order queue needs. */
enum { YIELDERS = 300, SHORT = 3000, YIELD_BOUND = 200000 };

struct race {
    _Atomic int short_done;
    _Atomic int yielders_starving; /* hit the bound before the burst ended */
};

static struct race race;

static void *yield_until_burst_done(void *arg)
{
    (void)arg;
    for (int i = 0; i < YIELD_BOUND; i++) {
        if (atomic_load(&race.short_done) == SHORT)
            return NULL;
        eddy_yield();
    }
    atomic_fetch_add(&race.yielders_starving, 1);
    return NULL;
}

static void *short_task(void *arg)
{
    (void)arg;
    atomic_fetch_add(&race.short_done, 1);
    return NULL;
}

static void *spawn_yielders_then_burst(void *arg)
{
    (void)arg;
    eddy_task **h = calloc(YIELDERS + SHORT, sizeof *h);
    if (h == NULL)
        return (void *)(intptr_t)-ENOMEM;
    intptr_t rc = 0;
    for (int i = 0; i < YIELDERS + SHORT && rc == 0; i++)
        rc = eddy_spawn(&h[i], i < YIELDERS ? yield_until_burst_done : short_task, NULL);
    for (int i = 0; i < YIELDERS + SHORT; i++)
        if (h[i] != NULL)
            (void)eddy_join(h[i], NULL);
    free(h);
    return (void *)rc;
}

static void yielding_tasks_do_not_overtake_a_spilled_burst(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    void *res = NULL;
    assert_ok(eddy_rt_block_on(rt, spawn_yielders_then_burst, NULL, &res));
    assert_int_equal((intptr_t)res, 0);
    assert_int_equal(atomic_load(&race.short_done), SHORT);
    assert_int_equal(atomic_load(&race.yielders_starving), 0);
    eddy_rt_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_worker_runs_a_burst_once_each_in_spawn_order),
        cmocka_unit_test(with_stealing_off_a_burst_stays_on_its_worker_in_order),
        cmocka_unit_test(yielding_tasks_do_not_overtake_a_spilled_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
