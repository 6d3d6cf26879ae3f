/*
 * tests/rt/test_shutdown.c: shutdown waits for tasks within the grace
 * period, aborts the rest, drops tasks that ignore cancellation, refuses new
 * spawns, and releases everything (AddressSanitizer checks for leaks).
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include <time.h>

#include "helpers.h"

static void *short_sleep(void *arg)
{
    atomic_int *done = arg;
    eddy_sleep_ms(20);
    atomic_fetch_add(done, 1);
    return NULL;
}

static void shutdown_waits_for_tasks_that_end_within_grace(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_int done;
    atomic_init(&done, 0);
    for (int i = 0; i < 100; i++)
        assert_ok(eddy_rt_spawn(rt, NULL, short_sleep, &done));
    assert_ok(eddy_rt_shutdown(rt, 10000));
    assert_int_equal(atomic_load(&done), 100);
    assert_err(eddy_rt_spawn(rt, NULL, short_sleep, &done), -ESHUTDOWN);
    assert_ok(eddy_rt_shutdown(rt, 10)); /* again: no-op */
    eddy_rt_free(rt);
}

/* A grace too large for nanoseconds means no limit, not one that wrapped
   around into the past and aborts at once. */
static void a_huge_grace_waits_for_the_tasks(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_int done;
    atomic_init(&done, 0);
    for (int i = 0; i < 10; i++)
        assert_ok(eddy_rt_spawn(rt, NULL, short_sleep, &done));
    assert_ok(eddy_rt_shutdown(rt, INT64_MAX));
    assert_int_equal(atomic_load(&done), 10);
    eddy_rt_free(rt);
}

static atomic_int sleepers_started;

static void *sleep_then_count(void *arg)
{
    atomic_int *cancelled = arg;
    atomic_fetch_add(&sleepers_started, 1);
    /* holds heap memory across the suspension: must be freed on the
       cancellation path for ASan to stay quiet */
    char *buf = malloc(1024);
    int rc = eddy_sleep_ms(60000);
    free(buf);
    if (rc == -ECANCELED)
        atomic_fetch_add(cancelled, 1);
    return NULL;
}

static void shutdown_aborts_tasks_still_running_after_grace(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_int cancelled;
    atomic_init(&cancelled, 0);
    eddy_task *h[50];
    atomic_store(&sleepers_started, 0);
    for (int i = 0; i < 50; i++)
        assert_ok(eddy_rt_spawn(rt, &h[i], sleep_then_count, &cancelled));
    /* every task asleep first: one aborted before its first run never runs
       (its join says -ECANCELED, but it cannot count itself), and on a
       slow sanitizer build 50 ms of grace may not start them all */
    for (int i = 0; i < 10000 && atomic_load(&sleepers_started) < 50; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&sleepers_started), 50);
    int64_t t0 = eddy_test_now_ms();
    assert_err(eddy_rt_shutdown(rt, 50), -ETIMEDOUT);
    assert_true(eddy_test_now_ms() - t0 < 5000);
    assert_int_equal(atomic_load(&cancelled), 50);
    eddy_rt_free(rt);
    /* handles outlive the runtime and report the abort */
    for (int i = 0; i < 50; i++)
        assert_err(eddy_join(h[i], NULL), -ECANCELED);
}

