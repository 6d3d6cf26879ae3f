/*
 * tests/helpers.h: what every eddy test uses on top of cmocka: assertions
 * that print eddy_strerror, a watchdog so a hang fails instead of blocking
 * CI, and a test-name filter (EDDY_TEST_FILTER or argv[1], a glob).
 */
#ifndef EDDY_TESTS_HELPERS_H
#define EDDY_TESTS_HELPERS_H

#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <eddy.h>

/** Fails unless rc >= 0, printing the call and eddy_strerror(rc). */
#define assert_ok(expr)                                                         \
    do {                                                                        \
        long long rc_ = (long long)(expr);                                      \
        if (rc_ < 0)                                                            \
            fail_msg("%s returned %lld (%s)", #expr, rc_, eddy_strerror((int)rc_)); \
    } while (0)

/** Fails unless expr returns exactly the error err (a negative errno). */
#define assert_err(expr, err)                                                   \
    do {                                                                        \
        long long rc_ = (long long)(expr);                                      \
        if (rc_ != (long long)(err))                                            \
            fail_msg("%s returned %lld (%s), expected %d (%s)", #expr, rc_,     \
                     eddy_strerror((int)rc_), (int)(err), eddy_strerror(err));  \
    } while (0)

/**
 * Runs the group with the watchdog armed (watchdog_s seconds for the whole
 * file; 0: 120) and the name filter applied. Returns the process exit code.
 */
int eddy_test_run(const char *group, const struct CMUnitTest *tests, size_t n,
                  int argc, char **argv, unsigned watchdog_s);

#define EDDY_TEST_MAIN(tests, watchdog_s)                                            \
    int main(int argc, char **argv)                                                  \
    {                                                                                \
        return eddy_test_run(__FILE__, tests, sizeof(tests) / sizeof((tests)[0]),    \
                             argc, argv, (watchdog_s));                              \
    }

/**
 * A check inside a task body: cmocka's failure would longjmp off the
 * worker's stack, so the task returns the failing line instead (its
 * eddy_fn result), and the test asserts on the plain thread.
 */
#define EDDY_TASK_CHECK(c)                      \
    do {                                        \
        if (!(c))                               \
            return (void *)(intptr_t)__LINE__;  \
    } while (0)

/** A runtime with the given number of workers (defaults otherwise). */
eddy_rt *eddy_test_new_rt(unsigned workers);

/** Monotonic milliseconds, for bounded loops and elapsed-time checks. */
int64_t eddy_test_now_ms(void);

/** Joins thread t if it ends within ms; false (still running) otherwise. */
bool eddy_test_join_within(pthread_t t, int ms);

/** Number of open file descriptors of this process (/proc/self/fd). */
int eddy_test_count_fds(void);

/** True when built with AddressSanitizer or ThreadSanitizer (slower). */
int eddy_test_sanitized(void);

/** Runs child(err_fd) in a forked process whose exit code is its return
    value; what it writes to err_fd (usually dup2'ed onto stderr) lands in
    log (cap bytes, NUL-terminated). Returns the child's wait status; fails
    the test if fork, pipe or waitpid fail. */
int eddy_test_child_output(int (*child)(int err_fd), char *log, size_t cap);

#endif
