/*
 * tests/rt/test_overflow.c: a task that overflows its stack is named on
 * stderr before the process aborts (the guard page's fault, caught on the
 * worker's alternate signal stack); any other fault in a task still kills
 * the process with SIGSEGV, unreported. Each case runs in a child process.
 * Not under the sanitizers, which own SIGSEGV and report overflows
 * themselves.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static volatile int sink;

__attribute__((noinline)) static int recurse(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    sink += frame[0];
    if (sink == -1) /* never: volatile, so the compiler cannot tell */
        return 0;
    return recurse(depth + 1) + frame[0]; /* not a tail call */
}

static void *overflow(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)recurse(0);
}

static void *null_write(void *arg)
{
    *(volatile int *)arg = 1;
    return NULL;
}

/* The root task of the child's runtime (1 worker, 16 KiB stacks). */
static eddy_fn child_root;

/* In the child: stderr to the pipe, SIGSEGV as a program without handlers
   has it (cmocka's is inherited), then the root task. */
static int run_root(int err_fd)
{
    dup2(err_fd, STDERR_FILENO);
    signal(SIGSEGV, SIG_DFL);
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1;
    cfg.stack_size = 16 * 1024;
    eddy_rt *rt = NULL;
    if (eddy_rt_new(&rt, &cfg) != 0)
        return 3;
    if (eddy_rt_block_on(rt, child_root, NULL, NULL) != 0)
        return 4;
    return 0;
}

static int run_child(eddy_fn fn, char *log, size_t cap)
{
    child_root = fn;
    return eddy_test_child_output(run_root, log, cap);
}

static void *spawn_named(void *arg)
{
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    o.name = "deep-recursion";
    eddy_task *h;
    if (eddy_spawn_ex(&h, arg == NULL ? overflow : null_write, NULL, &o) != 0)
        return NULL;
    (void)eddy_join(h, NULL);
    return NULL;
}

static void *spawn_overflow(void *arg)
{
    (void)arg;
    return spawn_named(NULL);
}

static void *spawn_null_write(void *arg)
{
    (void)arg;
    return spawn_named((void *)1);
}

static void an_overflow_names_its_task_then_aborts(void **state)
{
    (void)state;
    if (eddy_test_sanitized())
        skip();
    char log[8192];
    int status = run_child(spawn_overflow, log, sizeof log);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(log, "eddy: fiber stack overflow in task deep-recursion"));
    assert_non_null(strstr(log, "(id "));
    assert_non_null(strstr(log, ", stack "));
    /* frames follow, one line each with its address (names where the
       binary exports them) */
    assert_non_null(strstr(log, "[0x"));
}

static void another_fault_in_a_task_still_crashes_unreported(void **state)
{
    (void)state;
    if (eddy_test_sanitized())
        skip();
    char log[8192];
    int status = run_child(spawn_null_write, log, sizeof log);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_null(strstr(log, "stack overflow"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(an_overflow_names_its_task_then_aborts),
    cmocka_unit_test(another_fault_in_a_task_still_crashes_unreported),
};

EDDY_TEST_MAIN(tests, 60)
