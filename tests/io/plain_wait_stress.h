/*
 * tests/io/plain_wait_stress.h: what the plain-thread wake stress tests
 * (test_plain_wait_stress.c, test_plain_wait_crowd.c) share: a seeded
 * random generator and delays, bounded joins, ThreadSanitizer-aware
 * closing (see below), an error collector, the waiting operations and
 * their expected results, socket pairs, and the quiet socket a thread
 * warms its wake eventfd on. Included once per test executable.
 */
#ifndef EDDY_TESTS_IO_PLAIN_WAIT_STRESS_H
#define EDDY_TESTS_IO_PLAIN_WAIT_STRESS_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/* ThreadSanitizer counts an fd closed by one thread while another thread is
   inside read(2) or write(2) on it, with nothing ordering the two, as a data
   race. eddy_close racing a call's attempt (between eddy's begin and its
   wait) is exactly that, although eddy handles it (the generation check
   gives -EBADF, and no syscall touches the number afterwards). Under TSan,
   an fd is therefore closed under a waiter only once the waiter sits in
   poll(2): it registered under the entry's lock first, which orders its
   attempt before eddy_close. Release and ASan runs race the close freely. */
#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif
#ifndef STRESS_TSAN
#define STRESS_TSAN 0
#endif

/* ------------------------------------------------------------- helpers */

/* A round that takes longer than this lost a wake (it takes microseconds). */
static inline int bound_ms(void)
{
    return eddy_test_sanitized() ? 20000 : 5000;
}

/* Longer than any bound: a timed call that times out is a failure. */
#define LONG_TIMEOUT_MS 120000

static inline unsigned scaled(unsigned release, unsigned sanitized)
{
    return eddy_test_sanitized() ? sanitized : release;
}

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline unsigned rnd(uint64_t *s, unsigned n)
{
    return (unsigned)((rng_next(s) >> 32) % n);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The test's seed: EDDY_STRESS_SEED, else the clock; printed for replay. */
static inline uint64_t seed_for(const char *test)
{
    const char *env = getenv("EDDY_STRESS_SEED");
    uint64_t s = env != NULL ? strtoull(env, NULL, 0) : now_ns() ^ ((uint64_t)getpid() << 32);
    if (s == 0)
        s = 1;
    print_message("%s: EDDY_STRESS_SEED=%llu\n", test, (unsigned long long)s);
    return s;
}

/* Spins for ns nanoseconds (sleeping would round up to scheduler ticks). */
static inline void delay_ns(unsigned ns)
{
    if (ns == 0)
        return;
    uint64_t end = now_ns() + ns;
    while (now_ns() < end) {
    }
}

static inline void delay_us(unsigned us)
{
    delay_ns(us * 1000u);
}

/* The delay before a round's action: 0-200 us, or half the time 0-20 us,
   where a thread that just started enters its poll(2). */
static inline unsigned pick_delay(uint64_t *seed)
{
    return rnd(seed, 2) ? rnd(seed, 200001) : rnd(seed, 20001);
}


/* Spins until *flag is set, for at most ms. */
static inline bool flag_within(atomic_int *flag, int ms)
{
    int64_t end = eddy_test_now_ms() + ms;
    while (!atomic_load(flag)) {
        if (eddy_test_now_ms() > end)
            return false;
        sched_yield();
    }
    return true;
}

static inline int my_tid(void)
{
    return (int)syscall(SYS_gettid);
}

/* Whether thread tid of this process is blocked in poll(2) right now. */
static inline bool thread_in_poll(int tid)
{
    char path[64], buf[32];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    long nr = strtol(buf, NULL, 10); /* "running" reads as 0 (read(2)): no */
#ifdef SYS_poll
    if (nr == SYS_poll)
        return true;
#endif
    return nr == SYS_ppoll;
}

/* Under TSan, waits until the thread whose id *tid holds (0: not known yet)
   is in poll(2), for at most ms; elsewhere true at once. */
static inline bool tsan_wait_in_poll(atomic_int *tid, int ms)
{
    if (!STRESS_TSAN)
        return true;
    int64_t end = eddy_test_now_ms() + ms;
    for (;;) {
        int t = atomic_load(tid);
        if (t != 0 && thread_in_poll(t))
            return true;
        if (eddy_test_now_ms() > end)
            return false;
        sched_yield();
    }
}

/* The first failure seen by a helper thread (cmocka's asserts must stay on
   the test's thread). */
struct errs {
    pthread_mutex_t lock;
    int n;
    char first[256];
};

static inline void errs_init(struct errs *e)
{
    pthread_mutex_init(&e->lock, NULL);
    e->n = 0;
    e->first[0] = 0;
}

static inline void errs_add(struct errs *e, const char *fmt, ...)
{
    pthread_mutex_lock(&e->lock);
    if (e->n++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->first, sizeof e->first, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&e->lock);
}

static inline void errs_check(struct errs *e)
{
    pthread_mutex_lock(&e->lock);
    int n = e->n;
    char msg[256];
    memcpy(msg, e->first, sizeof msg);
    pthread_mutex_unlock(&e->lock);
    pthread_mutex_destroy(&e->lock);
    if (n != 0)
        fail_msg("%d error(s), the first: %s", n, msg);
}

/* ------------------------------------------------ the waiting operations */

enum { OP_READ, OP_READ_TIMEOUT, OP_WAIT_READABLE, NREAD_OPS };
enum { OP_WRITE = NREAD_OPS, OP_WAIT_WRITABLE };

static inline const char *op_name(int op)
{
    switch (op) {
    case OP_READ: return "eddy_read";
    case OP_READ_TIMEOUT: return "eddy_read_timeout";
    case OP_WAIT_READABLE: return "eddy_wait_fd(READABLE)";
    case OP_WRITE: return "eddy_write";
    default: return "eddy_wait_fd(WRITABLE)";
    }
}

/* One blocking eddy call on fd; *byte gets what a read read. */
static inline long do_op(int op, int fd, unsigned char *byte)
{
    unsigned char c = 0;
    long rc;
    switch (op) {
    case OP_READ:
        rc = eddy_read(fd, &c, 1);
        break;
    case OP_READ_TIMEOUT:
        rc = eddy_read_timeout(fd, &c, 1, LONG_TIMEOUT_MS);
        break;
    case OP_WAIT_READABLE:
        rc = eddy_wait_fd(fd, EDDY_READABLE, -1);
        break;
    case OP_WRITE:
        rc = eddy_write(fd, "W", 1);
        break;
    default:
        rc = eddy_wait_fd(fd, EDDY_WRITABLE, -1);
        break;
    }
    *byte = c;
    return rc;
}

/* What ends a reader's wait. */
enum {
    ACT_DATA,            /* a byte arrives: the reader gets it */
    ACT_CLOSE,           /* eddy_close of the reader's fd: -EBADF */
    ACT_HANGUP,          /* the peer closes: end of file */
    ACT_DATA_THEN_CLOSE, /* both, back to back: either outcome */
    NACTS
};

static inline const char *act_name(int act)
{
    static const char *names[] = { "data", "eddy_close", "hang-up", "data+eddy_close" };
    return names[act];
}

/* The ends of one round's socketpair: [0] the waiter's (eddy's), [1] the
   peer (a plain fd eddy never sees). */
struct pair {
    int sv[2];
    bool closed[2];
};

static inline void pair_open(struct pair *p)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->sv), 0);
    p->closed[0] = p->closed[1] = false;
}

