/*
 * tests/io/test_fd_arm.c: the unit cases of the one-shot read-readiness
 * arm (io/fd_arm.c: eddy__fd_read_or_arm, the split eddy__fd_read_tick +
 * eddy__fd_arm_after the HTTP server uses, eddy__fd_disarm), which lets
 * an idle keep-alive connection wait holding no task. Bytes already there
 * are returned and nothing is armed (1, 6); otherwise fn runs once, on a
 * worker outside any task and without the fd's lock, at the next read
 * readiness, data or EOF (2, 4), even while the arming worker is stuck in
 * a task (9: a stand-in calls); eddy__fd_disarm takes it back (3);
 * eddy_close drops it (5); a second arm is -EEXIST, an arm off a worker
 * -EPERM (7). No edge lost between the read and the arming (2b, 2c):
 * test_fd_arm_tick.c. The races (8) are in test_fd_arm_stress.c, the shared
 * helpers in fd_arm_common.h. Every loop is bounded by a deadline that
 * fails the test; counts shrink under the sanitizers.
 */
/* ctest-labels: concurrency stress */
#include "fd_arm_common.h"

/* ------------------------------------------ 1. data already there: no arm */

static void *data_there_task(void *arg)
{
    (void)arg;
    int sv[2];
    char buf[16];
    CHECK(pair(sv) == 0);
    struct rec r;
    rec_init(&r, sv[0]);

    /* a fresh fd: read at once, never registered */
    CHECK(write(sv[1], "abc", 3) == 3);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    CHECK(write(sv[1], "d", 1) == 1);
    eddy_sleep_ms(QUIET_MS);
    CHECK(atomic_load(&r.calls) == 0);
    CHECK(!eddy__fd_disarm(sv[0]));
    CHECK(read(sv[0], buf, sizeof buf) == 1);

    /* registered now (armed, taken back), then bytes come: still read at
       once, and the edges after it call no one */
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy__fd_disarm(sv[0]));
    CHECK(write(sv[1], "ef", 2) == 2);
    eddy_sleep_ms(10);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 2);
    CHECK(memcmp(buf, "ef", 2) == 0);
    CHECK(write(sv[1], "g", 1) == 1);
    eddy_sleep_ms(QUIET_MS);
    CHECK(atomic_load(&r.calls) == 0);
    CHECK(!eddy__fd_disarm(sv[0]));
    /* the byte is still there for the next call */
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 1);
    CHECK(buf[0] == 'g');
    CHECK(eddy_close(sv[0]) == 0);
    CHECK(close(sv[1]) == 0);
    return NULL;
}

static void data_already_there_is_read_and_nothing_armed(void **state)
{
    (void)state;
    run_in_new_rt(2, data_there_task, NULL);
}

/* ------------------------------- 2. armed, then written: one call, re-arm */

static void *armed_then_written_task(void *arg)
{
    (void)arg;
    int sv[2];
    char buf[16];
    CHECK(pair(sv) == 0);
    struct rec r;
    rec_init(&r, sv[0]);

    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    eddy_sleep_ms(10);
    CHECK(atomic_load(&r.calls) == 0); /* nothing to read: no call */
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(settle(&r, 1, 2000) == 1);
    CHECK(atomic_load(&r.bad_ctx) == 0);
    CHECK(atomic_load(&r.disarm_in_fn) == 0); /* taken before the call */
    /* more edges, no arm: no more calls */
    CHECK(write(sv[1], "y", 1) == 1);
    eddy_sleep_ms(QUIET_MS);
    CHECK(atomic_load(&r.calls) == 1);
    CHECK(!eddy__fd_disarm(sv[0]));

    /* a second arm on the same fd: first the bytes waiting, then the arm */
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 2);
    CHECK(memcmp(buf, "xy", 2) == 0);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(write(sv[1], "z", 1) == 1);
    CHECK(settle(&r, 2, 2000) == 2);
    eddy_sleep_ms(20);
    CHECK(atomic_load(&r.calls) == 2);
    CHECK(atomic_load(&r.bad_ctx) == 0);
    CHECK(atomic_load(&r.disarm_in_fn) == 0);
    CHECK(!eddy__fd_disarm(sv[0]));
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 1);
    CHECK(buf[0] == 'z');
    CHECK(eddy_close(sv[0]) == 0);
    CHECK(close(sv[1]) == 0);
    return NULL;
}

