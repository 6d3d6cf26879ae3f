/*
 * tests/io/test_close_pending.c: eddy_close (and eddy_fd_release + close(2),
 * and a registration moved off a stuck worker) really lets the file go
 * when a readiness wake-up of the fd is still on its way to the worker
 * that registered it: the peer sees EOF, a listener's or UDP socket's port
 * is free again, a pipe's writer sees its reader gone.
 *
 * The set-up makes the wake-up wait: a task on a worker registers the fd
 * (a 1 ms wait that times out), then spins without a system call; the
 * test thread makes the fd ready and closes it at once. On io_uring the
 * poll's wake-up is then queued as task work of the spinning thread until
 * its next timer tick, and a POLL_REMOVE in that window failed with
 * -EALREADY and left the poll armed, holding the file for the life of the
 * runtime (issue 9). Every kind of fd an eddy call can wait on is here;
 * the file runs on both backends like every I/O test.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "io/fd_entry.h"
#include "io/io_int.h"
#include "sched/sched.h"

#define ROUNDS 20          /* per kind of fd: each a fresh race */
#define SEEN_WITHIN_MS 1000 /* the close must show this soon */

enum kind { TCP_CLIENT, TCP_ACCEPTED, UNIX_PAIR, PIPE_READER, LISTENER, UDP, WATCHED, RELEASED };

struct fixture {
    enum kind kind;
    int fd;                    /* the fd under test */
    int peer;                  /* what sees the close */
    struct sockaddr_in addr;   /* LISTENER, UDP: where fd is bound */
    atomic_int registered;     /* the spinner registered fd and spins */
    atomic_int done;           /* the test thread saw what it wanted */
    atomic_int watch_calls;
};

static void count_watch(void *arg, int fd, int events)
{
    (void)fd;
    (void)events;
    atomic_fetch_add(&((struct fixture *)arg)->watch_calls, 1);
}

/* Registers f->fd with this worker's reactor, then spins (no system call,
   so the kernel holds this thread's io_uring task work) until the test
   thread is done, at most 3 s. */
static void *register_then_spin(void *arg)
{
    struct fixture *f = arg;
    int rc;
    if (f->kind == WATCHED) {
        rc = eddy__fd_watch(f->fd, EDDY_READABLE, count_watch, f);
    } else {
        rc = eddy_wait_fd(f->fd, EDDY_READABLE, 1);
        if (rc == -ETIMEDOUT)
            rc = 0;
    }
    EDDY_TASK_CHECK(rc >= 0);
    atomic_store(&f->registered, 1);
    int64_t end = eddy_test_now_ms() + 3000;
    while (!atomic_load(&f->done) && eddy_test_now_ms() < end)
        ; /* busy: this worker does not enter the kernel */
    return NULL;
}

static struct sockaddr_in loopback_any(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void bind_loopback(int fd, struct sockaddr_in *out)
{
    struct sockaddr_in a = loopback_any();
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *out = a;
}

/* A connected TCP pair on loopback: *client and *server. */
static void tcp_pair(int *client, int *server)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    bind_loopback(l, &a);
    assert_int_equal(listen(l, 1), 0);
    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(*client, (struct sockaddr *)&a, sizeof a), 0);
    *server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    assert_true(*server >= 0);
    close(l);
}

static void set_up(struct fixture *f)
{
    int p[2];
    switch (f->kind) {
    case TCP_CLIENT:
        tcp_pair(&f->fd, &f->peer);
        break;
    case TCP_ACCEPTED:
        tcp_pair(&f->peer, &f->fd);
        break;
    case UNIX_PAIR:
    case WATCHED:
    case RELEASED:
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
        f->fd = p[0];
        f->peer = p[1];
        break;
    case PIPE_READER:
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        f->fd = p[0];
        f->peer = p[1];
        break;
    case LISTENER:
        f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bind_loopback(f->fd, &f->addr);
        assert_int_equal(listen(f->fd, 8), 0);
        f->peer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        break;
    case UDP:
        f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        bind_loopback(f->fd, &f->addr);
        f->peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        break;
    }
}

/* Makes f->fd ready to read: its reactor's poll is woken. */
static void poke(struct fixture *f)
{
    ssize_t w;
    switch (f->kind) {
    case LISTENER:
        (void)connect(f->peer, (struct sockaddr *)&f->addr, sizeof f->addr); /* EINPROGRESS */
        break;
    case UDP:
        w = sendto(f->peer, "x", 1, 0, (struct sockaddr *)&f->addr, sizeof f->addr);
        assert_int_equal(w, 1);
        break;
    default:
        w = write(f->peer, "x", 1);
        assert_int_equal(w, 1);
        break;
    }
}

