/*
 * tests/rt/test_dump.c: eddy_rt_dump shows each task with what it waits on
 * and its stack: named tasks blocked on a channel (receive, and send on a
 * full one), a mutex, a semaphore, a notify, a waitgroup, an fd (on both
 * backends), a sleep and a join, plus one that spins on a worker (running,
 * no stack), and scopes and select. The dump on a signal and dumps while
 * tasks churn are in test_dump_signal.c.
 *
 * The task functions are not static, and the executable is linked with
 * ENABLE_EXPORTS (-rdynamic): dladdr then names them in the stacks.
 *
 * ctest-labels: concurrency
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <eddy/scope.h>
#include <eddy/select.h>

#include "helpers.h"
#include "rt/rt_int.h"

#include "tests/rt/dump_checks.h"

/* --------------------------------------------- one task per kind of wait */

struct scene {
    eddy_chan *empty, *full;
    eddy_mutex *mu;
    eddy_sem *sem;
    eddy_notify *nt;
    eddy_waitgroup *wg;
    int pfd[2];
    atomic_bool stop;
    eddy_task *h[10];
    eddy_task *sleeper;
    int joined_rc;
};

/* Each does something after its blocking call, so that the call is not a
   tail call and the task's own frame stays on the stack. */
void *dump_t_recv(void *arg)
{
    struct scene *s = arg;
    int v = 0;
    EDDY_TASK_CHECK(eddy_chan_recv(s->empty, &v) == 0);
    EDDY_TASK_CHECK(v == 7);
    return NULL;
}

void *dump_t_send(void *arg)
{
    struct scene *s = arg;
    int v = 8;
    EDDY_TASK_CHECK(eddy_chan_send(s->full, &v) == 0);
    return NULL;
}

void *dump_t_lock(void *arg)
{
    struct scene *s = arg;
    EDDY_TASK_CHECK(eddy_mutex_lock(s->mu) == 0);
    eddy_mutex_unlock(s->mu);
    return NULL;
}

void *dump_t_sem(void *arg)
{
    struct scene *s = arg;
    EDDY_TASK_CHECK(eddy_sem_acquire(s->sem) == 0);
    return NULL;
}

void *dump_t_notify(void *arg)
{
    struct scene *s = arg;
    EDDY_TASK_CHECK(eddy_notify_wait(s->nt, -1) == 0);
    return NULL;
}

void *dump_t_wg(void *arg)
{
    struct scene *s = arg;
    EDDY_TASK_CHECK(eddy_waitgroup_wait(s->wg) == 0);
    return NULL;
}

void *dump_t_read(void *arg)
{
    struct scene *s = arg;
    char c = 0;
    EDDY_TASK_CHECK(eddy_read(s->pfd[0], &c, 1) == 1);
    EDDY_TASK_CHECK(c == 'x');
    return NULL;
}

void *dump_t_sleep(void *arg)
{
    (void)arg;
    int rc = eddy_sleep_ms(600000);
    EDDY_TASK_CHECK(rc == -ECANCELED);
    return NULL;
}

void *dump_t_join(void *arg)
{
    struct scene *s = arg;
    s->joined_rc = eddy_join(s->sleeper, NULL);
    EDDY_TASK_CHECK(s->joined_rc == -ECANCELED);
    return NULL;
}

void *dump_t_spin(void *arg)
{
    struct scene *s = arg;
    eddy_yield(); /* suspended once: on its worker's owned list from now on */
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
        ; /* truly running: never gives its worker back */
    return NULL;
}

/* Spawns the scene from a task (eddy_spawn_ex needs a worker). The spinner
   goes to worker 1, the rest to worker 0. */