static void *written_from_a_thread_task(void *arg)
{
    (void)arg;
    int sv[2];
    char buf[4];
    CHECK(pair(sv) == 0);
    struct rec r;
    rec_init(&r, sv[0]);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    struct late_write w = { .fd = sv[1], .delay_ms = 20 };
    pthread_t th;
    CHECK(pthread_create(&th, NULL, write_later, &w) == 0);
    CHECK(settle(&r, 1, 2000) == 1);
    void *ok = NULL;
    CHECK(pthread_join(th, &ok) == 0 && ok != NULL);
    eddy_sleep_ms(20);
    CHECK(atomic_load(&r.calls) == 1);
    CHECK(atomic_load(&r.bad_ctx) == 0);
    CHECK(!eddy__fd_disarm(sv[0]));
    CHECK(eddy_close(sv[0]) == 0);
    CHECK(close(sv[1]) == 0);
    return NULL;
}

static void armed_then_written_calls_back_once_and_arms_again(void **state)
{
    (void)state;
    for (unsigned workers = 1; workers <= 2; workers++) {
        eddy_rt *rt = eddy_test_new_rt(workers);
        run_task(rt, armed_then_written_task, NULL);
        run_task(rt, written_from_a_thread_task, NULL);
        eddy_rt_free(rt);
    }
}

/* --------------------------------- 3. disarmed before data: never called */

static void *disarmed_task(void *arg)
{
    (void)arg;
    int sv[2];
    char buf[4];
    CHECK(pair(sv) == 0);
    struct rec r;
    rec_init(&r, -1);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy__fd_disarm(sv[0]));
    CHECK(!eddy__fd_disarm(sv[0])); /* taken already */
    CHECK(write(sv[1], "x", 1) == 1);
    eddy_sleep_ms(QUIET_MS);
    CHECK(atomic_load(&r.calls) == 0);
    /* the edge was not lost for a later reader */
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 1);
    CHECK(buf[0] == 'x');
    /* arm, take back, arm again: only the last arm's callback runs */
    struct rec r2;
    rec_init(&r2, -1);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy__fd_disarm(sv[0]));
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r2) == -EINPROGRESS);
    CHECK(write(sv[1], "y", 1) == 1);
    CHECK(settle(&r2, 1, 2000) == 1);
    eddy_sleep_ms(20);
    CHECK(atomic_load(&r.calls) == 0);
    CHECK(atomic_load(&r2.calls) == 1);
    CHECK(eddy_close(sv[0]) == 0);
    CHECK(close(sv[1]) == 0);
    return NULL;
}

static void disarmed_before_data_is_never_called(void **state)
{
    (void)state;
    run_in_new_rt(2, disarmed_task, NULL);
}

/* ----------------------------------------- 4. EOF while armed: readable */

static void *eof_task(void *arg)
{
    int how = (int)(intptr_t)arg; /* 0: close(2) the peer, 1: shutdown(SHUT_WR) */
    int sv[2];
    char buf[4];
    CHECK(pair(sv) == 0);
    struct rec r;
    rec_init(&r, sv[0]);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    eddy_sleep_ms(5);
    if (how == 0)
        CHECK(close(sv[1]) == 0);
    else
        CHECK(shutdown(sv[1], SHUT_WR) == 0);
    CHECK(settle(&r, 1, 2000) == 1);
    eddy_sleep_ms(20);
    CHECK(atomic_load(&r.calls) == 1);
    CHECK(atomic_load(&r.bad_ctx) == 0);
    CHECK(!eddy__fd_disarm(sv[0]));
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 0); /* EOF */
    CHECK(eddy__fd_read_or_arm(sv[0], NULL, 0, on_arm, &r) == 0); /* known readable */
    CHECK(!eddy__fd_disarm(sv[0]));
    CHECK(eddy_close(sv[0]) == 0);
    if (how != 0)
        CHECK(close(sv[1]) == 0);
    return NULL;
}

