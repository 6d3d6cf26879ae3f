/*
 * tests/rt/test_scope.c: scopes (eddy/scope.h). Children cannot outlive
 * their scope: close waits for every one; the first failure, a cancel, the
 * closer's abort or deadline cancel the rest; the scope's deadline turns
 * the children's waits into -ETIMEDOUT; next hands children back as they
 * end. The stress case runs 10,000 children with failures, deadlines and
 * aborts at random points and checks every child ends exactly once.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <eddy/scope.h>

#include "helpers.h"
#include "rt/rt_int.h"

#define CHECK EDDY_TASK_CHECK

static void run_in_task(unsigned workers, eddy_fn body, void *arg)
{
    eddy_rt *rt = eddy_test_new_rt(workers);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, body, arg, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
    /* nothing left running or waiting: every child ended with its scope */
    assert_int_equal(eddy__sched_tasks_suspended(rt->sched), 0);
    assert_int_equal(eddy_rt_shutdown(rt, 0), 0);
    eddy_rt_free(rt);
}

static void *return_arg(void *arg)
{
    return arg;
}

static void *sleep_then_return(void *arg)
{
    eddy_sleep_ms((intptr_t)arg % 7);
    return arg;
}

/* ----------------------------------------------------------- the basics */

static void *next_returns_each_child_once(void *arg)
{
    (void)arg;
    eddy_scope *s;
    CHECK(eddy_scope_new(&s) == 0);
    CHECK(eddy_scope_next(s, NULL, 0) == -ENOENT); /* no child yet */
    enum { N = 50 };
    for (intptr_t i = 1; i <= N; i++)
        CHECK(eddy_scope_spawn(s, NULL, (i % 2) ? return_arg : sleep_then_return, (void *)i) == 0);
    int seen[N + 1] = { 0 };
    void *r;
    int rc, got = 0;
    while ((rc = eddy_scope_next(s, &r, -1)) != -ENOENT) {
        CHECK(rc == 0);
        intptr_t i = (intptr_t)r;
        CHECK(i >= 1 && i <= N);
        seen[i]++;
        got++;
    }
    CHECK(got == N);
    for (int i = 1; i <= N; i++)
        CHECK(seen[i] == 1);
    CHECK(eddy_scope_close(s) == 0);
    return NULL;
}

static void scope_next_hands_back_every_child_once(void **state)
{
    (void)state;
    run_in_task(2, next_returns_each_child_once, NULL);
}

static atomic_int ended_count;

static void *sleep_and_count(void *arg)
{
    eddy_sleep_ms((intptr_t)arg);
    atomic_fetch_add(&ended_count, 1);
    return NULL;
}

static void *close_waits(void *arg)
{
    (void)arg;
    atomic_store(&ended_count, 0);
    eddy_scope *s;
    CHECK(eddy_scope_new(&s) == 0);
    for (intptr_t i = 0; i < 20; i++)
        CHECK(eddy_scope_spawn(s, NULL, sleep_and_count, (void *)(i * 3)) == 0);
    /* a child with a handle of its own: close waits for it too */
    eddy_task *h;
    CHECK(eddy_scope_spawn(s, &h, sleep_and_count, (void *)40) == 0);
    CHECK(eddy_scope_close(s) == 0);
    CHECK(atomic_load(&ended_count) == 21);
    void *r = (void *)1;
    CHECK(eddy_join(h, &r) == 0); /* still the caller's to join */
    CHECK(r == NULL);
    return NULL;
}

static void scope_close_waits_for_every_child(void **state)
{
    (void)state;
    run_in_task(2, close_waits, NULL);
}

static void *user_handles_are_not_handed_back(void *arg)
{
    (void)arg;
    eddy_scope *s;
    CHECK(eddy_scope_new(&s) == 0);
    eddy_task *h;
    CHECK(eddy_scope_spawn(s, &h, sleep_then_return, (void *)5) == 0);
    CHECK(eddy_scope_next(s, NULL, -1) == -ENOENT);
    void *r = NULL;
    CHECK(eddy_join(h, &r) == 0);
    CHECK((intptr_t)r == 5);
    CHECK(eddy_scope_close(s) == 0);
    return NULL;
}

