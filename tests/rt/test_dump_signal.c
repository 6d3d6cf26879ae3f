/*
 * tests/rt/test_dump_signal.c: eddy_rt_dump on a signal (EDDY_DUMP_SIGNAL,
 * and the config's dump_signal), in child processes that go on after it
 * and in process; an unknown signal name is reported once; dumps while
 * tasks churn on two workers all succeed and nothing is left stuck. What
 * each wait shows is in test_dump.c.
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

#include "helpers.h"
#include "rt/rt_int.h"
#include "tests/rt/dump_checks.h"

/* ------------------------------------------------------------- signals */

struct sig_child {
    eddy_notify *nt;
    eddy_task *h;
};

void *dump_t_sig_wait(void *arg)
{
    struct sig_child *c = arg;
    EDDY_TASK_CHECK(eddy_notify_wait(c->nt, -1) == 0);
    return NULL;
}

static void *sig_setup(void *arg)
{
    struct sig_child *c = arg;
    c->h = spawn_named("sigwaiter", dump_t_sig_wait, c, -1);
    return c->h != NULL ? NULL : (void *)1;
}

/* True once fd's contents hold needle. */
static bool file_has(int fd, const char *needle)
{
    static char buf[65536];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* In the child: a runtime dumped by sig (the config's when cfg_sig, else
   EDDY_DUMP_SIGNAL's), one task waiting; raise, then carry on and end.
   stderr goes to a memfd first, so the child sees when the dump thread
   has written the task's block, then to err_fd for the parent. */
static int sig_child_run(int err_fd, int sig, bool cfg_sig)
{
    int mem = memfd_create("stderr", MFD_CLOEXEC);
    int saved = dup(STDERR_FILENO);
    if (mem < 0 || saved < 0 || dup2(mem, STDERR_FILENO) < 0)
        return 3;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1;
    if (cfg_sig)
        cfg.dump_signal = sig;
    eddy_rt *rt = NULL;
    if (eddy_rt_new(&rt, &cfg) != 0)
        return 4;
    struct sig_child c = { 0 };
    if (eddy_notify_new(&c.nt) != 0 || eddy_rt_block_on(rt, sig_setup, &c, NULL) != 0)
        return 5;
    /* wait until it waits */
    int64_t until = eddy_test_now_ms() + 10000;
    for (;;) {
        int fd = memfd_create("d", MFD_CLOEXEC);
        if (fd < 0 || eddy_rt_dump(rt, fd) != 0)
            return 6;
        bool waits = file_has(fd, "waiting on notify");
        close(fd);
        if (waits)
            break;
        if (eddy_test_now_ms() > until)
            return 7;
        sleep_ms(5);
    }
    if (raise(sig) != 0)
        return 8;
    /* the dump thread writes each task's block in one write */
    while (!file_has(mem, "dump_t_sig_wait")) {
        if (eddy_test_now_ms() > until)
            return 9;
        sleep_ms(5);
    }
    /* the process goes on: the task ends, the runtime is freed */
    eddy_notify_one(c.nt);
    if (eddy_join(c.h, NULL) != 0)
        return 10;
    eddy_rt_free(rt);
    eddy_notify_free(c.nt);
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL)
        return 11; /* the handler was not given back */
    if (dup2(saved, STDERR_FILENO) < 0)
        return 12;
    close(saved);
    char buf[32768];
    ssize_t n = pread(mem, buf, sizeof buf, 0);
    close(mem);
    if (n > 0 && write(err_fd, buf, (size_t)n) != n)
        return 12;
    static const char tail[] = "child carried on\n";
    if (write(err_fd, tail, sizeof tail - 1) < 0)
        return 13;
    return 0;
}

static int child_env_quit(int err_fd)
{
    setenv("EDDY_DUMP_SIGNAL", "QUIT", 1);
    return sig_child_run(err_fd, SIGQUIT, false);
}

static int child_cfg_usr1(int err_fd)
{
    unsetenv("EDDY_DUMP_SIGNAL");
    return sig_child_run(err_fd, SIGUSR1, true);
}

static void check_sig_log(int status, const char *log)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child status %d, output:\n%s", status, log);
    assert_non_null(strstr(log, "eddy runtime dump: 1 worker, "));
    const char *b = block_of(log, "sigwaiter");
    if (b == NULL || strstr(b, "waiting on notify") == NULL ||
        strstr(b, "eddy_notify_wait") == NULL || strstr(b, "dump_t_sig_wait") == NULL)
        fail_msg("no sigwaiter block with its stack in:\n%s", log);
    assert_non_null(strstr(log, "child carried on"));
}

