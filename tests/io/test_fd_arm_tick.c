/*
 * tests/io/test_fd_arm_tick.c: the tick rule of the one-shot read arms
 * (io/fd_arm.c): an edge that comes between the read that found the fd
 * drained and the arming is never lost: the arming reads again or calls
 * back (2b, through eddy__fd_read_or_arm and through the split
 * eddy__fd_read_tick + eddy__fd_arm_after the HTTP server uses), and the
 * split calls keep the rule for EAGAIN, short reads and EOF (2c). For 2b
 * this file defines read(2), which passes every call on to the real one
 * and, once, writes a byte in that window and waits for the reactor to
 * take its edge: it is alone in this test binary for that reason.
 */
/* ctest-labels: concurrency stress */
#include <dlfcn.h>
#include <sys/syscall.h>

#include "fd_arm_common.h"

/* ------------- 2b. an edge between the read and the arming is not lost */

/* read(2) as the library sees it: this definition wins over libc's (and
   a sanitizer's interceptor, which it calls on), so a test can make
   something happen between eddy__fd_read_or_arm's read, which found the
   fd empty, and its arming. Every other read passes straight through. */
static struct {
    atomic_int fd;       /* the fd whose next EAGAIN is delayed (-1: none) */
    int peer;            /* writes a byte here then */
    atomic_int fired;    /* 1: the reactor saw the byte before the read returned;
                            -1: it did not within the wait */
} read_hook = { .fd = -1 };

typedef ssize_t (*read_fn)(int, void *, size_t);
static _Atomic(read_fn) real_read;

ssize_t read(int fd, void *buf, size_t n)
{
    read_fn f = atomic_load_explicit(&real_read, memory_order_relaxed);
    if (f == NULL) {
        f = (read_fn)dlsym(RTLD_NEXT, "read");
        if (f == NULL)
            return syscall(SYS_read, fd, buf, n);
        atomic_store_explicit(&real_read, f, memory_order_relaxed);
    }
    ssize_t r = f(fd, buf, n);
    if (r >= 0 || errno != EAGAIN || fd != atomic_load(&read_hook.fd))
        return r;
    int err = errno;
    atomic_store(&read_hook.fd, -1); /* once */
    /* the byte lands now, and the fd's reactor (another worker, idle in
       it) takes its edge before this read returns EAGAIN */
    uint64_t tick0 = 0, tick;
    (void)read_tick_of(fd, &tick0);
    int fired = -1;
    if (send(read_hook.peer, "h", 1, MSG_NOSIGNAL) == 1) {
        int64_t end = eddy_test_now_ms() + bound_ms(2000);
        while (eddy_test_now_ms() < end) {
            if (read_tick_of(fd, &tick) && tick != tick0) {
                fired = 1;
                break;
            }
            sleep_ms_plain(1);
        }
    }
    atomic_store(&read_hook.fired, fired);
    errno = err;
    return r;
}

struct between {
    int sv[2];
    bool split;        /* eddy__fd_read_tick + eddy__fd_arm_after this round */
    int reader_got_it; /* rounds read at once */
    int called_back;   /* rounds armed, then called */
};

static void *read_with_hook_on_1(void *arg)
{
    struct between *b = arg;
    char buf[16];
    CHECK(eddy_worker_index() == 1);
    struct rec r;
    rec_init(&r, b->sv[0]);
    read_hook.peer = b->sv[1];
    atomic_store(&read_hook.fired, 0);
    atomic_store(&read_hook.fd, b->sv[0]);
    ssize_t rc;
    if (b->split) {
        uint64_t tick;
        rc = eddy__fd_read_tick(b->sv[0], buf, sizeof buf, &tick);
        atomic_store(&read_hook.fd, -1);
        CHECK(rc == -EAGAIN);
        int a = eddy__fd_arm_after(b->sv[0], tick, on_arm, &r);
        CHECK(a == 0 || a == 1);
        /* 1: told to read again; 0: armed, fine only if it still calls */
        rc = a == 1 ? eddy__fd_read_tick(b->sv[0], buf, sizeof buf, &tick) : -EINPROGRESS;
    } else {
        rc = eddy__fd_read_or_arm(b->sv[0], buf, sizeof buf, on_arm, &r);
    }
    atomic_store(&read_hook.fd, -1);
    CHECK(atomic_load(&read_hook.fired) == 1); /* the edge came in the window */
    if (rc == 1) {
        CHECK(buf[0] == 'h');
        b->reader_got_it++;
    } else {
        /* armed after the edge was taken: only fine if it still calls */
        CHECK(rc == -EINPROGRESS);
        CHECK(settle(&r, 1, 1000) == 1); /* else the edge was lost */
        CHECK(eddy__fd_read_or_arm(b->sv[0], buf, sizeof buf, on_arm, &r) == 1);
        b->called_back++;
    }
    eddy_sleep_ms(1);
    CHECK(atomic_load(&r.calls) <= 1);
    CHECK(!eddy__fd_disarm(b->sv[0]));
    return NULL;
}

static void *between_rounds(void *arg)
{
    struct between *b = arg;
    void *line = run_on(0, register_on_0, b->sv);
    for (int i = 0; i < 20 && line == NULL; i++) {
        b->split = i % 2 == 1;
        line = run_on(1, read_with_hook_on_1, b);
    }
    return line;
}