static void scope_children_joined_by_handle_are_the_callers(void **state)
{
    (void)state;
    run_in_task(2, user_handles_are_not_handed_back, NULL);
}

/* ---------------------------------------------------- failure and cancel */

static void *wait_forever(void *arg)
{
    (void)arg;
    int rc = eddy_sleep_ms(600000);
    return (void *)(intptr_t)rc;
}

static void *fail_scope(void *arg)
{
    eddy_scope *s = arg;
    eddy_sleep_ms(5);
    eddy_scope_fail(s, -EIO);
    eddy_scope_fail(s, -ENOSPC); /* the first one wins */
    return (void *)1;
}

static void *first_failure_cancels(void *arg)
{
    (void)arg;
    eddy_scope *s;
    CHECK(eddy_scope_new(&s) == 0);
    eddy_task *h[10];
    for (int i = 0; i < 10; i++)
        CHECK(eddy_scope_spawn(s, &h[i], wait_forever, NULL) == 0);
    CHECK(eddy_scope_spawn(s, NULL, fail_scope, s) == 0);
    int64_t t0 = eddy_test_now_ms();
    CHECK(eddy_scope_close(s) == -EIO);
    CHECK(eddy_test_now_ms() - t0 < 5000);
    for (int i = 0; i < 10; i++) {
        void *r = NULL;
        CHECK(eddy_join(h[i], &r) == -ECANCELED); /* aborted */
        CHECK((intptr_t)r == -ECANCELED);         /* its sleep saw it */
    }
    return NULL;
}

static void scope_fail_cancels_the_rest_and_close_returns_its_error(void **state)
{
    (void)state;
    run_in_task(2, first_failure_cancels, NULL);
}

static void *cancel_then_spawn(void *arg)
{
    (void)arg;
    eddy_scope *s;
    CHECK(eddy_scope_new(&s) == 0);
    CHECK(eddy_scope_spawn(s, NULL, wait_forever, NULL) == 0);
    eddy_scope_cancel(s);
    CHECK(eddy_scope_spawn(s, NULL, return_arg, NULL) == -ECANCELED);
    void *r = NULL;
    CHECK(eddy_scope_next(s, &r, -1) == -ECANCELED); /* its join code */
    CHECK(eddy_scope_next(s, &r, -1) == -ENOENT);
    CHECK(eddy_scope_close(s) == -ECANCELED);
    return NULL;
}

static void scope_cancel_aborts_children_and_refuses_new_ones(void **state)
{
    (void)state;
    run_in_task(2, cancel_then_spawn, NULL);
}

/* ----------------------------------------------------------- deadlines */

static void *scope_deadline_is_no_abort(void *arg)
{
    (void)arg;
    eddy_scope *s;
    CHECK(eddy_scope_new(&s) == 0);
    CHECK(eddy_scope_spawn(s, NULL, wait_forever, NULL) == 0);
    eddy_sleep_ms(5); /* it waits with no deadline: the new one must reach it */
    int64_t t0 = eddy_test_now_ms();
    CHECK(eddy_scope_deadline(s, 30) == 0);
    CHECK(eddy_scope_deadline(s, 100000) == 0); /* never later */
    CHECK(eddy_scope_spawn(s, NULL, wait_forever, NULL) == 0); /* inherits it */
    for (int i = 0; i < 2; i++) {
        void *r = NULL;
        CHECK(eddy_scope_next(s, &r, -1) == 0);      /* not an abort */
        CHECK((intptr_t)r == -ETIMEDOUT);            /* its sleep timed out */
    }
    int64_t took = eddy_test_now_ms() - t0;
    CHECK(took >= 25 && took < 5000);
    CHECK(eddy_sleep_ms(1) == 0); /* the closer has no deadline of its own */
    CHECK(eddy_scope_close(s) == -ETIMEDOUT);
    return NULL;
}

static void scope_deadline_times_out_children_without_aborting_them(void **state)
{
    (void)state;
    run_in_task(2, scope_deadline_is_no_abort, NULL);
}