/* Whether the bound address of f is free again (bind succeeds). */
static bool port_free(const struct fixture *f, int type)
{
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    int one = 1;
    (void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = bind(s, (const struct sockaddr *)&f->addr, sizeof f->addr) == 0 &&
              (type != SOCK_STREAM || listen(s, 1) == 0);
    close(s);
    return ok;
}

/* Whether the close of f->fd shows where it should within the limit. */
static bool close_seen(struct fixture *f)
{
    int64_t end = eddy_test_now_ms() + SEEN_WITHIN_MS;
    for (;;) {
        int left = (int)(end - eddy_test_now_ms());
        if (left < 0)
            return false;
        if (f->kind == LISTENER || f->kind == UDP) {
            if (port_free(f, f->kind == UDP ? SOCK_DGRAM : SOCK_STREAM))
                return true;
            usleep(1000);
            continue;
        }
        if (f->kind == PIPE_READER) {
            struct pollfd p = { .fd = f->peer, .events = 0 }; /* POLLERR: no reader left */
            if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR))
                return true;
            usleep(1000);
            continue;
        }
        struct pollfd p = { .fd = f->peer, .events = POLLIN };
        if (poll(&p, 1, left) <= 0)
            continue;
        char c;
        ssize_t n = read(f->peer, &c, 1);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true; /* EOF, or a reset (data was left unread) */
    }
}

/* One round: the fd is registered with worker 0 by a task that then
   spins; this thread wakes the fd's poll and closes the fd at once. */
static bool one_round(eddy_rt *rt, enum kind kind)
{
    struct fixture f = { .kind = kind, .fd = -1, .peer = -1 };
    set_up(&f);
    eddy_task *spinner;
    assert_ok(eddy_rt_spawn(rt, &spinner, register_then_spin, &f));
    int64_t end = eddy_test_now_ms() + 2000;
    while (!atomic_load(&f.registered) && eddy_test_now_ms() < end)
        usleep(100);
    assert_true(atomic_load(&f.registered));
    poke(&f);
    if (kind == RELEASED) {
        assert_ok(eddy_fd_release(f.fd));
        close(f.fd);
    } else {
        assert_ok(eddy_close(f.fd));
    }
    bool seen = close_seen(&f);
    atomic_store(&f.done, 1);
    void *line = NULL;
    assert_ok(eddy_join(spinner, &line));
    if (line != NULL)
        fail_msg("check failed in the spinner at line %d", (int)(intptr_t)line);
    close(f.peer);
    return seen;
}