static void *scene_setup(void *arg)
{
    struct scene *s = arg;
    s->sleeper = spawn_named("sleeper", dump_t_sleep, s, 0);
    EDDY_TASK_CHECK(s->sleeper != NULL);
    s->h[0] = spawn_named("receiver", dump_t_recv, s, 0);
    s->h[1] = spawn_named("sender", dump_t_send, s, 0);
    s->h[2] = spawn_named("locker", dump_t_lock, s, 0);
    s->h[3] = spawn_named("acquirer", dump_t_sem, s, 0);
    s->h[4] = spawn_named("notified", dump_t_notify, s, 0);
    s->h[5] = spawn_named("grouped", dump_t_wg, s, 0);
    s->h[6] = spawn_named("reader", dump_t_read, s, 0);
    s->h[7] = spawn_named("joiner", dump_t_join, s, 0);
    s->h[8] = spawn_named("spinner", dump_t_spin, s, 1);
    for (int i = 0; i < 9; i++)
        EDDY_TASK_CHECK(s->h[i] != NULL);
    return NULL;
}

static const char *const scene_names[] = { "receiver", "sender",  "locker", "acquirer",
                                           "notified", "grouped", "reader", "sleeper",
                                           "joiner",   "spinner" };

static void each_wait_is_named_with_its_stack(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    struct scene *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_ok(eddy_chan_new(&s->empty, 1, sizeof(int)));
    assert_ok(eddy_chan_new(&s->full, 1, sizeof(int)));
    int one = 1;
    assert_ok(eddy_chan_try_send(s->full, &one));
    assert_ok(eddy_mutex_new(&s->mu));
    assert_ok(eddy_mutex_lock(s->mu)); /* held by this thread */
    assert_ok(eddy_sem_new(&s->sem, 0));
    assert_ok(eddy_notify_new(&s->nt));
    assert_ok(eddy_waitgroup_new(&s->wg));
    eddy_waitgroup_add(s->wg, 1);
    assert_int_equal(pipe2(s->pfd, O_CLOEXEC), 0);
    void *res = NULL;
    assert_ok(eddy_rt_block_on(rt, scene_setup, s, &res));
    assert_null(res);

    char fdtext[64], recvtext[64], sendtext[64];
    snprintf(fdtext, sizeof fdtext, "waiting on fd %d readable", s->pfd[0]);
    snprintf(recvtext, sizeof recvtext, "waiting on channel %p (recv)", (void *)s->empty);
    snprintf(sendtext, sizeof sendtext, "waiting on channel %p (send)", (void *)s->full);
    const char *const states[] = { recvtext,
                                   sendtext,
                                   "waiting on mutex",
                                   "waiting on semaphore",
                                   "waiting on notify",
                                   "waiting on waitgroup",
                                   fdtext,
                                   "waiting on timer (sleep, ",
                                   "waiting on join of task ",
                                   "running" };
    const char *const funcs[][2] = {
        { "eddy_chan_recv", "dump_t_recv" },     { "eddy_chan_send", "dump_t_send" },
        { "eddy_mutex_lock", "dump_t_lock" },    { "eddy_sem_acquire", "dump_t_sem" },
        { "eddy_notify_wait", "dump_t_notify" }, { "eddy_waitgroup_wait", "dump_t_wg" },
        { "eddy_read", "dump_t_read" },          { "eddy_sleep", "dump_t_sleep" },
        { "eddy_join", "dump_t_join" },
    };
    size_t n = sizeof scene_names / sizeof scene_names[0];
    char *text = dump_until(rt, scene_names, states, n);
    fputs(text, stderr);
    assert_non_null(strstr(text, "eddy runtime dump: 2 workers, "));
    for (size_t i = 0; i < n; i++) {
        const char *b = block_of(text, scene_names[i]);
        if (b == NULL)
            fail_msg("task %s missing from the dump", scene_names[i]);
        if (strstr(b, states[i]) == NULL)
            fail_msg("task %s: no \"%s\" in:\n%s", scene_names[i], states[i], b);
        assert_non_null(strstr(b, ", age "));
        if (i == n - 1) { /* the spinner: running, no stack */
            assert_null(strstr(b, "#0"));
            continue;
        }
        assert_non_null(strstr(b, " for "));
        for (int k = 0; k < 2; k++)
            if (strstr(b, funcs[i][k]) == NULL)
                fail_msg("task %s: no frame of %s in:\n%s", scene_names[i], funcs[i][k], b);
    }
    /* the joiner names the sleeper's id */
    const char *sb = block_of(text, "sleeper");
    unsigned long long sid = 0;
    assert_int_equal(sscanf(sb, "task %llu", &sid), 1);
    char jtext[64];
    snprintf(jtext, sizeof jtext, "waiting on join of task %llu for", sid);
    assert_true(block_has(text, "joiner", jtext));
    free(text);

    /* let everything go, and every task still ends as it should */
    atomic_store(&s->stop, true);
    int seven = 7, got = 0;
    assert_ok(eddy_chan_send(s->empty, &seven));
    assert_ok(eddy_chan_recv(s->full, &got));
    eddy_mutex_unlock(s->mu);
    eddy_sem_release(s->sem);
    eddy_notify_one(s->nt);
    eddy_waitgroup_done(s->wg);
    assert_int_equal(write(s->pfd[1], "x", 1), 1);
    assert_ok(eddy_abort(s->sleeper)); /* the joiner holds its handle */
    for (int i = 0; i < 9; i++) {
        void *r = (void *)1;
        assert_ok(eddy_join(s->h[i], &r));
        if (r != NULL)
            fail_msg("task %s failed at line %d", scene_names[i == 7 ? 8 : i == 8 ? 9 : i],
                     (int)(intptr_t)r);
    }
    assert_int_equal(s->joined_rc, -ECANCELED);
    eddy_rt_free(rt);
    eddy_close(s->pfd[0]);
    close(s->pfd[1]);
    eddy_chan_free(s->empty);
    eddy_chan_free(s->full);
    eddy_mutex_free(s->mu);
    eddy_sem_free(s->sem);
    eddy_notify_free(s->nt);
    eddy_waitgroup_free(s->wg);
    free(s);
}

