/*
 * tests/rt/test_cancel.c: abort (cooperative cancellation) and deadline
 * scopes: a task suspended in sleep, a channel, or a join returns promptly
 * with -ECANCELED; deadlines turn suspensions into -ETIMEDOUT and nest.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "helpers.h"
#include "rt/rt_int.h"

static struct eddy__sched *rt_sched(eddy_rt *rt)
{
    return rt->sched;
}

static atomic_int started;

static void *sleep_long(void *arg)
{
    (void)arg;
    atomic_fetch_add(&started, 1);
    int rc = eddy_sleep_ms(60000);
    int rc2 = eddy_sleep_ms(10); /* later suspensions fail too */
    return (void *)(intptr_t)(rc == rc2 ? rc : 1);
}

static void wait_started(int n)
{
    int64_t until = eddy_test_now_ms() + 10000;
    while (atomic_load(&started) < n && eddy_test_now_ms() < until)
        sched_yield();
    assert_true(atomic_load(&started) >= n);
}

static void abort_of_a_sleeping_task_returns_ecanceled_promptly(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_store(&started, 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, sleep_long, NULL));
    wait_started(1);
    int64_t t0 = eddy_test_now_ms();
    assert_ok(eddy_abort(h));
    void *r = NULL;
    assert_err(eddy_join(h, &r), -ECANCELED);
    assert_true(eddy_test_now_ms() - t0 < 2000);
    assert_int_equal((intptr_t)r, -ECANCELED); /* the body saw -ECANCELED twice */
    eddy_rt_free(rt);
}

static void *recv_forever(void *arg)
{
    eddy_chan *c = arg;
    atomic_fetch_add(&started, 1);
    int v;
    return (void *)(intptr_t)eddy_chan_recv(c, &v);
}

static void abort_of_a_channel_blocked_task_returns_ecanceled(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_store(&started, 0);
    eddy_chan *c;
    assert_ok(eddy_chan_new(&c, 1, sizeof(int)));
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, recv_forever, c));
    wait_started(1);
    assert_ok(eddy_abort(h));
    void *r = NULL;
    assert_err(eddy_join_timeout(h, &r, 5000), -ECANCELED);
    assert_int_equal((intptr_t)r, -ECANCELED);
    /* the channel is intact: its waiter list was cleaned up */
    int v = 5;
    assert_ok(eddy_chan_try_send(c, &v));
    v = 0;
    assert_ok(eddy_chan_try_recv(c, &v));
    assert_int_equal(v, 5);
    eddy_chan_free(c);
    eddy_rt_free(rt);
}

static void *join_other(void *arg)
{
    eddy_task *other = arg;
    atomic_fetch_add(&started, 1);
    return (void *)(intptr_t)eddy_join(other, NULL);
}

static void abort_of_a_join_blocked_task_leaves_the_joined_handle_valid(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_store(&started, 0);
    eddy_task *sleeper, *joiner;
    assert_ok(eddy_rt_spawn(rt, &sleeper, sleep_long, NULL));
    assert_ok(eddy_rt_spawn(rt, &joiner, join_other, sleeper));
    wait_started(2);
    assert_ok(eddy_abort(joiner));
    void *r = NULL;
    assert_err(eddy_join_timeout(joiner, &r, 5000), -ECANCELED);
    assert_int_equal((intptr_t)r, -ECANCELED);
    /* the joiner's own cancellation left the sleeper's handle usable */
    assert_ok(eddy_abort(sleeper));
    assert_err(eddy_join_timeout(sleeper, NULL, 5000), -ECANCELED);
    eddy_rt_free(rt);
}

static void *never_runs(void *arg)
{
    atomic_int *ran = arg;
    atomic_store(ran, 1);
    return NULL;
}

static void *spawn_then_abort_before_it_runs(void *arg)
{
    atomic_int *ran = arg;
    eddy_task *h;
    /* the child lands in this worker's queue and cannot run before this
       task suspends: abort it first */
    assert_ok(eddy_spawn(&h, never_runs, ran));
    assert_ok(eddy_abort(h));
    assert_ok(eddy_abort(h)); /* idempotent */
    return (void *)(intptr_t)eddy_join(h, NULL);
}

