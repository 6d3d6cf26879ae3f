/*
 * tests/io/test_edges.c: readiness edges that must never be lost, as users
 * met them (issue 9): a large write that waits for room and then closes
 * (the reader must see every byte and then EOF), many clients closing at
 * once (every server task must see its EOF, nothing left open), a wait on
 * one direction that must not wipe the other's readiness, and a write of
 * IOV_MAX buffers from a task with the smallest stack. Bounded loops;
 * each file runs on both backends.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"
#include "io/fd_entry.h"

#define CHECK EDDY_TASK_CHECK

static int rounds(int normal)
{
    const char *env = getenv("EDDY_EDGE_ROUNDS"); /* more by hand */
    return env != NULL && atoi(env) > 0 ? atoi(env) : normal;
}

static void run_task(eddy_rt *rt, eddy_fn fn, void *arg)
{
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, fn, arg, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
}

/* -------------------------------- a large write that waits for room, then EOF */

#define BIG_WRITE (32u << 20)

struct big {
    int fd[2];
    unsigned char *data;
};

static void *slow_reader(void *arg)
{
    struct big *b = arg;
    eddy_sleep_ms(20); /* the writer fills the socket and waits for room */
    unsigned char *buf = malloc(64 * 1024);
    size_t got = 0;
    bool same = true;
    for (;;) {
        ssize_t n = eddy_read(b->fd[1], buf, 64 * 1024);
        if (n <= 0) {
            if (n < 0)
                got = SIZE_MAX;
            break;
        }
        if (got + (size_t)n > BIG_WRITE || memcmp(buf, b->data + got, (size_t)n) != 0)
            same = false;
        got += (size_t)n;
    }
    free(buf);
    eddy_close(b->fd[1]);
    return (void *)(uintptr_t)(same ? got : SIZE_MAX - 1);
}

static void *write_big_then_close(void *arg)
{
    struct big *b = arg;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b->fd) == 0);
    eddy_task *reader;
    CHECK(eddy_spawn(&reader, slow_reader, b) == 0);
    CHECK(eddy_write(b->fd[0], b->data, BIG_WRITE) == (ssize_t)BIG_WRITE);
    CHECK(eddy_close(b->fd[0]) == 0);
    void *got = NULL;
    CHECK(eddy_join_timeout(reader, &got, 10000) == 0); /* a lost edge: -ETIMEDOUT */
    CHECK((uintptr_t)got == BIG_WRITE);
    return NULL;
}

