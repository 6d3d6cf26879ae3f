/*
 * tests/rt/test_select.c: eddy_select (rt/select.c). Ready cases complete at
 * once, exactly one case per call (a receive and a send on one channel,
 * several ready at once), timeouts and aborts consume nothing and leave no
 * node behind, closed channels, fd, join and notify cases, plain threads,
 * more cases than the stack keeps, fairness. Many selectors racing over the
 * same channels, every element counted, are in test_select_stress.c.
 */
/* ctest-labels: concurrency */
#include "tests/rt/sync_checks.h"
#include "tests/rt/select_checks.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>


/* How many elements c holds now (drains it), for "nothing consumed". */
static int drain(eddy_chan *c)
{
    uint64_t v;
    int n = 0;
    while (eddy_chan_try_recv(c, &v) == 0)
        n++;
    return n;
}

/* ----------------------------------------------------------- bad input */

static void *finish_at_once(void *arg)
{
    return arg;
}

static void select_rejects_bad_input_with_einval_before_anything_happens(void **state)
{
    (void)state;
    eddy_chan *c = chan_new(4);
    eddy_notify *nt = NULL;
    assert_ok(eddy_notify_new(&nt));
    uint64_t one = 1, v = 0;
    assert_ok(eddy_chan_send(c, &one));
    eddy_select_case ok = recv_case(c, &v);
    assert_err(eddy_select(NULL, 1, 0), -EINVAL);
    assert_err(eddy_select(&ok, 0, 0), -EINVAL);
    eddy_select_case bad[2] = { ok, ok };
    bad[1].kind = 0;
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    bad[1].kind = EDDY_SEL_JOIN + 1;
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    bad[1] = recv_case(NULL, &v);
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    bad[1] = recv_case(c, NULL);
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    bad[1] = send_case(c, NULL);
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    bad[1] = (eddy_select_case){ .kind = EDDY_SEL_NOTIFY };
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    bad[1] = (eddy_select_case){ .kind = EDDY_SEL_FD, .fd = -1, .events = EDDY_READABLE };
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    bad[1] = (eddy_select_case){ .kind = EDDY_SEL_FD, .fd = 0, .events = 4 };
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    /* a spent join handle */
    eddy_rt *rt = eddy_test_new_rt(1);
    eddy_task *h = NULL;
    assert_ok(eddy_rt_spawn(rt, &h, finish_at_once, NULL));
    assert_ok(eddy_join(h, NULL));
    bad[1] = (eddy_select_case){ .kind = EDDY_SEL_JOIN, .obj = h };
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    bad[1] = (eddy_select_case){ .kind = EDDY_SEL_JOIN };
    assert_err(eddy_select(bad, 2, -1), -EINVAL);
    eddy_rt_free(rt);
    /* nothing happened: the element is still there, no result written */
    assert_int_equal(bad[0].result, 12345);
    assert_int_equal(drain(c), 1);
    eddy_chan_free(c);
    eddy_notify_free(nt);
}

/* ---------------------------------------------- ready cases, timeouts */

static void select_completes_a_ready_case_at_once_and_only_that_one(void **state)
{
    (void)state;
    eddy_chan *empty = chan_new(4), *full = chan_new(4);
    uint64_t seven = 7, a = 0, b = 0;
    assert_ok(eddy_chan_send(full, &seven));
    eddy_select_case cs[2] = { recv_case(empty, &a), recv_case(full, &b) };
    uint64_t t0 = eddy_now_ns();
    assert_int_equal(eddy_select(cs, 2, 5000), 1);
    assert_true(eddy_now_ns() - t0 < SLACK_MS * 1000000ull);
    assert_int_equal(cs[1].result, 0);
    assert_int_equal(b, 7);
    assert_int_equal(a, 0);
    assert_int_equal(cs[0].result, 12345); /* the other case is untouched */
    assert_int_equal(drain(full), 0);
    assert_int_equal(drain(empty), 0);
    eddy_chan_free(empty);
    eddy_chan_free(full);
}