static void a_task_aborted_before_it_starts_never_runs(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    atomic_int ran;
    atomic_init(&ran, 0);
    void *r = NULL;
    assert_ok(eddy_rt_block_on(rt, spawn_then_abort_before_it_runs, &ran, &r));
    assert_int_equal((intptr_t)r, -ECANCELED);
    assert_int_equal(atomic_load(&ran), 0);
    eddy_rt_free(rt);
}

static void *deadline_cuts_sleep(void *arg)
{
    (void)arg;
    assert_ok(eddy_deadline_push(30));
    uint64_t t0 = eddy_now_ns();
    int rc = eddy_sleep_ms(10000);
    uint64_t ms = (eddy_now_ns() - t0) / 1000000u;
    eddy_deadline_pop();
    assert_int_equal(rc, -ETIMEDOUT);
    assert_true(ms >= 30 && ms < 3000);
    /* outside the scope sleeping works again */
    assert_ok(eddy_sleep_ms(1));
    return NULL;
}

static void deadline_scope_turns_a_long_sleep_into_etimedout(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    assert_ok(eddy_rt_block_on(rt, deadline_cuts_sleep, NULL, NULL));
    eddy_rt_free(rt);
}

static void *nested_deadlines(void *arg)
{
    (void)arg;
    assert_ok(eddy_deadline_push(40));
    assert_ok(eddy_deadline_push(100000)); /* cannot extend the outer one */
    assert_ok(eddy_deadline_push(5));
    assert_err(eddy_sleep_ms(1000), -ETIMEDOUT); /* innermost: 5 ms */
    eddy_deadline_pop();
    uint64_t t0 = eddy_now_ns();
    assert_err(eddy_sleep_ms(1000), -ETIMEDOUT); /* the outer 40 ms still holds */
    assert_true((eddy_now_ns() - t0) / 1000000u < 1000);
    eddy_deadline_pop();
    eddy_deadline_pop();
    eddy_deadline_pop(); /* one too many: ignored */
    assert_ok(eddy_sleep_ms(1));
    /* a short sleep inside a long deadline is plain success */
    assert_ok(eddy_deadline_push(5000));
    assert_ok(eddy_sleep_ms(5));
    eddy_deadline_pop();
    return NULL;
}

static void nested_deadlines_never_extend_outer_ones(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    assert_ok(eddy_rt_block_on(rt, nested_deadlines, NULL, NULL));
    eddy_rt_free(rt);
}

static void *deadline_on_join(void *arg)
{
    eddy_task *h;
    assert_ok(eddy_spawn(&h, sleep_long, arg));
    assert_ok(eddy_deadline_push(20));
    int rc = eddy_join(h, NULL);
    eddy_deadline_pop();
    assert_int_equal(rc, -ETIMEDOUT);
    assert_ok(eddy_abort(h));
    assert_err(eddy_join(h, NULL), -ECANCELED);
    return NULL;
}

static void deadline_applies_to_join(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    assert_ok(eddy_rt_block_on(rt, deadline_on_join, NULL, NULL));
    eddy_rt_free(rt);
}


/* eddy_rt_block_on from a task of another runtime, cut short by the
   caller's own deadline: the task it spawned must not be left with a
   handle nobody will join. It is aborted, and released once it ends. */
struct block_on_cut {
    eddy_rt *other;
    struct eddy__task *_Atomic inner; /* the task block_on spawned */
    uint16_t inner_gen;               /* its generation while it runs */
    atomic_int inner_rc;
};

static void *inner_sleeps(void *arg)
{
    struct block_on_cut *b = arg;
    struct eddy__task *self = eddy__task_current();
    b->inner_gen = atomic_load(&self->gen);
    atomic_store(&b->inner, self); /* publishes inner_gen */
    atomic_store(&b->inner_rc, eddy_sleep_ms(10000));
    return NULL;
}