static void large_write_waits_for_room_and_the_reader_sees_all_then_eof(void **state)
{
    (void)state;
    int fds_before = eddy_test_count_fds();
    struct big b;
    b.data = malloc(BIG_WRITE);
    assert_non_null(b.data);
    for (size_t i = 0; i < BIG_WRITE; i++)
        b.data[i] = (unsigned char)(i * 2654435761u >> 24);
    int n = rounds(50);
    for (int i = 0; i < n; i++) {
        eddy_rt *rt = eddy_test_new_rt(2);
        run_task(rt, write_big_then_close, &b);
        eddy_rt_free(rt);
    }
    free(b.data);
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

/* ---------------------------- 200 clients at once: every server task sees EOF */

#define CLIENTS 200

struct crowd {
    int lfd;
    uint16_t port;
    atomic_int ended;    /* server tasks that ended */
    atomic_int eof_seen; /* ... having read EOF after the echo */
    atomic_int echoed;   /* clients that got their echo back */
};

static void *serve_one(void *arg)
{
    struct crowd *c = ((void **)arg)[0];
    int fd = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    char buf[16];
    ssize_t n = eddy_read_timeout(fd, buf, sizeof buf, 5000);
    if (n > 0 && eddy_write(fd, buf, (size_t)n) == n &&
        eddy_read_timeout(fd, buf, sizeof buf, 2000) == 0)
        atomic_fetch_add(&c->eof_seen, 1);
    eddy_close(fd);
    atomic_fetch_add(&c->ended, 1);
    return NULL;
}

static void *accept_all(void *arg)
{
    struct crowd *c = arg;
    for (int i = 0; i < CLIENTS; i++) {
        int fd;
        if (eddy_tcp_accept(c->lfd, &fd, NULL) < 0)
            return (void *)(intptr_t)__LINE__;
        void **a = malloc(2 * sizeof *a);
        a[0] = c;
        a[1] = (void *)(intptr_t)fd;
        CHECK(eddy_spawn(NULL, serve_one, a) == 0);
    }
    return NULL;
}

static void *ping_once(void *arg)
{
    struct crowd *c = arg;
    int fd;
    CHECK(eddy_tcp_connect(&fd, "127.0.0.1", c->port, 5000) == 0);
    char buf[8];
    bool ok = eddy_write(fd, "ping", 4) == 4 && eddy_read_timeout(fd, buf, sizeof buf, 5000) == 4;
    CHECK(eddy_close(fd) == 0);
    if (ok)
        atomic_fetch_add(&c->echoed, 1);
    return NULL;
}

static void *crowd_round(void *arg)
{
    struct crowd *c = arg;
    eddy_task *acceptor, *clients[CLIENTS];
    CHECK(eddy_spawn(&acceptor, accept_all, c) == 0);
    for (int i = 0; i < CLIENTS; i++)
        CHECK(eddy_spawn(&clients[i], ping_once, c) == 0);
    void *line = NULL;
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(eddy_join(clients[i], &line) == 0);
        CHECK(line == NULL);
    }
    CHECK(eddy_join(acceptor, &line) == 0);
    CHECK(line == NULL);
    /* every client's close is done: each server task's EOF is on its way
       (a lost one waits out the 2 s read timeout) */
    for (int i = 0; i < 3000 && atomic_load(&c->ended) < CLIENTS; i++)
        eddy_sleep_ms(1);
    return NULL;
}

static void crowd(unsigned workers)
{
    int fds_before = eddy_test_count_fds();
    eddy_rt *rt = eddy_test_new_rt(workers);
    int n = rounds(50);
    for (int i = 0; i < n; i++) {
        struct crowd c = { .lfd = -1 };
        assert_ok(eddy_tcp_listen(&c.lfd, "127.0.0.1", 0, CLIENTS, 0));
        c.port = (uint16_t)eddy_local_port(c.lfd);
        run_task(rt, crowd_round, &c);
        assert_ok(eddy_close(c.lfd));
        if (atomic_load(&c.echoed) != CLIENTS || atomic_load(&c.eof_seen) != CLIENTS ||
            atomic_load(&c.ended) != CLIENTS)
            fail_msg("round %d, %u workers: %d of %d clients echoed, %d server tasks saw "
                     "EOF, %d ended", i, workers, atomic_load(&c.echoed), CLIENTS,
                     atomic_load(&c.eof_seen), atomic_load(&c.ended));
    }
    assert_ok(eddy_rt_shutdown(rt, 2000)); /* no task left to wait out */
    eddy_rt_free(rt);
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

static void every_server_task_sees_eof_when_200_clients_close_2_workers(void **state)
{
    (void)state;
    crowd(2);
}

static void every_server_task_sees_eof_when_200_clients_close_4_workers(void **state)
{
    (void)state;
    crowd(4);
}

/* --------------------- a wait on one direction keeps the other's readiness */

/* A task between its write's EAGAIN and its wait must still find the
   writability edge that came in between, even when another task waits
   to read the same fd meanwhile (the Redis adapter does this): the
   reader's eddy_wait_fd checked only readability, so it may clear only
   that. Before, it cleared both bits whenever no event had come during
   its own check, and the writer slept through its edge. White-box: the
   bit itself is what the writer would have found. */
static void *read_wait_twice(void *arg)
{
    int fd = *(int *)arg;
    struct fd_entry *e = eddy__fd_entry(fd, true);
    CHECK(eddy_wait_fd(fd, EDDY_READABLE, 20) == -ETIMEDOUT); /* registers */
    int writable = 0;
    for (int i = 0; i < 200 && !writable; i++) { /* the registration reports room */
        pthread_mutex_lock(&e->lock);
        writable = e->ready & EDDY_WRITABLE;
        pthread_mutex_unlock(&e->lock);
        if (!writable)
            eddy_sleep_ms(1);
    }
    CHECK(writable);
    CHECK(eddy_wait_fd(fd, EDDY_READABLE, 10) == -ETIMEDOUT);
    pthread_mutex_lock(&e->lock);
    writable = e->ready & EDDY_WRITABLE;
    pthread_mutex_unlock(&e->lock);
    CHECK(writable);
    return NULL;
}

static void wait_for_reading_keeps_the_write_readiness_it_did_not_check(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0);
    eddy_rt *rt = eddy_test_new_rt(1);
    run_task(rt, read_wait_twice, &fd[0]);
    eddy_rt_free(rt);
    assert_ok(eddy_close(fd[0]));
    assert_ok(eddy_close(fd[1]));
}

