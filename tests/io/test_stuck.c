/*
 * tests/io/test_stuck.c: a worker stuck in one long task (a loop that never
 * yields) must not strand the I/O and timers registered with it (Tokio
 * #4730): the other worker polls its reactor and fires its timers, and an
 * fd waited on from elsewhere moves off the stuck reactor.
 *
 * Each test makes a hog task spin on the worker that owns the registration
 * and checks that the waiting task got its event while the hog still spun.
 * The hog spins at most HOG_MAX_MS: that bound only ends a failing test;
 * a passing one ends the spin as soon as the waiter has finished.
 *
 * A worker can also be held where it runs nothing at all (preempted on a
 * busy machine, or asleep in the kernel): on io_uring its reactor's
 * completions then stay unposted, since the kernel posts them from the
 * thread that armed the polls. The last test holds the owner in vfork.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define HOG_MAX_MS 5000
#define PINGS 20

struct stuck {
    int fd[2];
    atomic_bool spinning;   /* the hog is in its spin */
    atomic_bool done;       /* the waiter finished */
    atomic_int done_in_spin; /* 1: finished while the hog spun; -1: after */
    atomic_int placed;      /* 1: waiter and hog share a worker (timer test) */
    atomic_int errors;
};

/* Spins without yielding until s->done or HOG_MAX_MS. */
static void spin(struct stuck *s)
{
    uint64_t end = eddy_now_ns() + (uint64_t)HOG_MAX_MS * 1000000u;
    atomic_store(&s->spinning, true);
    while (!atomic_load(&s->done) && eddy_now_ns() < end)
        ;
    atomic_store(&s->spinning, false);
}

static void finish(struct stuck *s)
{
    atomic_store(&s->done_in_spin, atomic_load(&s->spinning) ? 1 : -1);
    atomic_store(&s->done, true);
}

/* ------------------------------------------------------------ I/O */

static void *io_waiter(void *arg)
{
    struct stuck *s = arg;
    char c;
    for (int i = 0; i < PINGS; i++) {
        if (eddy_read(s->fd[0], &c, 1) != 1 || eddy_write(s->fd[0], &c, 1) != 1) {
            atomic_fetch_add(&s->errors, 1);
            break;
        }
    }
    finish(s);
    return NULL;
}

static void *io_hog(void *arg)
{
    struct stuck *s = arg;
    /* register fd[0] with this worker's reactor (timeout 0: no wait) */
    if (eddy_wait_fd(s->fd[0], EDDY_READABLE, 0) != -ETIMEDOUT)
        atomic_fetch_add(&s->errors, 1);
    eddy_task *h;
    /* lands in this worker's LIFO slot; the other worker takes it once
       this one is seen stuck */
    if (eddy_spawn(&h, io_waiter, s) < 0) {
        atomic_fetch_add(&s->errors, 1);
        return NULL;
    }
    eddy_detach(h);
    spin(s);
    return NULL;
}

/* From this plain thread, once the hog holds its worker: PINGS bytes to
   the waiter, each echoed back within wait_ms. */
static void ping_while_held(struct stuck *s, int wait_ms)
{
    for (int i = 0; i < 5000 && !atomic_load(&s->spinning); i++)
        usleep(1000);
    assert_true(atomic_load(&s->spinning));
    for (int i = 0; i < PINGS; i++) {
        char c = (char)('a' + i), back = 0;
        assert_int_equal(write(s->fd[1], &c, 1), 1);
        struct pollfd p = { .fd = s->fd[1], .events = POLLIN };
        assert_int_equal(poll(&p, 1, wait_ms), 1);
        assert_int_equal(read(s->fd[1], &back, 1), 1);
        assert_int_equal(back, c);
    }
}

static void io_registered_with_a_stuck_worker_is_served(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    struct stuck s = { .errors = 0 };
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s.fd), 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, io_hog, &s));
    ping_while_held(&s, HOG_MAX_MS * 2);
    assert_ok(eddy_join(h, NULL));
    assert_int_equal(atomic_load(&s.errors), 0);
    assert_int_equal(atomic_load(&s.done_in_spin), 1);
    assert_ok(eddy_close(s.fd[0]));
    close(s.fd[1]);
    eddy_rt_free(rt);
}

/* ------------------------------------------- an owner held in the kernel */

#define HOLD_MS 400

/* Child of a CLONE_VM|CLONE_VFORK clone: only raw system calls (it shares
   the memory of a sanitized parent), sleeping HOLD_MS while the parent
   thread waits uninterruptibly, where no task work of it can run. */