/* The same over TCP loopback: the peer's FIN arrives as EPOLLRDHUP. */
static void *eof_tcp_task(void *arg)
{
    (void)arg;
    int lfd, cfd, afd;
    char buf[4];
    CHECK(eddy_tcp_listen(&lfd, "127.0.0.1", 0, 16, 0) == 0);
    int port = eddy_local_port(lfd);
    CHECK(port > 0);
    CHECK(eddy_tcp_connect(&cfd, "127.0.0.1", (uint16_t)port, 2000) == 0);
    CHECK(eddy_tcp_accept(lfd, &afd, NULL) == 0);
    struct rec r;
    rec_init(&r, afd);
    CHECK(eddy__fd_read_or_arm(afd, buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy_write(cfd, "q", 1) == 1);
    CHECK(settle(&r, 1, 2000) == 1);
    CHECK(eddy__fd_read_or_arm(afd, buf, sizeof buf, on_arm, &r) == 1);
    CHECK(eddy__fd_read_or_arm(afd, buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy_close(cfd) == 0);
    CHECK(settle(&r, 2, 2000) == 2);
    CHECK(atomic_load(&r.bad_ctx) == 0);
    CHECK(eddy__fd_read_or_arm(afd, buf, sizeof buf, on_arm, &r) == 0);
    CHECK(eddy_close(afd) == 0);
    CHECK(eddy_close(lfd) == 0);
    return NULL;
}

static void eof_while_armed_calls_back(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    run_task(rt, eof_task, (void *)(intptr_t)0);
    run_task(rt, eof_task, (void *)(intptr_t)1);
    run_task(rt, eof_tcp_task, NULL);
    eddy_rt_free(rt);
}

/* ---------------------------- 5. eddy_close of an armed fd: never called */

static void *close_armed_task(void *arg)
{
    (void)arg;
    int fds0 = eddy_test_count_fds();
    int sv[2];
    char buf[4];
    CHECK(pair(sv) == 0);
    struct rec r;
    rec_init(&r, -1);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    int num = sv[0];
    CHECK(eddy_close(sv[0]) == 0);
    CHECK(!eddy__fd_disarm(num)); /* the close dropped it */
    struct fd_entry *e = eddy__fd_entry(num, false);
    CHECK(e != NULL);
    pthread_mutex_lock(&e->lock);
    bool dropped = e->arm_fn == NULL && e->drv == NULL &&
                   !atomic_load_explicit(&e->interest, memory_order_relaxed);
    pthread_mutex_unlock(&e->lock);
    CHECK(dropped);
    /* the peer writes and hangs up: the closed fd's arm never runs */
    (void)send(sv[1], "x", 1, MSG_NOSIGNAL);
    CHECK(close(sv[1]) == 0);
    eddy_sleep_ms(QUIET_MS);
    CHECK(atomic_load(&r.calls) == 0);
    CHECK(eddy_test_count_fds() == fds0);

    /* the number comes back at once: the new fd's arm is its own */
    int sw[2];
    CHECK(pair(sw) == 0);
    int fresh = sw[0] == num ? sw[0] : sw[1] == num ? sw[1] : -1;
    CHECK(fresh >= 0);
    int peer = fresh == sw[0] ? sw[1] : sw[0];
    struct rec r2;
    rec_init(&r2, -1);
    CHECK(eddy__fd_read_or_arm(fresh, buf, sizeof buf, on_arm, &r2) == -EINPROGRESS);
    CHECK(write(peer, "y", 1) == 1);
    CHECK(settle(&r2, 1, 2000) == 1);
    eddy_sleep_ms(20);
    CHECK(atomic_load(&r.calls) == 0);
    CHECK(atomic_load(&r2.calls) == 1);
    CHECK(eddy_close(fresh) == 0);
    CHECK(close(peer) == 0);

    /* the callback closes the fd itself (the HTTP server's error path) */
    struct closer c;
    rec_init(&c.r, -1);
    atomic_init(&c.closed_rc, 1);
    CHECK(pair(sv) == 0);
    c.r.fd = sv[0];
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, close_from_fn, &c) == -EINPROGRESS);
    CHECK(write(sv[1], "z", 1) == 1);
    CHECK(settle(&c.r, 1, 2000) == 1);
    CHECK(atomic_load(&c.closed_rc) == 0);
    CHECK(close(sv[1]) == 0);
    eddy_sleep_ms(20);
    CHECK(atomic_load(&c.r.calls) == 1);
    CHECK(eddy_test_count_fds() == fds0);
    return NULL;
}

