/*
 * tests/rt/test_select_stress.c: eddy_select (rt/select.c) under load, every
 * element counted: 16 selectors (and a plain thread) over the same four
 * channels against producers (RECV cases), beside plain receivers, and 16
 * selectors sending through the same channels to plain receivers (SEND
 * cases). Timeouts (wait, poll, 1 ms) and a notify that is signalled in a
 * loop make the selects leave and get claimed elsewhere while hand-overs
 * are under way: each element must arrive exactly once, none lost, none
 * twice, and only the winning case's buffer may change. The cases one by
 * one are in test_select.c.
 */
/* ctest-labels: concurrency stress */
#include "tests/rt/sync_checks.h"
#include "tests/rt/select_checks.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Each element has a number; count[] says how often it was delivered.
   Every count must end at exactly 1. */

#define S_CH 4

struct stress {
    eddy_chan *c[S_CH];
    uint64_t total, per_prod;
    _Atomic uint8_t *count;
    _Atomic uint64_t delivered;
    atomic_int seq, rseq; /* ids of selectors, of plain receivers */
    eddy_notify *noise;   /* notified in a loop: its wakes race the hand-overs */
    atomic_int stop_noise;
    _Atomic uint64_t noise_won;
};

/* Wakes every selector again and again while the elements flow: each wake
   claims a select through its NOTIFY case, racing the channels' wakers,
   which must then pass the element to somebody else. */
static void *noise(void *arg)
{
    struct stress *x = arg;
    for (unsigned i = 0; !atomic_load(&x->stop_noise) && i < 10000000; i++) {
        if (i % 2)
            eddy_notify_all(x->noise);
        else
            eddy_notify_one(x->noise);
        eddy_yield();
    }
    return NULL;
}

static void count_one(struct stress *x, uint64_t v)
{
    if (v >= x->total) {
        t_fail(__LINE__, "bogus element %llu", (unsigned long long)v);
        return;
    }
    if (atomic_fetch_add(&x->count[v], 1) != 0)
        t_fail(__LINE__, "element %llu delivered twice", (unsigned long long)v);
    atomic_fetch_add(&x->delivered, 1);
}

static void check_counts(struct stress *x)
{
    uint64_t missing = 0, dup = 0;
    for (uint64_t i = 0; i < x->total; i++) {
        uint8_t n = atomic_load(&x->count[i]);
        missing += n == 0;
        dup += n > 1;
    }
    if (missing || dup)
        fail_msg("of %llu elements %llu never arrived and %llu arrived more than once",
                 (unsigned long long)x->total, (unsigned long long)missing,
                 (unsigned long long)dup);
    assert_int_equal(atomic_load(&x->delivered), x->total);
}

/* A selector of RECV cases over every open channel until all are closed;
   its timeout varies (wait, poll, 1 ms) so that leaving races the
   hand-overs. Each case has its own buffer: only the winner's may change. */
static void *recv_selector(void *arg)
{
    struct stress *x = arg;
    int id = atomic_fetch_add(&x->seq, 1);
    eddy_select_case cs[S_CH + 1];
    uint64_t buf[S_CH];
    unsigned n = S_CH;
    for (unsigned i = 0; i < S_CH; i++)
        cs[i] = recv_case(x->c[(i + (unsigned)id) % S_CH], &buf[i]);
    for (uint64_t round = 0; n > 0; round++) {
        for (unsigned i = 0; i < n; i++) {
            buf[i] = UINT64_MAX;
            cs[i].elem = &buf[i];
        }
        int64_t tmo = round % 3 == 0 ? -1 : round % 3 == 1 ? 0 : 1;
        /* the noise case last, while the noise lasts */
        unsigned m = n;
        if (!atomic_load(&x->stop_noise))
            cs[m++] = (eddy_select_case){ .kind = EDDY_SEL_NOTIFY, .obj = x->noise };
        int k = eddy_select(cs, m, tmo);
        if (k == (int)n) {
            atomic_fetch_add(&x->noise_won, 1);
            for (unsigned i = 0; i < n; i++)
                if (buf[i] != UINT64_MAX)
                    t_fail(__LINE__, "case %u written though the notify won", i);
            continue;
        }
        if (k == -ETIMEDOUT) {
            for (unsigned i = 0; i < n; i++)
                if (buf[i] != UINT64_MAX)
                    t_fail(__LINE__, "a timed-out select wrote case %u", i);
            continue;
        }
        if (k < 0) {
            T_OK(k);
            break;
        }
        for (unsigned i = 0; i < n; i++)
            if ((int)i != k && buf[i] != UINT64_MAX)
                t_fail(__LINE__, "case %u written though case %d won", i, k);
        if (cs[k].result == -EPIPE) { /* closed and drained: drop the case */
            cs[k] = cs[--n];
            continue;
        }
        T_EQ(cs[k].result, 0);
        count_one(x, buf[k]);
    }
    return NULL;
}

