/* ctest-labels: concurrency stress */
/*
 * tests/io/test_plain_wait_crowd.c: the lock-free wake of a plain thread
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
 * This half: blocking-pool tasks woken by eddy_abort, one thread moving
 * between fds, crowds of waiters, and an fd shared by several waiters; the
 * fresh-thread rounds are in test_plain_wait_stress.c.
 */
#include "plain_wait_stress.h"

/* ------------------------------- 2. blocking-pool tasks and eddy_abort */

enum {
    BACT_ABORT,             /* -ECANCELED (or never ran) */
    BACT_DATA_THEN_ABORT,   /* back to back: data or -ECANCELED */
    BACT_ABORT_THEN_DATA,   /* the abort is first: join -ECANCELED */
    BACT_DATA,              /* no abort: the byte, join 0 */
    BACT_CLOSE,             /* eddy_close: -EBADF, join 0 */
    BACT_DATA_WAIT_ABORT,   /* the abort after the read returned: a stale wake */
    NBACTS
};

static const char *bact_name(int act)
{
    static const char *names[] = { "abort", "data+abort", "abort+data",
                                   "data", "eddy_close", "data, read, abort" };
    return names[act];
}

#define NOT_RUN LONG_MIN

struct bjob {
    struct pair p;
    int op, act;
    bool wait_start;
    unsigned ns;
    unsigned char byte;
    eddy_task *h;
    atomic_int tid;
    atomic_int started; /* set once warmed up */
    atomic_int finished;
    atomic_long warm_rc;
    atomic_long rc;
    atomic_int got;
};

static void *bjob_fn(void *arg)
{
    struct bjob *j = arg;
    atomic_store(&j->tid, my_tid());
    /* a new pool thread makes its eventfd here, not after an fd closed */
    atomic_store(&j->warm_rc, warm_up());
    atomic_store(&j->started, 1);
    unsigned char c;
    long rc = do_op(j->op, j->p.sv[0], &c);
    atomic_store(&j->got, c);
    atomic_store(&j->rc, rc);
    atomic_store(&j->finished, 1);
    return (void *)(intptr_t)rc;
}

/* Checks job j's join result jrc / res; NULL when right, else why not. */
static const char *bjob_verdict(struct bjob *j, int jrc, void *res)
{
    long rc = atomic_load(&j->rc);
    bool ran = atomic_load(&j->started);
    if (ran != (rc != NOT_RUN))
        return "started and result disagree";
    if (ran ? res != (void *)(intptr_t)rc : res != NULL)
        return "join's result is not fn's return value";
    bool aborts = j->act != BACT_DATA && j->act != BACT_CLOSE;
    long warm = atomic_load(&j->warm_rc);
    if (ran && warm != -ETIMEDOUT && !(aborts && warm == -ECANCELED))
        return "the warm-up wait_fd (quiet socket, timeout 0) failed";
    bool data = rc != NOT_RUN &&
                (j->op == OP_WAIT_READABLE ? rc == EDDY_READABLE
                                           : rc == 1 && (unsigned char)atomic_load(&j->got) == j->byte);
    switch (j->act) {
    case BACT_ABORT:
        if (jrc != -ECANCELED)
            return "join is not -ECANCELED";
        return rc == NOT_RUN || rc == -ECANCELED ? NULL : "the op did not return -ECANCELED";
    case BACT_ABORT_THEN_DATA:
        /* the op cannot end before the data, so the abort is in time for
           join; the op itself may have passed its last check before the
           abort and then read the byte without waiting */
        if (jrc != -ECANCELED)
            return "join is not -ECANCELED";
        return rc == NOT_RUN || rc == -ECANCELED || data ? NULL : "wrong op result";
    case BACT_DATA_THEN_ABORT:
        if (jrc == 0)
            return data ? NULL : "join 0 without the byte";
        if (jrc != -ECANCELED)
            return "join is neither 0 nor -ECANCELED";
        return rc == NOT_RUN || rc == -ECANCELED || data ? NULL : "wrong op result";
    case BACT_DATA:
        if (jrc != 0)
            return "join is not 0";
        return data ? NULL : "the op did not return the byte";
    case BACT_CLOSE:
        if (jrc != 0)
            return "join is not 0";
        return rc == -EBADF ? NULL : "the op did not return -EBADF";
    default:
        if (jrc != 0 && jrc != -ECANCELED)
            return "join is neither 0 nor -ECANCELED";
        return data ? NULL : "the op did not return the byte";
    }
}