static void select_timeout_0_and_short_timeout_give_etimedout_and_consume_nothing(void **state)
{
    (void)state;
    eddy_chan *r = chan_new(2), *s = chan_new(1), *rv = chan_new(0);
    uint64_t x = 5, v = 0, out = 9;
    assert_ok(eddy_chan_send(s, &x)); /* s is full: its send case is not ready */
    eddy_select_case cs[3] = { recv_case(r, &v), send_case(s, &out), recv_case(rv, &v) };
    uint64_t t0 = eddy_now_ns();
    assert_err(eddy_select(cs, 3, 0), -ETIMEDOUT);
    assert_true(eddy_now_ns() - t0 < SLACK_MS * 1000000ull);
    t0 = eddy_now_ns();
    assert_err(eddy_select(cs, 3, 50), -ETIMEDOUT);
    uint64_t el = (eddy_now_ns() - t0) / 1000000u;
    assert_true(el >= 49 && el < SLACK_MS);
    /* nothing sent, nothing received, and no node left in any queue: a
       rendezvous send finds no receiver, a send to r stays buffered */
    assert_err(eddy_chan_try_send(rv, &x), -EAGAIN);
    assert_ok(eddy_chan_try_send(r, &x));
    assert_int_equal(drain(r), 1);
    assert_int_equal(drain(s), 1);
    eddy_chan_free(r);
    eddy_chan_free(s);
    eddy_chan_free(rv);
}

/* A receive and a send on one buffered channel: when both are ready, one of
   the two completes, never both; over many rounds both get picked. */
static void select_recv_and_send_on_one_buffered_channel_complete_one_of_them(void **state)
{
    (void)state;
    eddy_chan *c = chan_new(2);
    int picked[2] = { 0, 0 };
    for (int round = 0; round < 400; round++) {
        uint64_t in = 1000 + (uint64_t)round, got = 0, one = 1;
        assert_ok(eddy_chan_send(c, &one)); /* 1 of 2: both cases ready */
        eddy_select_case cs[2] = { recv_case(c, &got), send_case(c, &in) };
        int i = eddy_select(cs, 2, 1000);
        assert_true(i == 0 || i == 1);
        assert_int_equal(cs[i].result, 0);
        assert_int_equal(cs[1 - i].result, 12345);
        picked[i]++;
        if (i == 0) {
            assert_int_equal(got, 1);
            assert_int_equal(drain(c), 0);
        } else {
            assert_int_equal(got, 0);
            uint64_t a = 0, b = 0;
            assert_ok(eddy_chan_try_recv(c, &a));
            assert_ok(eddy_chan_try_recv(c, &b));
            assert_int_equal(a, 1);
            assert_int_equal(b, in);
            assert_int_equal(drain(c), 0);
        }
    }
    assert_true(picked[0] > 100 && picked[1] > 100);
    /* full: only the receive is ready; empty: only the send */
    uint64_t one = 1, two = 2, got = 0, in = 3;
    assert_ok(eddy_chan_send(c, &one));
    assert_ok(eddy_chan_send(c, &two));
    eddy_select_case cs[2] = { recv_case(c, &got), send_case(c, &in) };
    assert_int_equal(eddy_select(cs, 2, 0), 0);
    assert_int_equal(got, 1);
    assert_int_equal(drain(c), 1);
    assert_int_equal(eddy_select(cs, 2, 0), 1);
    assert_int_equal(drain(c), 1);
    eddy_chan_free(c);

    /* a rendezvous channel: the select never meets itself */
    eddy_chan *rv = chan_new(0);
    eddy_select_case rs[2] = { recv_case(rv, &got), send_case(rv, &in) };
    assert_err(eddy_select(rs, 2, 30), -ETIMEDOUT);
    assert_err(eddy_chan_try_send(rv, &in), -EAGAIN);
    assert_err(eddy_chan_try_recv(rv, &got), -EAGAIN);
    eddy_chan_free(rv);
}

/* ---------------------------------------------------- closed channels */

struct closer {
    eddy_chan *c;
    int delay_ms;
};

static void *close_later(void *arg)
{
    struct closer *x = arg;
    eddy_sleep_ms(x->delay_ms);
    eddy_chan_close(x->c);
    return NULL;
}