/* ------------------------------------------------- fds, on both backends */

struct fds {
    int a[2], b[2];
};

void *dump_t_wait_fd(void *arg)
{
    struct fds *f = arg;
    int rc = eddy_wait_fd(f->a[0], EDDY_READABLE, -1);
    EDDY_TASK_CHECK(rc == EDDY_READABLE);
    return NULL;
}

void *dump_t_read_fd(void *arg)
{
    struct fds *f = arg;
    char c = 0;
    EDDY_TASK_CHECK(eddy_read(f->b[0], &c, 1) == 1);
    return NULL;
}

static void *fds_setup(void *arg)
{
    eddy_task **h = arg;
    struct fds *f = (struct fds *)h[2];
    h[0] = spawn_named("fd-waiter", dump_t_wait_fd, f, -1);
    h[1] = spawn_named("fd-reader", dump_t_read_fd, f, -1);
    EDDY_TASK_CHECK(h[0] != NULL && h[1] != NULL);
    return NULL;
}

static void fd_waits_on(int backend)
{
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1;
    cfg.io_backend = backend;
    eddy_rt *rt = NULL;
    int rc = eddy_rt_new(&rt, &cfg);
    if (rc < 0 && backend == EDDY_IO_URING)
        skip();
    assert_ok(rc);
    if (backend == EDDY_IO_URING && rt->drivers[0]->backend != EDDY__BACKEND_URING)
        print_message("io_uring refused here: the epoll fallback is dumped\n");
    struct fds f;
    assert_int_equal(pipe2(f.a, O_CLOEXEC), 0);
    assert_int_equal(pipe2(f.b, O_CLOEXEC), 0);
    eddy_task *h[3] = { NULL, NULL, (eddy_task *)&f };
    assert_ok(eddy_rt_block_on(rt, fds_setup, h, NULL));
    char wtext[64], rtext[64];
    snprintf(wtext, sizeof wtext, "waiting on fd %d readable for", f.a[0]);
    snprintf(rtext, sizeof rtext, "waiting on fd %d readable for", f.b[0]);
    const char *const names[] = { "fd-waiter", "fd-reader" };
    const char *const states[] = { wtext, rtext };
    char *text = dump_until(rt, names, states, 2);
    fputs(text, stderr);
    if (!block_has(text, "fd-waiter", wtext) || !block_has(text, "fd-waiter", "eddy_wait_fd") ||
        !block_has(text, "fd-waiter", "dump_t_wait_fd"))
        fail_msg("fd-waiter:\n%s", text);
    if (!block_has(text, "fd-reader", rtext) || !block_has(text, "fd-reader", "eddy_read") ||
        !block_has(text, "fd-reader", "dump_t_read_fd"))
        fail_msg("fd-reader:\n%s", text);
    free(text);
    assert_int_equal(write(f.a[1], "x", 1), 1);
    assert_int_equal(write(f.b[1], "y", 1), 1);
    for (int i = 0; i < 2; i++) {
        void *r = (void *)1;
        assert_ok(eddy_join(h[i], &r));
        assert_null(r);
    }
    eddy_rt_free(rt);
    eddy_close(f.a[0]);
    eddy_close(f.b[0]);
    close(f.a[1]);
    close(f.b[1]);
}