/* Many armed fds closed at once, half of them after their peer wrote but
   before this worker's reactor could run their callbacks. */
#define CLOSE_MANY 64

static void *close_many_task(void *arg)
{
    (void)arg;
    int fds0 = eddy_test_count_fds();
    int sv[CLOSE_MANY][2];
    static struct rec r[CLOSE_MANY];
    char buf[4];
    for (int i = 0; i < CLOSE_MANY; i++) {
        CHECK(pair(sv[i]) == 0);
        rec_init(&r[i], -1);
        CHECK(eddy__fd_read_or_arm(sv[i][0], buf, sizeof buf, on_arm, &r[i]) ==
              -EINPROGRESS);
    }
    /* no suspension from here to the closes: this worker cannot run the
       callbacks of the fds it registered before they are closed */
    for (int i = 0; i < CLOSE_MANY; i += 2)
        CHECK(write(sv[i][1], "x", 1) == 1);
    for (int i = 0; i < CLOSE_MANY; i++)
        CHECK(eddy_close(sv[i][0]) == 0);
    for (int i = 0; i < CLOSE_MANY; i++)
        CHECK(close(sv[i][1]) == 0);
    eddy_sleep_ms(QUIET_MS);
    int calls = 0;
    for (int i = 0; i < CLOSE_MANY; i++)
        calls += atomic_load(&r[i].calls);
    /* a stand-in worker may have taken an arm between the write and the
       close (then the call is legitimate, once): only count the rest */
    for (int i = 1; i < CLOSE_MANY; i += 2)
        CHECK(atomic_load(&r[i].calls) == 0);
    for (int i = 0; i < CLOSE_MANY; i++)
        CHECK(atomic_load(&r[i].calls) <= 1);
    if (calls > 0)
        print_message("close_many: %d of %d written arms ran before their close\n", calls,
                      CLOSE_MANY / 2);
    CHECK(eddy_test_count_fds() == fds0);
    return NULL;
}

static void closing_an_armed_fd_drops_the_arm(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    run_task(rt, close_armed_task, NULL);
    run_task(rt, close_many_task, NULL);
    eddy_rt_free(rt);
}

/* ------------------------------------ 6. n == 0: known readable, or armed */

struct n0_stats {
    int returned_zero, armed_and_called;
};

static void *n0_fresh_task(void *arg)
{
    struct n0_stats *st = arg;
    int rounds = scaled(200, 50);
    char buf[4];
    for (int i = 0; i < rounds; i++) {
        int sv[2];
        CHECK(pair(sv) == 0);
        struct rec r;
        rec_init(&r, sv[0]);
        CHECK(write(sv[1], "x", 1) == 1);
        ssize_t rc = eddy__fd_read_or_arm(sv[0], NULL, 0, on_arm, &r);
        if (rc == 0) {
            st->returned_zero++;
            eddy_sleep_ms(1);
            CHECK(atomic_load(&r.calls) == 0);
            CHECK(!eddy__fd_disarm(sv[0]));
        } else {
            CHECK(rc == -EINPROGRESS);
            /* promptly: the byte is there; an edge-triggered registration
               reports the current readiness */
            CHECK(settle(&r, 1, 1000) == 1);
            CHECK(atomic_load(&r.bad_ctx) == 0);
            CHECK(!eddy__fd_disarm(sv[0]));
            st->armed_and_called++;
        }
        CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 1);
        CHECK(eddy_close(sv[0]) == 0);
        CHECK(close(sv[1]) == 0);
        CHECK(atomic_load(&r.calls) <= 1);
    }
    return NULL;
}