static void *deadline_reaches_nested_scopes(void *arg)
{
    (void)arg;
    EDDY_DEADLINE_SCOPE(drc, 30);
    CHECK(drc == 0);
    eddy_scope *s;
    CHECK(eddy_scope_new(&s) == 0); /* starts with the caller's deadline */
    eddy_task *h;
    CHECK(eddy_scope_spawn(s, &h, wait_forever, NULL) == 0);
    CHECK(eddy_scope_close(s) == -ETIMEDOUT);
    void *r = NULL;
    int jrc = eddy_join(h, &r);
    CHECK(jrc == 0 || jrc == -ECANCELED); /* the closer's deadline aborts too */
    CHECK((intptr_t)r == -ETIMEDOUT || (intptr_t)r == -ECANCELED);
    return NULL;
}

static void scope_inherits_the_callers_deadline(void **state)
{
    (void)state;
    run_in_task(2, deadline_reaches_nested_scopes, NULL);
}

/* ------------------------------------------- the closer's abort, nesting */

static atomic_int grandchildren_ended;

static void *grandchild(void *arg)
{
    (void)arg;
    eddy_sleep_ms(600000);
    atomic_fetch_add(&grandchildren_ended, 1);
    return NULL;
}

/* A child that opens a scope of its own and closes it. */
static void *middle(void *arg)
{
    (void)arg;
    eddy_scope *inner;
    if (eddy_scope_new(&inner) < 0)
        return (void *)1;
    for (int i = 0; i < 5; i++)
        eddy_scope_spawn(inner, NULL, grandchild, NULL);
    int rc = eddy_scope_close(inner);
    return (void *)(intptr_t)rc;
}

static atomic_int closer_started;

static void *closer(void *arg)
{
    (void)arg;
    eddy_scope *s;
    if (eddy_scope_new(&s) < 0)
        return (void *)1;
    eddy_task *h[3];
    for (int i = 0; i < 3; i++)
        eddy_scope_spawn(s, &h[i], middle, NULL);
    atomic_store(&closer_started, 1);
    int rc = eddy_scope_close(s);
    for (int i = 0; i < 3; i++) {
        void *r = NULL;
        int jrc = eddy_join(h[i], &r); /* ended: returns despite our abort */
        if (jrc != -ECANCELED || (intptr_t)r != -ECANCELED)
            return (void *)2; /* the inner close saw its caller aborted */
    }
    return (void *)(intptr_t)rc;
}

static void abort_of_the_closer_cancels_nested_scopes(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    atomic_store(&grandchildren_ended, 0);
    atomic_store(&closer_started, 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, closer, NULL));
    int64_t until = eddy_test_now_ms() + 10000;
    while (atomic_load(&closer_started) == 0 && eddy_test_now_ms() < until)
        sched_yield();
    /* let the grandchildren get to their sleeps */
    until = eddy_test_now_ms() + 10000;
    while (eddy__sched_tasks_suspended(rt->sched) < 1 + 3 + 15 && eddy_test_now_ms() < until)
        sched_yield();
    assert_ok(eddy_abort(h));
    void *r = NULL;
    assert_err(eddy_join(h, &r), -ECANCELED);
    assert_int_equal((intptr_t)r, -ECANCELED);
    assert_int_equal(atomic_load(&grandchildren_ended), 15);
    assert_int_equal(eddy__sched_tasks_suspended(rt->sched), 0);
    eddy_rt_free(rt);
}

/* A child that does not take -ECANCELED for an answer for a while. */
static atomic_int stubborn_done;

static void *stubborn(void *arg)
{
    (void)arg;
    while (eddy_sleep_ms(600000) == 0)
        ;
    int64_t until = eddy_test_now_ms() + 60;
    while (eddy_test_now_ms() < until)
        eddy_yield();
    atomic_store(&stubborn_done, 1);
    return NULL;
}

static void *close_waits_for_stubborn(void *arg)
{
    (void)arg;
    atomic_store(&stubborn_done, 0);
    eddy_scope *s;
    CHECK(eddy_scope_new(&s) == 0);
    CHECK(eddy_scope_spawn(s, NULL, stubborn, NULL) == 0);
    eddy_sleep_ms(5);
    eddy_scope_cancel(s);
    CHECK(eddy_scope_close(s) == -ECANCELED);
    CHECK(atomic_load(&stubborn_done) == 1);
    return NULL;
}