/* ThreadSanitizer and jemalloc's fork handlers do not mix (a "double lock"
   in the child): the forked cases run in the other builds, the in-process
   one in all. */
static bool tsan_build(void)
{
#if defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return true;
#endif
#endif
    return false;
}

static void env_signal_dumps_and_the_process_goes_on(void **state)
{
    (void)state;
    if (tsan_build())
        skip();
    char log[32768];
    int status = eddy_test_child_output(child_env_quit, log, sizeof log);
    check_sig_log(status, log);
}

static void config_signal_dumps_and_the_process_goes_on(void **state)
{
    (void)state;
    if (tsan_build())
        skip();
    char log[32768];
    int status = eddy_test_child_output(child_cfg_usr1, log, sizeof log);
    check_sig_log(status, log);
}

/* The same without a fork: the dump thread is started, dumps, stops. */
static void config_signal_dumps_in_process(void **state)
{
    (void)state;
    int log_fd = memfd_create("log", MFD_CLOEXEC);
    assert_true(log_fd >= 0);
    int rc = sig_child_run(log_fd, SIGUSR2, true);
    static char log[32768];
    ssize_t n = pread(log_fd, log, sizeof log - 1, 0);
    log[n > 0 ? n : 0] = '\0';
    close(log_fd);
    check_sig_log(rc == 0 ? 0 : 256 * rc, log);
}

