/*
 * tests/io/test_release.c: eddy_fd_release hands an fd back to code that
 * closes it with close(2): waiting tasks wake with -EBADF, the fd stays
 * open and usable, a new fd given the same number gets its events, and the
 * peer of a released and closed socket sees the close (on io_uring an
 * armed poll would otherwise hold the socket open).
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

struct reader {
    int fd;
    atomic_int started;
    ssize_t result;
};

static void *read_one(void *arg)
{
    struct reader *r = arg;
    char c;
    atomic_store(&r->started, 1);
    r->result = eddy_read_timeout(r->fd, &c, 1, 10000);
    return NULL;
}

/* Waits (bounded) until a task is blocked in its read. */
static void wait_started(struct reader *r)
{
    for (int i = 0; i < 2000 && !atomic_load(&r->started); i++)
        usleep(1000);
    assert_true(atomic_load(&r->started));
    usleep(20000); /* into its wait: a release before it is also fine */
}

static void a_waiting_task_wakes_and_the_fd_stays_open(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct reader r = { .fd = sv[0], .result = 1 };
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, read_one, &r));
    wait_started(&r);
    int64_t t0 = eddy_test_now_ms();
    assert_ok(eddy_fd_release(sv[0]));
    assert_ok(eddy_join(h, NULL));
    assert_int_equal(r.result, -EBADF);
    assert_true(eddy_test_now_ms() - t0 < 5000);
    /* still open, still non-blocking, and eddy may use it again */
    int fl = fcntl(sv[0], F_GETFL);
    assert_true(fl >= 0 && (fl & O_NONBLOCK));
    assert_int_equal(write(sv[1], "x", 1), 1);
    char c = 0;
    assert_int_equal(eddy_read(sv[0], &c, 1), 1);
    assert_int_equal(c, 'x');
    assert_ok(eddy_close(sv[0]));
    close(sv[1]);
    eddy_rt_free(rt);
}

static void *register_fd(void *arg)
{
    /* a zero-timeout wait registers fd with this worker's reactor */
    EDDY_TASK_CHECK(eddy_wait_fd(*(int *)arg, EDDY_READABLE, 0) == -ETIMEDOUT);
    return NULL;
}

static void a_new_fd_with_the_same_number_gets_its_events(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    void *res = (void *)1;
    assert_ok(eddy_rt_block_on(rt, register_fd, &a[0], &res));
    assert_null(res);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    /* a library's close: release, then close(2) */
    assert_ok(eddy_fd_release(a[0]));
    int number = a[0];
    assert_int_equal(close(a[0]), 0);
    close(a[1]);
    /* a new socket takes the number */
    assert_int_equal(dup2(b[0], number), number);
    close(b[0]);
    struct reader r = { .fd = number, .result = 0 };
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, read_one, &r));
    wait_started(&r);
    assert_int_equal(write(b[1], "y", 1), 1);
    assert_ok(eddy_join(h, NULL));
    assert_int_equal(r.result, 1); /* not -ETIMEDOUT after 10 s */
    assert_ok(eddy_close(number));
    close(b[1]);
    eddy_rt_free(rt);
}

static void the_peer_sees_a_released_socket_closed(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    void *res = (void *)1;
    assert_ok(eddy_rt_block_on(rt, register_fd, &sv[0], &res));
    assert_null(res);
    assert_ok(eddy_fd_release(sv[0]));
    assert_int_equal(close(sv[0]), 0);
    struct pollfd p = { .fd = sv[1], .events = POLLIN };
    assert_int_equal(poll(&p, 1, 5000), 1);
    char c;
    assert_int_equal(read(sv[1], &c, 1), 0); /* end of file */
    close(sv[1]);
    eddy_rt_free(rt);
}

static void bad_fds_are_refused(void **state)
{
    (void)state;
    assert_err(eddy_fd_release(-1), -EBADF);
    int p[2];
    assert_int_equal(pipe(p), 0);
    int closed = p[0];
    close(p[0]);
    assert_err(eddy_fd_release(closed), -EBADF);
    assert_ok(eddy_fd_release(p[1])); /* never seen by eddy: nothing to do */
    assert_true(fcntl(p[1], F_GETFD) >= 0);
    close(p[1]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_waiting_task_wakes_and_the_fd_stays_open),
    cmocka_unit_test(a_new_fd_with_the_same_number_gets_its_events),
    cmocka_unit_test(the_peer_sees_a_released_socket_closed),
    cmocka_unit_test(bad_fds_are_refused),
};

EDDY_TEST_MAIN(tests, 60)
