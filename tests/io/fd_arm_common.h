/*
 * tests/io/fd_arm_common.h: what the tests of the one-shot read-readiness
 * arm share (io/fd_arm.c; test_fd_arm.c, the unit cases, and
 * test_fd_arm_stress.c, the races): counts and bounds scaled for the
 * sanitizers; runtimes, tasks run to completion or on a given worker, and
 * race parties (a thread or a task); socket pairs and a late writer; the
 * callbacks an arm runs, with their records; the registration of an fd
 * with worker 0's reactor; peeks at an fd's entry (its read tick, its
 * arm); the random delays of the races. Header-only (static inline):
 * included once per test executable.
 */
#ifndef EDDY_TESTS_IO_FD_ARM_COMMON_H
#define EDDY_TESTS_IO_FD_ARM_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "io/fd_entry.h"
#include "io/io_int.h"
#include "sched/sched.h"

#define CHECK EDDY_TASK_CHECK

/* ------------------------------------- runtimes, tasks, threads, sockets */

/* Counts shrink under the sanitizers; waits grow. */
static inline int scaled(int normal, int sanitized)
{
    return eddy_test_sanitized() ? sanitized : normal;
}

static inline int64_t bound_ms(int64_t ms)
{
    return eddy_test_sanitized() ? ms * 5 : ms;
}

#define QUIET_MS 100 /* how long "never runs" is watched */