#define BJOBS 4

static void blocking_tasks_in_eddy_calls_woken_by_abort_data_or_close(void **state)
{
    (void)state;
    uint64_t seed = seed_for(__func__);
    unsigned rounds = scaled(1000, 500);
    int fds_before = eddy_test_count_fds();
    quiet_open();
    eddy_rt *rt = eddy_test_new_rt(1);
    unsigned counts[NBACTS] = { 0 };
    for (unsigned r = 0; r < rounds; r++) {
        struct bjob j[BJOBS];
        for (int k = 0; k < BJOBS; k++) {
            memset(&j[k], 0, sizeof j[k]);
            pair_open(&j[k].p);
            j[k].op = (int)rnd(&seed, NREAD_OPS);
            j[k].act = (int)rnd(&seed, NBACTS);
            j[k].wait_start = rnd(&seed, 2);
            j[k].ns = pick_delay(&seed);
            j[k].byte = (unsigned char)(r * BJOBS + (unsigned)k);
            atomic_init(&j[k].rc, NOT_RUN);
            atomic_init(&j[k].warm_rc, NOT_RUN);
            counts[j[k].act]++;
        }
        /* an eddy_close frees an fd number: every task of the round must
           have made its thread's eventfd before (see warm_up) */
        bool closes = false;
        for (int k = 0; k < BJOBS; k++)
            closes |= j[k].act == BACT_CLOSE;
        for (int k = 0; k < BJOBS; k++)
            assert_ok(eddy_rt_spawn_blocking(rt, &j[k].h, bjob_fn, &j[k]));
        for (int k = 0; k < BJOBS; k++) {
            struct bjob *b = &j[k];
            if ((b->wait_start || closes) && !flag_within(&b->started, bound_ms()))
                fail_msg("round %u job %d: the task did not start", r, k);
            delay_ns(b->ns);
            switch (b->act) {
            case BACT_ABORT:
                assert_ok(eddy_abort(b->h));
                break;
            case BACT_DATA_THEN_ABORT:
                assert_int_equal(write(b->p.sv[1], &b->byte, 1), 1);
                assert_ok(eddy_abort(b->h));
                break;
            case BACT_ABORT_THEN_DATA:
                assert_ok(eddy_abort(b->h));
                assert_int_equal(write(b->p.sv[1], &b->byte, 1), 1);
                break;
            case BACT_DATA:
                assert_int_equal(write(b->p.sv[1], &b->byte, 1), 1);
                break;
            case BACT_CLOSE:
                if (!tsan_wait_in_poll(&b->tid, bound_ms())) {
                    pair_unblock(&b->p);
                    fail_msg("round %u job %d: %s never blocked in poll(2)", r, k,
                             op_name(b->op));
                }
                b->p.closed[0] = true;
                assert_ok(eddy_close(b->p.sv[0]));
                break;
            default:
                assert_int_equal(write(b->p.sv[1], &b->byte, 1), 1);
                if (!flag_within(&b->finished, bound_ms())) {
                    pair_unblock(&b->p);
                    fail_msg("round %u job %d: %s blocked %d ms with data there", r, k,
                             op_name(b->op), bound_ms());
                }
                assert_ok(eddy_abort(b->h));
                break;
            }
        }
        for (int k = 0; k < BJOBS; k++) {
            struct bjob *b = &j[k];
            void *res = (void *)(intptr_t)-1;
            int jrc = eddy_join_timeout(b->h, &res, bound_ms());
            if (jrc == -ETIMEDOUT) {
                for (int i = 0; i < BJOBS; i++)
                    pair_unblock(&j[i].p);
                jrc = eddy_join_timeout(b->h, &res, bound_ms());
                fail_msg("round %u job %d: %s still blocked %d ms after %s (%u ns after %s)%s", r,
                         k, op_name(b->op), bound_ms(), bact_name(b->act), b->ns,
                         (b->wait_start || closes) ? "it started" : "the spawns",
                         jrc == -ETIMEDOUT ? "; still blocked after a hang-up" : "");
            }
            const char *why = bjob_verdict(b, jrc, res);
            if (why != NULL) {
                long rc = atomic_load(&b->rc);
                fail_msg("round %u job %d: %s after %s (%u ns after %s): %s (join %d, op %ld%s%s, "
                         "byte 0x%02x, sent 0x%02x)",
                         r, k, op_name(b->op), bact_name(b->act), b->ns,
                         (b->wait_start || closes) ? "it started" : "the spawns", why, jrc, rc,
                         rc == NOT_RUN ? " never ran" : " ",
                         rc == NOT_RUN ? "" : eddy_strerror((int)rc),
                         (unsigned char)atomic_load(&b->got), b->byte);
            }
        }
        for (int k = 0; k < BJOBS; k++)
            pair_close(&j[k].p);
    }
    quiet_close();
    eddy_rt_free(rt);
    /* the pool threads exited, and their eventfds with them */
    assert_int_equal(eddy_test_count_fds(), fds_before);
    print_message("%u jobs: %u abort, %u data+abort, %u abort+data, %u data, %u eddy_close, "
                  "%u data/read/abort\n",
                  rounds * BJOBS, counts[0], counts[1], counts[2], counts[3], counts[4],
                  counts[5]);
}

