/*
 * tests/io/test_plain_wait.c: a plain thread (not a worker) blocked in an
 * eddy fd call is woken like a task: eddy_close of the fd gives -EBADF, an
 * abort of the blocking-pool task it runs gives -ECANCELED, and readiness
 * and timeouts work as before. The eventfd a thread's waits use goes away
 * with the thread.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

struct blocked {
    int fd;
    int use_wait_fd;
    atomic_int started;
    atomic_long result;
};

static void *block_in_read(void *arg)
{
    struct blocked *b = arg;
    char c;
    atomic_store(&b->started, 1);
    long rc = b->use_wait_fd ? eddy_wait_fd(b->fd, EDDY_READABLE, -1) : eddy_read(b->fd, &c, 1);
    atomic_store(&b->result, rc);
    return NULL;
}


static void started_and_blocked(struct blocked *b)
{
    for (int i = 0; i < 2000 && !atomic_load(&b->started); i++)
        usleep(1000);
    assert_true(atomic_load(&b->started));
    usleep(50000); /* into its poll(2) */
}

static void close_wakes(int use_wait_fd)
{
    int fds_before = eddy_test_count_fds();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct blocked b = { .fd = sv[0], .use_wait_fd = use_wait_fd, .result = 1 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, block_in_read, &b), 0);
    started_and_blocked(&b);
    assert_ok(eddy_close(sv[0]));
    bool joined = eddy_test_join_within(t, 5000);
    if (!joined) { /* unblock it before failing: the peer's close ends poll */
        close(sv[1]);
        pthread_join(t, NULL);
    }
    assert_true(joined);
    assert_int_equal(atomic_load(&b.result), -EBADF);
    close(sv[1]);
    /* the thread's eventfd went with it */
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

static void close_wakes_a_plain_thread_in_read(void **state)
{
    (void)state;
    close_wakes(0);
}

static void close_wakes_a_plain_thread_in_wait_fd(void **state)
{
    (void)state;
    close_wakes(1);
}

static void *blocking_read(void *arg)
{
    struct blocked *b = arg;
    block_in_read(b);
    return (void *)atomic_load(&b->result);
}

static void abort_wakes_a_blocking_task_in_read(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct blocked b = { .fd = sv[0], .result = 1 };
    eddy_task *h;
    assert_ok(eddy_rt_spawn_blocking(rt, &h, blocking_read, &b));
    started_and_blocked(&b);
    int64_t t0 = eddy_test_now_ms();
    assert_ok(eddy_abort(h));
    int rc = eddy_join_timeout(h, NULL, 5000);
    if (rc == -ETIMEDOUT) { /* unblock it before failing */
        assert_int_equal(write(sv[1], "x", 1), 1);
        (void)eddy_join(h, NULL);
    }
    assert_int_equal(rc, -ECANCELED);
    assert_true(eddy_test_now_ms() - t0 < 5000);
    assert_int_equal(atomic_load(&b.result), -ECANCELED);
    assert_ok(eddy_close(sv[0]));
    close(sv[1]);
    eddy_rt_free(rt);
}

static void readiness_and_timeouts_still_work(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char c = 0;
    int64_t t0 = eddy_test_now_ms();
    assert_err(eddy_read_timeout(sv[0], &c, 1, 30), -ETIMEDOUT);
    assert_true(eddy_test_now_ms() - t0 >= 25);
    assert_err(eddy_wait_fd(sv[0], EDDY_READABLE, 30), -ETIMEDOUT);
    assert_int_equal(eddy_wait_fd(sv[0], EDDY_WRITABLE, 1000), EDDY_WRITABLE);
    struct blocked b = { .fd = sv[0], .result = 0 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, block_in_read, &b), 0);
    started_and_blocked(&b);
    assert_int_equal(write(sv[1], "z", 1), 1);
    assert_true(eddy_test_join_within(t, 5000));
    assert_int_equal(atomic_load(&b.result), 1);
    assert_ok(eddy_close(sv[0]));
    close(sv[1]);
}

/* Several plain threads may wait on one fd (the slot goes to the first;
   the others poll without it), and a task waiting there takes the slot
   from a plain thread instead of failing with -EBUSY. */
static void *task_read(void *arg)
{
    struct blocked *b = arg;
    char c;
    atomic_store(&b->started, 1);
    atomic_store(&b->result, eddy_read_timeout(b->fd, &c, 1, 10000));
    return NULL;
}

static void plain_threads_and_a_task_share_an_fd(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct blocked b[2] = { { .fd = sv[0], .result = 7 }, { .fd = sv[0], .result = 7 } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, block_in_read, &b[i]), 0);
        started_and_blocked(&b[i]);
    }
    struct blocked tb = { .fd = sv[0], .result = 7 };
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, task_read, &tb));
    started_and_blocked(&tb);
    /* a plain thread's level check sees data at once, whoever holds the slot */
    assert_int_equal(eddy_wait_fd(sv[0], EDDY_WRITABLE, 1000), EDDY_WRITABLE);
    assert_int_equal(write(sv[1], "abc", 3), 3);
    assert_true(eddy_test_join_within(t[0], 5000));
    assert_true(eddy_test_join_within(t[1], 5000));
    assert_ok(eddy_join_timeout(h, NULL, 5000));
    assert_int_equal(atomic_load(&b[0].result), 1);
    assert_int_equal(atomic_load(&b[1].result), 1);
    assert_int_equal(atomic_load(&tb.result), 1);
    assert_ok(eddy_close(sv[0]));
    close(sv[1]);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(close_wakes_a_plain_thread_in_read),
    cmocka_unit_test(close_wakes_a_plain_thread_in_wait_fd),
    cmocka_unit_test(abort_wakes_a_blocking_task_in_read),
    cmocka_unit_test(readiness_and_timeouts_still_work),
    cmocka_unit_test(plain_threads_and_a_task_share_an_fd),
};

EDDY_TEST_MAIN(tests, 60)
