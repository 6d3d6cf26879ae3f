/*
 * tests/rt/test_bad_use.c: bad use of the API from an embedding program is
 * answered with an error, never a crash: NULL handles and out-pointers,
 * a runtime used after eddy_rt_free (while its memory is not reused), a
 * runtime freed twice, calls on a worker thread outside any task (where a
 * signal handler that interrupted the worker would run), and calls that
 * need a task made from a plain thread.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

static void *ret_arg(void *arg)
{
    return arg;
}

static void null_handles_and_out_pointers_are_einval(void **state)
{
    (void)state;
    assert_err(eddy_rt_new(NULL, NULL), -EINVAL);
    assert_err(eddy_rt_block_on(NULL, ret_arg, NULL, NULL), -EINVAL);
    assert_err(eddy_rt_spawn(NULL, NULL, ret_arg, NULL), -EINVAL);
    assert_err(eddy_rt_spawn_blocking(NULL, NULL, ret_arg, NULL), -EINVAL);
    assert_err(eddy_rt_shutdown(NULL, 0), -EINVAL);
    eddy_rt_free(NULL);
    assert_int_equal(eddy_rt_workers(NULL), 0);
    eddy_worker_metrics m;
    assert_err(eddy_rt_worker_metrics(NULL, 0, &m), -EINVAL);
    eddy_rt_config_init(NULL);
    eddy_spawn_opts_init(NULL);

    assert_err(eddy_join(NULL, NULL), -EINVAL);
    assert_err(eddy_join_timeout(NULL, NULL, 0), -EINVAL);
    assert_err(eddy_abort(NULL), -EINVAL);
    eddy_detach(NULL);

    assert_err(eddy_chan_new(NULL, 1, 1), -EINVAL);
    assert_err(eddy_chan_send(NULL, "x"), -EINVAL);
    assert_err(eddy_chan_send_timeout(NULL, "x", 0), -EINVAL);
    assert_err(eddy_chan_try_send(NULL, "x"), -EINVAL);
    char c;
    assert_err(eddy_chan_recv(NULL, &c), -EINVAL);
    assert_err(eddy_chan_recv_timeout(NULL, &c, 0), -EINVAL);
    assert_err(eddy_chan_try_recv(NULL, &c), -EINVAL);
    eddy_chan_close(NULL);
    eddy_chan_free(NULL);

    assert_err(eddy_mutex_new(NULL), -EINVAL);
    assert_err(eddy_mutex_lock(NULL), -EINVAL);
    assert_err(eddy_mutex_trylock(NULL), -EINVAL);
    eddy_mutex_unlock(NULL);
    eddy_mutex_free(NULL);
    assert_err(eddy_sem_new(NULL, 0), -EINVAL);
    assert_err(eddy_sem_acquire(NULL), -EINVAL);
    assert_err(eddy_sem_try_acquire(NULL), -EINVAL);
    eddy_sem_release(NULL);
    eddy_sem_free(NULL);
    assert_err(eddy_notify_new(NULL), -EINVAL);
    assert_err(eddy_notify_wait(NULL, 0), -EINVAL);
    eddy_notify_one(NULL);
    eddy_notify_all(NULL);
    eddy_notify_free(NULL);
    assert_err(eddy_waitgroup_new(NULL), -EINVAL);
    assert_err(eddy_waitgroup_wait(NULL), -EINVAL);
    eddy_waitgroup_add(NULL, 1);
    eddy_waitgroup_done(NULL);
    eddy_waitgroup_free(NULL);

    assert_err(eddy_read(-1, &c, 1), -EBADF);
    assert_err(eddy_read(0, NULL, 1), -EINVAL);
    assert_err(eddy_write(-1, "x", 1), -EBADF);
    assert_err(eddy_write(1, NULL, 1), -EINVAL);
    assert_err(eddy_writev(1, NULL, 1), -EINVAL);
    assert_err(eddy_close(-1), -EBADF);
    assert_err(eddy_wait_fd(-1, EDDY_READABLE, 0), -EINVAL);
    assert_err(eddy_tcp_listen(NULL, NULL, 0, 1, 0), -EINVAL);
    assert_err(eddy_tcp_accept(-1, NULL, NULL), -EINVAL);
    assert_err(eddy_tcp_connect(NULL, "127.0.0.1", 1, 0), -EINVAL);
    int fd;
    assert_err(eddy_tcp_connect(&fd, NULL, 1, 0), -EINVAL);
    assert_err(eddy_udp_bind(NULL, NULL, 0), -EINVAL);
    assert_err(eddy_unix_listen(NULL, "/tmp/x", 1), -EINVAL);
    assert_err(eddy_unix_listen(&fd, NULL, 1), -EINVAL);
    assert_err(eddy_unix_connect(&fd, NULL, 0), -EINVAL);
    assert_err(eddy_sendto(1, NULL, 1, NULL, 0), -EINVAL);
    assert_err(eddy_recvfrom(0, NULL, 1, NULL), -EINVAL);
    assert_non_null(eddy_strerror(-123456));
}

static void a_freed_runtime_is_refused(void **state)
{
    (void)state;
    eddy_rt *rt;
    assert_ok(eddy_rt_new(&rt, NULL));
    void *res = NULL;
    assert_ok(eddy_rt_block_on(rt, ret_arg, (void *)7, &res));
    assert_ptr_equal(res, (void *)7);
    eddy_rt_free(rt);
    /* the pointer is stale: refused while no new runtime took its place
       (another eddy_rt_new may reuse the address; that cannot be told) */
    assert_err(eddy_rt_spawn(rt, NULL, ret_arg, NULL), -EINVAL);
    assert_err(eddy_rt_block_on(rt, ret_arg, NULL, NULL), -EINVAL);
    assert_err(eddy_rt_shutdown(rt, 0), -EINVAL);
    assert_int_equal(eddy_rt_workers(rt), 0);
    eddy_rt_free(rt); /* a second free: a message on stderr, no crash */
}

