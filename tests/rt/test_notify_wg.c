/*
 * tests/rt/test_notify_wg.c: notify and waitgroup (rt/notify.c) between
 * tasks pinned to two different workers and between tasks and plain threads:
 * the stored permit of notify_one, notify_all and notify_one wakeups,
 * timeouts, no lost wakeup in notify ping-pong, waitgroup completion and
 * waits at zero. Mutex and semaphore are in test_mutex_sem.c, abort and
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

/* ----------------------------------------------------------------- notify */

struct nt {
    eddy_notify *n;
    atomic_int entering, woken;
    _Atomic uint64_t last_ret_ns;
};

static void *nt_notify_twice(void *arg)
{
    struct nt *x = arg;
    T_ON_WORKER(0);
    eddy_notify_one(x->n);
    eddy_notify_one(x->n); /* one permit, not two */
    return NULL;
}

static void *nt_consume_permit(void *arg)
{
    struct nt *x = arg;
    T_ON_WORKER(1);
    uint64_t t0 = eddy_now_ns();
    T_OK(eddy_notify_wait(x->n, 10000));
    T_ELAPSED(t0, 0, SLACK_MS); /* at once */
    T_ERR(eddy_notify_wait(x->n, 30), -ETIMEDOUT);
    /* notify_all with nobody waiting stores nothing */
    eddy_notify_all(x->n);
    T_ERR(eddy_notify_wait(x->n, 30), -ETIMEDOUT);
    return NULL;
}

static void *nt_permit_root(void *arg)
{
    JOIN_OK(spawn_at(0, nt_notify_twice, arg));
    JOIN_OK(spawn_at(1, nt_consume_permit, arg));
    return NULL;
}

static void notify_one_before_wait_leaves_one_permit_for_the_next_wait(void **state)
{
    (void)state;
    assert_err(eddy_notify_new(NULL), -EINVAL);
    assert_err(eddy_notify_wait(NULL, 0), -EINVAL);
    eddy_notify_one(NULL);
    eddy_notify_all(NULL);
    eddy_notify_free(NULL);
    struct nt x = { 0 };
    assert_ok(eddy_notify_new(&x.n));
    eddy_rt *rt = rt_new2(false);
    run_root(rt, nt_permit_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    /* plain thread */
    eddy_notify_one(x.n);
    assert_ok(eddy_notify_wait(x.n, -1));
    assert_err(eddy_notify_wait(x.n, 0), -ETIMEDOUT);
    eddy_notify_free(x.n);
}

static void *nt_waiter(void *arg)
{
    struct nt *x = arg;
    atomic_fetch_add(&x->entering, 1);
    int rc = eddy_notify_wait(x->n, 10000);
    atomic_max_u64(&x->last_ret_ns, eddy_now_ns());
    T_OK(rc);
    atomic_fetch_add(&x->woken, 1);
    return NULL;
}

#define NT_TASKS 6

static void *nt_all_root(void *arg)
{
    struct nt *x = arg;
    eddy_task *t[NT_TASKS];
    for (int i = 0; i < NT_TASKS; i++)
        t[i] = spawn_at(i % 2, nt_waiter, x);
    T_CHECK(wait_count(&x->entering, NT_TASKS + 1));
    eddy_sleep_ms(100); /* let them block */
    T_EQ(atomic_load(&x->woken), 0);
    uint64_t t0 = eddy_now_ns();
    eddy_notify_all(x->n);
    for (int i = 0; i < NT_TASKS; i++)
        JOIN_OK(t[i]);
    T_CHECK(wait_count(&x->woken, NT_TASKS + 1)); /* the plain thread too */
    T_CHECK(atomic_load(&x->last_ret_ns) - t0 < (uint64_t)SLACK_MS * 1000000u);
    T_ERR(eddy_notify_wait(x->n, 20), -ETIMEDOUT); /* no permit left behind */
    return NULL;
}

static void notify_all_wakes_every_current_waiter_on_both_workers_and_threads(void **state)
{
    (void)state;
    struct nt x = { 0 };
    assert_ok(eddy_notify_new(&x.n));
    eddy_rt *rt = rt_new2(false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, nt_waiter, &x), 0);
    run_root(rt, nt_all_root, &x);
    assert_int_equal(pthread_join(th, NULL), 0);
    rt_done(rt);
    assert_no_task_failures();
    assert_int_equal(atomic_load(&x.woken), NT_TASKS + 1);
    eddy_notify_free(x.n);
}

static void *nt_one_root(void *arg)
{
    struct nt *x = arg;
    eddy_task *a = spawn_at(0, nt_waiter, x);
    eddy_task *b = spawn_at(1, nt_waiter, x);
    T_CHECK(wait_count(&x->entering, 2));
    eddy_sleep_ms(50);
    eddy_notify_one(x->n);
    T_CHECK(wait_count(&x->woken, 1));
    eddy_sleep_ms(50);
    T_EQ(atomic_load(&x->woken), 1); /* exactly one */
    eddy_notify_one(x->n);
    JOIN_OK(a);
    JOIN_OK(b);
    T_EQ(atomic_load(&x->woken), 2);
    T_ERR(eddy_notify_wait(x->n, 0), -ETIMEDOUT);
    return NULL;
}

