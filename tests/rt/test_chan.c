/*
 * tests/rt/test_chan.c: channels (rt/chan.c) between tasks pinned to two
 * different workers and between tasks and plain threads: FIFO order and exact
 * counts, many producers and consumers, capacity and rendezvous, bad
 * arguments. How a blocked channel call ends (close, timeout, abort,
 * shutdown, deadline scope) is in test_chan_close.c; the other primitives of
 * eddy/sync.h are in test_mutex_sem.c, test_notify_wg.c and test_sync.c.
 *
 * Cross-worker tests run with work stealing off, so a task spawned with
 * opts.worker = k stays on worker k (each task checks eddy_worker_index()).
 */
/* ctest-labels: concurrency */
#include "tests/rt/sync_checks.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

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
    T(chan_plain_thread_and_task_exchange_in_order_both_ways),
};

EDDY_TEST_MAIN(tests, 120)