/* --------- 3. one plain thread moving between fds, others writing/closing */

#define NFD 4

struct multi {
    struct pair p[NFD];
    atomic_int closed[NFD];   /* set by the closer before its eddy_close */
    atomic_uint recvd[NFD];   /* bytes the reader took; byte k is (k & 0xff) */
    atomic_int done;          /* the reader finished (or the test gave up) */
    atomic_int ready;         /* the reader made its eventfd (see warm_up) */
    /* under TSan the closer closes only an fd the reader is not in a call
       on (see STRESS_TSAN): the reader's pick and the close hold pick */
    pthread_mutex_t pick;
    int cur;                  /* guarded by: pick; the reader's fd, -1: none */
    atomic_uint progress;     /* ops the reader completed */
    unsigned ops;
    uint64_t seed[3];         /* reader, writer, closer */
    unsigned nresults[4];     /* reader's outcomes: data, timeout, EBADF, ready */
    struct errs errs;
};

/* Checks a read's rc on fd i; true when the reader may go on. */
static bool multi_take(struct multi *m, int i, long rc, unsigned char c, bool timed,
                       bool *seen_closed, const char *what)
{
    if (rc == 1) {
        unsigned want = atomic_load(&m->recvd[i]) & 0xff;
        if (c != want) {
            errs_add(&m->errs, "%s on fd #%d read 0x%02x, expected 0x%02x", what, i, c, want);
            return false;
        }
        atomic_fetch_add(&m->recvd[i], 1);
        m->nresults[0]++;
        return true;
    }
    if (rc == -ETIMEDOUT && timed) {
        m->nresults[1]++;
        return true;
    }
    if (rc == -EBADF && atomic_load(&m->closed[i])) {
        *seen_closed = true;
        m->nresults[2]++;
        return true;
    }
    errs_add(&m->errs, "%s on fd #%d returned %ld (%s)%s", what, i, rc, eddy_strerror((int)rc),
             atomic_load(&m->closed[i]) ? " (closed)" : "");
    return false;
}

static void *multi_reader(void *arg)
{
    struct multi *m = arg;
    uint64_t *seed = &m->seed[0];
    bool seen_closed[NFD] = { false };
    long w = warm_up();
    if (w != -ETIMEDOUT)
        errs_add(&m->errs, "warm-up wait_fd (quiet socket, timeout 0) returned %ld", w);
    atomic_store(&m->ready, 1);
    for (unsigned n = 0; n < m->ops && !atomic_load(&m->done); n++) {
        int i;
        if (STRESS_TSAN)
            pthread_mutex_lock(&m->pick);
        do /* the closer leaves one fd open */
            i = (int)rnd(seed, NFD);
        while (seen_closed[i]);
        if (STRESS_TSAN) {
            m->cur = i;
            pthread_mutex_unlock(&m->pick);
        }
        int fd = m->p[i].sv[0];
        unsigned char c = 0;
        long rc;
        bool ok;
        switch (rnd(seed, 4)) {
        case 0:
            rc = eddy_read(fd, &c, 1);
            ok = multi_take(m, i, rc, c, false, &seen_closed[i], "eddy_read");
            break;
        case 1: {
            int ms = (int)rnd(seed, 3);
            rc = eddy_read_timeout(fd, &c, 1, ms);
            ok = multi_take(m, i, rc, c, true, &seen_closed[i], "eddy_read_timeout");
            break;
        }
        default: {
            bool timed = rnd(seed, 2);
            rc = eddy_wait_fd(fd, EDDY_READABLE, timed ? 2 : -1);
            if (rc == EDDY_READABLE) {
                m->nresults[3]++;
                /* only this thread reads: the byte is there, or the fd closed */
                rc = eddy_read_timeout(fd, &c, 1, 0);
                ok = multi_take(m, i, rc, c, false, &seen_closed[i], "eddy_read after wait_fd");
            } else {
                ok = multi_take(m, i, rc, 0, timed, &seen_closed[i], "eddy_wait_fd");
            }
            break;
        }
        }
        if (STRESS_TSAN) {
            pthread_mutex_lock(&m->pick);
            m->cur = -1;
            pthread_mutex_unlock(&m->pick);
        }
        if (!ok)
            break;
        atomic_fetch_add(&m->progress, 1);
    }
    atomic_store(&m->done, 1);
    return NULL;
}

