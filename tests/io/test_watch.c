/*
 * tests/io/test_watch.c: level-triggered interest for foreign fds
 * (eddy__fd_watch, the door libcurl's sockets come through): the callback
 * repeats while the fd stays ready, stops once the condition is consumed or
 * the interest changes, reports hang-ups, survives a number closed with
 * close(2) and reused, and answers bad use with an error.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "io/io_int.h"

struct seen {
    atomic_int calls;
    atomic_int events; /* OR of every call's events */
    atomic_int fd;     /* the fd of the last call */
};

static void on_ready(void *arg, int fd, int events)
{
    struct seen *s = arg;
    atomic_fetch_or(&s->events, events);
    atomic_store(&s->fd, fd);
    atomic_fetch_add(&s->calls, 1);
}

static void reset(struct seen *s)
{
    atomic_store(&s->calls, 0);
    atomic_store(&s->events, 0);
}

/* Sleeps in 1 ms steps (each one a pass through the reactor) until s has
   at least want calls, at most 2 s. */
static int settle(struct seen *s, int want)
{
    for (int i = 0; i < 2000 && atomic_load(&s->calls) < want; i++)
        eddy_sleep_ms(1);
    return atomic_load(&s->calls);
}

#define CHECK EDDY_TASK_CHECK

static void run_task(eddy_rt *rt, eddy_fn fn)
{
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, fn, NULL, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
}

static void *level_task(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    struct seen s = { .calls = 0 };

    CHECK(eddy__fd_watch(sv[0], EDDY_READABLE, on_ready, &s) >= 0);
    for (int i = 0; i < 10; i++)
        eddy_sleep_ms(1);
    CHECK(atomic_load(&s.calls) == 0); /* nothing to read: no call */
    CHECK(write(sv[1], "x", 1) == 1);
    /* level-triggered: the unread byte is reported on every pass */
    CHECK(settle(&s, 3) >= 3);
    CHECK(atomic_load(&s.events) == EDDY_READABLE);
    CHECK(atomic_load(&s.fd) == sv[0]);

    char c;
    CHECK(read(sv[0], &c, 1) == 1); /* consumed: the calls stop */
    eddy_sleep_ms(2);
    reset(&s);
    for (int i = 0; i < 10; i++)
        eddy_sleep_ms(1);
    CHECK(atomic_load(&s.calls) == 0);

    /* new interest: writable, which a socket with room always is */
    CHECK(eddy__fd_watch(sv[0], EDDY_WRITABLE, on_ready, &s) >= 0);
    CHECK(settle(&s, 2) >= 2);
    CHECK(atomic_load(&s.events) == EDDY_WRITABLE);

    /* no interest: still registered, quiet */
    CHECK(eddy__fd_watch(sv[0], 0, on_ready, &s) >= 0);
    eddy_sleep_ms(2);
    reset(&s);
    for (int i = 0; i < 10; i++)
        eddy_sleep_ms(1);
    CHECK(atomic_load(&s.calls) == 0);

    /* the peer hangs up: reported as readable with EDDY__HANGUP */
    CHECK(eddy__fd_watch(sv[0], EDDY_READABLE, on_ready, &s) >= 0);
    close(sv[1]);
    CHECK(settle(&s, 1) >= 1);
    CHECK(atomic_load(&s.events) & EDDY_READABLE);

    /* unwatched: quiet even though the fd stays readable (EOF) */
    CHECK(eddy__fd_unwatch(sv[0]) >= 0);
    eddy_sleep_ms(2);
    reset(&s);
    for (int i = 0; i < 10; i++)
        eddy_sleep_ms(1);
    CHECK(atomic_load(&s.calls) == 0);
    CHECK(eddy_close(sv[0]) >= 0);
    return NULL;
}

static void the_callback_repeats_while_the_fd_stays_ready(void **state)
{
    (void)state;
    for (unsigned workers = 1; workers <= 2; workers++) {
        eddy_rt *rt = eddy_test_new_rt(workers);
        run_task(rt, level_task);
        eddy_rt_free(rt);
    }
}