static void *block_on_within_a_deadline(void *arg)
{
    struct block_on_cut *b = arg;
    EDDY_TASK_CHECK(eddy_deadline_push(100) == 0);
    int rc = eddy_rt_block_on(b->other, inner_sleeps, b, NULL);
    eddy_deadline_pop();
    return (void *)(intptr_t)rc;
}

static void block_on_cut_short_aborts_and_releases_its_task(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1), *other = eddy_test_new_rt(1);
    struct block_on_cut b = { .other = other, .inner = NULL, .inner_rc = 1 };
    void *r = NULL;
    assert_ok(eddy_rt_block_on(rt, block_on_within_a_deadline, &b, &r));
    assert_int_equal((intptr_t)r, -ETIMEDOUT);
    struct eddy__task *inner = atomic_load(&b.inner);
    assert_non_null(inner);
    /* aborted: its sleep ends; released: its block's generation moves on */
    int64_t until = eddy_test_now_ms() + 5000;
    while ((atomic_load(&b.inner_rc) == 1 || atomic_load(&inner->gen) == b.inner_gen) &&
           eddy_test_now_ms() < until)
        usleep(1000);
    assert_int_equal(atomic_load(&b.inner_rc), -ECANCELED);
    assert_int_not_equal(atomic_load(&inner->gen), b.inner_gen);
    eddy_rt_free(rt);
    eddy_rt_free(other);
}

static void *timed_recv(void *arg)
{
    int v;
    /* arms this task's timer: a 60 s bound that never fires */
    return (void *)(intptr_t)eddy_chan_recv_timeout(arg, &v, 60000);
}

static void cancelled_and_completed_waits_leave_no_timer_behind(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    struct eddy__sched *s = rt_sched(rt);
    eddy_chan *c;
    assert_ok(eddy_chan_new(&c, 1, sizeof(int)));
    enum { N = 200 };
    eddy_task *h[N];
    for (int i = 0; i < N; i++)
        assert_ok(eddy_rt_spawn(rt, &h[i], timed_recv, c));
    int64_t until = eddy_test_now_ms() + 5000;
    while (eddy__sched_timers_armed(s) < N && eddy_test_now_ms() < until)
        sched_yield();
    assert_int_equal(eddy__sched_timers_armed(s), N);
    /* half end by abort, half by a message: both disarm their timer */
    int cancelled = 0, received = 0;
    for (int i = 0; i < N / 2; i++)
        assert_ok(eddy_abort(h[i]));
    for (int i = 0; i < N / 2; i++)
        if (eddy_join(h[i], NULL) == -ECANCELED)
            cancelled++;
    for (int i = 0; i < N / 2; i++) {
        int v = i;
        assert_ok(eddy_chan_send(c, &v));
    }
    for (int i = N / 2; i < N; i++) {
        void *r;
        if (eddy_join(h[i], &r) == 0 && (intptr_t)r == 0)
            received++;
    }
    assert_int_equal(cancelled + received, N);
    assert_int_equal(eddy__sched_timers_armed(s), 0);
    eddy_chan_free(c);
    eddy_rt_free(rt);
}

/* One worker: a spawned task sits in the LIFO slot, so it runs (to its end,
   never suspending) exactly when its spawner yields. */
static void *return_seven(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)7;
}

static void *abort_after_and_before_the_end(void *arg)
{
    (void)arg;
    eddy_task *h;
    void *res = (void *)1;
    /* ended before the abort: the abort changes nothing */
    if (eddy_spawn(&h, return_seven, NULL) != 0)
        return (void *)(intptr_t)__LINE__;
    eddy_yield();
    if (eddy_abort(h) != 0 || eddy_join(h, &res) != 0 || res != (void *)(intptr_t)7)
        return (void *)(intptr_t)__LINE__;
    /* aborted before it ever ran: -ECANCELED, and NULL for the result */
    res = (void *)1;
    if (eddy_spawn(&h, return_seven, NULL) != 0)
        return (void *)(intptr_t)__LINE__;
    if (eddy_abort(h) != 0 || eddy_join(h, &res) != -ECANCELED || res != NULL)
        return (void *)(intptr_t)__LINE__;
    return NULL;
}