struct on_worker {
    atomic_int free_rc, shutdown_rc;
    eddy_rt *rt;
};

static void *task_side(void *arg)
{
    struct on_worker *o = arg;
    /* suspending calls from a task of the runtime that would wait for
       itself: refused */
    atomic_store(&o->shutdown_rc, eddy_rt_shutdown(o->rt, 0));
    atomic_store(&o->free_rc, eddy_rt_block_on(o->rt, ret_arg, NULL, NULL));
    return NULL;
}

static void suspending_calls_that_cannot_work_are_eperm(void **state)
{
    (void)state;
    eddy_rt *rt;
    assert_ok(eddy_rt_new(&rt, NULL));
    struct on_worker o = { .rt = rt };
    assert_ok(eddy_rt_block_on(rt, task_side, &o, NULL));
    assert_int_equal(atomic_load(&o.shutdown_rc), -EPERM);
    assert_int_equal(atomic_load(&o.free_rc), -EPERM);
    eddy_rt_free(rt);
}

/* A signal handler that runs on a worker thread between tasks: a
   suspending call there would stall every task of that worker (or worse),
   so it is refused with -EPERM before it touches anything. */
static atomic_int handler_sleep_rc = 1, handler_wait_rc = 1;
static atomic_bool handler_ran;
static int handler_fd = -1;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&handler_sleep_rc, eddy_sleep_ms(1));
    atomic_store(&handler_wait_rc, eddy_wait_fd(handler_fd, EDDY_READABLE, 1));
    atomic_store(&handler_ran, true);
}

static void *record_tid(void *arg)
{
    *(pid_t *)arg = gettid();
    return NULL;
}

static void a_suspending_call_on_a_worker_outside_a_task_is_eperm(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    handler_fd = p[0];
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1;
    eddy_rt *rt;
    assert_ok(eddy_rt_new(&rt, &cfg));
    pid_t tid = 0;
    assert_ok(eddy_rt_block_on(rt, record_tid, &tid, NULL));
    assert_true(tid > 0);
    /* the worker is idle now: the handler runs on it outside any task */
    assert_int_equal(tgkill(getpid(), tid, SIGUSR1), 0);
    for (int i = 0; i < 5000 && !atomic_load(&handler_ran); i++)
        usleep(1000);
    assert_true(atomic_load(&handler_ran));
    assert_int_equal(atomic_load(&handler_sleep_rc), -EPERM);
    assert_int_equal(atomic_load(&handler_wait_rc), -EPERM);
    /* and the worker still works */
    void *res = NULL;
    assert_ok(eddy_rt_block_on(rt, ret_arg, (void *)9, &res));
    assert_ptr_equal(res, (void *)9);
    eddy_rt_free(rt);
    sigaction(SIGUSR1, &old, NULL);
    close(p[0]);
    close(p[1]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(null_handles_and_out_pointers_are_einval),
    cmocka_unit_test(a_freed_runtime_is_refused),
    cmocka_unit_test(suspending_calls_that_cannot_work_are_eperm),
    cmocka_unit_test(a_suspending_call_on_a_worker_outside_a_task_is_eperm),
};

EDDY_TEST_MAIN(tests, 60)