static void *ignore_cancellation(void *arg)
{
    atomic_int *entered = arg;
    atomic_fetch_add(entered, 1);
    for (;;) {
        /* a badly behaved task: retries forever on every error */
        if (eddy_sleep_ms(5) == 0)
            continue;
        eddy_yield();
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void *blocked_in_channel(void *arg)
{
    eddy_chan *c = arg;
    int v;
    (void)eddy_chan_recv(c, &v);
    return NULL;
}

static void free_drops_tasks_that_never_end_and_releases_everything(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_int entered;
    atomic_init(&entered, 0);
    eddy_chan *c;
    assert_ok(eddy_chan_new(&c, 1, sizeof(int)));
    for (int i = 0; i < 4; i++)
        assert_ok(eddy_rt_spawn(rt, NULL, ignore_cancellation, &entered));
    static atomic_int sleepers_done;
    for (int i = 0; i < 1000; i++)
        assert_ok(eddy_rt_spawn(rt, NULL, short_sleep, &sleepers_done));
    eddy_task *blocked;
    assert_ok(eddy_rt_spawn(rt, &blocked, blocked_in_channel, c));
    int64_t until = eddy_test_now_ms() + 5000;
    while (atomic_load(&entered) < 4 && eddy_test_now_ms() < until)
        sched_yield();
    int64_t t0 = eddy_test_now_ms();
    eddy_rt_free(rt); /* shutdown(0) then drop what is left */
    assert_true(eddy_test_now_ms() - t0 < 5000);
    assert_err(eddy_join(blocked, NULL), -ECANCELED);
    eddy_chan_free(c);
}

/* Worse still: retries at once, never yielding. The retried call returns
   without suspending once the task is aborted; it must still give its
   worker back now and then, or the worker can never stop. */
static void *retry_sleep_forever(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    for (;;)
        (void)eddy_sleep_ms(10);
    return NULL;
}

static void *retry_join_forever(void *arg)
{
    atomic_int *entered = arg;
    atomic_int child_entered;
    atomic_init(&child_entered, 0);
    eddy_task *h;
    /* a child that never ends either, so the handle stays joinable */
    if (eddy_spawn(&h, retry_sleep_forever, &child_entered) < 0)
        return NULL;
    atomic_fetch_add(entered, 1);
    for (;;)
        (void)eddy_join_timeout(h, NULL, 10);
    return NULL;
}

static void free_drops_tasks_that_retry_a_wait_in_a_tight_loop(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1); /* one worker: it must get free */
    atomic_int entered;
    atomic_init(&entered, 0);
    assert_ok(eddy_rt_spawn(rt, NULL, retry_sleep_forever, &entered));
    assert_ok(eddy_rt_spawn(rt, NULL, retry_join_forever, &entered));
    int64_t until = eddy_test_now_ms() + 5000;
    while (atomic_load(&entered) < 2 && eddy_test_now_ms() < until)
        sched_yield();
    assert_int_equal(atomic_load(&entered), 2);
    assert_err(eddy_rt_shutdown(rt, 50), -ETIMEDOUT);
    int64_t t0 = eddy_test_now_ms();
    eddy_rt_free(rt); /* hung in the worker's join before the fix */
    assert_true(eddy_test_now_ms() - t0 < 5000);
}

/* While eddy_rt_free unwinds the runtime's tasks, the runtime is shutting
   down, not gone: a task's spawn on it is refused with -ESHUTDOWN. */
static atomic_int spawn_during_free_rc = 1;

static void *noop(void *arg)
{
    (void)arg;
    return NULL;
}

static void *spawn_when_aborted(void *arg)
{
    eddy_rt *rt = eddy_rt_current();
    atomic_fetch_add((atomic_int *)arg, 1);
    while (eddy_sleep_ms(60000) == 0)
        ;
    atomic_store(&spawn_during_free_rc, eddy_rt_spawn(rt, NULL, noop, NULL));
    return NULL;
}

static void a_spawn_during_free_gets_eshutdown(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_int entered;
    atomic_init(&entered, 0);
    assert_ok(eddy_rt_spawn(rt, NULL, spawn_when_aborted, &entered));
    int64_t until = eddy_test_now_ms() + 5000;
    while (atomic_load(&entered) < 1 && eddy_test_now_ms() < until)
        sched_yield();
    eddy_rt_free(rt); /* aborts the sleeper, which then spawns */
    assert_int_equal(atomic_load(&spawn_during_free_rc), -ESHUTDOWN);
}

/* eddy_rt_free while another thread is inside eddy_rt_shutdown waits for
   that shutdown to finish before freeing what it uses. */
struct concurrent_shutdown {
    eddy_rt *rt;
    atomic_int rc;
    atomic_llong done_at;
};

static void *shutdown_in_thread(void *arg)
{
    struct concurrent_shutdown *c = arg;
    atomic_store(&c->rc, eddy_rt_shutdown(c->rt, 3000));
    atomic_store(&c->done_at, eddy_test_now_ms());
    return NULL;
}

static void *sleep_200ms(void *arg)
{
    (void)arg;
    (void)eddy_sleep_ms(200);
    return NULL;
}

static void free_waits_for_a_shutdown_under_way(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int64_t t0 = eddy_test_now_ms();
    assert_ok(eddy_rt_spawn(rt, NULL, sleep_200ms, NULL));
    struct concurrent_shutdown c = { .rt = rt, .rc = 1, .done_at = 0 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, shutdown_in_thread, &c), 0);
    usleep(50000); /* the shutdown waits for the sleeper (its grace) */
    eddy_rt_free(rt);
    int64_t freed_at = eddy_test_now_ms();
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(atomic_load(&c.rc), 0); /* the sleeper ended by itself */
    assert_true(atomic_load(&c.done_at) != 0 && atomic_load(&c.done_at) <= freed_at);
    /* free did not cut the shutdown's grace short: the sleeper ran out */
    assert_true(freed_at - t0 >= 190);
}

static void *spawn_children_forever(void *arg)
{
    (void)arg;
    for (;;) {
        if (eddy_spawn(NULL, spawn_children_forever, NULL) < 0)
            return NULL; /* refused once shutdown aborts */
        if (eddy_sleep_ms(1) < 0)
            return NULL;
    }
}

