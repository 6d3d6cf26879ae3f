/*
 * tests/rt/test_sync.c: mutex, semaphore, notify and waitgroup (rt/mutex.c,
 * rt/sem.c, rt/notify.c) between tasks pinned to two different workers and
 * between tasks and plain threads: mutual exclusion with exact counts, the
 * holder bound of a semaphore, no lost wakeup in notify ping-pong, waitgroup
 * completion, and for each primitive: try variants, hand-off wakeups, abort
 * (-ECANCELED) and deadline scopes (-ETIMEDOUT) of a blocked call, after
 * which the primitive must still work. Channels are in test_chan.c.
 *
 * Cross-worker tests run with work stealing off, so a task spawned with
 * opts.worker = k stays on worker k (each task checks eddy_worker_index()).
 */
/* ctest-labels: concurrency */
#include "tests/helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ checks off the test thread */
/* cmocka's assertions longjmp, which only works on the test's own thread.
   Tasks and helper threads record failures here; finish() reports them. */

static atomic_int g_failures;
static char g_first_failure[512];

__attribute__((format(printf, 2, 3))) static void t_fail(int line, const char *fmt, ...)
{
    if (atomic_fetch_add(&g_failures, 1) != 0)
        return;
    int n = snprintf(g_first_failure, sizeof g_first_failure, "line %d (worker %d): ", line,
                     eddy_worker_index());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_first_failure + n, sizeof g_first_failure - (size_t)n, fmt, ap);
    va_end(ap);
}