static void *multi_writer(void *arg)
{
    struct multi *m = arg;
    uint64_t *seed = &m->seed[1];
    unsigned sent[NFD] = { 0 };
    while (!atomic_load(&m->done)) {
        int i = (int)rnd(seed, NFD);
        /* at most one byte waits per fd: the reader often has to block */
        if (!atomic_load(&m->closed[i]) && sent[i] == atomic_load(&m->recvd[i])) {
            unsigned char b = (unsigned char)(sent[i] & 0xff);
            ssize_t w = send(m->p[i].sv[1], &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w == 1)
                sent[i]++;
            else if (!(w < 0 && (errno == EPIPE || errno == ECONNRESET) &&
                       atomic_load(&m->closed[i])))
                errs_add(&m->errs, "send on fd #%d: %zd (%s)", i, w, strerror(errno));
        }
        unsigned us = rnd(seed, 40);
        if (us < 4)
            sched_yield();
        else
            delay_us(us);
    }
    return NULL;
}

static void *multi_closer(void *arg)
{
    struct multi *m = arg;
    uint64_t *seed = &m->seed[2];
    int closes = (int)rnd(seed, NFD); /* 0..NFD-1: one stays open */
    while (!atomic_load(&m->ready) && !atomic_load(&m->done))
        sched_yield();
    for (int n = 0; n < closes && !atomic_load(&m->done); n++) {
        uint64_t end = now_ns() + (uint64_t)(200 + rnd(seed, 3000)) * 1000u;
        while (now_ns() < end && !atomic_load(&m->done))
            sched_yield();
        int i;
        if (STRESS_TSAN)
            pthread_mutex_lock(&m->pick);
        do
            i = (int)rnd(seed, NFD);
        while (atomic_load(&m->closed[i]) || (STRESS_TSAN && i == m->cur));
        atomic_store(&m->closed[i], 1);
        m->p[i].closed[0] = true;
        int rc = eddy_close(m->p[i].sv[0]);
        if (STRESS_TSAN)
            pthread_mutex_unlock(&m->pick);
        if (rc != 0)
            errs_add(&m->errs, "eddy_close of fd #%d: %d", i, rc);
    }
    return NULL;
}

static void *register_with_reactor(void *arg)
{
    unsigned char c;
    return (void *)(intptr_t)eddy_read_timeout((int)(intptr_t)arg, &c, 1, 1);
}