static inline void pair_close(struct pair *p)
{
    if (!p->closed[0])
        assert_ok(eddy_close(p->sv[0]));
    if (!p->closed[1])
        assert_int_equal(close(p->sv[1]), 0);
    p->closed[0] = p->closed[1] = true;
}

/* Last resort after a lost wake: the peer hangs up, which ends the
   waiter's poll(2) by itself. */
static inline void pair_unblock(struct pair *p)
{
    if (!p->closed[1]) {
        close(p->sv[1]);
        p->closed[1] = true;
    }
}

/* A random action; data and eddy_close back to back only where the close
   may race the waiter's attempt (not under TSan). */
static inline int pick_act(uint64_t *seed)
{
    int act = (int)rnd(seed, NACTS);
    return STRESS_TSAN && act == ACT_DATA_THEN_CLOSE ? ACT_CLOSE : act;
}

/* Ends the wait of the thread whose id *tid holds with act; false when
   (under TSan) it never got into poll(2). */
static inline bool act_on(int act, struct pair *p, unsigned char byte, atomic_int *tid)
{
    switch (act) {
    case ACT_DATA:
        assert_int_equal(write(p->sv[1], &byte, 1), 1);
        break;
    case ACT_CLOSE:
        if (!tsan_wait_in_poll(tid, bound_ms()))
            return false;
        p->closed[0] = true;
        assert_ok(eddy_close(p->sv[0]));
        break;
    case ACT_HANGUP:
        p->closed[1] = true;
        assert_int_equal(close(p->sv[1]), 0);
        break;
    default:
        assert_int_equal(write(p->sv[1], &byte, 1), 1);
        p->closed[0] = true;
        assert_ok(eddy_close(p->sv[0]));
        break;
    }
    return true;
}

/* Whether a read op's result is the one act allows. */
static inline bool read_result_ok(int op, int act, long rc, unsigned char got, unsigned char sent)
{
    bool data = op == OP_WAIT_READABLE ? rc == EDDY_READABLE : rc == 1 && got == sent;
    switch (act) {
    case ACT_DATA:
        return data;
    case ACT_CLOSE:
        return rc == -EBADF;
    case ACT_HANGUP: /* hang-up reads as readable; a read gets end of file */
        return op == OP_WAIT_READABLE ? rc == EDDY_READABLE : rc == 0;
    default:
        return data || rc == -EBADF;
    }
}

/* A wait that times out at once on a socket nobody writes to (its level
   check finds nothing, so the thread gets as far as its poll(2)) makes the
   calling thread's eventfd. Where other fds close meanwhile, a thread must
   do so before its real call: an eventfd made later could take the number
   of an fd closed under a thread that has not called yet, and that call
   would then use the eventfd (fd number reuse, not eddy's doing). Threads
   share the quiet socket: plain threads may wait on one fd together. */
static int quiet[2] = { -1, -1 };

static inline void quiet_open(void)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, quiet), 0);
}

static inline void quiet_close(void)
{
    assert_ok(eddy_close(quiet[0]));
    assert_int_equal(close(quiet[1]), 0);
    quiet[0] = quiet[1] = -1;
}

/* -ETIMEDOUT (-ECANCELED on an aborted blocking-pool task) */
static inline long warm_up(void)
{
    return eddy_wait_fd(quiet[0], EDDY_READABLE, 0);
}

/* One plain thread making one waiting call (op) on fd. */
struct one {
    int fd, op;
    atomic_int tid;
    bool warm;          /* make the thread's eventfd first (see warm_up) */
    atomic_int started; /* set once warmed up */
    atomic_long warm_rc;
    atomic_long rc;
    atomic_int byte;
};

static inline void *one_op(void *arg)
{
    struct one *o = arg;
    atomic_store(&o->tid, my_tid());
    if (o->warm)
        atomic_store(&o->warm_rc, warm_up());
    atomic_store(&o->started, 1);
    unsigned char c;
    long rc = do_op(o->op, o->fd, &c);
    atomic_store(&o->byte, c);
    atomic_store(&o->rc, rc);
    return NULL;
}

#endif