static void join_after_abort_depends_on_whether_the_task_had_ended(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, abort_after_and_before_the_end, NULL, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
    eddy_rt_free(rt);
}

/* A sleep that ends with (or after) its enclosing deadline reports the
   deadline; one that ends before it reports success. */
static void *sleep_against_a_deadline(void *arg)
{
    (void)arg;
    if (eddy_deadline_push(20) != 0)
        return (void *)(intptr_t)__LINE__;
    int same_tick = eddy_sleep_ms(20); /* the scope's deadline came first */
    eddy_deadline_pop();
    if (same_tick != -ETIMEDOUT)
        return (void *)(intptr_t)__LINE__;
    if (eddy_deadline_push(5000) != 0)
        return (void *)(intptr_t)__LINE__;
    int before = eddy_sleep_ms(5);
    eddy_deadline_pop();
    if (before != 0)
        return (void *)(intptr_t)__LINE__;
    return NULL;
}

static void a_sleep_ending_with_its_deadline_returns_etimedout(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, sleep_against_a_deadline, NULL, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
    eddy_rt_free(rt);
}

/* The early-return pattern the two forms replace: a function that returns
   from inside its deadline block. After it, the task's later suspensions
   must not see that deadline. */
static int scoped_early_return(int *seen)
{
    EDDY_DEADLINE_SCOPE(rc, 10);
    if (rc < 0)
        return rc;
    *seen = eddy_sleep_ms(50); /* cut by the scope */
    if (*seen == -ETIMEDOUT)
        return 1; /* early return: the scope must close here */
    return 0;
}

static void *sleep_under_deadline(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)eddy_sleep_ms(50);
}

static void *deadline_blocks_close_on_every_path(void *arg)
{
    (void)arg;
    int seen = 0;
    if (scoped_early_return(&seen) != 1 || seen != -ETIMEDOUT)
        return (void *)(intptr_t)__LINE__;
    if (eddy_sleep_ms(30) != 0) /* no deadline left open */
        return (void *)(intptr_t)__LINE__;
    void *r = NULL;
    if (eddy_with_deadline(10, sleep_under_deadline, NULL, &r) != 0 ||
        (intptr_t)r != -ETIMEDOUT)
        return (void *)(intptr_t)__LINE__;
    if (eddy_sleep_ms(30) != 0)
        return (void *)(intptr_t)__LINE__;
    if (eddy_with_deadline(10, NULL, NULL, &r) != -EINVAL)
        return (void *)(intptr_t)__LINE__;
    return NULL;
}

static void deadline_blocks_close_on_early_returns(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, deadline_blocks_close_on_every_path, NULL, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
    /* outside a task there is no scope to open */
    int rc = eddy_with_deadline(10, sleep_under_deadline, NULL, NULL);
    assert_int_equal(rc, -EPERM);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(abort_of_a_sleeping_task_returns_ecanceled_promptly),
    cmocka_unit_test(abort_of_a_channel_blocked_task_returns_ecanceled),
    cmocka_unit_test(abort_of_a_join_blocked_task_leaves_the_joined_handle_valid),
    cmocka_unit_test(a_task_aborted_before_it_starts_never_runs),
    cmocka_unit_test(deadline_scope_turns_a_long_sleep_into_etimedout),
    cmocka_unit_test(nested_deadlines_never_extend_outer_ones),
    cmocka_unit_test(deadline_applies_to_join),
    cmocka_unit_test(block_on_cut_short_aborts_and_releases_its_task),
    cmocka_unit_test(cancelled_and_completed_waits_leave_no_timer_behind),
    cmocka_unit_test(join_after_abort_depends_on_whether_the_task_had_ended),
    cmocka_unit_test(a_sleep_ending_with_its_deadline_returns_etimedout),
    cmocka_unit_test(deadline_blocks_close_on_early_returns),
};

EDDY_TEST_MAIN(tests, 120)