static int child_env_unknown(int err_fd)
{
    if (dup2(err_fd, STDERR_FILENO) < 0)
        return 3;
    setenv("EDDY_DUMP_SIGNAL", "NOPE", 1);
    for (int i = 0; i < 2; i++) { /* said once, not per runtime */
        eddy_rt *rt = NULL;
        if (eddy_rt_new(&rt, NULL) != 0)
            return 4;
        eddy_rt_free(rt);
    }
    struct sigaction sa;
    if (sigaction(SIGQUIT, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL)
        return 5;
    return 0;
}

static void unknown_env_signal_is_reported_once_and_ignored(void **state)
{
    (void)state;
    if (tsan_build())
        skip();
    char log[4096];
    int status = eddy_test_child_output(child_env_unknown, log, sizeof log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child status %d, output:\n%s", status, log);
    const char *first = strstr(log, "EDDY_DUMP_SIGNAL=NOPE");
    assert_non_null(first);
    assert_null(strstr(first + 1, "EDDY_DUMP_SIGNAL=NOPE"));
}

/* --------------------------------------------------------- concurrency */

struct churn {
    atomic_bool stop;
    eddy_chan *ping, *pong;
    eddy_notify *nt;
    int devnull;
    atomic_int dump_failures;
};

void *churn_child(void *arg)
{
    intptr_t k = (intptr_t)arg;
    switch (k % 4) {
    case 0: (void)eddy_sleep_ms(1); break;
    case 1: eddy_yield(); break;
    case 2: (void)eddy_sleep_ms(1000); break; /* aborted by its parent */
    default: break;
    }
    return NULL;
}

void *churn_spawner(void *arg)
{
    struct churn *c = arg;
    for (intptr_t i = 0; !atomic_load(&c->stop); i++) {
        eddy_task *h;
        if (eddy_spawn(&h, churn_child, (void *)i) != 0)
            return (void *)(intptr_t)__LINE__;
        if (i % 4 == 2)
            (void)eddy_abort(h);
        (void)eddy_join(h, NULL);
        /* now and then, a dump from inside a task (it shows itself running) */
        if (i % 64 == 0 && eddy_rt_dump(eddy_rt_current(), c->devnull) != 0)
            atomic_fetch_add(&c->dump_failures, 1);
    }
    return NULL;
}

void *churn_pinger(void *arg)
{
    struct churn *c = arg;
    for (int v = 0; !atomic_load(&c->stop); v++) {
        if (eddy_chan_send(c->ping, &v) != 0)
            break;
        int got;
        if (eddy_chan_recv(c->pong, &got) != 0)
            break;
    }
    return NULL;
}

void *churn_ponger(void *arg)
{
    struct churn *c = arg;
    int v;
    while (eddy_chan_recv(c->ping, &v) == 0)
        if (eddy_chan_send(c->pong, &v) != 0)
            break;
    return NULL;
}

void *churn_notified(void *arg)
{
    struct churn *c = arg;
    while (!atomic_load(&c->stop))
        (void)eddy_notify_wait(c->nt, 2);
    return NULL;
}

static void dumps_while_tasks_churn(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    struct churn c;
    memset(&c, 0, sizeof c);
    atomic_init(&c.stop, false);
    atomic_init(&c.dump_failures, 0);
    c.devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    assert_true(c.devnull >= 0);
    assert_ok(eddy_chan_new(&c.ping, 0, sizeof(int)));
    assert_ok(eddy_chan_new(&c.pong, 0, sizeof(int)));
    assert_ok(eddy_notify_new(&c.nt));
    eddy_task *h[8];
    eddy_fn fns[8] = { churn_spawner, churn_spawner, churn_spawner, churn_spawner,
                       churn_pinger,  churn_ponger,  churn_notified, churn_notified };
    for (int i = 0; i < 8; i++)
        assert_ok(eddy_rt_spawn(rt, &h[i], fns[i], &c));
    for (int i = 0; i < 200; i++) {
        assert_ok(eddy_rt_dump(rt, c.devnull));
        if (i % 4 == 0)
            eddy_notify_one(c.nt);
        if (i % 20 == 0)
            sleep_ms(1);
    }
    atomic_store(&c.stop, true);
    eddy_notify_all(c.nt);
    void *r = (void *)1;
    assert_ok(eddy_join(h[4], &r)); /* the pinger sees stop */
    assert_null(r);
    eddy_chan_close(c.ping);        /* and the ponger ends after it */
    for (int i = 0; i < 8; i++) {
        if (i == 4)
            continue;
        r = (void *)1;
        assert_ok(eddy_join(h[i], &r));
        if (r != NULL)
            fail_msg("task %d failed at line %d", i, (int)(intptr_t)r);
    }
    assert_int_equal(atomic_load(&c.dump_failures), 0);
    /* one more dump: nothing is left but the dump's own header */
    char *text = dump_text(rt);
    assert_non_null(strstr(text, "eddy runtime dump: 2 workers, 0 tasks"));
    free(text);
    assert_int_equal(eddy_rt_shutdown(rt, 1000), 0);
    eddy_rt_free(rt);
    eddy_chan_free(c.ping);
    eddy_chan_free(c.pong);
    eddy_notify_free(c.nt);
    close(c.devnull);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(env_signal_dumps_and_the_process_goes_on),
    cmocka_unit_test(config_signal_dumps_and_the_process_goes_on),
    cmocka_unit_test(config_signal_dumps_in_process),
    cmocka_unit_test(unknown_env_signal_is_reported_once_and_ignored),
    cmocka_unit_test(dumps_while_tasks_churn),
};

EDDY_TEST_MAIN(tests, 120)
