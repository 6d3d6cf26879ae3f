/*
 * tests/rt/test_chan.c: channels (rt/chan.c) between tasks pinned to two
 * different workers and between tasks and plain threads: FIFO order and exact
 * counts, many producers and consumers, capacity and rendezvous, close (drain
 * then -EPIPE, waking every blocked call, close under contention with every
 * element accounted for), timeouts, abort and deadline scopes, bad arguments.
 * The other primitives of eddy/sync.h are in test_sync.c.
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

/* ---------------------------------------------------------- bad arguments */

static void chan_functions_return_einval_for_null_and_bad_elem_size(void **state)
{
    (void)state;
    eddy_chan *c = NULL;
    uint64_t v = 0;
    assert_err(eddy_chan_new(NULL, 4, 8), -EINVAL);
    assert_err(eddy_chan_new(&c, 4, 0), -EINVAL);
    assert_err(eddy_chan_new(&c, 0, 0), -EINVAL);
    assert_err(eddy_chan_new(&c, 4, 64 * 1024 + 1), -EINVAL);
    assert_err(eddy_chan_new(&c, SIZE_MAX / 4, 8), -EINVAL); /* capacity * size overflows */
    assert_null(c); /* out-params are written only on success */
    assert_ok(eddy_chan_new(&c, 0, 64 * 1024));
    eddy_chan_free(c);

    assert_ok(eddy_chan_new(&c, 2, sizeof v));
    assert_err(eddy_chan_send(NULL, &v), -EINVAL);
    assert_err(eddy_chan_send(c, NULL), -EINVAL);
    assert_err(eddy_chan_recv(NULL, &v), -EINVAL);
    assert_err(eddy_chan_recv(c, NULL), -EINVAL);
    assert_err(eddy_chan_try_send(NULL, &v), -EINVAL);
    assert_err(eddy_chan_try_send(c, NULL), -EINVAL);
    assert_err(eddy_chan_try_recv(NULL, &v), -EINVAL);
    assert_err(eddy_chan_try_recv(c, NULL), -EINVAL);
    assert_err(eddy_chan_send_timeout(NULL, &v, 10), -EINVAL);
    assert_err(eddy_chan_recv_timeout(c, NULL, 10), -EINVAL);
    eddy_chan_close(NULL);
    eddy_chan_free(NULL);
    /* nothing was sent by the failed calls */
    assert_err(eddy_chan_try_recv(c, &v), -EAGAIN);
    eddy_chan_free(c);
}

/* ------------------------------------------- one producer, one consumer */

struct spsc {
    eddy_chan *c;
    uint64_t n;
    uint64_t got, sum; /* written by the consumer */
};

static void *spsc_producer(void *arg)
{
    struct spsc *x = arg;
    T_ON_WORKER(0);
    for (uint64_t i = 0; i < x->n; i++) {
        int rc = eddy_chan_send(x->c, &i);
        if (rc < 0) {
            T_OK(rc);
            break;
        }
    }
    T_ON_WORKER(0);
    return NULL;
}

static void *spsc_consumer(void *arg)
{
    struct spsc *x = arg;
    T_ON_WORKER(1);
    for (uint64_t i = 0; i < x->n; i++) {
        uint64_t v = UINT64_MAX;
        int rc = eddy_chan_recv(x->c, &v);
        if (rc < 0) {
            T_OK(rc);
            break;
        }
        if (v != i) {
            t_fail(__LINE__, "message %llu received as number %llu", (unsigned long long)v,
                   (unsigned long long)i);
            break;
        }
        x->got++;
        x->sum += v;
    }
    uint64_t v;
    T_ERR(eddy_chan_try_recv(x->c, &v), -EAGAIN); /* nothing extra */
    T_ON_WORKER(1);
    return NULL;
}

static void *spsc_root(void *arg)
{
    eddy_task *c = spawn_at(1, spsc_consumer, arg);
    eddy_task *p = spawn_at(0, spsc_producer, arg);
    JOIN_OK(p);
    JOIN_OK(c);
    return NULL;
}

static void spsc_run(size_t cap, uint64_t n)
{
    eddy_rt *rt = rt_new2(false);
    struct spsc x = { .n = n };
    assert_ok(eddy_chan_new(&x.c, cap, sizeof(uint64_t)));
    run_root(rt, spsc_root, &x);
    rt_done(rt);
    eddy_chan_free(x.c);
    assert_no_task_failures();
    assert_int_equal(x.got, n);
    assert_int_equal(x.sum, n * (n - 1) / 2);
}

static void chan_spsc_across_workers_delivers_200k_messages_in_fifo_order(void **state)
{
    (void)state;
    spsc_run(64, scaled(200000));
}

static void chan_spsc_capacity_1_across_workers_delivers_in_fifo_order(void **state)
{
    (void)state;
    spsc_run(1, scaled(50000));
}

static void chan_rendezvous_stream_across_workers_delivers_in_fifo_order(void **state)
{
    (void)state;
    spsc_run(0, scaled(20000));
}

/* ------------------------------------------ many producers and consumers */

#define MP 4
#define MC 4

struct mpmc {
    eddy_chan *c;
    uint64_t per; /* messages per producer: producer p sends p * per + i */
    _Atomic uint8_t *seen;
    _Atomic uint64_t sum, count;
};