static void notify_one_wakes_exactly_one_waiter(void **state)
{
    (void)state;
    struct nt x = { 0 };
    assert_ok(eddy_notify_new(&x.n));
    eddy_rt *rt = rt_new2(false);
    run_root(rt, nt_one_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    eddy_notify_free(x.n);
}

/* Task or plain thread: the timeout, then the waiter is gone, so a
   notify_one stores a permit instead of waking nobody. */
static void *nt_timeout_check(void *arg)
{
    struct nt *x = arg;
    T_ERR(eddy_notify_wait(x->n, 0), -ETIMEDOUT);
    uint64_t t0 = eddy_now_ns();
    T_ERR(eddy_notify_wait(x->n, 100), -ETIMEDOUT);
    T_ELAPSED(t0, 100, 100 + SLACK_MS);
    eddy_notify_one(x->n);
    T_OK(eddy_notify_wait(x->n, 0));
    return NULL;
}

static void *nt_timeout_root(void *arg)
{
    /* one after the other: they share the notify */
    JOIN_OK(spawn_at(1, nt_timeout_check, arg));
    JOIN_OK(spawn_at(0, nt_timeout_check, arg));
    return NULL;
}

static void notify_wait_with_timeout_returns_etimedout_after_the_timeout(void **state)
{
    (void)state;
    struct nt x = { 0 };
    assert_ok(eddy_notify_new(&x.n));
    nt_timeout_check(&x);
    assert_no_task_failures();
    eddy_rt *rt = rt_new2(false);
    run_root(rt, nt_timeout_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    eddy_notify_free(x.n);
}

/* Ping-pong: each side writes a plain field, notifies, and waits for the
   other's answer; a lost wakeup shows as -ETIMEDOUT after 5 s. */
#define ANY_WORKER (-2)

struct pp {
    eddy_notify *ping, *pong;
    uint64_t rounds, sent, answered; /* plain: the notifies order them */
    int ping_worker, pong_worker;    /* -1: a plain thread; or ANY_WORKER */
};

static void *pp_ping(void *arg)
{
    struct pp *x = arg;
    for (uint64_t i = 1; i <= x->rounds; i++) {
        x->sent = i;
        eddy_notify_one(x->ping);
        int rc = eddy_notify_wait(x->pong, 5000);
        if (rc < 0) {
            t_fail(__LINE__, "round %llu: %s", (unsigned long long)i, eddy_strerror(rc));
            break;
        }
        if (x->answered != i) {
            t_fail(__LINE__, "round %llu answered %llu", (unsigned long long)i,
                   (unsigned long long)x->answered);
            break;
        }
    }
    if (x->ping_worker != ANY_WORKER)
        T_ON_WORKER(x->ping_worker);
    return NULL;
}

static void *pp_pong(void *arg)
{
    struct pp *x = arg;
    for (uint64_t i = 1; i <= x->rounds; i++) {
        int rc = eddy_notify_wait(x->ping, 5000);
        if (rc < 0) {
            t_fail(__LINE__, "round %llu: %s", (unsigned long long)i, eddy_strerror(rc));
            break;
        }
        if (x->sent != i) {
            t_fail(__LINE__, "round %llu saw %llu", (unsigned long long)i,
                   (unsigned long long)x->sent);
            break;
        }
        x->answered = i;
        eddy_notify_one(x->pong);
    }
    if (x->pong_worker != ANY_WORKER)
        T_ON_WORKER(x->pong_worker);
    return NULL;
}

static void *pp_root(void *arg)
{
    eddy_task *a = spawn_at(0, pp_ping, arg);
    eddy_task *b = spawn_at(1, pp_pong, arg);
    JOIN_OK(a);
    JOIN_OK(b);
    return NULL;
}

static void notify_ping_pong_10k_rounds_across_workers_loses_no_wakeup(void **state)
{
    (void)state;
    struct pp x = { .rounds = scaled(10000), .ping_worker = 0, .pong_worker = 1 };
    assert_ok(eddy_notify_new(&x.ping));
    assert_ok(eddy_notify_new(&x.pong));
    eddy_rt *rt = rt_new2(false);
    run_root(rt, pp_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    assert_int_equal(x.answered, x.rounds);
    eddy_notify_free(x.ping);
    eddy_notify_free(x.pong);
}

static void notify_ping_pong_between_task_and_plain_thread_loses_no_wakeup(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    for (int dir = 0; dir < 2; dir++) {
        struct pp x = { .rounds = scaled(10000) };
        assert_ok(eddy_notify_new(&x.ping));
        assert_ok(eddy_notify_new(&x.pong));
        eddy_task *t;
        if (dir == 0) { /* the task pings, this thread answers */
            x.pong_worker = -1;
            x.ping_worker = ANY_WORKER;
            assert_ok(eddy_rt_spawn(rt, &t, pp_ping, &x));
            pp_pong(&x);
        } else {
            x.ping_worker = -1;
            x.pong_worker = ANY_WORKER;
            assert_ok(eddy_rt_spawn(rt, &t, pp_pong, &x));
            pp_ping(&x);
        }
        assert_ok(eddy_join(t, NULL));
        assert_no_task_failures();
        assert_int_equal(x.answered, x.rounds);
        eddy_notify_free(x.ping);
        eddy_notify_free(x.pong);
    }
    rt_done(rt);
}

/* -------------------------------------------------------------- waitgroup */

#define WG_TASKS 100

struct wg {
    eddy_waitgroup *w;
    atomic_int done, waiters_ok;
};

static void *wg_member(void *arg)
{
    struct wg *x = arg;
    eddy_sleep_ms(1 + (atomic_fetch_add(&x->done, 0) % 5));
    atomic_fetch_add(&x->done, 1);
    eddy_waitgroup_done(x->w);
    return NULL;
}

static void *wg_waiter(void *arg)
{
    struct wg *x = arg;
    T_OK(eddy_waitgroup_wait(x->w));
    T_EQ(atomic_load(&x->done), WG_TASKS);
    atomic_fetch_add(&x->waiters_ok, 1);
    return NULL;
}

static void *wg_root(void *arg)
{
    struct wg *x = arg;
    eddy_waitgroup_add(x->w, WG_TASKS);
    eddy_task *waiter = spawn_at(1, wg_waiter, x);
    eddy_task *t[WG_TASKS];
    for (int i = 0; i < WG_TASKS; i++)
        t[i] = spawn_at(i % 2, wg_member, x);
    wg_waiter(x); /* the root waits too */
    JOIN_OK(waiter);
    for (int i = 0; i < WG_TASKS; i++)
        JOIN_OK(t[i]);
    return NULL;
}

static void waitgroup_wait_returns_after_all_100_tasks_done(void **state)
{
    (void)state;
    struct wg x = { 0 };
    assert_ok(eddy_waitgroup_new(&x.w));
    eddy_rt *rt = rt_new2(false);
    run_root(rt, wg_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    assert_int_equal(atomic_load(&x.waiters_ok), 2);
    eddy_waitgroup_free(x.w);
}

static void waitgroup_plain_thread_waits_for_tasks(void **state)
{
    (void)state;
    struct wg x = { 0 };
    assert_ok(eddy_waitgroup_new(&x.w));
    eddy_rt *rt = rt_new2(true);
    eddy_task *t[WG_TASKS];
    eddy_waitgroup_add(x.w, WG_TASKS);
    for (int i = 0; i < WG_TASKS; i++)
        assert_ok(eddy_rt_spawn(rt, &t[i], wg_member, &x));
    assert_ok(eddy_waitgroup_wait(x.w));
    assert_int_equal(atomic_load(&x.done), WG_TASKS);
    for (int i = 0; i < WG_TASKS; i++)
        assert_ok(eddy_join(t[i], NULL));
    rt_done(rt);
    assert_no_task_failures();
    eddy_waitgroup_free(x.w);
}

static void *wg_zero_task(void *arg)
{
    eddy_waitgroup *w = arg;
    uint64_t t0 = eddy_now_ns();
    T_OK(eddy_waitgroup_wait(w));
    T_ELAPSED(t0, 0, SLACK_MS);
    return NULL;
}

static void waitgroup_wait_at_zero_returns_at_once(void **state)
{
    (void)state;
    assert_err(eddy_waitgroup_new(NULL), -EINVAL);
    assert_err(eddy_waitgroup_wait(NULL), -EINVAL);
    eddy_waitgroup_add(NULL, 1);
    eddy_waitgroup_done(NULL);
    eddy_waitgroup_free(NULL);
    eddy_waitgroup *w;
    assert_ok(eddy_waitgroup_new(&w));
    assert_ok(eddy_waitgroup_wait(w)); /* plain thread, fresh */
    eddy_waitgroup_add(w, 3);
    eddy_waitgroup_add(w, -3);
    assert_ok(eddy_waitgroup_wait(w));
    eddy_waitgroup_add(w, 1);
    eddy_waitgroup_done(w);
    assert_ok(eddy_waitgroup_wait(w));
    eddy_rt *rt = rt_new2(false);
    run_root(rt, wg_zero_task, w);
    rt_done(rt);
    assert_no_task_failures();
    eddy_waitgroup_free(w);
}

#define T(fn) cmocka_unit_test_setup(fn, reset_failures)
static const struct CMUnitTest tests[] = {
    T(notify_one_before_wait_leaves_one_permit_for_the_next_wait),
    T(notify_all_wakes_every_current_waiter_on_both_workers_and_threads),
    T(notify_one_wakes_exactly_one_waiter),
    T(notify_wait_with_timeout_returns_etimedout_after_the_timeout),
    T(notify_ping_pong_10k_rounds_across_workers_loses_no_wakeup),
    T(notify_ping_pong_between_task_and_plain_thread_loses_no_wakeup),
    T(waitgroup_wait_returns_after_all_100_tasks_done),
    T(waitgroup_plain_thread_waits_for_tasks),
    T(waitgroup_wait_at_zero_returns_at_once),
};

EDDY_TEST_MAIN(tests, 120)
