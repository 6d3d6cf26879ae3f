/*
 * tests/helpers.c: watchdog, filter and small utilities for the cmocka tests.
 */
#include "helpers.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void watchdog_fired(int sig)
{
    static const char msg[] = "\nwatchdog: test took too long (hang?), aborting\n";
    (void)sig;
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(124);
}

int eddy_test_run(const char *group, const struct CMUnitTest *tests, size_t n,
                  int argc, char **argv, unsigned watchdog_s)
{
    const char *filter = getenv("EDDY_TEST_FILTER");
    if (argc > 1)
        filter = argv[1];
    if (filter != NULL && filter[0] != '\0')
        cmocka_set_test_filter(filter);
    if (watchdog_s == 0)
        watchdog_s = 120;
    if (eddy_test_sanitized())
        watchdog_s *= 4;
    signal(SIGALRM, watchdog_fired);
    alarm(watchdog_s);
    const char *base = strrchr(group, '/');
    return _cmocka_run_group_tests(base ? base + 1 : group, tests, n, NULL, NULL);
}

int64_t eddy_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int eddy_test_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

int eddy_test_sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return 1;
#else
    return 0;
#endif
#else
    return 0;
#endif
}

eddy_rt *eddy_test_new_rt(unsigned workers)
{
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = workers;
    eddy_rt *rt = NULL;
    assert_ok(eddy_rt_new(&rt, &cfg));
    return rt;
}

bool eddy_test_join_within(pthread_t t, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

int eddy_test_child_output(int (*child)(int err_fd), char *log, size_t cap)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        _exit(child(p[1]));
    }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = read(p[0], log + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    log[got] = '\0';
    close(p[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}