static void *reuse_task(void *arg)
{
    (void)arg;
    int a[2], b[2];
    struct seen s = { .calls = 0 };
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a) == 0);
    CHECK(eddy__fd_watch(a[0], EDDY_READABLE, on_ready, &s) >= 0);
    int num = a[0];
    /* closed the way a library closes its own sockets: close(2) */
    close(a[0]);
    close(a[1]);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b) == 0);
    int fresh = b[0] == num ? b[0] : b[1] == num ? b[1] : -1;
    CHECK(fresh >= 0); /* the lowest free number comes back */
    int peer = fresh == b[0] ? b[1] : b[0];
    /* the old registration left with the close: a new watch of the same
       number must register again (epoll says ENOENT to a MOD) */
    CHECK(eddy__fd_watch(fresh, EDDY_READABLE, on_ready, &s) >= 0);
    CHECK(write(peer, "y", 1) == 1);
    CHECK(settle(&s, 1) >= 1);
    CHECK(atomic_load(&s.fd) == fresh);
    CHECK(eddy_close(fresh) >= 0); /* close drops the watch too */
    close(peer);
    return NULL;
}

static void a_reused_number_registers_again(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    run_task(rt, reuse_task);
    eddy_rt_free(rt);
}

/* A plain thread changes the interest of a watched fd and exits. On
   io_uring the new poll belongs to that thread, and its first wake-up
   after the exit ends it with -ECANCELED: the poll must be armed again
   by the worker that reaps the end, or the watch goes deaf. */
struct from_thread {
    int fd;
    struct seen *s;
    int rc;
};

static void *change_interest(void *arg)
{
    struct from_thread *t = arg;
    t->rc = eddy__fd_watch(t->fd, EDDY_READABLE, on_ready, t->s);
    return NULL;
}

static void *thread_exit_task(void *arg)
{
    (void)arg;
    int sv[2];
    struct seen s = { .calls = 0 };
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK(eddy__fd_watch(sv[0], 0, on_ready, &s) >= 0); /* registered, no interest */
    struct from_thread t = { .fd = sv[0], .s = &s, .rc = 1 };
    pthread_t th;
    CHECK(pthread_create(&th, NULL, change_interest, &t) == 0);
    CHECK(pthread_join(th, NULL) == 0); /* blocks this worker a moment: fine here */
    CHECK(t.rc == 0);
    eddy_sleep_ms(5);
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(settle(&s, 3) >= 3); /* level: reported pass after pass */
    CHECK(atomic_load(&s.events) == EDDY_READABLE);
    CHECK(eddy_close(sv[0]) >= 0);
    close(sv[1]);
    return NULL;
}

static void a_watch_changed_from_a_thread_that_exits_keeps_reporting(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(1);
    run_task(rt, thread_exit_task);
    eddy_rt_free(rt);
}

static void bad_use_gets_an_error(void **state)
{
    (void)state;
    struct seen s = { .calls = 0 };
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_err(eddy__fd_watch(-1, EDDY_READABLE, on_ready, &s), -EBADF);
    assert_err(eddy__fd_watch(sv[0], EDDY_READABLE, NULL, &s), -EINVAL);
    assert_err(eddy__fd_watch(sv[0], 0x40, on_ready, &s), -EINVAL);
    /* a plain thread has no reactor */
    assert_err(eddy__fd_watch(sv[0], EDDY_READABLE, on_ready, &s), -EPERM);
    /* unwatching what was never watched is a no-op (curl #17949) */
    assert_ok(eddy__fd_unwatch(sv[1]));
    assert_ok(eddy__fd_unwatch(100000));
    assert_ok(eddy_close(sv[0]));
    assert_ok(eddy_close(sv[1]));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(the_callback_repeats_while_the_fd_stays_ready),
    cmocka_unit_test(a_reused_number_registers_again),
    cmocka_unit_test(a_watch_changed_from_a_thread_that_exits_keeps_reporting),
    cmocka_unit_test(bad_use_gets_an_error),
};

EDDY_TEST_MAIN(tests, 120)
