/* ctest-labels: concurrency stress */
/*
 * tests/io/test_plain_wait_stress.c: the lock-free wake of a plain thread
 * (or a blocking-pool task) blocked in poll(2) inside eddy_read,
 * eddy_write or eddy_wait_fd (io/fd.c plain_wait, sched/task.c
 * eddy__parker_poll and parker_wake), raced many times with randomly timed
 * data, eddy_close, hang-ups and eddy_abort that land before, during and
 * after the thread's poll(2). Every round is bounded: a lost wake fails the
 * test (the thread is unblocked first) instead of hanging it; every result
 * is checked exactly, and the fd count is checked to come back (a thread's
 * eventfd goes with it). EDDY_STRESS_SEED=<n> replays a run's random
 * choices (actions, delays); each test prints the seed it used.
 *
 * This half: a fresh plain thread per round (read and write side) and one
 * long-lived thread; the rest is in test_plain_wait_crowd.c.
 */
#include "plain_wait_stress.h"

/* ------------------------- 1. a fresh plain thread per round, read side */

static void fresh_reader_rounds(int op)
{
    uint64_t seed = seed_for(op_name(op));
    unsigned rounds = scaled(1500, 800);
    int fds_before = eddy_test_count_fds();
    unsigned counts[NACTS] = { 0 };
    for (unsigned r = 0; r < rounds; r++) {
        struct pair p;
        pair_open(&p);
        struct one o = { .fd = p.sv[0], .op = op, .rc = LONG_MIN };
        int act = pick_act(&seed);
        bool wait_start = rnd(&seed, 2);
        unsigned ns = pick_delay(&seed);
        unsigned char byte = (unsigned char)('a' + r % 26);
        counts[act]++;
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, one_op, &o), 0);
        if (wait_start && !flag_within(&o.started, bound_ms())) {
            pair_unblock(&p);
            fail_msg("round %u: the thread did not start", r);
        }
        delay_ns(ns);
        if (!act_on(act, &p, byte, &o.tid)) {
            pair_unblock(&p);
            bool joined = eddy_test_join_within(t, bound_ms());
            fail_msg("round %u: %s never blocked in poll(2) (%s)", r, op_name(op),
                     joined ? "it returned" : "still running");
        }
        if (!eddy_test_join_within(t, bound_ms())) {
            pair_unblock(&p);
            bool joined = eddy_test_join_within(t, bound_ms());
            fail_msg("round %u: %s still blocked %d ms after %s (%u ns after %s)%s", r,
                     op_name(op), bound_ms(), act_name(act), ns,
                     wait_start ? "it started" : "pthread_create",
                     joined ? "" : "; still blocked after a hang-up");
        }
        long rc = atomic_load(&o.rc);
        unsigned char got = (unsigned char)atomic_load(&o.byte);
        if (!read_result_ok(op, act, rc, got, byte))
            fail_msg("round %u: %s after %s (%u ns after %s) returned %ld (%s), byte 0x%02x "
                     "(sent 0x%02x)",
                     r, op_name(op), act_name(act), ns, wait_start ? "it started" : "pthread_create",
                     rc, eddy_strerror((int)rc), got, byte);
        pair_close(&p);
        /* the thread is gone, and its eventfd with it */
        if (r % 16 == 0)
            assert_int_equal(eddy_test_count_fds(), fds_before);
    }
    assert_int_equal(eddy_test_count_fds(), fds_before);
    print_message("%u rounds: %u data, %u eddy_close, %u hang-up, %u data+eddy_close\n", rounds,
                  counts[0], counts[1], counts[2], counts[3]);
}

static void fresh_thread_in_eddy_read_woken_by_data_close_or_hangup(void **state)
{
    (void)state;
    fresh_reader_rounds(OP_READ);
}

static void fresh_thread_in_eddy_read_timeout_woken_by_data_close_or_hangup(void **state)
{
    (void)state;
    fresh_reader_rounds(OP_READ_TIMEOUT);
}

static void fresh_thread_in_eddy_wait_fd_woken_by_data_close_or_hangup(void **state)
{
    (void)state;
    fresh_reader_rounds(OP_WAIT_READABLE);
}

/* ---------- 1b. one long-lived plain thread: stale wakes carry over */