static int hold_child(void *arg)
{
    (void)arg;
    struct timespec ts = { .tv_sec = HOLD_MS / 1000, .tv_nsec = (HOLD_MS % 1000) * 1000000L };
    syscall(SYS_nanosleep, &ts, NULL);
    syscall(SYS_exit, 0);
    return 0;
}

static void *held_hog(void *arg)
{
    struct stuck *s = arg;
    if (eddy_wait_fd(s->fd[0], EDDY_READABLE, 0) != -ETIMEDOUT)
        atomic_fetch_add(&s->errors, 1);
    eddy_task *h;
    if (eddy_spawn(&h, io_waiter, s) < 0) {
        atomic_fetch_add(&s->errors, 1);
        return NULL;
    }
    eddy_detach(h);
    size_t size = 64 * 1024;
    char *stack = malloc(size);
    if (stack == NULL) {
        atomic_fetch_add(&s->errors, 1);
        return NULL;
    }
    atomic_store(&s->spinning, true);
    /* returns when the child has exited: this worker's thread is held */
    pid_t pid = clone(hold_child, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
    atomic_store(&s->spinning, false);
    if (pid < 0 || waitpid(pid, NULL, 0) != pid)
        atomic_fetch_add(&s->errors, 1);
    free(stack);
    return NULL;
}

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

static void io_registered_with_a_worker_held_in_the_kernel_is_served(void **state)
{
    (void)state;
#ifdef UNDER_TSAN
    /* a CLONE_VM child runs on the parent's TSan thread state and
       confuses its fiber tracking (false races in task switching) */
    skip();
#endif
    eddy_rt *rt = eddy_test_new_rt(2);
    struct stuck s = { .errors = 0 };
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s.fd), 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, held_hog, &s));
    ping_while_held(&s, HOLD_MS * 10);
    assert_ok(eddy_join(h, NULL));
    assert_int_equal(atomic_load(&s.errors), 0);
    /* every ping came back while the owner was held */
    assert_int_equal(atomic_load(&s.done_in_spin), 1);
    assert_ok(eddy_close(s.fd[0]));
    close(s.fd[1]);
    eddy_rt_free(rt);
}

/* ---------------------------------------------------------- timers */

struct timer_try {
    struct stuck *s;
    atomic_int sleeper_worker;
};

static void *sleeper(void *arg)
{
    struct timer_try *t = arg;
    atomic_store(&t->sleeper_worker, eddy_worker_index());
    if (eddy_sleep_ms(20) != 0)
        atomic_fetch_add(&t->s->errors, 1);
    finish(t->s);
    return NULL;
}

static void *timer_hog(void *arg)
{
    struct timer_try *t = arg;
    int me = eddy_worker_index();
    eddy_task *h;
    if (eddy_spawn(&h, sleeper, t) < 0) {
        atomic_fetch_add(&t->s->errors, 1);
        return NULL;
    }
    eddy_detach(h);
    eddy_yield(); /* the sleeper runs from the LIFO slot and arms its timer */
    for (int i = 0; i < 1000 && atomic_load(&t->sleeper_worker) < 0; i++)
        eddy_yield();
    if (atomic_load(&t->sleeper_worker) != me || eddy_worker_index() != me)
        return NULL; /* placed apart (a steal): this attempt proves nothing */
    atomic_store(&t->s->placed, 1);
    spin(t->s);
    return NULL;
}

static void timers_of_a_stuck_worker_fire(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int tries = 0;
    for (; tries < 50; tries++) {
        struct stuck s = { .errors = 0 };
        struct timer_try t = { .s = &s, .sleeper_worker = -1 };
        assert_ok(eddy_rt_block_on(rt, timer_hog, &t, NULL));
        /* the sleeper may still be asleep after a failed placement */
        for (int i = 0; i < 5000 && !atomic_load(&s.done); i++)
            usleep(1000);
        assert_true(atomic_load(&s.done));
        assert_int_equal(atomic_load(&s.errors), 0);
        if (atomic_load(&s.placed)) {
            assert_int_equal(atomic_load(&s.done_in_spin), 1);
            break;
        }
    }
    assert_true(tries < 50);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(io_registered_with_a_stuck_worker_is_served),
    cmocka_unit_test(timers_of_a_stuck_worker_fire),
    cmocka_unit_test(io_registered_with_a_worker_held_in_the_kernel_is_served),
};

EDDY_TEST_MAIN(tests, 120)