static void closes_with_a_wake_pending(enum kind kind, const char *what)
{
    int fds_before = eddy_test_count_fds();
    /* one worker: the spinner's is the only thread that can post the
       poll's completion, and nothing stands in for it */
    eddy_rt *rt = eddy_test_new_rt(1);
    int missed = 0;
    for (int i = 0; i < ROUNDS; i++)
        missed += !one_round(rt, kind);
    eddy_rt_free(rt);
    if (missed > 0)
        fail_msg("%s: the close did not show within %d ms in %d of %d rounds", what,
                 SEEN_WITHIN_MS, missed, ROUNDS);
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

static void closed_tcp_client_sends_eof_with_a_wake_pending(void **state)
{
    (void)state;
    closes_with_a_wake_pending(TCP_CLIENT, "TCP client");
}

static void closed_accepted_socket_sends_eof_with_a_wake_pending(void **state)
{
    (void)state;
    closes_with_a_wake_pending(TCP_ACCEPTED, "accepted TCP socket");
}

static void closed_unix_socket_shows_eof_with_a_wake_pending(void **state)
{
    (void)state;
    closes_with_a_wake_pending(UNIX_PAIR, "Unix socket");
}

static void closed_pipe_reader_shows_to_the_writer_with_a_wake_pending(void **state)
{
    (void)state;
    closes_with_a_wake_pending(PIPE_READER, "pipe");
}

static void closed_listener_frees_its_port_with_a_connection_pending(void **state)
{
    (void)state;
    closes_with_a_wake_pending(LISTENER, "listener");
}

static void closed_udp_socket_frees_its_port_with_a_datagram_pending(void **state)
{
    (void)state;
    closes_with_a_wake_pending(UDP, "UDP socket");
}

static void closed_watched_fd_shows_eof_with_a_wake_pending(void **state)
{
    (void)state;
    closes_with_a_wake_pending(WATCHED, "watched (level-triggered) fd");
}

static void released_fd_closed_by_close2_shows_eof_with_a_wake_pending(void **state)
{
    (void)state;
    closes_with_a_wake_pending(RELEASED, "released fd closed with close(2)");
}

/* ---------------------------------------- a registration moved off a stuck worker */

struct moved {
    int fd, peer;
    atomic_int registered_on; /* worker index + 1 of the spinner's registration */
    atomic_int done;
};

static void *register_on_this_worker_then_spin(void *arg)
{
    struct moved *m = arg;
    int rc = eddy_wait_fd(m->fd, EDDY_READABLE, 1);
    EDDY_TASK_CHECK(rc == -ETIMEDOUT);
    atomic_store(&m->registered_on, eddy_worker_index() + 1);
    int64_t end = eddy_test_now_ms() + 5000;
    while (!atomic_load(&m->done) && eddy_test_now_ms() < end)
        ;
    return NULL;
}

/* From the other worker: waits on the fd until its registration moved
   here (its reactor's worker spins), each time with a wake-up of the old
   poll just queued; then reads through the new registration and closes
   the fd, again with a wake-up queued, and the peer must see EOF while
   the old worker still spins. */
static void *move_then_close(void *arg)
{
    struct moved *m = arg;
    EDDY_TASK_CHECK(eddy_worker_index() + 1 != atomic_load(&m->registered_on));
    struct fd_entry *e = eddy__fd_entry(m->fd, false);
    EDDY_TASK_CHECK(e != NULL);
    char buf[16];
    bool moved = false;
    for (int i = 0; i < 500 && !moved; i++) {
        EDDY_TASK_CHECK(write(m->peer, "x", 1) == 1); /* wakes the old poll */
        EDDY_TASK_CHECK(eddy_read(m->fd, buf, sizeof buf) >= 1);
        EDDY_TASK_CHECK(eddy_read_timeout(m->fd, buf, sizeof buf, 1) == -ETIMEDOUT);
        pthread_mutex_lock(&e->lock);
        moved = e->drv == eddy__worker_driver_current();
        pthread_mutex_unlock(&e->lock);
    }
    EDDY_TASK_CHECK(moved);
    EDDY_TASK_CHECK(write(m->peer, "y", 1) == 1);
    EDDY_TASK_CHECK(eddy_read_timeout(m->fd, buf, sizeof buf, 1000) == 1);
    EDDY_TASK_CHECK(write(m->peer, "z", 1) == 1);
    EDDY_TASK_CHECK(eddy_close(m->fd) == 0);
    ssize_t n = eddy_read_timeout(m->peer, buf, sizeof buf, SEEN_WITHIN_MS);
    EDDY_TASK_CHECK(n == 0 || n == -ECONNRESET);
    return NULL;
}

static void registration_moved_off_a_stuck_worker_lets_the_file_go(void **state)
{
    (void)state;
    int fds_before = eddy_test_count_fds();
    eddy_rt *rt = eddy_test_new_rt(2);
    for (int round = 0; round < 5; round++) {
        struct moved m = { .fd = -1 };
        int p[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
        m.fd = p[0];
        m.peer = p[1];
        eddy_task *spinner, *mover;
        assert_ok(eddy_rt_spawn(rt, &spinner, register_on_this_worker_then_spin, &m));
        int64_t end = eddy_test_now_ms() + 2000;
        while (atomic_load(&m.registered_on) == 0 && eddy_test_now_ms() < end)
            usleep(100);
        assert_true(atomic_load(&m.registered_on) != 0);
        usleep(5000); /* the other worker has looked at the spinning one */
        assert_ok(eddy_rt_spawn(rt, &mover, move_then_close, &m));
        void *line = NULL;
        assert_ok(eddy_join(mover, &line));
        atomic_store(&m.done, 1);
        assert_ok(eddy_join(spinner, NULL));
        if (line != NULL)
            fail_msg("round %d: check failed in the mover at line %d", round,
                     (int)(intptr_t)line);
        assert_ok(eddy_close(m.peer));
    }
    eddy_rt_free(rt);
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(closed_tcp_client_sends_eof_with_a_wake_pending),
    cmocka_unit_test(closed_accepted_socket_sends_eof_with_a_wake_pending),
    cmocka_unit_test(closed_unix_socket_shows_eof_with_a_wake_pending),
    cmocka_unit_test(closed_pipe_reader_shows_to_the_writer_with_a_wake_pending),
    cmocka_unit_test(closed_listener_frees_its_port_with_a_connection_pending),
    cmocka_unit_test(closed_udp_socket_frees_its_port_with_a_datagram_pending),
    cmocka_unit_test(closed_watched_fd_shows_eof_with_a_wake_pending),
    cmocka_unit_test(released_fd_closed_by_close2_shows_eof_with_a_wake_pending),
    cmocka_unit_test(registration_moved_off_a_stuck_worker_lets_the_file_go),
};

EDDY_TEST_MAIN(tests, 300)
