/*
 * tests/rt/test_chan_close.c: how a blocked channel call (rt/chan.c) ends:
 * close (drain then -EPIPE, waking every blocked call, close under contention
 * with every element accounted for), timeouts, abort, runtime shutdown and
 * deadline scopes, after which the channel must still work. Tasks are pinned
 * to two different workers or are plain threads. The rest of the channel
 * tests are in test_chan.c.
 *
 * Cross-worker tests run with work stealing off, so a task spawned with
 * opts.worker = k stays on worker k (each task checks eddy_worker_index()).
 */
/* ctest-labels: concurrency */
#include "tests/rt/sync_checks.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

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
    T(chan_recv_returns_epipe_after_close_and_drain),
    T(chan_close_wakes_every_blocked_receiver_and_sender_with_epipe),
    T(chan_close_under_contention_accounts_for_every_element),
    T(chan_send_and_recv_timeouts_return_etimedout_after_the_timeout),
    T(chan_abort_of_blocked_task_returns_ecanceled_and_channel_stays_usable),
    T(chan_abort_from_plain_thread_cancels_task_blocked_in_recv),
    T(chan_rt_shutdown_with_grace_unwinds_blocked_receiver_and_channel_stays_usable),
    T(chan_recv_inside_deadline_scope_returns_etimedout),
};

EDDY_TEST_MAIN(tests, 120)