/* The fd is registered and an edge came with no arm: known readable, so
   n == 0 returns 0 and arms nothing. */
static void *n0_known_task(void *arg)
{
    (void)arg;
    int sv[2];
    char buf[4];
    CHECK(pair(sv) == 0);
    struct rec r;
    rec_init(&r, sv[0]);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy__fd_disarm(sv[0]));
    uint64_t tick0;
    CHECK(read_tick_of(sv[0], &tick0));
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(wait_tick_past(sv[0], tick0, 2000)); /* the reactor saw the edge */
    CHECK(eddy__fd_read_or_arm(sv[0], NULL, 0, on_arm, &r) == 0);
    CHECK(!eddy__fd_disarm(sv[0]));
    eddy_sleep_ms(20);
    CHECK(atomic_load(&r.calls) == 0);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 1);
    /* emptied by the read: n == 0 now arms, and the next byte calls */
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy__fd_disarm(sv[0]));
    CHECK(eddy__fd_read_or_arm(sv[0], NULL, 0, on_arm, &r) == -EINPROGRESS);
    CHECK(write(sv[1], "y", 1) == 1);
    CHECK(settle(&r, 1, 2000) == 1);
    CHECK(eddy_close(sv[0]) == 0);
    CHECK(close(sv[1]) == 0);
    return NULL;
}

static void arm_only_with_data_waiting_returns_zero_or_calls_back(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    struct n0_stats st = { 0, 0 };
    run_task(rt, n0_fresh_task, &st);
    print_message("n == 0 on a fresh fd with data: %d returned 0, %d armed and called\n",
                  st.returned_zero, st.armed_and_called);
    run_task(rt, n0_known_task, NULL);
    eddy_rt_free(rt);
}

/* ------------------------------------------------- 7. bad use: errors */

static void *twice_task(void *arg)
{
    (void)arg;
    int sv[2];
    char buf[4];
    CHECK(pair(sv) == 0);
    struct rec r, r2;
    rec_init(&r, -1);
    rec_init(&r2, -1);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r2) == -EEXIST);
    CHECK(eddy__fd_read_or_arm(sv[0], NULL, 0, on_arm, &r2) == -EEXIST);
    /* the first arm stands */
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(settle(&r, 1, 2000) == 1);
    eddy_sleep_ms(20);
    CHECK(atomic_load(&r2.calls) == 0);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 1);
    /* arm_after refuses a second arm even with a byte waiting (the only
       worker's reactor, busy with this task, has not taken its edge) */
    uint64_t tick;
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick) == -EAGAIN);
    CHECK(eddy__fd_arm_after(sv[0], tick, on_arm, &r) == 0);
    CHECK(write(sv[1], "y", 1) == 1);
    CHECK(eddy__fd_arm_after(sv[0], tick, on_arm, &r2) == -EEXIST);
    CHECK(settle(&r, 2, 2000) == 2);
    CHECK(atomic_load(&r2.calls) == 0);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == 1);
    CHECK(buf[0] == 'y');
    /* and once more with the arm taken back by disarm */
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r2) == -EEXIST);
    CHECK(eddy__fd_disarm(sv[0]));
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, NULL, &r) == -EINVAL);
    CHECK(eddy__fd_read_or_arm(sv[0], NULL, 4, on_arm, &r) == -EINVAL);
    CHECK(eddy__fd_read_or_arm(-1, buf, sizeof buf, on_arm, &r) == -EBADF);
    int dead = sv[1];
    CHECK(close(sv[1]) == 0);
    CHECK(eddy__fd_read_or_arm(dead, buf, sizeof buf, on_arm, &r) < 0);
    CHECK(!eddy__fd_disarm(dead));
    CHECK(!eddy__fd_disarm(1 << 20)); /* never seen */
    CHECK(eddy_close(sv[0]) == 0);
    CHECK(atomic_load(&r.calls) == 2);
    return NULL;
}