static inline void sleep_ms_plain(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static inline void run_task(eddy_rt *rt, eddy_fn fn, void *arg)
{
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, fn, arg, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
}

/* Runs fn(arg) in a task of a new runtime with `workers` workers, then
   frees the runtime (the whole body of most cases). */
static inline void run_in_new_rt(unsigned workers, eddy_fn fn, void *arg)
{
    eddy_rt *rt = eddy_test_new_rt(workers);
    run_task(rt, fn, arg);
    eddy_rt_free(rt);
}

/* From a task: runs fn(arg) as a task on worker `worker` and joins it.
   Its result: NULL, or the line of a failed check. */
static inline void *run_on(int worker, eddy_fn fn, void *arg)
{
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    o.worker = worker;
    eddy_task *h;
    void *line = NULL;
    CHECK(eddy_spawn_ex(&h, fn, arg, &o) == 0);
    CHECK(eddy_join(h, &line) == 0);
    return line;
}

/* A runtime of `workers` workers, with work stealing on or off. */
static inline eddy_rt *new_rt_stealing(unsigned workers, bool stealing)
{
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = workers;
    cfg.work_stealing = stealing;
    eddy_rt *rt = NULL;
    assert_ok(eddy_rt_new(&rt, &cfg));
    return rt;
}

static inline int pair(int sv[2])
{
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

/* A plain thread (arg: a struct late_write) that writes the byte 'w' to
   fd after delay_ms, while a task waits; its result is non-NULL if the
   write did. */
struct late_write {
    int fd;
    int delay_ms;
};

static inline void *write_later(void *arg)
{
    struct late_write *w = arg;
    sleep_ms_plain(w->delay_ms);
    ssize_t n = write(w->fd, "w", 1);
    return (void *)(intptr_t)(n == 1);
}

/* One party of a race, started as a plain thread or as a task. */
enum { PARTY_THREAD, PARTY_TASK };

struct party {
    int kind;
    pthread_t th;
    eddy_task *task;
};

static inline void party_start(eddy_rt *rt, struct party *p, int kind, eddy_fn as_thread,
                               eddy_fn as_task, void *arg)
{
    p->kind = kind;
    if (kind == PARTY_THREAD)
        assert_int_equal(pthread_create(&p->th, NULL, as_thread, arg), 0);
    else
        assert_ok(eddy_rt_spawn(rt, &p->task, as_task, arg));
}

static inline void party_join(struct party *p, int ms)
{
    if (p->kind == PARTY_THREAD) {
        if (!eddy_test_join_within(p->th, ms))
            fail_msg("a race party did not finish within %d ms", ms);
    } else {
        assert_ok(eddy_join_timeout(p->task, NULL, ms));
    }
}

/* ------------------------- the callbacks an arm runs, and their records */

struct rec {
    atomic_int calls;
    atomic_int bad_ctx;      /* calls not on a worker outside a task */
    atomic_int disarm_in_fn; /* calls whose eddy__fd_disarm returned true */
    int fd;                  /* for the disarm from inside the callback */
};

/* Records the call and where it ran. Disarming from inside proves the fd's
   lock is not held (a non-recursive mutex would deadlock: the watchdog
   fails the test) and that the arm was taken before the call. */
static inline void on_arm(void *arg)
{
    struct rec *r = arg;
    if (!eddy__on_worker_outside_task())
        atomic_fetch_add(&r->bad_ctx, 1);
    if (r->fd >= 0 && eddy__fd_disarm(r->fd))
        atomic_fetch_add(&r->disarm_in_fn, 1);
    atomic_fetch_add(&r->calls, 1);
}

static inline void rec_init(struct rec *r, int fd)
{
    atomic_init(&r->calls, 0);
    atomic_init(&r->bad_ctx, 0);
    atomic_init(&r->disarm_in_fn, 0);
    r->fd = fd;
}

/* From a task: 1 ms naps (each one a pass through the reactor) until r has
   at least want calls or ms passed. */
static inline int settle(struct rec *r, int want, int64_t ms)
{
    uint64_t end = eddy_now_ns() + (uint64_t)bound_ms(ms) * 1000000u;
    while (atomic_load(&r->calls) < want && eddy_now_ns() < end)
        eddy_sleep_ms(1);
    return atomic_load(&r->calls);
}

/* The owner of the fd closes it in the callback (the HTTP server's error
   path). */
struct closer {
    struct rec r;
    atomic_int closed_rc;
};

static inline void close_from_fn(void *arg)
{
    struct closer *c = arg;
    atomic_store(&c->closed_rc, eddy_close(c->r.fd)); /* the owner may close in fn */
    atomic_fetch_add(&c->r.calls, 1);
}

/* An arm on a worker a task hogs: whether the call came while it spun. */
struct stuck_arm {
    int sv[2];
    struct rec r;
    atomic_int spinning;
    atomic_int called_in_spin; /* 1: called while the hog spun; -1: after */
};

static inline void stuck_cb(void *arg)
{
    struct stuck_arm *s = arg;
    atomic_store(&s->called_in_spin, atomic_load(&s->spinning) ? 1 : -1);
    on_arm(&s->r);
}

/* One arm: owned by exactly one of its callback and the disarm that took
   it back. `owner` is a plain field that only the owner writes, so that
   a double ownership is also a data race ThreadSanitizer reports. */
struct arm_rec {
    atomic_int cb;
    atomic_int disarmed;
    int owner; /* 1: the callback, 2: the disarm */
    int armed_by; /* written by the arming task, read by the owner */
};

static inline void race_cb(void *arg)
{
    struct arm_rec *a = arg;
    if (a->armed_by != 1)
        a->owner = -1;
    else
        a->owner = 1;
    atomic_fetch_add(&a->cb, 1);
}

/* A task on worker 0: registers the fd sv[0] (arg: the int sv[2]) with
   worker 0's reactor (an arm taken back). */
static inline void *register_on_0(void *arg)
{
    int *sv = arg;
    char buf[4];
    struct rec r;
    rec_init(&r, -1);
    CHECK(eddy_worker_index() == 0);
    CHECK(eddy__fd_read_or_arm(sv[0], buf, sizeof buf, on_arm, &r) == -EINPROGRESS);
    CHECK(eddy__fd_disarm(sv[0]));
    return NULL;
}

/* ------------------------------------------------- the fd's entry, peeked */

/* fd's read tick (the read edges its reactor counted) in *tick; false
   while fd has no entry. */
static inline bool read_tick_of(int fd, uint64_t *tick)
{
    struct fd_entry *e = eddy__fd_entry(fd, false);
    if (e == NULL)
        return false;
    pthread_mutex_lock(&e->lock);
    *tick = e->tick[DIR_READ];
    pthread_mutex_unlock(&e->lock);
    return true;
}

/* From a task: 1 ms naps until the reactor has counted an edge of fd
   since tick0 (false after ms). */
static inline bool wait_tick_past(int fd, uint64_t tick0, int64_t ms)
{
    struct fd_entry *e = eddy__fd_entry(fd, false);
    uint64_t end = eddy_now_ns() + (uint64_t)bound_ms(ms) * 1000000u;
    while (e != NULL && eddy_now_ns() < end) {
        pthread_mutex_lock(&e->lock);
        bool past = e->tick[DIR_READ] != tick0;
        pthread_mutex_unlock(&e->lock);
        if (past)
            return true;
        eddy_sleep_ms(1);
    }
    return false;
}

/* True once fd's entry holds an arm (the test thread peeks under the
   entry's lock), false after ms. */
static inline bool wait_armed(int fd, int64_t ms)
{
    int64_t end = eddy_test_now_ms() + ms;
    for (;;) {
        struct fd_entry *e = eddy__fd_entry(fd, false); /* NULL: not made yet */
        bool armed = false;
        if (e != NULL) {
            pthread_mutex_lock(&e->lock);
            armed = e->arm_fn != NULL;
            pthread_mutex_unlock(&e->lock);
        }
        if (armed)
            return true;
        if (eddy_test_now_ms() > end)
            return false;
        sched_yield();
    }
}

/* ------------------------------------------------------- random delays */

static inline uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static inline void spin_ns(uint64_t ns)
{
    uint64_t end = eddy_now_ns() + ns;
    while (eddy_now_ns() < end)
        ;
}

/* The spread of the random delays that walk a disarm across the moment
   the reactor takes the arm: the write and the reactor's wake-up are
   slower under the sanitizers. */
static inline uint32_t jitter_ns(void)
{
    return eddy_test_sanitized() ? 200000u : 40000u;
}

#endif