static void *closed_root(void *arg)
{
    (void)arg;
    eddy_chan *a, *b;
    T_OK(eddy_chan_new(&a, 4, sizeof(uint64_t)));
    T_OK(eddy_chan_new(&b, 0, sizeof(uint64_t)));
    uint64_t va = 0, vb = 0, x = 3;
    /* already closed and drained: ready, -EPIPE */
    eddy_chan_close(b);
    eddy_select_case cs[2] = { recv_case(a, &va), recv_case(b, &vb) };
    T_EQ(eddy_select(cs, 2, 1000), 1);
    T_EQ(cs[1].result, -EPIPE);
    eddy_select_case ss[2] = { recv_case(a, &va), send_case(b, &x) };
    T_EQ(eddy_select(ss, 2, 1000), 1);
    T_EQ(ss[1].result, -EPIPE);
    eddy_chan_free(b);
    /* closed while the select waits: that case, -EPIPE */
    T_OK(eddy_chan_new(&b, 0, sizeof(uint64_t)));
    struct closer cl = { b, 30 };
    eddy_task *t;
    T_OK(eddy_spawn(&t, close_later, &cl));
    cs[1] = recv_case(b, &vb);
    cs[0].result = cs[1].result = 12345;
    T_EQ(eddy_select(cs, 2, 5000), 1);
    T_EQ(cs[1].result, -EPIPE);
    T_EQ(cs[0].result, 12345);
    JOIN_OK(t);
    /* a closed channel still hands out what it buffered first */
    T_OK(eddy_chan_send(a, &x));
    eddy_chan_close(a);
    cs[0] = recv_case(a, &va);
    T_EQ(eddy_select(cs, 1, 0), 0);
    T_EQ(cs[0].result, 0);
    T_EQ(va, 3);
    T_EQ(eddy_select(cs, 1, 0), 0);
    T_EQ(cs[0].result, -EPIPE);
    eddy_chan_free(a);
    eddy_chan_free(b);
    return NULL;
}

static void select_on_a_closed_channel_returns_that_case_with_epipe(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(true);
    run_root(rt, closed_root, NULL);
    rt_done(rt);
    assert_no_task_failures();
}

/* --------------------------------------------------------------- abort */

struct ab {
    eddy_chan *rv, *buf;
    eddy_notify *nt;
    atomic_int entered;
    int rc;
};

static void *ab_selector(void *arg)
{
    struct ab *x = arg;
    uint64_t a = 0, b = 0;
    eddy_select_case cs[3] = { recv_case(x->rv, &a), recv_case(x->buf, &b),
                               { .kind = EDDY_SEL_NOTIFY, .obj = x->nt } };
    atomic_store(&x->entered, 1);
    x->rc = eddy_select(cs, 3, -1);
    return NULL;
}

static void *ab_root(void *arg)
{
    struct ab *x = arg;
    eddy_task *t = spawn_at(1, ab_selector, x);
    T_CHECK(wait_count(&x->entered, 1));
    eddy_sleep_ms(20); /* it waits now */
    T_OK(eddy_abort(t));
    T_ERR(eddy_join(t, NULL), -ECANCELED);
    T_EQ(x->rc, -ECANCELED);
    /* its nodes are gone: a rendezvous send finds no receiver, a buffered
       one stays in the buffer, a notify_one leaves its permit */
    uint64_t v = 77, got = 0;
    T_ERR(eddy_chan_try_send(x->rv, &v), -EAGAIN);
    T_OK(eddy_chan_try_send(x->buf, &v));
    T_OK(eddy_chan_try_recv(x->buf, &got));
    T_EQ(got, 77);
    eddy_notify_one(x->nt);
    T_OK(eddy_notify_wait(x->nt, 0));
    return NULL;
}