static void one_plain_thread_moving_between_fds_while_others_write_and_close(void **state)
{
    (void)state;
    uint64_t seed = seed_for(__func__);
    unsigned rounds = scaled(60, 30);
    unsigned ops = scaled(600, 300);
    int fds_before = eddy_test_count_fds();
    quiet_open();
    eddy_rt *rt = eddy_test_new_rt(1);
    unsigned totals[4] = { 0 }, closes = 0, registered = 0;
    for (unsigned r = 0; r < rounds; r++) {
        struct multi *m = calloc(1, sizeof *m);
        assert_non_null(m);
        errs_init(&m->errs);
        pthread_mutex_init(&m->pick, NULL);
        m->cur = -1;
        m->ops = ops;
        for (int k = 0; k < 3; k++)
            m->seed[k] = rng_next(&seed) | 1;
        for (int i = 0; i < NFD; i++) {
            pair_open(&m->p[i]);
            /* some fds are on a worker's reactor too, whose events then
               wake the thread's parker besides its own poll(2) */
            if (rnd(&seed, 2)) {
                eddy_task *h;
                void *res = NULL;
                assert_ok(eddy_rt_spawn(rt, &h, register_with_reactor,
                                        (void *)(intptr_t)m->p[i].sv[0]));
                assert_ok(eddy_join_timeout(h, &res, bound_ms()));
                assert_int_equal((intptr_t)res, -ETIMEDOUT);
                registered++;
            }
        }
        pthread_t reader, writer, closer;
        assert_int_equal(pthread_create(&writer, NULL, multi_writer, m), 0);
        assert_int_equal(pthread_create(&closer, NULL, multi_closer, m), 0);
        assert_int_equal(pthread_create(&reader, NULL, multi_reader, m), 0);
        bool joined = eddy_test_join_within(reader, 4 * bound_ms());
        if (!joined) {
            atomic_store(&m->done, 1);
            for (int i = 0; i < NFD; i++)
                pair_unblock(&m->p[i]);
            (void)eddy_test_join_within(reader, bound_ms());
        }
        atomic_store(&m->done, 1);
        assert_true(eddy_test_join_within(writer, bound_ms()));
        assert_true(eddy_test_join_within(closer, bound_ms()));
        if (!joined)
            fail_msg("round %u: the reader is stuck after %u of %u ops", r,
                     atomic_load(&m->progress), ops);
        errs_check(&m->errs);
        assert_int_equal(atomic_load(&m->progress), ops);
        for (int k = 0; k < 4; k++)
            totals[k] += m->nresults[k];
        for (int i = 0; i < NFD; i++) {
            closes += (unsigned)atomic_load(&m->closed[i]);
            pair_close(&m->p[i]);
        }
        pthread_mutex_destroy(&m->pick);
        free(m);
    }
    quiet_close();
    eddy_rt_free(rt);
    assert_int_equal(eddy_test_count_fds(), fds_before);
    print_message("%u ops: %u bytes, %u timeouts, %u -EBADF, %u wait_fd ready; %u closes, "
                  "%u fds on the reactor\n",
                  rounds * ops, totals[0], totals[1], totals[2], totals[3], closes, registered);
}

/* ------------------------------- 4. many waiting threads, fd accounting */

#define CROWD 16