/* The thread serves one op at a time; its parker (and eventfd) lives for
   the whole test, so a wake that lands after a round ended (data and
   eddy_close back to back) reaches a later round's wait, which must absorb
   it as a spurious return. */
struct server {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned job, done; /* guarded by: lock */
    int fd, op;         /* guarded by: lock */
    long rc;            /* guarded by: lock */
    unsigned char byte; /* guarded by: lock */
    bool quit;          /* guarded by: lock */
    atomic_int tid;
};

static void *server_main(void *arg)
{
    struct server *s = arg;
    atomic_store(&s->tid, my_tid());
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->job == s->done && !s->quit)
            pthread_cond_wait(&s->cond, &s->lock);
        if (s->quit)
            break;
        int fd = s->fd, op = s->op;
        pthread_mutex_unlock(&s->lock);
        unsigned char c;
        long rc = do_op(op, fd, &c);
        pthread_mutex_lock(&s->lock);
        s->rc = rc;
        s->byte = c;
        s->done = s->job;
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Waits for the current job within ms; false on timeout. */
static bool server_wait(struct server *s, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    while (s->done != s->job && rc == 0)
        rc = pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    bool ok = s->done == s->job;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void one_plain_thread_many_rounds_absorbs_stale_wakes(void **state)
{
    (void)state;
    uint64_t seed = seed_for(__func__);
    unsigned rounds = scaled(3000, 1500);
    int fds_before = eddy_test_count_fds();
    struct server s = { .job = 0, .done = 0 };
    pthread_mutex_init(&s.lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s.cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, server_main, &s), 0);
    for (unsigned r = 0; r < rounds; r++) {
        struct pair p;
        pair_open(&p);
        int op = (int)rnd(&seed, NREAD_OPS);
        int act = pick_act(&seed);
        unsigned ns = pick_delay(&seed);
        unsigned char byte = (unsigned char)('A' + r % 26);
        pthread_mutex_lock(&s.lock);
        s.fd = p.sv[0];
        s.op = op;
        s.job++;
        pthread_cond_broadcast(&s.cond);
        pthread_mutex_unlock(&s.lock);
        delay_ns(ns);
        bool acted = act_on(act, &p, byte, &s.tid);
        if (!acted || !server_wait(&s, bound_ms())) {
            pair_unblock(&p);
            bool done = server_wait(&s, bound_ms());
            pthread_mutex_lock(&s.lock);
            s.quit = true;
            pthread_cond_broadcast(&s.cond);
            pthread_mutex_unlock(&s.lock);
            if (done)
                (void)eddy_test_join_within(t, bound_ms());
            if (!acted)
                fail_msg("round %u: %s never blocked in poll(2)", r, op_name(op));
            fail_msg("round %u: %s still blocked %d ms after %s (%u ns after the job)%s", r,
                     op_name(op), bound_ms(), act_name(act), ns,
                     done ? "" : "; still blocked after a hang-up");
        }
        pthread_mutex_lock(&s.lock);
        long rc = s.rc;
        unsigned char got = s.byte;
        pthread_mutex_unlock(&s.lock);
        if (!read_result_ok(op, act, rc, got, byte))
            fail_msg("round %u: %s after %s (%u ns) returned %ld (%s), byte 0x%02x (sent 0x%02x)",
                     r, op_name(op), act_name(act), ns, rc, eddy_strerror((int)rc), got, byte);
        pair_close(&p);
    }
    pthread_mutex_lock(&s.lock);
    s.quit = true;
    pthread_cond_broadcast(&s.cond);
    pthread_mutex_unlock(&s.lock);
    assert_true(eddy_test_join_within(t, bound_ms()));
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

/* ------------------------------------------ 1c. the write side, full socket */

enum { WACT_DRAIN, WACT_CLOSE, WACT_HANGUP, NWACTS };

static const char *wact_name(int act)
{
    static const char *names[] = { "drain", "eddy_close", "hang-up" };
    return names[act];
}

/* Fills the send side of p until it would block; the bytes queued. */
static size_t fill(struct pair *p)
{
    int sz = 4096;
    assert_int_equal(setsockopt(p->sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz), 0);
    char buf[512];
    memset(buf, 'f', sizeof buf);
    size_t total = 0;
    for (;;) {
        ssize_t w = send(p->sv[0], buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            return total;
        }
        total += (size_t)w;
    }
}

/* Reads n bytes from the peer (all queued already). */
static void drain(struct pair *p, size_t n)
{
    char buf[4096];
    while (n > 0) {
        ssize_t r = read(p->sv[1], buf, n < sizeof buf ? n : sizeof buf);
        assert_true(r > 0);
        for (ssize_t i = 0; i < r; i++)
            assert_int_equal(buf[i], 'f');
        n -= (size_t)r;
    }
}

static void fresh_writer_rounds(int op)
{
    uint64_t seed = seed_for(op_name(op));
    unsigned rounds = scaled(800, 400);
    int fds_before = eddy_test_count_fds();
    for (unsigned r = 0; r < rounds; r++) {
        struct pair p;
        pair_open(&p);
        size_t queued = fill(&p);
        assert_true(queued > 0);
        struct one o = { .fd = p.sv[0], .op = op, .rc = LONG_MIN };
        int act = (int)rnd(&seed, NWACTS);
        bool wait_start = rnd(&seed, 2);
        unsigned ns = pick_delay(&seed);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, one_op, &o), 0);
        if (wait_start && !flag_within(&o.started, bound_ms())) {
            pair_unblock(&p);
            fail_msg("round %u: the thread did not start", r);
        }
        delay_ns(ns);
        switch (act) {
        case WACT_DRAIN:
            drain(&p, queued);
            break;
        case WACT_CLOSE:
            if (!tsan_wait_in_poll(&o.tid, bound_ms())) {
                pair_unblock(&p);
                fail_msg("round %u: %s never blocked in poll(2)", r, op_name(op));
            }
            p.closed[0] = true;
            assert_ok(eddy_close(p.sv[0]));
            break;
        default:
            p.closed[1] = true;
            assert_int_equal(close(p.sv[1]), 0);
            break;
        }
        if (!eddy_test_join_within(t, bound_ms())) {
            pair_unblock(&p);
            bool joined = eddy_test_join_within(t, bound_ms());
            fail_msg("round %u: %s still blocked %d ms after %s (%u ns)%s", r, op_name(op),
                     bound_ms(), wact_name(act), ns,
                     joined ? "" : "; still blocked after a hang-up");
        }
        long rc = atomic_load(&o.rc);
        long want = act == WACT_CLOSE ? -EBADF
                    : op == OP_WAIT_WRITABLE ? EDDY_WRITABLE
                    : act == WACT_DRAIN ? 1 : -EPIPE;
        /* a peer that closes with data unread resets the connection: a send
           that was under way as it closed gets that error instead */
        bool reset = act == WACT_HANGUP && op == OP_WRITE && rc == -ECONNRESET;
        if (rc != want && !reset)
            fail_msg("round %u: %s after %s (%u ns) returned %ld (%s), expected %ld", r,
                     op_name(op), wact_name(act), ns, rc, eddy_strerror((int)rc), want);
        if (act == WACT_DRAIN && op == OP_WRITE) { /* the byte follows the fill */
            char c = 0;
            assert_int_equal(recv(p.sv[1], &c, 1, MSG_DONTWAIT), 1);
            assert_int_equal(c, 'W');
        }
        pair_close(&p);
    }
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

static void fresh_thread_in_eddy_write_woken_by_drain_close_or_hangup(void **state)
{
    (void)state;
    fresh_writer_rounds(OP_WRITE);
}

static void fresh_thread_in_eddy_wait_fd_writable_woken_by_drain_close_or_hangup(void **state)
{
    (void)state;
    fresh_writer_rounds(OP_WAIT_WRITABLE);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(fresh_thread_in_eddy_read_woken_by_data_close_or_hangup),
    cmocka_unit_test(fresh_thread_in_eddy_read_timeout_woken_by_data_close_or_hangup),
    cmocka_unit_test(fresh_thread_in_eddy_wait_fd_woken_by_data_close_or_hangup),
    cmocka_unit_test(one_plain_thread_many_rounds_absorbs_stale_wakes),
    cmocka_unit_test(fresh_thread_in_eddy_write_woken_by_drain_close_or_hangup),
    cmocka_unit_test(fresh_thread_in_eddy_wait_fd_writable_woken_by_drain_close_or_hangup),
};

EDDY_TEST_MAIN(tests, 120)