static void select_abort_of_the_selecting_task_gives_ecanceled_and_consumes_nothing(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(false);
    struct ab x = { 0 };
    assert_ok(eddy_chan_new(&x.rv, 0, sizeof(uint64_t)));
    assert_ok(eddy_chan_new(&x.buf, 4, sizeof(uint64_t)));
    assert_ok(eddy_notify_new(&x.nt));
    run_root(rt, ab_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    eddy_chan_free(x.rv);
    eddy_chan_free(x.buf);
    eddy_notify_free(x.nt);
}

static void *dl_root(void *arg)
{
    eddy_chan *c = arg;
    uint64_t v = 0;
    eddy_select_case cs[1] = { recv_case(c, &v) };
    T_OK(eddy_deadline_push(30));
    T_ERR(eddy_select(cs, 1, -1), -ETIMEDOUT);
    eddy_deadline_pop();
    uint64_t x = 1;
    T_ERR(eddy_chan_try_send(c, &x), -EAGAIN); /* no node left */
    return NULL;
}

static void select_in_a_deadline_scope_gives_etimedout(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(true);
    eddy_chan *c = chan_new(0);
    run_root(rt, dl_root, c);
    rt_done(rt);
    assert_no_task_failures();
    eddy_chan_free(c);
}

/* ------------------------------------------------------------ fd cases */

struct fdx {
    int sv[2];
    eddy_chan *c;
    int delay_ms;
};

static void *write_later(void *arg)
{
    struct fdx *x = arg;
    eddy_sleep_ms(x->delay_ms);
    T_EQ(eddy_write(x->sv[1], "x", 1), 1);
    return NULL;
}

static void *fd_root(void *arg)
{
    struct fdx *x = arg;
    uint64_t v = 0;
    eddy_select_case cs[2] = { recv_case(x->c, &v),
                               { .kind = EDDY_SEL_FD, .fd = x->sv[0], .events = EDDY_READABLE } };
    T_ERR(eddy_select(cs, 2, 0), -ETIMEDOUT);
    eddy_task *t;
    T_OK(eddy_spawn(&t, write_later, x));
    T_EQ(eddy_select(cs, 2, 5000), 1);
    T_CHECK(cs[1].result > 0 && (cs[1].result & EDDY_READABLE));
    JOIN_OK(t);
    /* level-triggered: still readable until read */
    T_EQ(eddy_select(cs, 2, 0), 1);
    char b;
    T_EQ(eddy_read(x->sv[0], &b, 1), 1);
    T_ERR(eddy_select(cs, 2, 20), -ETIMEDOUT);
    /* writable at once */
    cs[1].events = EDDY_WRITABLE;
    T_EQ(eddy_select(cs, 2, 0), 1);
    T_EQ(cs[1].result, EDDY_WRITABLE);
    return NULL;
}

static void *plain_fd_thread(void *arg)
{
    struct fdx *x = arg;
    uint64_t v = 0;
    eddy_select_case cs[2] = { recv_case(x->c, &v),
                               { .kind = EDDY_SEL_FD, .fd = x->sv[0], .events = EDDY_READABLE } };
    uint64_t t0 = eddy_now_ns();
    T_EQ(eddy_select(cs, 2, 5000), 1);
    T_CHECK(cs[1].result & EDDY_READABLE);
    T_ELAPSED(t0, 10, SLACK_MS);
    char b;
    T_EQ(eddy_read(x->sv[0], &b, 1), 1);
    /* a channel case wakes the thread out of its poll(2) */
    T_EQ(eddy_select(cs, 2, 5000), 0);
    T_EQ(v, 99);
    return NULL;
}

static void select_fd_case_becomes_ready_when_the_other_side_writes(void **state)
{
    (void)state;
    struct fdx x = { .delay_ms = 30 };
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, x.sv), 0);
    x.c = chan_new(0);
    eddy_rt *rt = rt_new2(true);
    run_root(rt, fd_root, &x);
    /* a plain thread: poll(2) on the fd and its parker */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, plain_fd_thread, &x), 0);
    usleep(30000);
    assert_int_equal(eddy_write(x.sv[1], "y", 1), 1);
    usleep(30000);
    uint64_t v = 99;
    assert_ok(eddy_chan_send_timeout(x.c, &v, 5000));
    assert_true(eddy_test_join_within(th, 10000));
    rt_done(rt);
    assert_no_task_failures();
    eddy_close(x.sv[0]);
    eddy_close(x.sv[1]);
    eddy_chan_free(x.c);
}

static void *close_fd_later(void *arg)
{
    struct fdx *x = arg;
    eddy_sleep_ms(x->delay_ms);
    T_OK(eddy_close(x->sv[0]));
    return NULL;
}