static void crowds_of_waiting_threads_leave_no_fd_behind(void **state)
{
    (void)state;
    uint64_t seed = seed_for(__func__);
    unsigned rounds = scaled(150, 80);
    int fds_before = eddy_test_count_fds();
    quiet_open();
    for (unsigned r = 0; r < rounds; r++) {
        struct pair p[CROWD];
        struct one o[CROWD];
        int act[CROWD];
        pthread_t t[CROWD];
        for (int k = 0; k < CROWD; k++) {
            pair_open(&p[k]);
            o[k] = (struct one){ .fd = p[k].sv[0], .op = (int)rnd(&seed, NREAD_OPS), .warm = true,
                                 .warm_rc = LONG_MIN, .rc = LONG_MIN };
            act[k] = pick_act(&seed);
        }
        for (int k = 0; k < CROWD; k++)
            assert_int_equal(pthread_create(&t[k], NULL, one_op, &o[k]), 0);
        /* every thread has its eventfd before any fd closes (see warm_up) */
        for (int k = 0; k < CROWD; k++) {
            if (!flag_within(&o[k].started, bound_ms()))
                fail_msg("round %u: thread %d did not start", r, k);
            assert_int_equal(atomic_load(&o[k].warm_rc), -ETIMEDOUT);
        }
        /* wake them in a random order, a few microseconds apart */
        int order[CROWD];
        for (int k = 0; k < CROWD; k++)
            order[k] = k;
        for (int k = CROWD - 1; k > 0; k--) {
            int x = (int)rnd(&seed, (unsigned)k + 1), tmp = order[k];
            order[k] = order[x];
            order[x] = tmp;
        }
        for (int n = 0; n < CROWD; n++) {
            int k = order[n];
            delay_us(rnd(&seed, 50));
            if (!act_on(act[k], &p[k], (unsigned char)k, &o[k].tid)) {
                for (int i = 0; i < CROWD; i++)
                    pair_unblock(&p[i]);
                fail_msg("round %u: thread %d (%s) never blocked in poll(2)", r, k,
                         op_name(o[k].op));
            }
        }
        for (int k = 0; k < CROWD; k++) {
            if (!eddy_test_join_within(t[k], bound_ms())) {
                for (int i = 0; i < CROWD; i++)
                    pair_unblock(&p[i]);
                fail_msg("round %u: thread %d (%s) still blocked %d ms after %s", r, k,
                         op_name(o[k].op), bound_ms(), act_name(act[k]));
            }
            long rc = atomic_load(&o[k].rc);
            unsigned char got = (unsigned char)atomic_load(&o[k].byte);
            if (!read_result_ok(o[k].op, act[k], rc, got, (unsigned char)k))
                fail_msg("round %u: thread %d: %s after %s returned %ld (%s), byte 0x%02x", r, k,
                         op_name(o[k].op), act_name(act[k]), rc, eddy_strerror((int)rc), got);
        }
        for (int k = 0; k < CROWD; k++)
            pair_close(&p[k]);
        assert_int_equal(eddy_test_count_fds(), fds_before + 2); /* + quiet */
    }
    quiet_close();
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

/* ------------------- 5. plain threads (and a task) sharing one fd */

/* Several plain threads may wait on one fd: the first takes the slot, the
   others poll without it, and a task waiting there takes the slot from a
   plain thread (a wake it absorbs). K readers, K bytes written one by one:
   each reader must get exactly one, and none may be left waiting. */
#define SHARERS 4

struct sharer {
    int fd, op;
    atomic_long rc;
    atomic_int byte;
};

static void *sharer_read(void *arg)
{
    struct sharer *sh = arg;
    unsigned char c;
    long rc = do_op(sh->op, sh->fd, &c);
    atomic_store(&sh->byte, c);
    atomic_store(&sh->rc, rc);
    return (void *)(intptr_t)rc;
}

static void plain_threads_and_a_task_sharing_an_fd_each_get_one_byte(void **state)
{
    (void)state;
    uint64_t seed = seed_for(__func__);
    unsigned rounds = scaled(400, 150);
    int fds_before = eddy_test_count_fds();
    eddy_rt *rt = eddy_test_new_rt(1);
    unsigned with_task = 0;
    for (unsigned r = 0; r < rounds; r++) {
        struct pair p;
        pair_open(&p);
        struct sharer sh[SHARERS];
        pthread_t t[SHARERS];
        eddy_task *h = NULL;
        int task_at = rnd(&seed, 2) ? (int)rnd(&seed, SHARERS) : -1; /* a task reader */
        with_task += task_at >= 0;
        for (int k = 0; k < SHARERS; k++) {
            sh[k].fd = p.sv[0];
            sh[k].op = rnd(&seed, 2) ? OP_READ : OP_READ_TIMEOUT;
            atomic_init(&sh[k].rc, LONG_MIN);
            atomic_init(&sh[k].byte, 0);
        }
        for (int k = 0; k < SHARERS; k++) {
            if (k == task_at)
                assert_ok(eddy_rt_spawn(rt, &h, sharer_read, &sh[k]));
            else
                assert_int_equal(pthread_create(&t[k], NULL, sharer_read, &sh[k]), 0);
            delay_ns(rnd(&seed, 20001));
        }
        for (int k = 0; k < SHARERS; k++) {
            delay_ns(pick_delay(&seed));
            unsigned char b = (unsigned char)(0x30 + k);
            assert_int_equal(write(p.sv[1], &b, 1), 1);
        }
        bool seen[SHARERS] = { false };
        for (int k = 0; k < SHARERS; k++) {
            bool done = k == task_at ? eddy_join_timeout(h, NULL, bound_ms()) == 0
                                     : eddy_test_join_within(t[k], bound_ms());
            if (!done) {
                pair_unblock(&p);
                fail_msg("round %u: reader %d (%s%s) still blocked %d ms after %d bytes for %d "
                         "readers",
                         r, k, k == task_at ? "a task, " : "", op_name(sh[k].op), bound_ms(),
                         SHARERS, SHARERS);
            }
            long rc = atomic_load(&sh[k].rc);
            int b = atomic_load(&sh[k].byte) - 0x30;
            if (rc != 1 || b < 0 || b >= SHARERS || seen[b])
                fail_msg("round %u: reader %d (%s%s) returned %ld (%s), byte 0x%02x", r, k,
                         k == task_at ? "a task, " : "", op_name(sh[k].op), rc,
                         eddy_strerror((int)rc), b + 0x30);
            seen[b] = true;
        }
        pair_close(&p);
    }
    eddy_rt_free(rt);
    assert_int_equal(eddy_test_count_fds(), fds_before);
    print_message("%u rounds, %u with a task among the readers\n", rounds, with_task);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(blocking_tasks_in_eddy_calls_woken_by_abort_data_or_close),
    cmocka_unit_test(one_plain_thread_moving_between_fds_while_others_write_and_close),
    cmocka_unit_test(crowds_of_waiting_threads_leave_no_fd_behind),
    cmocka_unit_test(plain_threads_and_a_task_sharing_an_fd_each_get_one_byte),
};

EDDY_TEST_MAIN(tests, 120)