static void a_child_ignoring_cancellation_is_waited_for(void **state)
{
    (void)state;
    run_in_task(2, close_waits_for_stubborn, NULL);
}

/* ---------------------------------------------------- plain threads */

struct from_thread {
    eddy_scope *s;
    int spawned;
};

static void *spawner_thread(void *arg)
{
    struct from_thread *ft = arg;
    for (intptr_t i = 1; i <= 100; i++)
        if (eddy_scope_spawn(ft->s, NULL, return_arg, (void *)i) == 0)
            ft->spawned++;
    return NULL;
}

static void *spawned_from_a_plain_thread(void *arg)
{
    (void)arg;
    struct from_thread ft = { 0 };
    CHECK(eddy_scope_new(&ft.s) == 0);
    /* a child that outlives the thread's spawns keeps next waiting */
    CHECK(eddy_scope_spawn(ft.s, NULL, sleep_then_return, (void *)1000) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, spawner_thread, &ft) == 0);
    int64_t sum = 0, got = 0;
    void *r;
    while (got < 101 && eddy_scope_next(ft.s, &r, 10000) == 0) {
        sum += (intptr_t)r;
        got++;
    }
    pthread_join(th, NULL);
    CHECK(ft.spawned == 100);
    CHECK(got == 101);
    CHECK(sum == 5050 + 1000);
    CHECK(eddy_scope_close(ft.s) == 0);
    return NULL;
}

static void children_spawned_from_a_plain_thread(void **state)
{
    (void)state;
    run_in_task(2, spawned_from_a_plain_thread, NULL);
}

static void *make_scope(void *arg)
{
    eddy_scope **out = arg;
    return (void *)(intptr_t)eddy_scope_new(out);
}

static void a_plain_thread_closes_a_scope(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    eddy_scope *s = NULL;
    void *r;
    assert_ok(eddy_rt_block_on(rt, make_scope, &s, &r));
    assert_int_equal((intptr_t)r, 0);
    atomic_store(&ended_count, 0);
    for (intptr_t i = 0; i < 10; i++)
        assert_ok(eddy_scope_spawn(s, NULL, sleep_and_count, (void *)i));
    assert_int_equal(eddy_scope_close(s), 0); /* this thread blocks */
    assert_int_equal(atomic_load(&ended_count), 10);
    eddy_rt_free(rt);
}

static void bad_use_is_answered(void **state)
{
    (void)state;
    eddy_scope *s = NULL;
    assert_err(eddy_scope_new(NULL), -EINVAL);
    assert_err(eddy_scope_new(&s), -EPERM); /* no runtime here */
    assert_err(eddy_scope_spawn(NULL, NULL, return_arg, NULL), -EINVAL);
    assert_err(eddy_scope_deadline(NULL, 1), -EINVAL);
    assert_err(eddy_scope_next(NULL, NULL, 0), -EINVAL);
    assert_err(eddy_scope_fail(NULL, -EIO), -EINVAL);
    assert_err(eddy_scope_close(NULL), -EINVAL);
    eddy_scope_cancel(NULL);
    eddy_rt *rt = eddy_test_new_rt(1);
    void *r;
    assert_ok(eddy_rt_block_on(rt, make_scope, &s, &r));
    assert_err(eddy_scope_spawn(s, NULL, NULL, NULL), -EINVAL);
    assert_err(eddy_scope_fail(s, 0), -EINVAL);
    assert_err(eddy_scope_fail(s, 5), -EINVAL);
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    o.worker = 5; /* the runtime has one */
    assert_err(eddy_scope_spawn_ex(s, NULL, return_arg, NULL, &o), -EINVAL);
    eddy_spawn_opts_init(&o);
    o.stack_size = 100; /* below 16 KiB */
    assert_err(eddy_scope_spawn_ex(s, NULL, return_arg, NULL, &o), -EINVAL);
    eddy_spawn_opts_init(&o);
    o.name = "named child";
    o.worker = 0;
    eddy_task *h;
    assert_ok(eddy_scope_spawn_ex(s, &h, return_arg, (void *)9, &o));
    void *r9 = NULL;
    assert_ok(eddy_join(h, &r9));
    assert_int_equal((intptr_t)r9, 9);
    assert_int_equal(eddy_scope_close(s), 0); /* nothing failed */
    eddy_rt_free(rt);
}

