/*
 * tests/io/test_fd.c: reading, writing and waiting on fds from tasks on
 * different workers and from plain threads, with the reactor: EAGAIN
 * mid-way, timeouts, close while another task waits, abort, no fd leak.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

static eddy_task *spawn(eddy_rt *rt, eddy_fn fn, void *arg)
{
    eddy_task *h = NULL;
    assert_ok(eddy_rt_spawn(rt, &h, fn, arg));
    return h;
}

struct pair {
    int fd[2];
    size_t bytes;
    atomic_int errors;
};

static void *echo_side(void *arg)
{
    struct pair *p = arg;
    char buf[512];
    size_t got = 0;
    while (got < p->bytes) {
        ssize_t n = eddy_read(p->fd[1], buf, sizeof buf);
        if (n <= 0) {
            atomic_fetch_add(&p->errors, 1);
            return NULL;
        }
        if (eddy_write(p->fd[1], buf, (size_t)n) != n)
            atomic_fetch_add(&p->errors, 1);
        got += (size_t)n;
    }
    return NULL;
}

static void *ping_side(void *arg)
{
    struct pair *p = arg;
    char out[100], in[100];
    for (size_t i = 0; i < p->bytes / sizeof out; i++) {
        memset(out, (int)(i & 0xff), sizeof out);
        if (eddy_write(p->fd[0], out, sizeof out) != (ssize_t)sizeof out) {
            atomic_fetch_add(&p->errors, 1);
            return NULL;
        }
        size_t got = 0;
        while (got < sizeof in) {
            ssize_t n = eddy_read(p->fd[0], in + got, sizeof in - got);
            if (n <= 0) {
                atomic_fetch_add(&p->errors, 1);
                return NULL;
            }
            got += (size_t)n;
        }
        if (memcmp(in, out, sizeof in) != 0)
            atomic_fetch_add(&p->errors, 1);
    }
    return NULL;
}

static void ping_pong_over_a_socketpair_between_two_workers(void **state)
{
    (void)state;
    int fds_before = eddy_test_count_fds();
    eddy_rt *rt = eddy_test_new_rt(2);
    struct pair p = { .bytes = eddy_test_sanitized() ? 100 * 500 : 100 * 5000 };
    atomic_init(&p.errors, 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p.fd), 0);
    eddy_task *a = spawn(rt, echo_side, &p);
    eddy_task *b = spawn(rt, ping_side, &p);
    assert_ok(eddy_join_timeout(b, NULL, 60000));
    assert_ok(eddy_join_timeout(a, NULL, 60000));
    assert_int_equal(atomic_load(&p.errors), 0);
    assert_ok(eddy_close(p.fd[0]));
    assert_ok(eddy_close(p.fd[1]));
    eddy_rt_free(rt);
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

#define BIG (8u << 20)

static void *write_big(void *arg)
{
    int fd = *(int *)arg;
    unsigned char *buf = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = (unsigned char)(i * 7 + (i >> 12));
    /* far more than the socket buffer: EAGAIN many times on the way */
    ssize_t n = eddy_write(fd, buf, BIG);
    free(buf);
    return (void *)(intptr_t)n;
}

static void *read_big(void *arg)
{
    int fd = *(int *)arg;
    unsigned char *buf = malloc(65536);
    size_t got = 0, bad = 0;
    while (got < BIG) {
        ssize_t n = eddy_read(fd, buf, 65536);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++, got++)
            if (buf[i] != (unsigned char)(got * 7 + (got >> 12)))
                bad++;
    }
    free(buf);
    return (void *)(uintptr_t)(bad == 0 ? got : 0);
}

static void a_large_write_that_hits_eagain_arrives_intact(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    eddy_task *w, *r;
    assert_ok(eddy_rt_spawn(rt, &w, write_big, &fd[0]));
    assert_ok(eddy_rt_spawn(rt, &r, read_big, &fd[1]));
    void *wn, *rn;
    assert_ok(eddy_join_timeout(w, &wn, 60000));
    assert_ok(eddy_join_timeout(r, &rn, 60000));
    assert_int_equal((intptr_t)wn, BIG);
    assert_int_equal((uintptr_t)rn, BIG);
    assert_ok(eddy_close(fd[0]));
    assert_ok(eddy_close(fd[1]));
    eddy_rt_free(rt);
}