/* A plain receiver beside the selectors (or behind the sending ones), on
   one channel. */
static void *plain_receiver(void *arg)
{
    struct stress *x = arg;
    int id = atomic_fetch_add(&x->rseq, 1);
    eddy_chan *c = x->c[(unsigned)id % S_CH];
    uint64_t v;
    int rc;
    while ((rc = eddy_chan_recv(c, &v)) == 0)
        count_one(x, v);
    T_ERR(rc, -EPIPE);
    return NULL;
}

struct prod_arg {
    struct stress *x;
    uint64_t first;
};

static void *producer(void *arg)
{
    struct prod_arg *p = arg;
    struct stress *x = p->x;
    for (uint64_t i = 0; i < x->per_prod; i++) {
        uint64_t v = p->first + i;
        int rc = eddy_chan_send(x->c[(v * 7 + i / 64) % S_CH], &v);
        if (rc < 0) {
            T_OK(rc);
            break;
        }
    }
    return NULL;
}

#define S_PROD 4
#define S_SEL 16

static void *stress_recv_root(void *arg)
{
    struct stress *x = arg;
    eddy_task *sel[S_SEL + 2], *prod[S_PROD];
    struct prod_arg pa[S_PROD];
    for (int i = 0; i < S_SEL; i++)
        T_OK(eddy_spawn(&sel[i], recv_selector, x));
    for (int i = 0; i < 2; i++)
        T_OK(eddy_spawn(&sel[S_SEL + i], plain_receiver, x));
    for (int i = 0; i < S_PROD; i++) {
        pa[i] = (struct prod_arg){ x, (uint64_t)i * x->per_prod };
        T_OK(eddy_spawn(&prod[i], producer, &pa[i]));
    }
    eddy_task *nz;
    T_OK(eddy_spawn(&nz, noise, x));
    for (int i = 0; i < S_PROD; i++)
        JOIN_OK(prod[i]);
    atomic_store(&x->stop_noise, 1);
    JOIN_OK(nz);
    for (int i = 0; i < S_CH; i++)
        eddy_chan_close(x->c[i]);
    for (int i = 0; i < S_SEL + 2; i++)
        JOIN_OK(sel[i]);
    return NULL;
}

static void stress_setup(struct stress *x, uint64_t per)
{
    static const size_t caps[S_CH] = { 0, 1, 4, 32 };
    memset(x, 0, sizeof *x);
    x->per_prod = per;
    x->total = per * S_PROD;
    x->count = calloc(x->total, 1);
    assert_non_null(x->count);
    for (int i = 0; i < S_CH; i++)
        x->c[i] = chan_new(caps[i]);
    assert_ok(eddy_notify_new(&x->noise));
}

static void stress_free(struct stress *x)
{
    for (int i = 0; i < S_CH; i++)
        eddy_chan_free(x->c[i]);
    eddy_notify_free(x->noise);
    free((void *)x->count);
}