static void shutdown_ends_a_task_tree_that_keeps_spawning(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    assert_ok(eddy_rt_spawn(rt, NULL, spawn_children_forever, NULL));
    struct timespec ts = { 0, 50 * 1000000 };
    nanosleep(&ts, NULL);
    int64_t t0 = eddy_test_now_ms();
    (void)eddy_rt_shutdown(rt, 20);
    assert_true(eddy_test_now_ms() - t0 < 5000);
    eddy_rt_free(rt);
}

static void *idle_check(void *arg)
{
    (void)arg;
    return NULL;
}

static void an_idle_runtime_uses_almost_no_cpu(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    assert_ok(eddy_rt_block_on(rt, idle_check, NULL, NULL));
    struct timespec ts = { 0, 100 * 1000000 };
    nanosleep(&ts, NULL); /* let the workers park */
    eddy_worker_metrics a[2], b[2];
    for (unsigned i = 0; i < 2; i++)
        assert_ok(eddy_rt_worker_metrics(rt, i, &a[i]));
    ts.tv_nsec = 300 * 1000000;
    nanosleep(&ts, NULL);
    for (unsigned i = 0; i < 2; i++) {
        assert_ok(eddy_rt_worker_metrics(rt, i, &b[i]));
        /* parked for the whole time: at most a couple of wake-ups */
        assert_true(b[i].parks - a[i].parks <= 2);
        assert_int_equal(b[i].polls, a[i].polls);
    }
    eddy_rt_free(rt);
}


static atomic_int first_poll_rc;
static atomic_int in_first_poll;

static void *spin_then_recv(void *arg)
{
    eddy_chan *c = arg;
    atomic_store(&in_first_poll, 1);
    uint64_t t0 = eddy_now_ns();
    while (eddy_now_ns() - t0 < 100000000u) /* 100 ms without suspending */
        ;
    int v;
    atomic_store(&first_poll_rc, eddy_chan_recv(c, &v));
    return NULL;
}

static void shutdown_aborts_a_task_that_first_suspends_after_it_began(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    eddy_chan *c;
    assert_ok(eddy_chan_new(&c, 1, sizeof(int)));
    atomic_store(&first_poll_rc, 1);
    atomic_store(&in_first_poll, 0);
    assert_ok(eddy_rt_spawn(rt, NULL, spin_then_recv, c));
    int64_t until = eddy_test_now_ms() + 5000;
    while (!atomic_load(&in_first_poll) && eddy_test_now_ms() < until)
        sched_yield();
    /* the task is in its first run, on no list a shutdown scans yet */
    int64_t t0 = eddy_test_now_ms();
    assert_err(eddy_rt_shutdown(rt, 0), -ETIMEDOUT);
    /* cancelled as it suspended: no wait for the unwind limit (500 ms) */
    assert_true(eddy_test_now_ms() - t0 < 450);
    assert_int_equal(atomic_load(&first_poll_rc), -ECANCELED);
    eddy_rt_free(rt);
    eddy_chan_free(c); /* its waiter list is clean: the task unwound */
}

static void *blocking_recv(void *arg)
{
    int v;
    return (void *)(intptr_t)eddy_chan_recv(arg, &v);
}

static void free_stops_a_blocking_task_waiting_in_an_eddy_call(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    eddy_chan *c;
    assert_ok(eddy_chan_new(&c, 1, sizeof(int)));
    eddy_task *h;
    assert_ok(eddy_rt_spawn_blocking(rt, &h, blocking_recv, c));
    struct timespec ts = { 0, 30 * 1000000 };
    nanosleep(&ts, NULL); /* it blocks its pool thread in recv */
    int64_t t0 = eddy_test_now_ms();
    eddy_rt_free(rt);
    assert_true(eddy_test_now_ms() - t0 < 5000);
    void *r = NULL;
    assert_err(eddy_join(h, &r), -ECANCELED);
    assert_int_equal((intptr_t)r, -ECANCELED);
    eddy_chan_free(c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(shutdown_waits_for_tasks_that_end_within_grace),
    cmocka_unit_test(a_huge_grace_waits_for_the_tasks),
    cmocka_unit_test(shutdown_aborts_tasks_still_running_after_grace),
    cmocka_unit_test(free_drops_tasks_that_never_end_and_releases_everything),
    cmocka_unit_test(shutdown_ends_a_task_tree_that_keeps_spawning),
    cmocka_unit_test(an_idle_runtime_uses_almost_no_cpu),
    cmocka_unit_test(shutdown_aborts_a_task_that_first_suspends_after_it_began),
    cmocka_unit_test(free_stops_a_blocking_task_waiting_in_an_eddy_call),
    cmocka_unit_test(free_drops_tasks_that_retry_a_wait_in_a_tight_loop),
    cmocka_unit_test(a_spawn_during_free_gets_eshutdown),
    cmocka_unit_test(free_waits_for_a_shutdown_under_way),
};

EDDY_TEST_MAIN(tests, 120)