static void fd_waits_epoll(void **state)
{
    (void)state;
    fd_waits_on(EDDY_IO_EPOLL);
}

static void fd_waits_uring(void **state)
{
    (void)state;
    fd_waits_on(EDDY_IO_URING);
}

/* ------------------------------------------------------------ bad use */

static void bad_arguments_are_einval_and_write_errors_returned(void **state)
{
    (void)state;
    assert_err(eddy_rt_dump(NULL, 1), -EINVAL);
    eddy_rt *rt = eddy_test_new_rt(1);
    assert_err(eddy_rt_dump(rt, -1), -EINVAL);
    /* a reader that went away: -EPIPE, and no SIGPIPE kills us */
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    assert_err(eddy_rt_dump(rt, p[1]), -EPIPE);
    close(p[1]);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_err(eddy_rt_dump(rt, fd), -EBADF); /* not open for writing */
    close(fd);
    eddy_rt_free(rt);
    assert_err(eddy_rt_dump(rt, 1), -EINVAL); /* freed */

    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1;
    cfg.dump_signal = SIGKILL;
    rt = NULL;
    assert_err(eddy_rt_new(&rt, &cfg), -EINVAL);
    cfg.dump_signal = SIGSEGV;
    assert_err(eddy_rt_new(&rt, &cfg), -EINVAL);
    cfg.dump_signal = 0;
    cfg.reserved_int = 1;
    assert_err(eddy_rt_new(&rt, &cfg), -EINVAL);
    assert_null(rt);
}

/* ---------------------------------- scopes and select, in the same dump */

struct scope_scene {
    eddy_chan *a, *b;
    atomic_bool stop;
    atomic_int closing, stubborn_started;
};

/* Ignores its cancellation until told to stop: its scope's close waits. */
void *dump_t_stubborn(void *arg)
{
    struct scope_scene *s = arg;
    atomic_store(&s->stubborn_started, 1);
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
        (void)eddy_sleep_ms(1); /* -ECANCELED at once after the cancel */
    return NULL;
}

void *dump_t_scope_closer(void *arg)
{
    struct scope_scene *s = arg;
    eddy_scope *sc;
    EDDY_TASK_CHECK(eddy_scope_new(&sc) == 0);
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    o.name = "stubborn";
    EDDY_TASK_CHECK(eddy_scope_spawn_ex(sc, NULL, dump_t_stubborn, s, &o) == 0);
    /* cancelled before it ran, it would never run: let it start first */
    int64_t until = eddy_test_now_ms() + 10000;
    while (!atomic_load(&s->stubborn_started) && eddy_test_now_ms() < until)
        eddy_yield();
    eddy_scope_cancel(sc);
    atomic_store(&s->closing, 1);
    int rc = eddy_scope_close(sc);
    EDDY_TASK_CHECK(rc == -ECANCELED);
    return NULL;
}

void *dump_t_scope_next(void *arg)
{
    struct scope_scene *s = arg;
    eddy_scope *sc;
    EDDY_TASK_CHECK(eddy_scope_new(&sc) == 0);
    EDDY_TASK_CHECK(eddy_scope_spawn(sc, NULL, dump_t_sleep, s) == 0);
    void *r = NULL;
    int rc = eddy_scope_next(sc, &r, -1); /* until the test aborts us */
    EDDY_TASK_CHECK(rc == -ECANCELED);
    EDDY_TASK_CHECK(eddy_scope_close(sc) == -ECANCELED);
    return NULL;
}