static void an_edge_between_the_read_and_the_arming_is_not_lost(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_stealing(2, false); /* worker 0 only waits in its reactor */
    struct between b = { .reader_got_it = 0 };
    assert_int_equal(pair(b.sv), 0);
    void *line = NULL;
    int rc = eddy_rt_block_on(rt, between_rounds, &b, &line);
    atomic_store(&read_hook.fd, -1);
    assert_ok(rc);
    if (line != NULL)
        fail_msg("check failed in the task at line %d (hook %d)", (int)(intptr_t)line,
                 atomic_load(&read_hook.fired));
    print_message("edge in the read-arm window: %d read again at once, %d armed and called\n",
                  b.reader_got_it, b.called_back);
    assert_ok(eddy_close(b.sv[0]));
    assert_int_equal(close(b.sv[1]), 0);
    eddy_rt_free(rt);
}

/* ---------- 2c. the split calls: eddy__fd_read_tick, eddy__fd_arm_after */

static void *split_task(void *arg)
{
    (void)arg;
    int sv[2];
    char buf[16];
    uint64_t tick, tick2;
    CHECK(pair(sv) == 0);
    struct rec r;
    rec_init(&r, sv[0]);

    /* empty: -EAGAIN, then armed with that read's tick; one call */
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick) == -EAGAIN);
    CHECK(eddy__fd_arm_after(sv[0], tick, on_arm, &r) == 0);
    CHECK(eddy__fd_arm_after(sv[0], tick, on_arm, &r) == -EEXIST);
    CHECK(eddy__fd_disarm(sv[0]));
    CHECK(eddy__fd_arm_after(sv[0], tick, on_arm, &r) == 0);
    eddy_sleep_ms(10);
    CHECK(atomic_load(&r.calls) == 0);
    CHECK(write(sv[1], "a", 1) == 1);
    CHECK(settle(&r, 1, 2000) == 1);
    CHECK(atomic_load(&r.bad_ctx) == 0);
    CHECK(atomic_load(&r.disarm_in_fn) == 0);
    CHECK(!eddy__fd_disarm(sv[0]));

    /* an edge since the read's tick: not armed, read again */
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick) == 1);
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick) == -EAGAIN);
    CHECK(write(sv[1], "b", 1) == 1);
    CHECK(wait_tick_past(sv[0], tick, 2000));
    CHECK(eddy__fd_arm_after(sv[0], tick, on_arm, &r) == 1);
    CHECK(!eddy__fd_disarm(sv[0])); /* nothing armed */
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick) == 1);
    CHECK(buf[0] == 'b');

    /* a short read proves the fd drained: arm with its tick */
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick) == -EAGAIN);
    CHECK(write(sv[1], "cd", 2) == 2);
    CHECK(wait_tick_past(sv[0], tick, 2000)); /* the edge is counted before the read */
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick2) == 2);
    CHECK(eddy__fd_arm_after(sv[0], tick2, on_arm, &r) == 0);
    eddy_sleep_ms(10);
    CHECK(atomic_load(&r.calls) == 1); /* the edge of "cd" was not a new one */
    CHECK(write(sv[1], "e", 1) == 1);
    CHECK(settle(&r, 2, 2000) == 2);
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick) == 1);
    CHECK(buf[0] == 'e');

    /* EOF: the read says 0; an arm after a drained read then calls */
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick) == -EAGAIN);
    CHECK(eddy__fd_arm_after(sv[0], tick, on_arm, &r) == 0);
    CHECK(shutdown(sv[1], SHUT_WR) == 0);
    CHECK(settle(&r, 3, 2000) == 3);
    CHECK(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick) == 0);

    /* bad use */
    CHECK(eddy__fd_arm_after(sv[0], tick, NULL, &r) == -EINVAL);
    CHECK(eddy__fd_arm_after(-1, tick, on_arm, &r) == -EBADF);
    CHECK(eddy__fd_read_tick(-1, buf, sizeof buf, &tick) == -EBADF);
    CHECK(eddy_close(sv[0]) == 0);
    CHECK(close(sv[1]) == 0);
    eddy_sleep_ms(20);
    CHECK(atomic_load(&r.calls) == 3);
    return NULL;
}

static void the_split_read_and_arm_keep_the_tick_rule(void **state)
{
    (void)state;
    run_in_new_rt(2, split_task, NULL);

    /* off a worker: the read works, the arm is refused */
    int sv[2];
    char buf[4];
    uint64_t tick;
    struct rec r;
    rec_init(&r, -1);
    assert_int_equal(pair(sv), 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick), 1);
    assert_int_equal(eddy__fd_read_tick(sv[0], buf, sizeof buf, &tick), -EAGAIN);
    assert_err(eddy__fd_arm_after(sv[0], tick, on_arm, &r), -EPERM);
    assert_ok(eddy_close(sv[0]));
    assert_ok(eddy_close(sv[1]));
}


static const struct CMUnitTest tests[] = {
    cmocka_unit_test(an_edge_between_the_read_and_the_arming_is_not_lost),
    cmocka_unit_test(the_split_read_and_arm_keep_the_tick_rule),
};

EDDY_TEST_MAIN(tests, 120)