/* ------------------------------------------------------------ stress */

/* 10,000 children in 40 scopes of 250. Each scope draws one cause of
   cancellation (none, a failing child, its deadline, a cancel from a
   sibling, an abort of its closer) and each child a behaviour; the scope's
   close must return that cause's code, and every child must end once. */
enum { STRESS_SCOPES = 40, STRESS_CHILDREN = 250 };
enum { CAUSE_NONE, CAUSE_FAIL, CAUSE_DEADLINE, CAUSE_CANCEL, CAUSE_ABORT, CAUSES };

struct stress_child {
    eddy_scope *s;
    int behaviour;
    unsigned seed;
    atomic_int started, ended, handed_back;
};

struct stress_scope {
    int cause;
    unsigned seed;
    int close_rc;
    atomic_int ran, closing;
    struct stress_child child[STRESS_CHILDREN];
};

static void *stress_child_main(void *arg)
{
    struct stress_child *c = arg;
    atomic_fetch_add(&c->started, 1);
    switch (c->behaviour) {
    case 0: /* quick */
        break;
    case 1: /* a short sleep */
        eddy_sleep_ms(rand_r(&c->seed) % 4);
        break;
    case 2: /* waits until cancelled or timed out */
        eddy_sleep_ms(600000);
        break;
    case 3: /* the failure */
        eddy_sleep_ms(rand_r(&c->seed) % 3);
        eddy_scope_fail(c->s, -EIO);
        break;
    case 4: /* the cancel */
        eddy_sleep_ms(rand_r(&c->seed) % 3);
        eddy_scope_cancel(c->s);
        break;
    case 5: /* ignores cancellation for a moment */
        if (eddy_sleep_ms(600000) < 0) {
            int64_t until = eddy_test_now_ms() + 2;
            while (eddy_test_now_ms() < until)
                eddy_yield();
        }
        break;
    }
    atomic_fetch_add(&c->ended, 1);
    return c;
}

static void *stress_scope_main(void *arg)
{
    struct stress_scope *ss = arg;
    atomic_store(&ss->ran, 1);
    eddy_scope *s;
    if (eddy_scope_new(&s) < 0)
        return (void *)1;
    if (ss->cause == CAUSE_DEADLINE)
        eddy_scope_deadline(s, 1 + rand_r(&ss->seed) % 10);
    for (int i = 0; i < STRESS_CHILDREN; i++) {
        struct stress_child *c = &ss->child[i];
        c->s = s;
        c->seed = rand_r(&ss->seed);
        int b = rand_r(&ss->seed) % 3; /* quick, sleep, or (with a cause) wait */
        if (b == 2 && ss->cause == CAUSE_NONE)
            b = 1;
        if (ss->cause != CAUSE_NONE && rand_r(&ss->seed) % 10 == 0)
            b = 5;
        if (i == STRESS_CHILDREN / 2 && ss->cause == CAUSE_FAIL)
            b = 3;
        if (i == STRESS_CHILDREN / 2 && ss->cause == CAUSE_CANCEL)
            b = 4;
        if (i == STRESS_CHILDREN - 1 && ss->cause != CAUSE_NONE)
            b = 2; /* someone is still there when the cause comes */
        c->behaviour = b;
        int rc = eddy_scope_spawn(s, NULL, stress_child_main, c);
        if (rc == -ECANCELED && (ss->cause == CAUSE_FAIL || ss->cause == CAUSE_CANCEL))
            break; /* cancelled already: it takes no more */
        if (rc < 0)
            return (void *)2;
        if (rand_r(&ss->seed) % 50 == 0)
            eddy_yield();
    }
    /* take some children back before closing */
    int take = rand_r(&ss->seed) % (STRESS_CHILDREN / 2);
    for (int i = 0; i < take; i++) {
        void *r = NULL;
        int rc = eddy_scope_next(s, &r, -1);
        if (rc == -ECANCELED && r == NULL && ss->cause == CAUSE_ABORT)
            break; /* our own abort (r stays NULL) */
        if (rc == -ENOENT)
            break;
        if (rc != 0 && rc != -ECANCELED)
            return (void *)3;
        if (r != NULL)
            atomic_fetch_add(&((struct stress_child *)r)->handed_back, 1);
    }
    atomic_store(&ss->closing, 1);
    ss->close_rc = eddy_scope_close(s);
    return NULL;
}