void *dump_t_select(void *arg)
{
    struct scope_scene *s = arg;
    int va = 0, vb = 0;
    eddy_select_case c[2] = { { .kind = EDDY_SEL_RECV, .obj = s->a, .elem = &va },
                              { .kind = EDDY_SEL_RECV, .obj = s->b, .elem = &vb } };
    int rc = eddy_select(c, 2, -1);
    EDDY_TASK_CHECK(rc == -ECANCELED);
    return NULL;
}

static void *scope_scene_setup(void *arg)
{
    struct scope_scene *s = arg;
    eddy_task **h = (eddy_task **)(s + 1);
    h[0] = spawn_named("closer", dump_t_scope_closer, s, 0);
    h[1] = spawn_named("nexter", dump_t_scope_next, s, 0);
    h[2] = spawn_named("selector", dump_t_select, s, 0);
    for (int i = 0; i < 3; i++)
        EDDY_TASK_CHECK(h[i] != NULL);
    return NULL;
}

static void scope_and_select_waits_are_shown(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    struct scope_scene *s = calloc(1, sizeof *s + 3 * sizeof(eddy_task *));
    assert_non_null(s);
    eddy_task **h = (eddy_task **)(s + 1);
    assert_ok(eddy_chan_new(&s->a, 1, sizeof(int)));
    assert_ok(eddy_chan_new(&s->b, 0, sizeof(int)));
    void *res = NULL;
    assert_ok(eddy_rt_block_on(rt, scope_scene_setup, s, &res));
    assert_null(res);
    static const char *const names[] = { "closer", "nexter", "selector", "stubborn" };
    static const char *const states[] = { "waiting on scope", "waiting on scope",
                                          "waiting on select over 2 cases", "task" };
    char *text = dump_until(rt, names, states, 4);
    fputs(text, stderr);
    static const char *const funcs[][2] = { { "eddy_scope_close", "dump_t_scope_closer" },
                                            { "eddy_scope_next", "dump_t_scope_next" },
                                            { "eddy_select", "dump_t_select" } };
    for (int i = 0; i < 3; i++) {
        const char *b = block_of(text, names[i]);
        if (b == NULL || strstr(b, states[i]) == NULL)
            fail_msg("task %s: no \"%s\" in:\n%s", names[i], states[i], b ? b : text);
        for (int k = 0; k < 2; k++)
            if (strstr(b, funcs[i][k]) == NULL)
                fail_msg("task %s: no frame of %s in:\n%s", names[i], funcs[i][k], b);
    }
    /* the child that holds the closer up is listed, by its name */
    assert_non_null(block_of(text, "stubborn"));
    /* the closer's wait (an uncancellable one) is timed like the others */
    const char *cb = block_of(text, "closer");
    double secs = -1;
    const char *f = strstr(cb, " for ");
    assert_non_null(f);
    assert_int_equal(sscanf(f, " for %lf s", &secs), 1);
    assert_true(secs >= 0 && secs < 60);
    free(text);
    atomic_store(&s->stop, true);
    for (int i = 1; i < 3; i++)
        assert_ok(eddy_abort(h[i]));
    for (int i = 0; i < 3; i++) {
        void *r = (void *)1;
        int rc = eddy_join(h[i], &r);
        assert_true(rc == 0 || rc == -ECANCELED);
        assert_null(r); /* no check failed in the task */
    }
    eddy_rt_free(rt);
    eddy_chan_free(s->a);
    eddy_chan_free(s->b);
    free(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(each_wait_is_named_with_its_stack),
    cmocka_unit_test(scope_and_select_waits_are_shown),
    cmocka_unit_test(fd_waits_epoll),
    cmocka_unit_test(fd_waits_uring),
    cmocka_unit_test(bad_arguments_are_einval_and_write_errors_returned),
};

EDDY_TEST_MAIN(tests, 120)