static void *blocking_pool_try(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct rec r;
    rec_init(&r, -1);
    char buf[4];
    return (void *)(intptr_t)eddy__fd_read_or_arm(fd, buf, sizeof buf, on_arm, &r);
}

static void twice_or_off_a_worker_is_refused(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1); /* one reactor, run only between tasks */
    run_task(rt, twice_task, NULL);
    eddy_rt_free(rt);
    rt = eddy_test_new_rt(2);

    int sv[2];
    char buf[4];
    struct rec r;
    rec_init(&r, -1);
    assert_int_equal(pair(sv), 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    /* a plain thread has no reactor: refused, even with bytes waiting */
    assert_err(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r), -EPERM);
    assert_err(eddy__fd_read_or_arm(sv[0], NULL, 0, on_arm, &r), -EPERM);
    assert_false(eddy__fd_disarm(sv[0]));
    /* nor does a blocking-pool thread */
    eddy_task *t;
    void *res = NULL;
    assert_ok(eddy_rt_spawn_blocking(rt, &t, blocking_pool_try, (void *)(intptr_t)sv[0]));
    assert_ok(eddy_join_timeout(t, &res, bound_ms(5000)));
    assert_int_equal((intptr_t)res, -EPERM);
    assert_int_equal(read(sv[0], buf, sizeof buf), 1); /* still there */
    assert_ok(eddy_close(sv[0]));
    assert_ok(eddy_close(sv[1]));
    assert_int_equal(atomic_load(&r.calls), 0);
    eddy_rt_free(rt);
}

/* ------------------------- 9. the arming worker is stuck: a stand-in calls */

#define HOG_MAX_MS 5000

static void *arm_then_spin(void *arg)
{
    struct stuck_arm *s = arg;
    char buf[4];
    CHECK(eddy__fd_read_or_arm(s->sv[0], buf, sizeof buf, stuck_cb, s) == -EINPROGRESS);
    uint64_t end = eddy_now_ns() + (uint64_t)HOG_MAX_MS * 1000000u;
    atomic_store(&s->spinning, 1);
    while (atomic_load(&s->r.calls) == 0 && eddy_now_ns() < end)
        ; /* no yield, no system call */
    atomic_store(&s->spinning, 0);
    return NULL;
}

static void an_arm_on_a_stuck_worker_is_called_by_a_stand_in(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    struct stuck_arm s;
    memset(&s, 0, sizeof s);
    rec_init(&s.r, -1);
    atomic_init(&s.spinning, 0);
    atomic_init(&s.called_in_spin, 0);
    assert_int_equal(pair(s.sv), 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, arm_then_spin, &s));
    for (int i = 0; i < 5000 && !atomic_load(&s.spinning); i++)
        sleep_ms_plain(1);
    assert_true(atomic_load(&s.spinning));
    sleep_ms_plain(5);
    assert_int_equal(write(s.sv[1], "x", 1), 1);
    void *line = NULL;
    assert_ok(eddy_join_timeout(h, &line, HOG_MAX_MS * 2));
    assert_null(line);
    sleep_ms_plain(20);
    assert_int_equal(atomic_load(&s.r.calls), 1);
    assert_int_equal(atomic_load(&s.r.bad_ctx), 0);
    assert_int_equal(atomic_load(&s.called_in_spin), 1);
    assert_ok(eddy_close(s.sv[0]));
    assert_int_equal(close(s.sv[1]), 0);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(data_already_there_is_read_and_nothing_armed),
    cmocka_unit_test(armed_then_written_calls_back_once_and_arms_again),
    cmocka_unit_test(disarmed_before_data_is_never_called),
    cmocka_unit_test(eof_while_armed_calls_back),
    cmocka_unit_test(closing_an_armed_fd_drops_the_arm),
    cmocka_unit_test(arm_only_with_data_waiting_returns_zero_or_calls_back),
    cmocka_unit_test(twice_or_off_a_worker_is_refused),
    cmocka_unit_test(an_arm_on_a_stuck_worker_is_called_by_a_stand_in),
};

EDDY_TEST_MAIN(tests, 120)
