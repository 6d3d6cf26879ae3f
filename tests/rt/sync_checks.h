/*
 * tests/rt/sync_checks.h: what the synchronisation tests (test_chan*.c,
 * test_mutex_sem.c, test_notify_wg.c, test_sync.c) share: checks that tasks
 * and plain threads can make, joins bounded by a per-test safety deadline,
 * and a two-worker runtime with tasks pinned to a worker.
 *
 * Each test executable includes it once; it holds static state, so every
 * test runs with reset_failures as its cmocka setup (the T() macro of the
 * test files).
 */
#ifndef EDDY_TESTS_RT_SYNC_CHECKS_H
#define EDDY_TESTS_RT_SYNC_CHECKS_H

#include "tests/helpers.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------ checks off the test thread */
/* cmocka's assertions longjmp, which only works on the test's own thread.
   Tasks and helper threads record failures here; assert_no_task_failures()
   reports them. */

static atomic_int g_failures;
static char g_first_failure[512];

__attribute__((format(printf, 2, 3))) static inline void t_fail(int line, const char *fmt, ...)
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

static inline int reset_failures(void **state)
{
    (void)state;
    atomic_store(&g_failures, 0);
    g_first_failure[0] = '\0';
    g_safety_end_ns = eddy_now_ns() + (eddy_test_sanitized() ? 60000u : 20000u) * 1000000ull;
    return 0;
}

/* eddy_join bounded by the test's safety deadline; 0 or the join's error
   (reported). */
static inline int join_ok(eddy_task *t, int line)
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

static inline void assert_no_task_failures(void)
{
    int n = atomic_load(&g_failures);
    if (n != 0)
        fail_msg("%d failed check(s) in tasks or threads; first: %s", n, g_first_failure);
}

static inline uint64_t scaled(uint64_t n)
{
    return eddy_test_sanitized() ? n / 8 : n;
}

static inline eddy_rt *rt_new2(bool stealing)
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
static inline void rt_done(eddy_rt *rt)
{
    assert_int_equal(eddy_rt_shutdown(rt, SLACK_MS), 0);
    eddy_rt_free(rt);
}

static inline void run_root(eddy_rt *rt, eddy_fn fn, void *arg)
{
    assert_ok(eddy_rt_block_on(rt, fn, arg, NULL));
}

static inline eddy_task *spawn_at(int worker, eddy_fn fn, void *arg)
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
static inline bool wait_count(atomic_int *c, int want)
{
    int64_t end = eddy_test_now_ms() + 5000;
    while (atomic_load(c) < want) {
        if (eddy_test_now_ms() > end)
            return false;
        eddy_sleep_ms(1);
    }
    return true;
}

static inline void atomic_max_u64(_Atomic uint64_t *m, uint64_t v)
{
    uint64_t cur = atomic_load(m);
    while (cur < v && !atomic_compare_exchange_weak(m, &cur, v))
        ;
}

#endif