static void *fd_close_root(void *arg)
{
    struct fdx *x = arg;
    uint64_t v = 0;
    eddy_select_case cs[2] = { recv_case(x->c, &v),
                               { .kind = EDDY_SEL_FD, .fd = x->sv[0], .events = EDDY_READABLE } };
    eddy_task *t;
    T_OK(eddy_spawn(&t, close_fd_later, x));
    T_EQ(eddy_select(cs, 2, 5000), 1);
    T_EQ(cs[1].result, -EBADF);
    JOIN_OK(t);
    return NULL;
}

static void select_fd_case_closed_meanwhile_is_ready_with_ebadf(void **state)
{
    (void)state;
    struct fdx x = { .delay_ms = 30 };
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, x.sv), 0);
    x.c = chan_new(0);
    eddy_rt *rt = rt_new2(true);
    run_root(rt, fd_close_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    eddy_close(x.sv[1]);
    eddy_chan_free(x.c);
}

/* ---------------------------------------------------------- join cases */

static void *sleep_then_42(void *arg)
{
    eddy_sleep_ms((int)(intptr_t)arg);
    return (void *)(intptr_t)42;
}

static void *sleep_long(void *arg)
{
    (void)arg;
    while (eddy_sleep_ms(10000) == 0)
        ;
    return (void *)(intptr_t)7;
}

static void *join_root(void *arg)
{
    (void)arg;
    eddy_chan *c;
    T_OK(eddy_chan_new(&c, 0, sizeof(uint64_t)));
    uint64_t v = 0;
    void *res = NULL;
    /* ends while the select waits */
    eddy_task *h;
    T_OK(eddy_spawn(&h, sleep_then_42, (void *)(intptr_t)30));
    eddy_select_case cs[2] = { recv_case(c, &v),
                               { .kind = EDDY_SEL_JOIN, .obj = h, .elem = &res } };
    T_EQ(eddy_select(cs, 2, 5000), 1);
    T_EQ(cs[1].result, 0);
    T_EQ((intptr_t)res, 42);
    T_ERR(eddy_join(h, NULL), -EINVAL); /* consumed */
    /* ended already: ready at once */
    T_OK(eddy_spawn(&h, sleep_then_42, (void *)(intptr_t)0));
    eddy_sleep_ms(20);
    cs[1].obj = h;
    res = NULL;
    T_EQ(eddy_select(cs, 2, 0), 1);
    T_EQ((intptr_t)res, 42);
    T_ERR(eddy_join(h, NULL), -EINVAL);
    /* not ended: a timeout leaves the handle valid; an abort gives
       -ECANCELED as eddy_join would */
    T_OK(eddy_spawn(&h, sleep_long, NULL));
    cs[1].obj = h;
    cs[1].elem = NULL;
    T_ERR(eddy_select(cs, 2, 20), -ETIMEDOUT);
    T_OK(eddy_abort(h));
    T_EQ(eddy_select(cs, 2, 5000), 1);
    T_EQ(cs[1].result, -ECANCELED);
    T_ERR(eddy_join(h, NULL), -EINVAL);
    eddy_chan_free(c);
    return NULL;
}

static void select_join_case_gives_the_result_and_consumes_the_handle(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(true);
    run_root(rt, join_root, NULL);
    /* a plain thread waits for a task's end */
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, sleep_then_42, (void *)(intptr_t)30));
    void *res = NULL;
    eddy_select_case cs[1] = { { .kind = EDDY_SEL_JOIN, .obj = h, .elem = &res } };
    assert_int_equal(eddy_select(cs, 1, 5000), 0);
    assert_int_equal(cs[0].result, 0);
    assert_int_equal((intptr_t)res, 42);
    assert_err(eddy_join(h, NULL), -EINVAL);
    rt_done(rt);
    assert_no_task_failures();
}

/* -------------------------------------------------------- notify cases */

static void *notify_later(void *arg)
{
    eddy_sleep_ms(20);
    eddy_notify_one(arg);
    return NULL;
}

static void *notify_all_later(void *arg)
{
    eddy_sleep_ms(20);
    eddy_notify_all(arg);
    return NULL;
}