struct mpmc_arg {
    struct mpmc *x;
    int id;
    int worker; /* expected worker, -1: any (stealing) */
};

static void *mpmc_producer(void *arg)
{
    struct mpmc_arg *a = arg;
    struct mpmc *x = a->x;
    for (uint64_t i = 0; i < x->per; i++) {
        uint64_t v = (uint64_t)a->id * x->per + i;
        int rc = eddy_chan_send(x->c, &v);
        if (rc < 0) {
            T_OK(rc);
            break;
        }
        if (a->worker >= 0 && i % 1024 == 0)
            T_ON_WORKER(a->worker);
    }
    return NULL;
}

static void *mpmc_consumer(void *arg)
{
    struct mpmc_arg *a = arg;
    struct mpmc *x = a->x;
    int64_t last[MP];
    for (int p = 0; p < MP; p++)
        last[p] = -1;
    uint64_t sum = 0, count = 0;
    for (;;) {
        uint64_t v;
        int rc = eddy_chan_recv(x->c, &v);
        if (rc == -EPIPE)
            break;
        if (rc < 0) {
            T_OK(rc);
            break;
        }
        uint64_t p = v / x->per, i = v % x->per;
        if (p >= MP) {
            t_fail(__LINE__, "bogus value %llu", (unsigned long long)v);
            break;
        }
        /* one producer's messages leave the channel in their send order */
        if ((int64_t)i <= last[p])
            t_fail(__LINE__, "producer %llu: %llu after %lld", (unsigned long long)p,
                   (unsigned long long)i, (long long)last[p]);
        last[p] = (int64_t)i;
        if (atomic_fetch_add(&x->seen[v], 1) != 0)
            t_fail(__LINE__, "value %llu received twice", (unsigned long long)v);
        sum += v;
        count++;
    }
    if (a->worker >= 0)
        T_ON_WORKER(a->worker);
    atomic_fetch_add(&x->sum, sum);
    atomic_fetch_add(&x->count, count);
    return NULL;
}

static void *mpmc_root(void *arg)
{
    struct mpmc_arg *args = arg; /* MP producers then MC consumers */
    eddy_task *t[MP + MC];
    for (int i = 0; i < MP + MC; i++)
        t[i] = spawn_at(args[i].worker, i < MP ? mpmc_producer : mpmc_consumer, &args[i]);
    for (int i = 0; i < MP; i++)
        JOIN_OK(t[i]);
    eddy_chan_close(args[0].x->c);
    for (int i = MP; i < MP + MC; i++)
        JOIN_OK(t[i]);
    return NULL;
}

static void mpmc_run(bool stealing, size_t cap)
{
    eddy_rt *rt = rt_new2(stealing);
    struct mpmc x = { .per = scaled(50000) };
    uint64_t total = x.per * MP;
    x.seen = calloc(total, 1);
    assert_non_null(x.seen);
    assert_ok(eddy_chan_new(&x.c, cap, sizeof(uint64_t)));
    struct mpmc_arg args[MP + MC];
    for (int i = 0; i < MP + MC; i++)
        args[i] = (struct mpmc_arg){ .x = &x, .id = i < MP ? i : i - MP,
                                     .worker = stealing ? -1 : i % 2 };
    run_root(rt, mpmc_root, args);
    rt_done(rt);
    eddy_chan_free(x.c);
    assert_no_task_failures();
    assert_int_equal(atomic_load(&x.count), total);
    assert_int_equal(atomic_load(&x.sum), total * (total - 1) / 2);
    for (uint64_t v = 0; v < total; v++)
        if (x.seen[v] != 1)
            fail_msg("value %llu received %u times", (unsigned long long)v, x.seen[v]);
    free((void *)x.seen);
}

static void chan_4_producers_4_consumers_across_workers_deliver_each_value_once(void **state)
{
    (void)state;
    mpmc_run(false, 16);
}

static void chan_4_producers_4_consumers_with_work_stealing_deliver_each_value_once(void **state)
{
    (void)state;
    mpmc_run(true, 16);
}

static void chan_4_producers_4_consumers_on_rendezvous_deliver_each_value_once(void **state)
{
    (void)state;
    mpmc_run(false, 0);
}

/* ------------------------------------------------ capacity and rendezvous */

static void chan_try_send_returns_eagain_when_full_and_try_recv_when_empty(void **state)
{
    (void)state;
    eddy_chan *c;
    assert_ok(eddy_chan_new(&c, 4, sizeof(uint32_t)));
    uint32_t v = 0;
    assert_err(eddy_chan_try_recv(c, &v), -EAGAIN);
    for (uint32_t i = 0; i < 4; i++)
        assert_ok(eddy_chan_try_send(c, &i));
    uint32_t extra = 99;
    assert_err(eddy_chan_try_send(c, &extra), -EAGAIN);
    assert_err(eddy_chan_send_timeout(c, &extra, 0), -ETIMEDOUT);
    for (uint32_t i = 0; i < 4; i++) {
        assert_ok(eddy_chan_try_recv(c, &v));
        assert_int_equal(v, i);
    }
    assert_err(eddy_chan_try_recv(c, &v), -EAGAIN);
    assert_err(eddy_chan_recv_timeout(c, &v, 0), -ETIMEDOUT);
    /* the ring wraps: fill and drain again from a shifted head */
    for (uint32_t round = 0; round < 10; round++) {
        for (uint32_t i = 0; i < 3; i++) {
            uint32_t w = round * 10 + i;
            assert_ok(eddy_chan_try_send(c, &w));
        }
        for (uint32_t i = 0; i < 3; i++) {
            assert_ok(eddy_chan_try_recv(c, &v));
            assert_int_equal(v, round * 10 + i);
        }
    }
    eddy_chan_free(c);
}

