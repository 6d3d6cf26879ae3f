/*
 * tests/io/test_sigpipe.c: writing to a peer that is gone returns -EPIPE
 * and never raises SIGPIPE (whose default action kills the process): on a
 * socket from a task and from a plain thread, on a pipe from a task.
 * SIGPIPE keeps its default disposition here, so a regression kills the
 * test binary. Nothing is left blocked or pending afterwards.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"

/* Writes to fd until the broken pipe shows (the first write may still
   land in a buffer). */
static ssize_t write_until_error(int fd)
{
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    ssize_t rc = 0;
    for (int i = 0; i < 64 && rc >= 0; i++)
        rc = eddy_write(fd, buf, sizeof buf);
    return rc;
}

static void *write_to_gone_peer(void *arg)
{
    int fd = *(int *)arg;
    EDDY_TASK_CHECK(write_until_error(fd) == -EPIPE);
    struct iovec v[2] = { { .iov_base = "ab", .iov_len = 2 }, { .iov_base = "c", .iov_len = 1 } };
    EDDY_TASK_CHECK(eddy_writev(fd, v, 2) == -EPIPE);
    return NULL;
}

static void default_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    assert_int_equal(sigaction(SIGPIPE, &sa, NULL), 0);
}

static void socket_write_from_a_task_gives_epipe(void **state)
{
    (void)state;
    default_sigpipe();
    eddy_rt *rt = eddy_test_new_rt(2);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(close(sv[1]), 0);
    void *res = (void *)1;
    assert_ok(eddy_rt_block_on(rt, write_to_gone_peer, &sv[0], &res));
    assert_null(res);
    assert_ok(eddy_close(sv[0]));
    eddy_rt_free(rt);
}

static void socket_write_from_a_plain_thread_gives_epipe(void **state)
{
    (void)state;
    default_sigpipe();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(close(sv[1]), 0);
    assert_null(write_to_gone_peer(&sv[0]));
    assert_ok(eddy_close(sv[0]));
}

static void pipe_write_from_a_task_gives_epipe(void **state)
{
    (void)state;
    default_sigpipe();
    eddy_rt *rt = eddy_test_new_rt(1);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(close(p[0]), 0);
    void *res = (void *)1;
    assert_ok(eddy_rt_block_on(rt, write_to_gone_peer, &p[1], &res));
    assert_null(res);
    /* the same fd number, now a socket, is written with sendmsg again */
    assert_ok(eddy_close(p[1]));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(eddy_write(sv[0], "hi", 2), 2);
    char got[2];
    assert_int_equal(read(sv[1], got, 2), 2);
    assert_memory_equal(got, "hi", 2);
    assert_ok(eddy_close(sv[0]));
    close(sv[1]);
    eddy_rt_free(rt);
}

static void pipe_write_from_a_plain_thread_gives_epipe(void **state)
{
    (void)state;
    default_sigpipe();
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(close(p[0]), 0);
    assert_null(write_to_gone_peer(&p[1]));
    /* the signal was consumed and the thread's mask is as it was */
    sigset_t mask, pending;
    assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &mask), 0);
    assert_false(sigismember(&mask, SIGPIPE));
    assert_int_equal(sigpending(&pending), 0);
    assert_false(sigismember(&pending, SIGPIPE));
    assert_ok(eddy_close(p[1]));
}

/* Tasks run with SIGPIPE unblocked: a process a task starts inherits the
   worker's mask, and a blocked SIGPIPE would change how it behaves. */
static void *sigpipe_blocked_here(void *arg)
{
    (void)arg;
    sigset_t mask;
    if (pthread_sigmask(SIG_BLOCK, NULL, &mask) != 0)
        return (void *)-1;
    return (void *)(intptr_t)sigismember(&mask, SIGPIPE);
}

static void workers_leave_sigpipe_unblocked(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    for (int i = 0; i < 4; i++) {
        void *res = (void *)-1;
        assert_ok(eddy_rt_block_on(rt, sigpipe_blocked_here, NULL, &res));
        assert_null(res);
    }
    eddy_task *h;
    assert_ok(eddy_rt_spawn_blocking(rt, &h, sigpipe_blocked_here, NULL));
    void *res = (void *)-1;
    assert_ok(eddy_join(h, &res));
    assert_null(res);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(socket_write_from_a_task_gives_epipe),
    cmocka_unit_test(socket_write_from_a_plain_thread_gives_epipe),
    cmocka_unit_test(pipe_write_from_a_task_gives_epipe),
    cmocka_unit_test(pipe_write_from_a_plain_thread_gives_epipe),
    cmocka_unit_test(workers_leave_sigpipe_unblocked),
};

EDDY_TEST_MAIN(tests, 60)