static void *notify_root(void *arg)
{
    eddy_notify *nt = arg;
    eddy_chan *c;
    T_OK(eddy_chan_new(&c, 0, sizeof(uint64_t)));
    uint64_t v;
    eddy_select_case cs[2] = { recv_case(c, &v), { .kind = EDDY_SEL_NOTIFY, .obj = nt } };
    T_ERR(eddy_select(cs, 2, 0), -ETIMEDOUT);
    /* a stored permit is consumed at once, and only one */
    eddy_notify_one(nt);
    T_EQ(eddy_select(cs, 2, 0), 1);
    T_EQ(cs[1].result, 0);
    T_ERR(eddy_select(cs, 2, 0), -ETIMEDOUT);
    /* a notify_one while waiting, and a notify_all */
    eddy_task *t;
    T_OK(eddy_spawn(&t, notify_later, nt));
    T_EQ(eddy_select(cs, 2, 5000), 1);
    JOIN_OK(t);
    T_OK(eddy_spawn(&t, notify_all_later, nt));
    T_EQ(eddy_select(cs, 2, 5000), 1);
    JOIN_OK(t);
    T_ERR(eddy_notify_wait(nt, 0), -ETIMEDOUT); /* no permit left behind */
    eddy_chan_free(c);
    return NULL;
}

static void select_notify_case_consumes_a_permit_or_a_wake(void **state)
{
    (void)state;
    eddy_notify *nt;
    assert_ok(eddy_notify_new(&nt));
    eddy_rt *rt = rt_new2(true);
    run_root(rt, notify_root, nt);
    rt_done(rt);
    assert_no_task_failures();
    eddy_notify_free(nt);
}

/* -------------------------------------------------------- plain threads */

struct late {
    eddy_chan *c;
    uint64_t v;
    int delay_ms;
};

static void *send_later(void *arg)
{
    struct late *x = arg;
    eddy_sleep_ms(x->delay_ms);
    T_OK(eddy_chan_send(x->c, &x->v));
    return NULL;
}

static void *recv_later(void *arg)
{
    struct late *x = arg;
    eddy_sleep_ms(x->delay_ms);
    T_OK(eddy_chan_recv(x->c, &x->v));
    return NULL;
}

static void select_from_a_plain_thread_blocks_until_a_task_sends(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(true);
    eddy_chan *a = chan_new(0), *b = chan_new(0);
    struct late x = { .c = b, .v = 31, .delay_ms = 30 };
    eddy_task *t;
    assert_ok(eddy_rt_spawn(rt, &t, send_later, &x));
    uint64_t va = 0, vb = 0;
    eddy_select_case cs[2] = { recv_case(a, &va), recv_case(b, &vb) };
    uint64_t t0 = eddy_now_ns();
    assert_int_equal(eddy_select(cs, 2, 5000), 1);
    assert_true(eddy_now_ns() - t0 >= 10 * 1000000ull);
    assert_int_equal(vb, 31);
    assert_ok(eddy_join(t, NULL));
    /* a send case: nobody takes it, then a task's receive does */
    uint64_t out = 55;
    eddy_select_case ss[2] = { recv_case(a, &va), send_case(b, &out) };
    assert_err(eddy_select(ss, 2, 20), -ETIMEDOUT);
    x.v = 0;
    assert_ok(eddy_rt_spawn(rt, &t, recv_later, &x));
    assert_int_equal(eddy_select(ss, 2, 5000), 1);
    assert_int_equal(ss[1].result, 0);
    assert_ok(eddy_join(t, NULL));
    assert_int_equal(x.v, 55);
    /* a timeout: nothing left behind */
    assert_err(eddy_select(cs, 2, 20), -ETIMEDOUT);
    assert_err(eddy_chan_try_send(b, &out), -EAGAIN);
    rt_done(rt);
    assert_no_task_failures();
    eddy_chan_free(a);
    eddy_chan_free(b);
}

/* ----------------------------------------------- more than the stack keeps */