struct full {
    eddy_chan *c;
    size_t cap;
    atomic_int extra_sent; /* the send beyond capacity returned */
    atomic_int filled;
};

static void *full_sender(void *arg)
{
    struct full *x = arg;
    T_ON_WORKER(0);
    for (uint64_t i = 0; i < x->cap; i++)
        T_OK(eddy_chan_send(x->c, &i)); /* room: returns at once */
    atomic_store(&x->filled, 1);
    uint64_t v = x->cap;
    T_OK(eddy_chan_send(x->c, &v)); /* full: blocks until a receive */
    atomic_store(&x->extra_sent, 1);
    T_ON_WORKER(0);
    return NULL;
}

static void *full_receiver(void *arg)
{
    struct full *x = arg;
    T_ON_WORKER(1);
    T_CHECK(wait_count(&x->filled, 1));
    eddy_sleep_ms(50);
    T_EQ(atomic_load(&x->extra_sent), 0); /* still blocked: capacity respected */
    for (uint64_t i = 0; i <= x->cap; i++) {
        uint64_t v = UINT64_MAX;
        T_OK(eddy_chan_recv(x->c, &v));
        T_EQ(v, i);
    }
    uint64_t v;
    T_ERR(eddy_chan_try_recv(x->c, &v), -EAGAIN);
    return NULL;
}

static void *full_root(void *arg)
{
    eddy_task *s = spawn_at(0, full_sender, arg);
    eddy_task *r = spawn_at(1, full_receiver, arg);
    JOIN_OK(s);
    JOIN_OK(r);
    return NULL;
}

static void chan_send_blocks_while_full_until_receiver_on_other_worker_takes_one(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    struct full x = { .cap = 8 };
    assert_ok(eddy_chan_new(&x.c, x.cap, sizeof(uint64_t)));
    run_root(rt, full_root, &x);
    rt_done(rt);
    eddy_chan_free(x.c);
    assert_no_task_failures();
    assert_int_equal(atomic_load(&x.extra_sent), 1);
}

static void chan_rendezvous_try_calls_return_eagain_without_a_partner(void **state)
{
    (void)state;
    eddy_chan *c;
    assert_ok(eddy_chan_new(&c, 0, sizeof(int)));
    int v = 5;
    assert_err(eddy_chan_try_send(c, &v), -EAGAIN);
    assert_err(eddy_chan_try_recv(c, &v), -EAGAIN);
    uint64_t t0 = eddy_now_ns();
    assert_err(eddy_chan_send_timeout(c, &v, 30), -ETIMEDOUT);
    assert_true(eddy_now_ns() - t0 >= 30 * 1000000u);
    assert_err(eddy_chan_recv_timeout(c, &v, 30), -ETIMEDOUT);
    /* the timed-out sender left nothing behind */
    assert_err(eddy_chan_try_recv(c, &v), -EAGAIN);
    eddy_chan_free(c);
}

struct rdv {
    eddy_chan *c;
    atomic_int sent;    /* the blocking sender returned */
    atomic_int waiting; /* the receiver is about to block */
    int got;
};

static void *rdv_sender(void *arg)
{
    struct rdv *x = arg;
    T_ON_WORKER(0);
    int v = 42;
    T_OK(eddy_chan_send(x->c, &v));
    atomic_store(&x->sent, 1);
    return NULL;
}

static void *rdv_late_receiver(void *arg)
{
    struct rdv *x = arg;
    T_ON_WORKER(1);
    eddy_sleep_ms(50);
    T_EQ(atomic_load(&x->sent), 0); /* no receiver yet: the send has not completed */
    T_OK(eddy_chan_recv(x->c, &x->got));
    return NULL;
}

static void *rdv_receiver(void *arg)
{
    struct rdv *x = arg;
    T_ON_WORKER(1);
    atomic_store(&x->waiting, 1);
    T_OK(eddy_chan_recv(x->c, &x->got));
    return NULL;
}

static void *rdv_try_sender(void *arg)
{
    struct rdv *x = arg;
    T_ON_WORKER(0);
    T_CHECK(wait_count(&x->waiting, 1));
    int v = 43, rc;
    int64_t end = eddy_test_now_ms() + SLACK_MS;
    /* -EAGAIN until the receiver has really blocked, then it is taken */
    while ((rc = eddy_chan_try_send(x->c, &v)) == -EAGAIN && eddy_test_now_ms() < end)
        eddy_sleep_ms(1);
    T_OK(rc);
    return NULL;
}