static void *read_with_timeout(void *arg)
{
    int fd = *(int *)arg;
    char c;
    uint64_t t0 = eddy_now_ns();
    ssize_t n = eddy_read_timeout(fd, &c, 1, 50);
    uint64_t ms = (eddy_now_ns() - t0) / 1000000u;
    if (n != -ETIMEDOUT || ms < 50 || ms > 3000)
        return (void *)1;
    int rc = eddy_wait_fd(fd, EDDY_READABLE, 30);
    return (void *)(intptr_t)(rc == -ETIMEDOUT ? 0 : 2);
}

static void read_timeout_and_wait_fd_timeout_expire(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    void *r = (void *)9;
    assert_ok(eddy_rt_block_on(rt, read_with_timeout, &fd[0], &r));
    assert_int_equal((intptr_t)r, 0);
    /* a plain thread times out the same way */
    char c;
    assert_err(eddy_read_timeout(fd[0], &c, 1, 20), -ETIMEDOUT);
    assert_err(eddy_wait_fd(fd[0], EDDY_READABLE, 20), -ETIMEDOUT);
    assert_int_equal(eddy_wait_fd(fd[0], EDDY_WRITABLE, 20), EDDY_WRITABLE);
    assert_err(eddy_wait_fd(-1, EDDY_READABLE, 0), -EINVAL);
    assert_err(eddy_wait_fd(fd[0], 0, 0), -EINVAL);
    assert_ok(eddy_close(fd[0]));
    assert_ok(eddy_close(fd[1]));
    eddy_rt_free(rt);
}

static atomic_int waiting;

static void *wait_readable(void *arg)
{
    int fd = *(int *)arg;
    atomic_store(&waiting, 1);
    return (void *)(intptr_t)eddy_wait_fd(fd, EDDY_READABLE, 10000);
}

static void wait_fd_wakes_when_the_peer_writes(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    atomic_store(&waiting, 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, wait_readable, &fd[0]));
    while (!atomic_load(&waiting))
        sched_yield();
    usleep(20000);
    assert_int_equal(write(fd[1], "x", 1), 1);
    void *r;
    assert_ok(eddy_join_timeout(h, &r, 5000));
    assert_int_equal((intptr_t)r, EDDY_READABLE);
    /* data already there: a new wait returns at once (level check) */
    assert_ok(eddy_rt_spawn(rt, &h, wait_readable, &fd[0]));
    assert_ok(eddy_join_timeout(h, &r, 5000));
    assert_int_equal((intptr_t)r, EDDY_READABLE);
    assert_ok(eddy_close(fd[0]));
    assert_ok(eddy_close(fd[1]));
    eddy_rt_free(rt);
}

static void *blocked_read(void *arg)
{
    int fd = *(int *)arg;
    char c;
    atomic_store(&waiting, 1);
    return (void *)(intptr_t)eddy_read(fd, &c, 1);
}

static void close_wakes_a_task_waiting_on_the_fd_with_ebadf(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    atomic_store(&waiting, 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, blocked_read, &fd[0]));
    while (!atomic_load(&waiting))
        sched_yield();
    usleep(20000); /* it is suspended in the reactor now */
    int64_t t0 = eddy_test_now_ms();
    assert_ok(eddy_close(fd[0]));
    void *r;
    assert_ok(eddy_join_timeout(h, &r, 5000));
    assert_true(eddy_test_now_ms() - t0 < 2000);
    assert_int_equal((intptr_t)r, -EBADF);
    assert_ok(eddy_close(fd[1]));
    eddy_rt_free(rt);
}

