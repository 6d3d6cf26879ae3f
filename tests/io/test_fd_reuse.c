/*
 * tests/io/test_fd_reuse.c: an fd that eddy registered, closed with
 * close(2) instead of eddy_close, whose number the kernel hands out again,
 * to a socket eddy makes or to a pipe the program makes: the new file must
 * work (a stale registration would keep it off its reactor: its read would
 * wait forever), and eddy says once on stderr which fd was closed behind
 * its back.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

struct reuse {
    int listener;
    uint16_t port;
    int old_fd;   /* the number closed behind eddy's back */
    int new_fd;   /* the socket that got it again */
    ssize_t got;  /* what the new socket read */
};

static void *write_later(void *arg)
{
    int s = (int)(intptr_t)arg;
    (void)eddy_sleep_ms(50);
    (void)eddy_write(s, "x", 1);
    return NULL;
}

static void *reuse_a_registered_number(void *arg)
{
    struct reuse *r = arg;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        return (void *)(intptr_t)__LINE__;
    char c;
    /* registers pair[0] with this worker's reactor */
    if (eddy_read_timeout(pair[0], &c, 1, 10) != -ETIMEDOUT)
        return (void *)(intptr_t)__LINE__;
    r->old_fd = pair[0];
    close(pair[0]); /* the misuse: behind eddy's back */
    /* the lowest free number is pair[0]'s: the connect's socket gets it */
    if (eddy_tcp_connect(&r->new_fd, "127.0.0.1", r->port, 5000) != 0)
        return (void *)(intptr_t)__LINE__;
    int s;
    if (eddy_tcp_accept(r->listener, &s, NULL) != 0)
        return (void *)(intptr_t)__LINE__;
    /* the byte comes later, so the read must wait on the reactor */
    eddy_task *w;
    if (eddy_spawn(&w, write_later, (void *)(intptr_t)s) != 0)
        return (void *)(intptr_t)__LINE__;
    r->got = eddy_read_timeout(r->new_fd, &c, 1, 5000);
    eddy_join(w, NULL);
    eddy_close(s);
    eddy_close(r->new_fd);
    close(pair[1]);
    return NULL;
}

static void a_reused_number_works_and_the_misuse_is_named(void **state)
{
    (void)state;
    struct reuse r = { .got = -1 };
    assert_ok(eddy_tcp_listen(&r.listener, "127.0.0.1", 0, 16, 0));
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    assert_int_equal(getsockname(r.listener, (struct sockaddr *)&sin, &len), 0);
    r.port = ntohs(sin.sin_port);
    /* stderr into a pipe, set up before the pair so that it takes no
       number the test relies on */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    eddy_rt *rt = eddy_test_new_rt(1);
    fflush(stderr);
    assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    void *line = NULL;
    int rc = eddy_rt_block_on(rt, reuse_a_registered_number, &r, &line);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char log[1024];
    ssize_t n = read(p[0], log, sizeof log - 1);
    log[n > 0 ? n : 0] = '\0';
    close(p[0]);
    close(p[1]);
    assert_ok(rc);
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
    if (r.new_fd != r.old_fd)
        fail_msg("the kernel gave fd %d, not the closed %d: nothing to test", r.new_fd, r.old_fd);
    assert_int_equal(r.got, 1);
    char want[64];
    snprintf(want, sizeof want, "eddy: fd %d was closed with close(2)", r.old_fd);
    assert_non_null(strstr(log, want));
    eddy_rt_free(rt);
    eddy_close(r.listener);
}


/* ------------------------------------------ a pipe the program makes */

struct pipe_reuse {
    int old_fd;
    int wfd;     /* the new pipe's write end */
    ssize_t got;
};

static void *write_pipe_later(void *arg)
{
    struct pipe_reuse *r = arg;
    (void)eddy_sleep_ms(50);
    (void)write(r->wfd, "y", 1);
    return NULL;
}

static void *reuse_with_a_foreign_pipe(void *arg)
{
    struct pipe_reuse *r = arg;
    int p[2], q[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return (void *)(intptr_t)__LINE__;
    char c;
    /* registers p[0], a file eddy did not make */
    if (eddy_read_timeout(p[0], &c, 1, 10) != -ETIMEDOUT)
        return (void *)(intptr_t)__LINE__;
    r->old_fd = p[0];
    close(p[0]); /* the misuse */
    if (pipe2(q, O_CLOEXEC | O_NONBLOCK) != 0)
        return (void *)(intptr_t)__LINE__;
    /* the new pipe's read end on the old number, whichever number the
       kernel gave it */
    if (q[0] != r->old_fd) {
        if (dup2(q[0], r->old_fd) != r->old_fd)
            return (void *)(intptr_t)__LINE__;
        close(q[0]);
    }
    r->wfd = q[1];
    eddy_task *w;
    if (eddy_spawn(&w, write_pipe_later, r) != 0)
        return (void *)(intptr_t)__LINE__;
    r->got = eddy_read_timeout(r->old_fd, &c, 1, 5000); /* waits on the reactor */
    eddy_join(w, NULL);
    if (r->got == 1 && c != 'y')
        return (void *)(intptr_t)__LINE__;
    eddy_close(r->old_fd);
    close(q[1]);
    close(p[1]);
    return NULL;
}

/* In a child: the warning is said once per process. Exit code: 0, or the
   failing line. */
static int foreign_pipe_child(int err_fd)
{
    dup2(err_fd, STDERR_FILENO);
    eddy_rt *rt = NULL;
    if (eddy_rt_new(&rt, NULL) != 0)
        return 1;
    struct pipe_reuse r = { .got = -1 };
    void *line = NULL;
    if (eddy_rt_block_on(rt, reuse_with_a_foreign_pipe, &r, &line) != 0)
        return 2;
    eddy_rt_free(rt);
    if (line != NULL)
        return (int)(intptr_t)line % 256;
    fprintf(stderr, "old fd %d, got %zd\n", r.old_fd, r.got);
    return r.got == 1 ? 0 : 3;
}

static void a_reused_number_of_a_foreign_fd_works_and_is_named(void **state)
{
    (void)state;
    char log[2048];
    int status = eddy_test_child_output(foreign_pipe_child, log, sizeof log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child failed (status %#x): %s", status, log);
    int old_fd = -1;
    const char *o = strstr(log, "old fd ");
    assert_non_null(o);
    assert_int_equal(sscanf(o, "old fd %d", &old_fd), 1);
    char want[64];
    snprintf(want, sizeof want, "eddy: fd %d was closed with close(2)", old_fd);
    if (strstr(log, want) == NULL)
        fail_msg("no \"%s\" in: %s", want, log);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_reused_number_of_a_foreign_fd_works_and_is_named),
    cmocka_unit_test(a_reused_number_works_and_the_misuse_is_named),
};

EDDY_TEST_MAIN(tests, 60)