static void *rdv_root(void *arg)
{
    struct rdv *x = arg;
    eddy_task *s = spawn_at(0, rdv_sender, x);
    eddy_task *r = spawn_at(1, rdv_late_receiver, x);
    JOIN_OK(s);
    JOIN_OK(r);
    T_EQ(x->got, 42);
    T_EQ(atomic_load(&x->sent), 1);

    r = spawn_at(1, rdv_receiver, x);
    s = spawn_at(0, rdv_try_sender, x);
    JOIN_OK(s);
    JOIN_OK(r);
    T_EQ(x->got, 43);
    int v = 1;
    T_ERR(eddy_chan_try_send(x->c, &v), -EAGAIN); /* the receiver is gone */
    return NULL;
}

static void chan_rendezvous_send_completes_only_when_receiver_on_other_worker_takes_it(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    struct rdv x = { 0 };
    assert_ok(eddy_chan_new(&x.c, 0, sizeof(int)));
    run_root(rt, rdv_root, &x);
    rt_done(rt);
    eddy_chan_free(x.c);
    assert_no_task_failures();
}

/* ------------------------------------------------------------------ close */

struct drain {
    eddy_chan *c;
};

static void *drain_sender(void *arg)
{
    struct drain *x = arg;
    T_ON_WORKER(0);
    for (int i = 1; i <= 3; i++)
        T_OK(eddy_chan_send(x->c, &i));
    eddy_chan_close(x->c);
    int v = 4;
    T_ERR(eddy_chan_send(x->c, &v), -EPIPE);
    T_ERR(eddy_chan_try_send(x->c, &v), -EPIPE);
    T_ERR(eddy_chan_send_timeout(x->c, &v, 1000), -EPIPE);
    eddy_chan_close(x->c); /* idempotent */
    return NULL;
}

static void *drain_receiver(void *arg)
{
    struct drain *x = arg;
    T_ON_WORKER(1);
    for (int i = 1; i <= 3; i++) {
        int v = 0;
        T_OK(eddy_chan_recv(x->c, &v));
        T_EQ(v, i);
    }
    int v = -1;
    uint64_t t0 = eddy_now_ns();
    T_ERR(eddy_chan_recv(x->c, &v), -EPIPE);
    T_ERR(eddy_chan_try_recv(x->c, &v), -EPIPE);
    T_ERR(eddy_chan_recv_timeout(x->c, &v, 5000), -EPIPE);
    T_ELAPSED(t0, 0, SLACK_MS);
    T_EQ(v, -1); /* a failed receive writes nothing */
    return NULL;
}

static void *drain_root(void *arg)
{
    JOIN_OK(spawn_at(0, drain_sender, arg));
    JOIN_OK(spawn_at(1, drain_receiver, arg));
    return NULL;
}

static void chan_recv_returns_epipe_after_close_and_drain(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    struct drain x;
    assert_ok(eddy_chan_new(&x.c, 8, sizeof(int)));
    run_root(rt, drain_root, &x);
    rt_done(rt);
    eddy_chan_free(x.c);
    assert_no_task_failures();
}

/* Blocked calls of every kind, closed at once. */
struct cw {
    eddy_chan *empty, *full, *rdv;
    atomic_int entering, epipe;
    uint64_t close_ns;
    _Atomic uint64_t last_ret_ns;
};

static void cw_note(struct cw *x, int rc)
{
    atomic_max_u64(&x->last_ret_ns, eddy_now_ns());
    if (rc == -EPIPE)
        atomic_fetch_add(&x->epipe, 1);
    else
        t_fail(__LINE__, "blocked call returned %d (%s), expected -EPIPE", rc, eddy_strerror(rc));
}

static void *cw_recv(void *arg)
{
    struct cw *x = arg;
    uint64_t v;
    atomic_fetch_add(&x->entering, 1);
    /* a plain thread bounds its wait, so a missed wakeup fails, not hangs */
    cw_note(x, eddy_worker_index() < 0 ? eddy_chan_recv_timeout(x->empty, &v, 15000)
                                       : eddy_chan_recv(x->empty, &v));
    return NULL;
}

static void *cw_send_full(void *arg)
{
    struct cw *x = arg;
    uint64_t v = 1000;
    atomic_fetch_add(&x->entering, 1);
    cw_note(x, eddy_worker_index() < 0 ? eddy_chan_send_timeout(x->full, &v, 15000)
                                       : eddy_chan_send(x->full, &v));
    return NULL;
}

static void *cw_send_rdv(void *arg)
{
    struct cw *x = arg;
    uint64_t v = 2000;
    atomic_fetch_add(&x->entering, 1);
    cw_note(x, eddy_chan_send(x->rdv, &v));
    return NULL;
}

#define CW_TASKS 14   /* 3 + 3 receivers, 3 + 3 senders on full, 1 + 1 rendezvous */
#define CW_THREADS 2  /* a receiver and a sender */