/* One worker, so the woken reader cannot run before the checks below. */
static void *close_then_wait_on_the_reused_number(void *arg)
{
    (void)arg;
    int fd[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) != 0)
        return (void *)(intptr_t)__LINE__;
    atomic_store(&waiting, 0);
    eddy_task *h;
    EDDY_TASK_CHECK(eddy_spawn(&h, blocked_read, &fd[0]) == 0);
    while (!atomic_load(&waiting))
        eddy_yield();
    eddy_yield(); /* the reader is suspended in its read now */
    EDDY_TASK_CHECK(eddy_close(fd[0]) == 0);
    int again[2];
    EDDY_TASK_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, again) == 0);
    EDDY_TASK_CHECK(again[0] == fd[0]); /* the lowest free number */
    char c;
    /* the old reader has not run yet: its slot must be free all the same */
    EDDY_TASK_CHECK(eddy_read_timeout(again[0], &c, 1, 10) == -ETIMEDOUT);
    void *r = NULL;
    EDDY_TASK_CHECK(eddy_join(h, &r) == 0);
    EDDY_TASK_CHECK((intptr_t)r == -EBADF);
    EDDY_TASK_CHECK(write(again[1], "z", 1) == 1);
    EDDY_TASK_CHECK(eddy_read_timeout(again[0], &c, 1, 1000) == 1 && c == 'z');
    eddy_close(again[0]);
    eddy_close(again[1]);
    eddy_close(fd[1]);
    return NULL;
}

static void a_reused_number_is_not_busy_with_a_waiter_of_the_closed_fd(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, close_then_wait_on_the_reused_number, NULL, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
    eddy_rt_free(rt);
}

static void abort_of_a_task_blocked_in_read_returns_ecanceled(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    atomic_store(&waiting, 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, blocked_read, &fd[0]));
    while (!atomic_load(&waiting))
        sched_yield();
    usleep(20000);
    assert_ok(eddy_abort(h));
    void *r;
    assert_err(eddy_join_timeout(h, &r, 5000), -ECANCELED);
    assert_int_equal((intptr_t)r, -ECANCELED);
    /* the fd still works afterwards */
    assert_int_equal(write(fd[1], "y", 1), 1);
    char c = 0;
    assert_int_equal(eddy_read(fd[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    assert_ok(eddy_close(fd[0]));
    assert_ok(eddy_close(fd[1]));
    eddy_rt_free(rt);
}

static void *read_without_a_limit(void *arg)
{
    int fd = *(int *)arg;
    char c;
    atomic_store(&waiting, 1);
    return (void *)(intptr_t)eddy_read_timeout(fd, &c, 1, INT64_MAX);
}

static void *wait_fd_without_a_limit(void *arg)
{
    int fd = *(int *)arg;
    atomic_store(&waiting, 1);
    return (void *)(intptr_t)eddy_wait_fd(fd, EDDY_READABLE, INT64_MAX);
}

/* A timeout too large for nanoseconds means no limit: its deadline must
   not wrap around into the past and expire at once. */
static void huge_read_and_wait_fd_timeouts_wait_for_data(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    eddy_fn fns[] = { read_without_a_limit, wait_fd_without_a_limit };
    intptr_t want[] = { 1, EDDY_READABLE };
    for (int i = 0; i < 2; i++) {
        atomic_store(&waiting, 0);
        eddy_task *h = spawn(rt, fns[i], &fd[0]);
        while (!atomic_load(&waiting))
            sched_yield();
        void *r = (void *)9;
        assert_err(eddy_join_timeout(h, &r, 50), -ETIMEDOUT); /* still waiting */
        assert_int_equal(write(fd[1], "x", 1), 1);
        assert_ok(eddy_join_timeout(h, &r, 5000));
        assert_int_equal((intptr_t)r, want[i]);
    }
    assert_ok(eddy_close(fd[0]));
    assert_ok(eddy_close(fd[1]));
    eddy_rt_free(rt);
}

static void *feed(void *arg)
{
    int fd = *(int *)arg;
    for (int i = 0; i < 100; i++) {
        char c = (char)i;
        if (eddy_write(fd, &c, 1) != 1)
            return (void *)1;
        if (i % 10 == 0)
            eddy_sleep_ms(1);
    }
    return NULL;
}

static void a_plain_thread_reads_what_a_task_writes(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, feed, &fd[0]));
    for (int i = 0; i < 100; i++) {
        char c;
        assert_int_equal(eddy_read_timeout(fd[1], &c, 1, 5000), 1);
        assert_int_equal(c, (char)i);
    }
    void *r;
    assert_ok(eddy_join(h, &r));
    assert_null(r);
    assert_ok(eddy_close(fd[0]));
    char c;
    assert_int_equal(eddy_read(fd[1], &c, 1), 0); /* EOF */
    assert_ok(eddy_close(fd[1]));
    eddy_rt_free(rt);
}