static void *many_root(void *arg)
{
    (void)arg;
    enum { N = 20 };
    eddy_chan *c[N];
    uint64_t v[N];
    eddy_select_case cs[N];
    for (int i = 0; i < N; i++) {
        T_OK(eddy_chan_new(&c[i], 0, sizeof(uint64_t)));
        v[i] = 0;
        cs[i] = recv_case(c[i], &v[i]);
    }
    struct late x = { .c = c[13], .v = 13, .delay_ms = 20 };
    eddy_task *t;
    T_OK(eddy_spawn(&t, send_later, &x));
    T_EQ(eddy_select(cs, N, 5000), 13);
    T_EQ(v[13], 13);
    JOIN_OK(t);
    eddy_chan_close(c[17]);
    T_EQ(eddy_select(cs, N, 0), 17);
    T_EQ(cs[17].result, -EPIPE);
    for (int i = 0; i < N; i++)
        eddy_chan_free(c[i]);
    return NULL;
}

static void select_over_20_cases_works_past_the_stack_bookkeeping(void **state)
{
    (void)state;
    eddy_rt *rt = rt_new2(true);
    run_root(rt, many_root, NULL);
    rt_done(rt);
    assert_no_task_failures();
}

/* ------------------------------------------------------------ fairness */

static void select_picks_uniformly_among_ready_cases(void **state)
{
    (void)state;
    enum { K = 3, ROUNDS = 3000 };
    eddy_chan *c[K];
    uint64_t v[K];
    eddy_select_case cs[K];
    for (int i = 0; i < K; i++) {
        c[i] = chan_new(4);
        uint64_t x = (uint64_t)i;
        assert_ok(eddy_chan_send(c[i], &x));
        cs[i] = recv_case(c[i], &v[i]);
    }
    /* two always-ready channels: 2000 selects, each side at least 30% */
    int wins[K] = { 0 };
    for (int r = 0; r < 2000; r++) {
        int i = eddy_select(cs, 2, 0);
        assert_true(i == 0 || i == 1);
        assert_int_equal(v[i], (uint64_t)i);
        wins[i]++;
        assert_ok(eddy_chan_send(c[i], &v[i])); /* ready again */
    }
    assert_true(wins[0] >= 600 && wins[1] >= 600);
    /* three: each at least 25% (a random start and a scan in order would
       favour the case after one that is not ready; all are ready here,
       but the permutation keeps it uniform in general) */
    wins[0] = wins[1] = wins[2] = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int i = eddy_select(cs, K, 0);
        assert_true(i >= 0 && i < K);
        wins[i]++;
        assert_ok(eddy_chan_send(c[i], &v[i]));
    }
    for (int i = 0; i < K; i++)
        assert_true(wins[i] >= ROUNDS / 4);
    /* the middle one never ready: the other two still even */
    assert_int_equal(drain(c[1]), 1);
    wins[0] = wins[2] = 0;
    for (int r = 0; r < 2000; r++) {
        int i = eddy_select(cs, K, 0);
        assert_true(i == 0 || i == 2);
        wins[i]++;
        assert_ok(eddy_chan_send(c[i], &v[i]));
    }
    assert_true(wins[0] >= 600 && wins[2] >= 600);
    for (int i = 0; i < K; i++)
        eddy_chan_free(c[i]);
}

#define T(fn) cmocka_unit_test_setup(fn, reset_failures)
static const struct CMUnitTest tests[] = {
    T(select_rejects_bad_input_with_einval_before_anything_happens),
    T(select_completes_a_ready_case_at_once_and_only_that_one),
    T(select_timeout_0_and_short_timeout_give_etimedout_and_consume_nothing),
    T(select_recv_and_send_on_one_buffered_channel_complete_one_of_them),
    T(select_on_a_closed_channel_returns_that_case_with_epipe),
    T(select_abort_of_the_selecting_task_gives_ecanceled_and_consumes_nothing),
    T(select_in_a_deadline_scope_gives_etimedout),
    T(select_fd_case_becomes_ready_when_the_other_side_writes),
    T(select_fd_case_closed_meanwhile_is_ready_with_ebadf),
    T(select_join_case_gives_the_result_and_consumes_the_handle),
    T(select_notify_case_consumes_a_permit_or_a_wake),
    T(select_from_a_plain_thread_blocks_until_a_task_sends),
    T(select_over_20_cases_works_past_the_stack_bookkeeping),
    T(select_picks_uniformly_among_ready_cases),
};

EDDY_TEST_MAIN(tests, 120)