#define T_CHECK(c)                                                                  \
    do {                                                                            \
        if (!(c))                                                                   \
            t_fail(__LINE__, "%s", #c);                                             \
    } while (0)
#define T_EQ(a, b)                                                                  \
    do {                                                                            \
        long long a_ = (long long)(a), b_ = (long long)(b);                         \
        if (a_ != b_)                                                               \
            t_fail(__LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);             \
    } while (0)
#define T_OK(e)                                                                     \
    do {                                                                            \
        long long r_ = (long long)(e);                                              \
        if (r_ < 0)                                                                 \
            t_fail(__LINE__, "%s returned %lld (%s)", #e, r_, eddy_strerror((int)r_)); \
    } while (0)
#define T_ERR(e, err)                                                               \
    do {                                                                            \
        long long r_ = (long long)(e);                                              \
        if (r_ != (long long)(err))                                                 \
            t_fail(__LINE__, "%s returned %lld (%s), expected %s", #e, r_,          \
                   eddy_strerror((int)r_), #err);                                   \
    } while (0)
/* elapsed since t0_ns within [lo_ms, hi_ms) */
#define T_ELAPSED(t0_ns, lo_ms, hi_ms)                                              \
    do {                                                                            \
        int64_t el_ = (int64_t)((eddy_now_ns() - (t0_ns)) / 1000000u);              \
        if (el_ < (lo_ms) || el_ >= (hi_ms))                                        \
            t_fail(__LINE__, "elapsed %lld ms, expected [%lld, %lld)", (long long)el_, \
                   (long long)(lo_ms), (long long)(hi_ms));                         \
    } while (0)
#define T_ON_WORKER(k) T_EQ(eddy_worker_index(), (k))
#define JOIN_OK(t) join_ok((t), __LINE__)

/* Generous upper bound for "promptly" / "after roughly the timeout". */
#define SLACK_MS 2000

/* A test whose tasks still run this long after it started is hung: its
   joins report that, abort the task and go on, instead of waiting for the
   watchdog to kill the whole file. */
static uint64_t g_safety_end_ns;

static int reset_failures(void **state)
{
    (void)state;
    atomic_store(&g_failures, 0);
    g_first_failure[0] = '\0';
    g_safety_end_ns = eddy_now_ns() + (eddy_test_sanitized() ? 60000u : 20000u) * 1000000ull;
    return 0;
}

/* eddy_join bounded by the test's safety deadline; 0 or the join's error
   (reported). */
static int join_ok(eddy_task *t, int line)
{
    uint64_t now = eddy_now_ns();
    int64_t left = now < g_safety_end_ns ? (int64_t)((g_safety_end_ns - now) / 1000000u) : 0;
    int rc = eddy_join_timeout(t, NULL, left);
    if (rc == -ETIMEDOUT) {
        t_fail(line, "task still running at the safety deadline (hung?): aborted");
        (void)eddy_abort(t);
        (void)eddy_join(t, NULL);
        return rc;
    }
    if (rc < 0)
        t_fail(line, "eddy_join: %s", eddy_strerror(rc));
    return rc;
}

static void assert_no_task_failures(void)
{
    int n = atomic_load(&g_failures);
    if (n != 0)
        fail_msg("%d failed check(s) in tasks or threads; first: %s", n, g_first_failure);
}

static uint64_t scaled(uint64_t n)
{
    return eddy_test_sanitized() ? n / 8 : n;
}

static eddy_rt *rt_new2(bool stealing)
{
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    cfg.work_stealing = stealing;
    eddy_rt *rt = NULL;
    assert_ok(eddy_rt_new(&rt, &cfg));
    assert_non_null(rt);
    return rt;
}

/* Every task ended by itself (0, not -ETIMEDOUT), then the runtime goes. */
static void rt_done(eddy_rt *rt)
{
    assert_int_equal(eddy_rt_shutdown(rt, SLACK_MS), 0);
    eddy_rt_free(rt);
}

static void run_root(eddy_rt *rt, eddy_fn fn, void *arg)
{
    assert_ok(eddy_rt_block_on(rt, fn, arg, NULL));
}

static eddy_task *spawn_at(int worker, eddy_fn fn, void *arg)
{
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    o.worker = worker;
    eddy_task *t = NULL;
    int rc = eddy_spawn_ex(&t, fn, arg, &o);
    if (rc < 0)
        t_fail(__LINE__, "eddy_spawn_ex(worker %d): %s", worker, eddy_strerror(rc));
    return t;
}

/* Polls *c until it reaches want (bounded); true if it did. Task or thread. */
static bool wait_count(atomic_int *c, int want)
{
    int64_t end = eddy_test_now_ms() + 5000;
    while (atomic_load(c) < want) {
        if (eddy_test_now_ms() > end)
            return false;
        eddy_sleep_ms(1);
    }
    return true;
}

static void atomic_max_u64(_Atomic uint64_t *m, uint64_t v)
{
    uint64_t cur = atomic_load(m);
    while (cur < v && !atomic_compare_exchange_weak(m, &cur, v))
        ;
}

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

/* ------------------------------------- abort and deadline of blocked calls */
/* For each primitive: a call that blocks (mutex held, semaphore at 0, no
   notify permit, waitgroup at 1), and, once the blocked call failed, the
   release that must reach the primitive itself, not the departed waiter. */

enum { K_MUTEX, K_SEM, K_NOTIFY, K_WG, K_COUNT };
static const char *const kind_name[K_COUNT] = { "mutex", "sem", "notify", "waitgroup" };

struct prims {
    eddy_mutex *m;
    eddy_sem *s;
    eddy_notify *n;
    eddy_waitgroup *w;
    int kind;
    atomic_int entering;
    int rc;
};

static void prims_new(struct prims *p)
{
    memset(p, 0, sizeof *p);
    assert_ok(eddy_mutex_new(&p->m));
    assert_ok(eddy_mutex_trylock(p->m));
    assert_ok(eddy_sem_new(&p->s, 0));
    assert_ok(eddy_notify_new(&p->n));
    assert_ok(eddy_waitgroup_new(&p->w));
    eddy_waitgroup_add(p->w, 1);
}

static void prims_free(struct prims *p)
{
    eddy_mutex_free(p->m);
    eddy_sem_free(p->s);
    eddy_notify_free(p->n);
    eddy_waitgroup_free(p->w);
}

static int prims_block(struct prims *p)
{
    switch (p->kind) {
    case K_MUTEX: return eddy_mutex_lock(p->m);
    case K_SEM: return eddy_sem_acquire(p->s);
    case K_NOTIFY: return eddy_notify_wait(p->n, -1);
    default: return eddy_waitgroup_wait(p->w);
    }
}

/* Releases the blocking condition and checks it reached the primitive; then
   puts it back in its blocking state. */
static void prims_check_released(struct prims *p)
{
    switch (p->kind) {
    case K_MUTEX:
        eddy_mutex_unlock(p->m);
        T_OK(eddy_mutex_trylock(p->m)); /* not handed to the departed waiter */
        break;
    case K_SEM:
        eddy_sem_release(p->s);
        T_OK(eddy_sem_try_acquire(p->s));
        break;
    case K_NOTIFY:
        eddy_notify_one(p->n);
        T_OK(eddy_notify_wait(p->n, 0)); /* stored as a permit */
        break;
    default:
        eddy_waitgroup_done(p->w);
        T_OK(eddy_waitgroup_wait(p->w));
        eddy_waitgroup_add(p->w, 1);
        break;
    }
}

static void *prims_blocked_task(void *arg)
{
    struct prims *p = arg;
    T_ON_WORKER(1);
    atomic_fetch_add(&p->entering, 1);
    p->rc = prims_block(p);
    if (p->rc == 0)
        t_fail(__LINE__, "%s: blocked call returned 0", kind_name[p->kind]);
    return (void *)(intptr_t)p->rc;
}

static void *abort_root(void *arg)
{
    struct prims *p = arg;
    for (p->kind = 0; p->kind < K_COUNT; p->kind++) {
        atomic_store(&p->entering, 0);
        eddy_task *t = spawn_at(1, prims_blocked_task, p);
        T_CHECK(wait_count(&p->entering, 1));
        eddy_sleep_ms(30);
        uint64_t t0 = eddy_now_ns();
        T_OK(eddy_abort(t));
        void *res = NULL;
        T_ERR(eddy_join(t, &res), -ECANCELED);
        T_ELAPSED(t0, 0, SLACK_MS);
        T_EQ((intptr_t)res, -ECANCELED);
        T_EQ(p->rc, -ECANCELED);
        prims_check_released(p);
    }
    return NULL;
}

static void abort_of_task_blocked_in_each_primitive_returns_ecanceled_and_primitive_works(
    void **state)
{
    (void)state;
    struct prims p;
    prims_new(&p);
    eddy_rt *rt = rt_new2(false);
    run_root(rt, abort_root, &p);
    rt_done(rt);
    assert_no_task_failures();
    prims_free(&p);
}

static void *deadline_task(void *arg)
{
    struct prims *p = arg;
    T_ON_WORKER(1);
    for (p->kind = 0; p->kind < K_COUNT; p->kind++) {
        uint64_t t0 = eddy_now_ns();
        T_OK(eddy_deadline_push(50));
        T_ERR(prims_block(p), -ETIMEDOUT);
        T_ELAPSED(t0, 50, 50 + SLACK_MS);
        T_ERR(prims_block(p), -ETIMEDOUT); /* expired scope: fails at once */
        eddy_deadline_pop();
        prims_check_released(p);
    }
    return NULL;
}

static void *deadline_root(void *arg)
{
    JOIN_OK(spawn_at(1, deadline_task, arg));
    return NULL;
}

static void deadline_scope_times_out_blocking_call_of_each_primitive(void **state)
{
    (void)state;
    struct prims p;
    prims_new(&p);
    eddy_rt *rt = rt_new2(false);
    run_root(rt, deadline_root, &p);
    rt_done(rt);
    assert_no_task_failures();
    prims_free(&p);
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
    T(notify_one_before_wait_leaves_one_permit_for_the_next_wait),
    T(notify_all_wakes_every_current_waiter_on_both_workers_and_threads),
    T(notify_one_wakes_exactly_one_waiter),
    T(notify_wait_with_timeout_returns_etimedout_after_the_timeout),
    T(notify_ping_pong_10k_rounds_across_workers_loses_no_wakeup),
    T(notify_ping_pong_between_task_and_plain_thread_loses_no_wakeup),
    T(waitgroup_wait_returns_after_all_100_tasks_done),
    T(waitgroup_plain_thread_waits_for_tasks),
    T(waitgroup_wait_at_zero_returns_at_once),
    T(abort_of_task_blocked_in_each_primitive_returns_ecanceled_and_primitive_works),
    T(deadline_scope_times_out_blocking_call_of_each_primitive),
};

EDDY_TEST_MAIN(tests, 120)