static void select_stress_16_selectors_receive_every_element_exactly_once(void **state)
{
    (void)state;
    struct stress x;
    stress_setup(&x, scaled(50000));
    eddy_rt *rt = eddy_test_new_rt(4);
    pthread_t th; /* a plain thread selects beside the tasks */
    assert_int_equal(pthread_create(&th, NULL, recv_selector, &x), 0);
    run_root(rt, stress_recv_root, &x);
    assert_true(eddy_test_join_within(th, 30000));
    rt_done(rt);
    assert_no_task_failures();
    check_counts(&x);
    assert_true(atomic_load(&x.noise_won) > 0);
    stress_free(&x);
}

/* SEND cases: each selector sends its own numbers through whichever
   channel takes one first; plain receivers (tasks and a thread) count. A
   timed-out select sent nothing: the same number goes again. */
static void *send_selector(void *arg)
{
    struct stress *x = arg;
    int id = atomic_fetch_add(&x->seq, 1);
    uint64_t first = (uint64_t)id * x->per_prod;
    eddy_select_case cs[S_CH + 1];
    uint64_t v = first;
    for (unsigned i = 0; i < S_CH; i++)
        cs[i] = send_case(x->c[(i + (unsigned)id) % S_CH], &v);
    cs[S_CH] = (eddy_select_case){ .kind = EDDY_SEL_NOTIFY, .obj = x->noise };
    for (uint64_t round = 0; v < first + x->per_prod; round++) {
        int64_t tmo = round % 3 == 0 ? -1 : round % 3 == 1 ? 0 : 1;
        unsigned m = atomic_load(&x->stop_noise) ? S_CH : S_CH + 1;
        int k = eddy_select(cs, m, tmo);
        if (k == -ETIMEDOUT)
            continue;
        if (k == S_CH) { /* the noise: nothing sent, the same number again */
            atomic_fetch_add(&x->noise_won, 1);
            continue;
        }
        if (k < 0) {
            T_OK(k);
            break;
        }
        T_EQ(cs[k].result, 0);
        v++;
    }
    return NULL;
}

#define S_RECV 8

static void *stress_send_root(void *arg)
{
    struct stress *x = arg;
    eddy_task *snd[S_SEL], *rcv[S_RECV];
    for (int i = 0; i < S_RECV; i++)
        T_OK(eddy_spawn(&rcv[i], plain_receiver, x));
    for (int i = 0; i < S_SEL; i++)
        T_OK(eddy_spawn(&snd[i], send_selector, x));
    eddy_task *nz;
    T_OK(eddy_spawn(&nz, noise, x));
    /* the noise stops once half the numbers went: the rest must finish
       without it (a select left waiting on it would hang) */
    int64_t end = eddy_test_now_ms() + 60000;
    while (atomic_load(&x->delivered) < x->total / 2 && eddy_test_now_ms() < end &&
           eddy_sleep_ms(1) == 0)
        ;
    atomic_store(&x->stop_noise, 1);
    JOIN_OK(nz);
    for (int i = 0; i < S_SEL; i++)
        JOIN_OK(snd[i]);
    for (int i = 0; i < S_CH; i++)
        eddy_chan_close(x->c[i]);
    for (int i = 0; i < S_RECV; i++)
        JOIN_OK(rcv[i]);
    return NULL;
}

static void select_stress_16_selectors_send_every_element_exactly_once(void **state)
{
    (void)state;
    struct stress x;
    stress_setup(&x, scaled(12500));
    /* the senders number from their id: S_SEL of them, per_prod each */
    free((void *)x.count);
    x.total = x.per_prod * S_SEL;
    x.count = calloc(x.total, 1);
    assert_non_null(x.count);
    eddy_rt *rt = eddy_test_new_rt(4);
    run_root(rt, stress_send_root, &x);
    rt_done(rt);
    assert_no_task_failures();
    check_counts(&x);
    assert_true(atomic_load(&x.noise_won) > 0);
    stress_free(&x);
}

#define T(fn) cmocka_unit_test_setup(fn, reset_failures)
static const struct CMUnitTest tests[] = {
    T(select_stress_16_selectors_receive_every_element_exactly_once),
    T(select_stress_16_selectors_send_every_element_exactly_once),
};

EDDY_TEST_MAIN(tests, 300)