static void *cw_root(void *arg)
{
    struct cw *x = arg;
    eddy_task *t[CW_TASKS];
    int n = 0;
    for (int w = 0; w < 2; w++) {
        for (int i = 0; i < 3; i++) {
            t[n++] = spawn_at(w, cw_recv, x);
            t[n++] = spawn_at(w, cw_send_full, x);
        }
        t[n++] = spawn_at(w, cw_send_rdv, x);
    }
    T_CHECK(wait_count(&x->entering, CW_TASKS + CW_THREADS));
    eddy_sleep_ms(50); /* let them block */
    x->close_ns = eddy_now_ns();
    eddy_chan_close(x->empty);
    eddy_chan_close(x->full);
    eddy_chan_close(x->rdv);
    for (int i = 0; i < n; i++)
        JOIN_OK(t[i]);
    /* the buffered elements of the full channel survive the close */
    for (uint64_t i = 0; i < 2; i++) {
        uint64_t v = 99;
        T_OK(eddy_chan_recv(x->full, &v));
        T_EQ(v, i);
    }
    uint64_t v;
    T_ERR(eddy_chan_recv(x->full, &v), -EPIPE);
    return NULL;
}

static void chan_close_wakes_every_blocked_receiver_and_sender_with_epipe(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    struct cw x = { 0 };
    assert_ok(eddy_chan_new(&x.empty, 2, sizeof(uint64_t)));
    assert_ok(eddy_chan_new(&x.full, 2, sizeof(uint64_t)));
    assert_ok(eddy_chan_new(&x.rdv, 0, sizeof(uint64_t)));
    for (uint64_t i = 0; i < 2; i++)
        assert_ok(eddy_chan_try_send(x.full, &i));
    pthread_t th[CW_THREADS];
    assert_int_equal(pthread_create(&th[0], NULL, cw_recv, &x), 0);
    assert_int_equal(pthread_create(&th[1], NULL, cw_send_full, &x), 0);
    run_root(rt, cw_root, &x);
    for (int i = 0; i < CW_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    rt_done(rt);
    eddy_chan_free(x.empty);
    eddy_chan_free(x.full);
    eddy_chan_free(x.rdv);
    assert_no_task_failures();
    assert_int_equal(atomic_load(&x.epipe), CW_TASKS + CW_THREADS);
    uint64_t late_ms = (atomic_load(&x.last_ret_ns) - x.close_ns) / 1000000u;
    if (late_ms >= SLACK_MS)
        fail_msg("last blocked call returned %llu ms after close", (unsigned long long)late_ms);
}

/* Close while 8 senders and 8 receivers hammer a small channel: every value
   whose send returned 0 is received exactly once, no other value is. */
#define CC_SEND 8
#define CC_RECV 8
#define CC_MAX 4096 /* sends per sender at most */

struct cc {
    eddy_chan *c;
    _Atomic uint8_t seen[CC_SEND][CC_MAX];
    uint32_t sent_ok[CC_SEND]; /* [i] written by sender i */
    _Atomic uint64_t last_ret_ns;
    uint64_t close_ns;
    int delay_ms;
};

struct cc_arg {
    struct cc *x;
    int id;
};

static void *cc_sender(void *arg)
{
    struct cc_arg *a = arg;
    struct cc *x = a->x;
    uint32_t i;
    for (i = 0; i < CC_MAX; i++) {
        uint64_t v = (uint64_t)a->id << 32 | i;
        int rc = eddy_chan_send(x->c, &v);
        if (rc < 0) {
            T_ERR(rc, -EPIPE);
            break;
        }
    }
    x->sent_ok[a->id] = i;
    atomic_max_u64(&x->last_ret_ns, eddy_now_ns());
    return NULL;
}

static void *cc_receiver(void *arg)
{
    struct cc_arg *a = arg;
    struct cc *x = a->x;
    for (;;) {
        uint64_t v;
        int rc = eddy_chan_recv(x->c, &v);
        if (rc < 0) {
            T_ERR(rc, -EPIPE);
            break;
        }
        uint64_t s = v >> 32, i = v & 0xffffffffu;
        if (s >= CC_SEND || i >= CC_MAX) {
            t_fail(__LINE__, "bogus value %llx", (unsigned long long)v);
            continue;
        }
        atomic_fetch_add(&x->seen[s][i], 1);
        if (i % 16 == 0)
            eddy_yield();
    }
    atomic_max_u64(&x->last_ret_ns, eddy_now_ns());
    return NULL;
}

static void *cc_root(void *arg)
{
    struct cc *x = arg;
    struct cc_arg sa[CC_SEND], ra[CC_RECV];
    eddy_task *s[CC_SEND], *r[CC_RECV];
    for (int i = 0; i < CC_RECV; i++) {
        ra[i] = (struct cc_arg){ x, i };
        r[i] = spawn_at(i % 2, cc_receiver, &ra[i]);
    }
    for (int i = 0; i < CC_SEND; i++) {
        sa[i] = (struct cc_arg){ x, i };
        s[i] = spawn_at(i % 2, cc_sender, &sa[i]);
    }
    eddy_sleep_ms(x->delay_ms); /* 0: yields once */
    x->close_ns = eddy_now_ns();
    eddy_chan_close(x->c);
    for (int i = 0; i < CC_SEND; i++)
        JOIN_OK(s[i]);
    for (int i = 0; i < CC_RECV; i++)
        JOIN_OK(r[i]);
    return NULL;
}

static void chan_close_under_contention_accounts_for_every_element(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    unsigned rounds = eddy_test_sanitized() ? 6 : 24;
    uint64_t total_sent = 0;
    for (unsigned round = 0; round < rounds; round++) {
        struct cc *x = calloc(1, sizeof *x);
        assert_non_null(x);
        x->delay_ms = (int)(round % 4);
        assert_ok(eddy_chan_new(&x->c, round % 3 == 2 ? 0 : 4, sizeof(uint64_t)));
        run_root(rt, cc_root, x);
        assert_no_task_failures();
        for (int s = 0; s < CC_SEND; s++) {
            total_sent += x->sent_ok[s];
            for (uint32_t i = 0; i < CC_MAX; i++) {
                unsigned want = i < x->sent_ok[s] ? 1 : 0;
                if (atomic_load(&x->seen[s][i]) != want)
                    fail_msg("round %u: sender %d value %u received %u times (send %s)", round,
                             s, i, atomic_load(&x->seen[s][i]),
                             want ? "returned 0" : "failed or never made");
            }
        }
        uint64_t late_ms = (atomic_load(&x->last_ret_ns) - x->close_ns) / 1000000u;
        if (atomic_load(&x->last_ret_ns) > x->close_ns && late_ms >= SLACK_MS)
            fail_msg("round %u: a call returned %llu ms after close", round,
                     (unsigned long long)late_ms);
        eddy_chan_free(x->c);
        free(x);
    }
    rt_done(rt);
    /* the closes really cut the streams short in most rounds */
    assert_true(total_sent < (uint64_t)rounds * CC_SEND * CC_MAX);
}

/* --------------------------------------------------------------- timeouts */

struct tmo {
    eddy_chan *empty, *full;
    atomic_int waiting;
    int got;
};

/* Task or plain thread: the timeouts, then the channels still behave. */
static void *tmo_check(void *arg)
{
    struct tmo *x = arg;
    int v = 0;
    uint64_t t0 = eddy_now_ns();
    T_ERR(eddy_chan_recv_timeout(x->empty, &v, 100), -ETIMEDOUT);
    T_ELAPSED(t0, 100, 100 + SLACK_MS);
    t0 = eddy_now_ns();
    int w = 7;
    T_ERR(eddy_chan_send_timeout(x->full, &w, 100), -ETIMEDOUT);
    T_ELAPSED(t0, 100, 100 + SLACK_MS);
    T_ERR(eddy_chan_recv_timeout(x->empty, &v, 0), -ETIMEDOUT);
    T_ERR(eddy_chan_send_timeout(x->full, &w, 0), -ETIMEDOUT);
    /* the timed-out receiver is gone: a send is buffered, not handed to it */
    T_OK(eddy_chan_try_send(x->empty, &w));
    T_OK(eddy_chan_recv_timeout(x->empty, &v, 0));
    T_EQ(v, 7);
    /* the timed-out sender is gone: freeing the slot lets nothing in */
    T_OK(eddy_chan_recv_timeout(x->full, &v, 100));
    T_EQ(v, 1);
    T_ERR(eddy_chan_try_recv(x->full, &v), -EAGAIN);
    v = 1;
    T_OK(eddy_chan_send_timeout(x->full, &v, 100));
    return NULL;
}

static void *tmo_late_sender(void *arg)
{
    struct tmo *x = arg;
    T_ON_WORKER(0);
    T_CHECK(wait_count(&x->waiting, 1));
    eddy_sleep_ms(30);
    int v = 11;
    T_OK(eddy_chan_send(x->empty, &v));
    return NULL;
}

static void *tmo_task(void *arg)
{
    struct tmo *x = arg;
    T_ON_WORKER(1);
    tmo_check(x);
    /* a negative timeout waits for as long as it takes */
    atomic_store(&x->waiting, 1);
    T_OK(eddy_chan_recv_timeout(x->empty, &x->got, -1));
    T_ON_WORKER(1);
    return NULL;
}

static void *tmo_root(void *arg)
{
    eddy_task *a = spawn_at(1, tmo_task, arg);
    eddy_task *b = spawn_at(0, tmo_late_sender, arg);
    JOIN_OK(a);
    JOIN_OK(b);
    return NULL;
}

static void chan_send_and_recv_timeouts_return_etimedout_after_the_timeout(void **state)
{
    (void)state;
    struct tmo x = { 0 };
    assert_ok(eddy_chan_new(&x.empty, 1, sizeof(int)));
    assert_ok(eddy_chan_new(&x.full, 1, sizeof(int)));
    int one = 1;
    assert_ok(eddy_chan_try_send(x.full, &one));
    /* from a plain thread */
    tmo_check(&x);
    assert_no_task_failures();
    /* from a task */
    eddy_rt *rt = rt_new2(false);
    run_root(rt, tmo_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    assert_int_equal(x.got, 11);
    eddy_chan_free(x.empty);
    eddy_chan_free(x.full);
}

/* ------------------------------------------------- task <-> plain thread */

struct tt {
    eddy_chan *c;
    uint64_t n, got;
};

static void *tt_task_consumer(void *arg)
{
    struct tt *x = arg;
    for (uint64_t i = 0; i < x->n; i++) {
        uint64_t v;
        int rc = eddy_chan_recv(x->c, &v);
        if (rc < 0 || v != i) {
            t_fail(__LINE__, "recv %d: got %llu, want %llu", rc, (unsigned long long)v,
                   (unsigned long long)i);
            break;
        }
        x->got++;
    }
    return NULL;
}

static void *tt_task_producer(void *arg)
{
    struct tt *x = arg;
    for (uint64_t i = 0; i < x->n; i++) {
        int rc = eddy_chan_send(x->c, &i);
        if (rc < 0) {
            T_OK(rc);
            break;
        }
    }
    eddy_chan_close(x->c);
    return NULL;
}

static void tt_run(eddy_rt *rt, size_t cap, uint64_t n)
{
    struct tt x = { .n = n };
    eddy_task *t;
    /* plain thread -> task */
    assert_ok(eddy_chan_new(&x.c, cap, sizeof(uint64_t)));
    assert_ok(eddy_rt_spawn(rt, &t, tt_task_consumer, &x));
    for (uint64_t i = 0; i < n; i++)
        assert_ok(eddy_chan_send(x.c, &i));
    assert_ok(eddy_join(t, NULL));
    assert_no_task_failures();
    assert_int_equal(x.got, n);
    eddy_chan_free(x.c);
    /* task -> plain thread, ended by close */
    assert_ok(eddy_chan_new(&x.c, cap, sizeof(uint64_t)));
    assert_ok(eddy_rt_spawn(rt, &t, tt_task_producer, &x));
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = UINT64_MAX;
        assert_ok(eddy_chan_recv(x.c, &v));
        assert_int_equal(v, i);
    }
    uint64_t v;
    assert_err(eddy_chan_recv(x.c, &v), -EPIPE);
    assert_ok(eddy_join(t, NULL));
    assert_no_task_failures();
    eddy_chan_free(x.c);
}

static void chan_plain_thread_and_task_exchange_in_order_both_ways(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    tt_run(rt, 16, scaled(50000));
    tt_run(rt, 1, scaled(10000));
    tt_run(rt, 0, scaled(10000));
    rt_done(rt);
}

/* ------------------------------------------------------- abort, deadline */

struct ab {
    eddy_chan *c;
    atomic_int entering;
    int rc;
    int send; /* 1: block in send, 0: in recv */
};

static void *ab_blocked(void *arg)
{
    struct ab *x = arg;
    T_ON_WORKER(1);
    int v = 77;
    atomic_fetch_add(&x->entering, 1);
    x->rc = x->send ? eddy_chan_send(x->c, &v) : eddy_chan_recv(x->c, &v);
    /* later suspending calls fail too, even when they could complete */
    int w = 5;
    if (x->send)
        T_ERR(eddy_chan_recv(x->c, &w), -ECANCELED);
    else
        T_ERR(eddy_chan_send(x->c, &w), -ECANCELED);
    return (void *)(intptr_t)x->rc;
}

static void *ab_root(void *arg)
{
    struct ab *x = arg;
    eddy_task *t = spawn_at(1, ab_blocked, x);
    T_CHECK(wait_count(&x->entering, 1));
    eddy_sleep_ms(30);
    uint64_t t0 = eddy_now_ns();
    T_OK(eddy_abort(t));
    void *res = NULL;
    T_ERR(eddy_join(t, &res), -ECANCELED);
    T_ELAPSED(t0, 0, SLACK_MS);
    T_EQ((intptr_t)res, -ECANCELED); /* the task's own return value still arrives */
    T_EQ(x->rc, -ECANCELED);
    return NULL;
}

static void chan_abort_of_blocked_task_returns_ecanceled_and_channel_stays_usable(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    int v;
    /* blocked in recv on an empty channel */
    struct ab x = { .send = 0 };
    assert_ok(eddy_chan_new(&x.c, 1, sizeof(int)));
    run_root(rt, ab_root, &x);
    assert_no_task_failures();
    v = 3; /* buffered, not handed to the cancelled receiver */
    assert_ok(eddy_chan_try_send(x.c, &v));
    v = 0;
    assert_ok(eddy_chan_try_recv(x.c, &v));
    assert_int_equal(v, 3);
    eddy_chan_free(x.c);

    /* blocked in send on a full channel and on a rendezvous channel */
    for (size_t cap = 0; cap < 2; cap++) {
        x = (struct ab){ .send = 1 };
        assert_ok(eddy_chan_new(&x.c, cap, sizeof(int)));
        if (cap == 1) {
            v = 1;
            assert_ok(eddy_chan_try_send(x.c, &v));
        }
        run_root(rt, ab_root, &x);
        assert_no_task_failures();
        if (cap == 1) {
            assert_ok(eddy_chan_try_recv(x.c, &v));
            assert_int_equal(v, 1);
        }
        /* the cancelled sender's 77 never arrives */
        assert_err(eddy_chan_try_recv(x.c, &v), -EAGAIN);
        eddy_chan_free(x.c);
    }
    rt_done(rt);
}

static void *ab_plain(void *arg)
{
    struct ab *x = arg;
    int v;
    atomic_fetch_add(&x->entering, 1);
    x->rc = eddy_chan_recv(x->c, &v);
    return NULL;
}

static void chan_abort_from_plain_thread_cancels_task_blocked_in_recv(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(true);
    struct ab x = { 0 };
    assert_ok(eddy_chan_new(&x.c, 0, sizeof(int)));
    eddy_task *t;
    assert_ok(eddy_rt_spawn(rt, &t, ab_plain, &x));
    assert_true(wait_count(&x.entering, 1));
    eddy_sleep_ms(30);
    int64_t t0 = eddy_test_now_ms();
    assert_ok(eddy_abort(t));
    assert_err(eddy_join(t, NULL), -ECANCELED);
    assert_true(eddy_test_now_ms() - t0 < SLACK_MS);
    assert_int_equal(x.rc, -ECANCELED);
    rt_done(rt);
    eddy_chan_free(x.c);
    assert_no_task_failures();
}

static void chan_rt_shutdown_with_grace_unwinds_blocked_receiver_and_channel_stays_usable(
    void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    struct ab x = { 0 };
    assert_ok(eddy_chan_new(&x.c, 1, sizeof(int)));
    assert_ok(eddy_rt_spawn(rt, NULL, ab_plain, &x)); /* detached, blocks in recv */
    assert_true(wait_count(&x.entering, 1));
    eddy_sleep_ms(20);
    /* it had to be aborted, and it unwinds within the grace period */
    assert_err(eddy_rt_shutdown(rt, SLACK_MS), -ETIMEDOUT);
    eddy_rt_free(rt);
    assert_int_equal(x.rc, -ECANCELED);
    /* its waiter is gone: the channel outlives the runtime */
    int v = 8;
    assert_ok(eddy_chan_try_send(x.c, &v));
    v = 0;
    assert_ok(eddy_chan_try_recv(x.c, &v));
    assert_int_equal(v, 8);
    eddy_chan_close(x.c);
    assert_err(eddy_chan_recv(x.c, &v), -EPIPE);
    eddy_chan_free(x.c);
}

static void *dl_task(void *arg)
{
    eddy_chan *c = arg;
    int v;
    uint64_t t0 = eddy_now_ns();
    T_OK(eddy_deadline_push(50));
    T_ERR(eddy_chan_recv(c, &v), -ETIMEDOUT);
    T_ELAPSED(t0, 50, 50 + SLACK_MS);
    /* the scope stays expired until popped, even for a longer own timeout */
    T_ERR(eddy_chan_recv_timeout(c, &v, 1000), -ETIMEDOUT);
    eddy_deadline_pop();
    /* a scope shorter than the call's own timeout wins */
    t0 = eddy_now_ns();
    T_OK(eddy_deadline_push(50));
    T_ERR(eddy_chan_recv_timeout(c, &v, 10000), -ETIMEDOUT);
    T_ELAPSED(t0, 50, 50 + SLACK_MS);
    eddy_deadline_pop();
    /* popped: the channel works again and the stale receivers are gone */
    v = 9;
    T_OK(eddy_chan_try_send(c, &v));
    v = 0;
    T_OK(eddy_chan_recv(c, &v));
    T_EQ(v, 9);
    return NULL;
}

static void chan_recv_inside_deadline_scope_returns_etimedout(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    eddy_chan *c;
    assert_ok(eddy_chan_new(&c, 1, sizeof(int)));
    run_root(rt, dl_task, c);
    rt_done(rt);
    eddy_chan_free(c);
    assert_no_task_failures();
}

#define T(fn) cmocka_unit_test_setup(fn, reset_failures)
static const struct CMUnitTest tests[] = {
    T(chan_functions_return_einval_for_null_and_bad_elem_size),
    T(chan_spsc_across_workers_delivers_200k_messages_in_fifo_order),
    T(chan_spsc_capacity_1_across_workers_delivers_in_fifo_order),
    T(chan_rendezvous_stream_across_workers_delivers_in_fifo_order),
    T(chan_4_producers_4_consumers_across_workers_deliver_each_value_once),
    T(chan_4_producers_4_consumers_with_work_stealing_deliver_each_value_once),
    T(chan_4_producers_4_consumers_on_rendezvous_deliver_each_value_once),
    T(chan_try_send_returns_eagain_when_full_and_try_recv_when_empty),
    T(chan_send_blocks_while_full_until_receiver_on_other_worker_takes_one),
    T(chan_rendezvous_try_calls_return_eagain_without_a_partner),
    T(chan_rendezvous_send_completes_only_when_receiver_on_other_worker_takes_it),
    T(chan_recv_returns_epipe_after_close_and_drain),
    T(chan_close_wakes_every_blocked_receiver_and_sender_with_epipe),
    T(chan_close_under_contention_accounts_for_every_element),
    T(chan_send_and_recv_timeouts_return_etimedout_after_the_timeout),
    T(chan_plain_thread_and_task_exchange_in_order_both_ways),
    T(chan_abort_of_blocked_task_returns_ecanceled_and_channel_stays_usable),
    T(chan_abort_from_plain_thread_cancels_task_blocked_in_recv),
    T(chan_rt_shutdown_with_grace_unwinds_blocked_receiver_and_channel_stays_usable),
    T(chan_recv_inside_deadline_scope_returns_etimedout),
};

EDDY_TEST_MAIN(tests, 120)
