/*
 * tests/io/test_backend.c: choosing the reactor backend. EDDY_IO_EPOLL
 * gives epoll; EDDY_IO_URING gives io_uring where the kernel allows it
 * (probed here directly) and otherwise falls back to epoll with one line
 * on stderr; a process whose seccomp filter refuses io_uring_setup (as
 * some container profiles do) falls back and still serves I/O. A
 * misspelt EDDY_IO_BACKEND is said once on stderr, and epoll serves.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "io/io_int.h"
#include "rt/rt_int.h"

#ifdef EDDY_HAVE_URING
#include <liburing.h>
#endif

static eddy_rt *new_rt(int backend)
{
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    cfg.io_backend = backend;
    eddy_rt *rt = NULL;
    assert_ok(eddy_rt_new(&rt, &cfg));
    return rt;
}

/* Whether this kernel (and process) lets a ring be set up at all. */
static bool kernel_allows_uring(void)
{
#ifdef EDDY_HAVE_URING
    struct io_uring ring;
    if (io_uring_queue_init(4, &ring, 0) < 0)
        return false;
    io_uring_queue_exit(&ring);
    return true;
#else
    return false;
#endif
}

static void *echo_once(void *arg)
{
    int *fd = arg;
    char c;
    if (eddy_read(fd[0], &c, 1) != 1 || eddy_write(fd[0], &c, 1) != 1)
        return (void *)1;
    return NULL;
}

/* A read that has to wait in the reactor, answered from a plain thread. */
static int round_trip(eddy_rt *rt)
{
    int fd[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd) < 0)
        return -errno;
    eddy_task *h;
    int rc = eddy_rt_spawn(rt, &h, echo_once, fd);
    if (rc < 0)
        return rc;
    usleep(10000); /* let it reach the wait */
    char c = 'q', back = 0;
    if (write(fd[1], &c, 1) != 1 || read(fd[1], &back, 1) != 1)
        rc = -EIO;
    void *res = NULL;
    if (eddy_join(h, &res) < 0 || res != NULL || back != c)
        rc = -EIO;
    eddy_close(fd[0]);
    close(fd[1]);
    return rc;
}

static void epoll_is_epoll(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt(EDDY_IO_EPOLL);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(rt->drivers[i]->backend, EDDY__BACKEND_EPOLL);
    assert_ok(round_trip(rt));
    eddy_rt_free(rt);
}

static void uring_is_uring_where_the_kernel_allows(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt(EDDY_IO_URING);
    int want = kernel_allows_uring() ? EDDY__BACKEND_URING : EDDY__BACKEND_EPOLL;
    if (want == EDDY__BACKEND_EPOLL)
        print_message("io_uring refused here: checking the epoll fallback only\n");
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(rt->drivers[i]->backend, want);
    assert_ok(round_trip(rt));
    eddy_rt_free(rt);
}

/* Child: refuse io_uring_setup with EPERM, then ask for io_uring. */
static int child_with_uring_refused(int err_fd)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof filter / sizeof filter[0], .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return 3;
    if (dup2(err_fd, STDERR_FILENO) < 0)
        return 4;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    cfg.io_backend = EDDY_IO_URING;
    eddy_rt *rt = NULL;
    if (eddy_rt_new(&rt, &cfg) < 0)
        return 5;
    int rc = 0;
    for (unsigned i = 0; i < 2; i++)
        if (rt->drivers[i]->backend != EDDY__BACKEND_EPOLL)
            rc = 6;
    if (rc == 0 && round_trip(rt) < 0)
        rc = 7;
    eddy_rt_free(rt);
    return rc;
}

static void a_refused_uring_falls_back_to_epoll_with_a_log_line(void **state)
{
    (void)state;
    if (eddy_test_sanitized()) {
        /* the sanitizers' runtimes do not mix with a seccomp'd fork */
        skip();
    }
    char log[512];
    int status = eddy_test_child_output(child_with_uring_refused, log, sizeof log);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* one line, naming the cause; once per process */
    assert_non_null(strstr(log, "eddy: io_uring unavailable"));
    assert_non_null(strstr(log, "using epoll"));
    assert_null(strstr(strstr(log, "using epoll"), "io_uring unavailable"));
}

/* In a child (its stderr is the pipe): two runtimes under a misspelt
   EDDY_IO_BACKEND, both on epoll. */
static int child_with_unknown_backend(int err_fd)
{
    if (dup2(err_fd, STDERR_FILENO) < 0)
        return 3;
    if (setenv("EDDY_IO_BACKEND", "io-uring", 1) != 0)
        return 4;
    for (int k = 0; k < 2; k++) {
        eddy_rt *rt = eddy_test_new_rt(2);
        for (unsigned i = 0; i < 2; i++)
            if (rt->drivers[i]->backend != EDDY__BACKEND_EPOLL)
                return 5;
        eddy_rt_free(rt);
    }
    return 0;
}

static void an_unknown_backend_name_is_said_once_and_epoll_is_used(void **state)
{
    (void)state;
    char log[512];
    int status = eddy_test_child_output(child_with_unknown_backend, log, sizeof log);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    const char *line = strstr(log, "EDDY_IO_BACKEND=io-uring");
    assert_non_null(line);
    assert_non_null(strstr(line, "using epoll"));
    assert_null(strstr(line + 1, "EDDY_IO_BACKEND=io-uring")); /* once */
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(epoll_is_epoll),
    cmocka_unit_test(uring_is_uring_where_the_kernel_allows),
    cmocka_unit_test(a_refused_uring_falls_back_to_epoll_with_a_log_line),
    cmocka_unit_test(an_unknown_backend_name_is_said_once_and_epoll_is_used),
};

EDDY_TEST_MAIN(tests, 60)