static void *read_one(void *arg)
{
    int fd = *(int *)arg;
    char c = 0;
    ssize_t n = eddy_read_timeout(fd, &c, 1, 5000);
    return (void *)(intptr_t)(n == 1 ? c : n);
}

static void *write_after_a_while(void *arg)
{
    int fd = *(int *)arg;
    eddy_sleep_ms(30);
    return (void *)(intptr_t)eddy_write(fd, "z", 1);
}

static void an_fd_outlives_the_runtime_it_was_registered_with(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    for (int round = 0; round < 2; round++) {
        /* each runtime registers fd[0] with its own reactor on the wait */
        eddy_rt *rt = eddy_test_new_rt(1);
        eddy_task *r, *w;
        assert_ok(eddy_rt_spawn(rt, &r, read_one, &fd[0]));
        assert_ok(eddy_rt_spawn(rt, &w, write_after_a_while, &fd[1]));
        void *got;
        assert_ok(eddy_join_timeout(r, &got, 10000));
        assert_int_equal((intptr_t)got, 'z');
        assert_ok(eddy_join_timeout(w, NULL, 10000));
        eddy_rt_free(rt); /* fd[0] stays open, registered with a dead reactor */
    }
    assert_ok(eddy_close(fd[0]));
    assert_ok(eddy_close(fd[1]));
}

/* docs/design.md ("Public API rules"): any fd handed to an eddy I/O call is switched to O_NONBLOCK on
   first use, eddy_wait_fd included (from a task and from a plain thread). */
static void *wait_fd_in_task(void *arg)
{
    EDDY_TASK_CHECK(eddy_wait_fd(*(int *)arg, EDDY_READABLE, 0) == -ETIMEDOUT);
    return NULL;
}

static void wait_fd_switches_the_fd_to_nonblocking(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    int p[2], q[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(pipe(q), 0);
    assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    void *res = (void *)1;
    assert_ok(eddy_rt_block_on(rt, wait_fd_in_task, &p[0], &res));
    assert_null(res);
    assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    assert_false(fcntl(q[0], F_GETFL) & O_NONBLOCK);
    assert_err(eddy_wait_fd(q[0], EDDY_READABLE, 0), -ETIMEDOUT);
    assert_true(fcntl(q[0], F_GETFL) & O_NONBLOCK);
    for (int i = 0; i < 2; i++) {
        assert_ok(eddy_close(p[i]));
        assert_ok(eddy_close(q[i]));
    }
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(ping_pong_over_a_socketpair_between_two_workers),
    cmocka_unit_test(wait_fd_switches_the_fd_to_nonblocking),
    cmocka_unit_test(a_large_write_that_hits_eagain_arrives_intact),
    cmocka_unit_test(read_timeout_and_wait_fd_timeout_expire),
    cmocka_unit_test(wait_fd_wakes_when_the_peer_writes),
    cmocka_unit_test(close_wakes_a_task_waiting_on_the_fd_with_ebadf),
    cmocka_unit_test(a_reused_number_is_not_busy_with_a_waiter_of_the_closed_fd),
    cmocka_unit_test(abort_of_a_task_blocked_in_read_returns_ecanceled),
    cmocka_unit_test(huge_read_and_wait_fd_timeouts_wait_for_data),
    cmocka_unit_test(a_plain_thread_reads_what_a_task_writes),
    cmocka_unit_test(an_fd_outlives_the_runtime_it_was_registered_with),
};

EDDY_TEST_MAIN(tests, 120)
