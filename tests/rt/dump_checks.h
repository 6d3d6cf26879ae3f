/*
 * tests/rt/dump_checks.h: what test_dump.c and test_dump_signal.c share:
 * a dump read back as text, a task's block in it, a wait until every
 * named task shows its state, and named spawns. Included once per test
 * executable (static inline functions).
 */
#ifndef EDDY_TESTS_RT_DUMP_CHECKS_H
#define EDDY_TESTS_RT_DUMP_CHECKS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/* The dump of rt as a string (malloc'ed), through a memfd. */
static inline char *dump_text(eddy_rt *rt)
{
    int fd = memfd_create("eddy_dump", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_ok(eddy_rt_dump(rt, fd));
    off_t n = lseek(fd, 0, SEEK_END);
    assert_true(n > 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(pread(fd, s, (size_t)n, 0), n);
    s[n] = '\0';
    close(fd);
    return s;
}

/* The block of the task named name: its line and its frame lines (a
   static buffer), or NULL. */
static inline const char *block_of(const char *text, const char *name)
{
    static char out[32768];
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", name);
    const char *p = strstr(text, quoted);
    if (p == NULL)
        return NULL;
    while (p > text && p[-1] != '\n')
        p--;
    const char *e = strchr(p, '\n');
    while (e != NULL && e[1] == ' ')
        e = strchr(e + 1, '\n');
    size_t len = e != NULL ? (size_t)(e - p + 1) : strlen(p);
    if (len >= sizeof out)
        len = sizeof out - 1;
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static inline bool block_has(const char *text, const char *name, const char *needle)
{
    const char *b = block_of(text, name);
    return b != NULL && strstr(b, needle) != NULL;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* Dumps until every (name, state) pair shows, for up to 10 s; returns the
   last dump (malloc'ed). */
static inline char *dump_until(eddy_rt *rt, const char *const *names, const char *const *states,
                        size_t n)
{
    int64_t until = eddy_test_now_ms() + 10000;
    for (;;) {
        char *text = dump_text(rt);
        size_t ok = 0;
        for (size_t i = 0; i < n; i++)
            ok += block_has(text, names[i], states[i]);
        if (ok == n || eddy_test_now_ms() > until)
            return text;
        free(text);
        sleep_ms(10);
    }
}

static inline eddy_task *spawn_named(const char *name, eddy_fn fn, void *arg, int worker)
{
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    o.name = name;
    o.worker = worker;
    eddy_task *h = NULL;
    if (eddy_spawn_ex(&h, fn, arg, &o) != 0)
        return NULL;
    return h;
}

#endif