static int expected_close_rc(int cause)
{
    switch (cause) {
    case CAUSE_FAIL:
        return -EIO;
    case CAUSE_DEADLINE:
        return -ETIMEDOUT;
    case CAUSE_CANCEL:
    case CAUSE_ABORT:
        return -ECANCELED;
    default:
        return 0;
    }
}

static void ten_thousand_children_end_exactly_once(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(4);
    struct stress_scope *ss = calloc(STRESS_SCOPES, sizeof *ss);
    assert_non_null(ss);
    eddy_task *h[STRESS_SCOPES];
    unsigned seed = (unsigned)eddy_test_now_ms();
    print_message("seed %u\n", seed);
    for (int k = 0; k < STRESS_SCOPES; k++) {
        ss[k].cause = k % CAUSES;
        ss[k].seed = seed + (unsigned)k;
        assert_ok(eddy_rt_spawn(rt, &h[k], stress_scope_main, &ss[k]));
    }
    for (int k = 0; k < STRESS_SCOPES; k++) {
        if (ss[k].cause != CAUSE_ABORT)
            continue;
        unsigned r = seed * 7 + (unsigned)k;
        int64_t until = eddy_test_now_ms() + (rand_r(&r) % 5);
        while (eddy_test_now_ms() < until)
            sched_yield();
        assert_ok(eddy_abort(h[k]));
    }
    for (int k = 0; k < STRESS_SCOPES; k++) {
        void *r = (void *)1;
        int rc = eddy_join(h[k], &r);
        if (r != NULL)
            print_message("scope %d (cause %d): its task failed at %d\n", k, ss[k].cause,
                          (int)(intptr_t)r);
        assert_int_equal(rc, ss[k].cause == CAUSE_ABORT ? -ECANCELED : 0);
        assert_null(r);
        if (atomic_load(&ss[k].ran)) /* an abort may come before it starts */
            assert_int_equal(ss[k].close_rc, expected_close_rc(ss[k].cause));
        int started = 0;
        for (int i = 0; i < STRESS_CHILDREN; i++) {
            struct stress_child *c = &ss[k].child[i];
            /* ran at most once, and ended each time it started */
            assert_in_range(atomic_load(&c->started), 0, 1);
            assert_int_equal(atomic_load(&c->ended), atomic_load(&c->started));
            assert_in_range(atomic_load(&c->handed_back), 0, 1);
            started += atomic_load(&c->started);
            /* a child nothing cancelled ran */
            if (ss[k].cause == CAUSE_NONE)
                assert_int_equal(atomic_load(&c->started), 1);
        }
        assert_true(started > 0 || ss[k].cause == CAUSE_ABORT);
    }
    assert_int_equal(eddy__sched_tasks_suspended(rt->sched), 0);
    assert_int_equal(eddy__sched_timers_armed(rt->sched), 0);
    assert_int_equal(eddy_rt_shutdown(rt, 0), 0);
    eddy_rt_free(rt);
    free(ss);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(scope_next_hands_back_every_child_once),
    cmocka_unit_test(scope_close_waits_for_every_child),
    cmocka_unit_test(scope_children_joined_by_handle_are_the_callers),
    cmocka_unit_test(scope_fail_cancels_the_rest_and_close_returns_its_error),
    cmocka_unit_test(scope_cancel_aborts_children_and_refuses_new_ones),
    cmocka_unit_test(scope_deadline_times_out_children_without_aborting_them),
    cmocka_unit_test(scope_inherits_the_callers_deadline),
    cmocka_unit_test(abort_of_the_closer_cancels_nested_scopes),
    cmocka_unit_test(a_child_ignoring_cancellation_is_waited_for),
    cmocka_unit_test(children_spawned_from_a_plain_thread),
    cmocka_unit_test(a_plain_thread_closes_a_scope),
    cmocka_unit_test(bad_use_is_answered),
    cmocka_unit_test(ten_thousand_children_end_exactly_once),
};

EDDY_TEST_MAIN(tests, 240)