/* ------------------------------ IOV_MAX buffers from the smallest stack */

struct many {
    int fd[2];
    unsigned char bytes[IOV_MAX];
};

/* Half the smallest stack is the task's own (a buffer it keeps across
   the call), the rest must do for eddy_writev: a copy of IOV_MAX iovecs
   on the stack (16 KiB) ran off the end. */
static void *writev_from_small_stack(void *arg)
{
    struct many *m = arg;
    static struct iovec iov[IOV_MAX]; /* not on this small stack */
    for (int i = 0; i < IOV_MAX; i++) {
        iov[i].iov_base = &m->bytes[i];
        iov[i].iov_len = 1;
    }
    volatile char own[8 * 1024];
    for (size_t i = 0; i < sizeof own; i += 512)
        own[i] = (char)i;
    CHECK(eddy_writev(m->fd[0], iov, IOV_MAX) == IOV_MAX);
    CHECK(own[512] == (char)512);
    return NULL;
}

static void *spawn_small_writer(void *arg)
{
    struct many *m = arg;
    eddy_task *t;
    CHECK(eddy_spawn(&t, writev_from_small_stack, m) == 0);
    void *line = NULL;
    CHECK(eddy_join(t, &line) == 0);
    if (line != NULL)
        return line;
    static unsigned char got[IOV_MAX];
    size_t have = 0;
    while (have < sizeof got) {
        ssize_t n = eddy_read(m->fd[1], got + have, sizeof got - have);
        CHECK(n > 0);
        have += (size_t)n;
    }
    CHECK(memcmp(got, m->bytes, sizeof got) == 0);
    return NULL;
}

static void writev_of_iov_max_buffers_fits_the_smallest_stack(void **state)
{
    (void)state;
    static struct many m;
    for (int i = 0; i < IOV_MAX; i++)
        m.bytes[i] = (unsigned char)(i * 7 + 1);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, m.fd), 0);
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1;
    cfg.stack_size = 16 * 1024; /* the smallest allowed, for every task */
    eddy_rt *rt = NULL;
    assert_ok(eddy_rt_new(&rt, &cfg));
    run_task(rt, spawn_small_writer, &m);
    eddy_rt_free(rt);
    assert_ok(eddy_close(m.fd[0]));
    assert_ok(eddy_close(m.fd[1]));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(large_write_waits_for_room_and_the_reader_sees_all_then_eof),
    cmocka_unit_test(every_server_task_sees_eof_when_200_clients_close_2_workers),
    cmocka_unit_test(every_server_task_sees_eof_when_200_clients_close_4_workers),
    cmocka_unit_test(wait_for_reading_keeps_the_write_readiness_it_did_not_check),
    cmocka_unit_test(writev_of_iov_max_buffers_fits_the_smallest_stack),
};

EDDY_TEST_MAIN(tests, 600)
