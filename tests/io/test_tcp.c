/*
 * tests/io/test_tcp.c: TCP and UDP on loopback: thousands of concurrent
 * echo connections verified byte for byte, refused and timed-out connects,
 * reset and half-close, abort in accept and connect, EMFILE on accept,
 * name resolution, UDP echo, and no fd left behind.
 */
/* ctest-labels: concurrency */
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

/* eddy_test_new_rt with 32 KiB task stacks instead of the default: the echo
   test holds thousands of connections, two tasks each, at once. */
static eddy_rt *new_rt_small_stack(unsigned workers)
{
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = workers;
    cfg.stack_size = 32 * 1024;
    eddy_rt *rt = NULL;
    assert_ok(eddy_rt_new(&rt, &cfg));
    return rt;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* ------------------------------------------------------------ echo */

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = eddy_read(fd, buf, sizeof buf);
        if (n <= 0 || eddy_write(fd, buf, (size_t)n) != n)
            break;
    }
    eddy_close(fd);
    return NULL;
}

static void *echo_server(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int c;
        int rc = eddy_tcp_accept(lfd, &c, NULL);
        if (rc < 0)
            return (void *)(intptr_t)rc; /* -ECANCELED at the end */
        if (eddy_spawn(NULL, echo_conn, (void *)(intptr_t)c) < 0)
            eddy_close(c);
    }
}

struct client_arg {
    uint16_t port;
    unsigned id;
    atomic_int *bad;
};

static void *echo_client(void *arg)
{
    struct client_arg *a = arg;
    int fd;
    int rc = eddy_tcp_connect(&fd, "127.0.0.1", a->port, 10000);
    if (rc < 0) {
        atomic_fetch_add(a->bad, 1);
        return NULL;
    }
    char out[300], in[300];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof out; i++)
            out[i] = (char)(a->id * 31 + round * 7 + i);
        size_t got = 0;
        if (eddy_write(fd, out, sizeof out) != (ssize_t)sizeof out)
            break;
        while (got < sizeof in) {
            ssize_t n = eddy_read(fd, in + got, sizeof in - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got != sizeof in || memcmp(in, out, sizeof in) != 0) {
            atomic_fetch_add(a->bad, 1);
            break;
        }
    }
    eddy_close(fd);
    return NULL;
}

static void thousands_of_concurrent_echo_connections_round_trip_intact(void **state)
{
    (void)state;
    raise_nofile();
    int fds_before = eddy_test_count_fds();
    eddy_rt *rt = new_rt_small_stack(2);
    int lfd;
    assert_ok(eddy_tcp_listen(&lfd, "127.0.0.1", 0, 4096, 0));
    int port = eddy_local_port(lfd);
    assert_true(port > 0);
    eddy_task *server;
    assert_ok(eddy_rt_spawn(rt, &server, echo_server, (void *)(intptr_t)lfd));
    unsigned n = eddy_test_sanitized() ? 500 : 5000;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * n + 100)
        n = (unsigned)(rl.rlim_cur - 100) / 2;
    atomic_int bad;
    atomic_init(&bad, 0);
    struct client_arg *args = calloc(n, sizeof *args);
    eddy_task **h = calloc(n, sizeof *h);
    for (unsigned i = 0; i < n; i++) {
        args[i] = (struct client_arg){ (uint16_t)port, i, &bad };
        assert_ok(eddy_rt_spawn(rt, &h[i], echo_client, &args[i]));
    }
    for (unsigned i = 0; i < n; i++)
        assert_ok(eddy_join_timeout(h[i], NULL, 120000));
    assert_int_equal(atomic_load(&bad), 0);
    assert_ok(eddy_abort(server));
    assert_err(eddy_join_timeout(server, NULL, 5000), -ECANCELED);
    assert_ok(eddy_close(lfd));
    eddy_rt_free(rt);
    free(args);
    free(h);
    assert_int_equal(eddy_test_count_fds(), fds_before);
}

/* ------------------------------------------------------- connecting */

static void *connect_refused(void *arg)
{
    int fd;
    return (void *)(intptr_t)eddy_tcp_connect(&fd, "127.0.0.1", (uint16_t)(uintptr_t)arg, 5000);
}

static void connect_to_a_closed_port_is_refused(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(2);
    /* a port that was free a moment ago */
    int lfd;
    assert_ok(eddy_tcp_listen(&lfd, "127.0.0.1", 0, 1, 0));
    uintptr_t port = (uintptr_t)eddy_local_port(lfd);
    assert_ok(eddy_close(lfd));
    void *r;
    assert_ok(eddy_rt_block_on(rt, connect_refused, (void *)port, &r));
    assert_int_equal((intptr_t)r, -ECONNREFUSED);
    int fd;
    assert_err(eddy_tcp_connect(&fd, "127.0.0.1", (uint16_t)port, 1000), -ECONNREFUSED);
    eddy_rt_free(rt);
}

struct full_backlog {
    int lfd;
    uint16_t port;
    int fill[64];
    int nfill;
};

/* A listener nobody accepts on, its queue filled: further SYNs are
   dropped, so a connect to it neither succeeds nor is refused. */
static void make_full_backlog(struct full_backlog *b)
{
    assert_ok(eddy_tcp_listen(&b->lfd, "127.0.0.1", 0, 1, 0));
    b->port = (uint16_t)eddy_local_port(b->lfd);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(b->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    b->nfill = 0;
    for (int i = 0; i < 64; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(s, (struct sockaddr *)&sa, sizeof sa);
        b->fill[b->nfill++] = s;
    }
    usleep(50000);
}

static void free_full_backlog(struct full_backlog *b)
{
    for (int i = 0; i < b->nfill; i++)
        close(b->fill[i]);
    eddy_close(b->lfd);
}

static void *connect_with_timeout(void *arg)
{
    struct full_backlog *b = arg;
    int fd;
    uint64_t t0 = eddy_now_ns();
    int rc = eddy_tcp_connect(&fd, "127.0.0.1", b->port, 200);
    uint64_t ms = (eddy_now_ns() - t0) / 1000000u;
    if (rc == 0)
        eddy_close(fd);
    return (void *)(intptr_t)(rc == -ETIMEDOUT && ms >= 200 && ms < 3000 ? 0 : rc == 0 ? 1 : rc);
}

static void connect_to_a_listener_with_a_full_backlog_times_out(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(2);
    struct full_backlog b;
    make_full_backlog(&b);
    void *r;
    assert_ok(eddy_rt_block_on(rt, connect_with_timeout, &b, &r));
    assert_int_equal((intptr_t)r, 0);
    free_full_backlog(&b);
    eddy_rt_free(rt);
}

static atomic_int in_call;

static void *connect_forever(void *arg)
{
    struct full_backlog *b = arg;
    int fd;
    atomic_store(&in_call, 1);
    return (void *)(intptr_t)eddy_tcp_connect(&fd, "127.0.0.1", b->port, -1);
}

static void *accept_forever(void *arg)
{
    int c;
    atomic_store(&in_call, 1);
    return (void *)(intptr_t)eddy_tcp_accept((int)(intptr_t)arg, &c, NULL);
}

static void abort_of_tasks_blocked_in_accept_and_connect_returns_ecanceled(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(2);
    struct full_backlog b;
    make_full_backlog(&b);
    int lfd;
    assert_ok(eddy_tcp_listen(&lfd, "127.0.0.1", 0, 16, 0));
    eddy_fn fns[2] = { connect_forever, accept_forever };
    void *args[2] = { &b, (void *)(intptr_t)lfd };
    for (int i = 0; i < 2; i++) {
        atomic_store(&in_call, 0);
        eddy_task *h;
        assert_ok(eddy_rt_spawn(rt, &h, fns[i], args[i]));
        while (!atomic_load(&in_call))
            sched_yield();
        usleep(30000);
        assert_ok(eddy_abort(h));
        void *r;
        assert_err(eddy_join_timeout(h, &r, 5000), -ECANCELED);
        assert_int_equal((intptr_t)r, -ECANCELED);
    }
    eddy_close(lfd);
    free_full_backlog(&b);
    eddy_rt_free(rt);
}

static void *connect_without_a_limit(void *arg)
{
    struct full_backlog *b = arg;
    int fd;
    atomic_store(&in_call, 1);
    return (void *)(intptr_t)eddy_tcp_connect(&fd, "127.0.0.1", b->port, INT64_MAX);
}

/* A timeout too large for nanoseconds means no limit: its deadline must
   not wrap around into the past and expire at once. */
static void a_connect_with_a_huge_timeout_waits_until_aborted(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(1);
    struct full_backlog b;
    make_full_backlog(&b);
    atomic_store(&in_call, 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, connect_without_a_limit, &b));
    while (!atomic_load(&in_call))
        sched_yield();
    void *r = (void *)1;
    assert_err(eddy_join_timeout(h, &r, 50), -ETIMEDOUT); /* still connecting */
    assert_ok(eddy_abort(h));
    assert_err(eddy_join_timeout(h, &r, 5000), -ECANCELED);
    assert_int_equal((intptr_t)r, -ECANCELED);
    free_full_backlog(&b);
    eddy_rt_free(rt);
}

/* --------------------------------------------------- reset, half-close */

struct pairctx {
    int lfd;
    uint16_t port;
};

static void *server_reset(void *arg)
{
    struct pairctx *p = arg;
    int c;
    if (eddy_tcp_accept(p->lfd, &c, NULL) < 0)
        return (void *)1;
    struct linger lg = { 1, 0 }; /* close sends RST */
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    char x;
    (void)eddy_read(c, &x, 1);
    eddy_close(c);
    return NULL;
}

static void *client_sees_reset(void *arg)
{
    struct pairctx *p = arg;
    int fd;
    if (eddy_tcp_connect(&fd, "127.0.0.1", p->port, 5000) < 0)
        return (void *)1;
    assert_int_equal(eddy_write(fd, "x", 1), 1);
    char buf[8];
    ssize_t n = eddy_read(fd, buf, sizeof buf);
    eddy_close(fd);
    return (void *)(intptr_t)n;
}

static void a_peer_reset_reads_as_econnreset(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(2);
    struct pairctx p;
    assert_ok(eddy_tcp_listen(&p.lfd, "127.0.0.1", 0, 16, 0));
    p.port = (uint16_t)eddy_local_port(p.lfd);
    eddy_task *s, *c;
    assert_ok(eddy_rt_spawn(rt, &s, server_reset, &p));
    assert_ok(eddy_rt_spawn(rt, &c, client_sees_reset, &p));
    void *r;
    assert_ok(eddy_join_timeout(c, &r, 10000));
    assert_int_equal((intptr_t)r, -ECONNRESET);
    assert_ok(eddy_join_timeout(s, NULL, 10000));
    eddy_close(p.lfd);
    eddy_rt_free(rt);
}

static void *server_half_close(void *arg)
{
    struct pairctx *p = arg;
    int c;
    if (eddy_tcp_accept(p->lfd, &c, NULL) < 0)
        return (void *)1;
    char buf[64];
    size_t got = 0;
    for (;;) { /* read until the client's EOF, then answer */
        ssize_t n = eddy_read(c, buf + got, sizeof buf - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    intptr_t rc = eddy_write(c, buf, got) == (ssize_t)got ? 0 : 2;
    eddy_close(c);
    return (void *)rc;
}

static void *client_half_close(void *arg)
{
    struct pairctx *p = arg;
    int fd;
    if (eddy_tcp_connect(&fd, "localhost", p->port, 5000) < 0) /* resolved by name */
        return (void *)1;
    assert_int_equal(eddy_write(fd, "hello", 5), 5);
    assert_ok(eddy_shutdown(fd, SHUT_WR));
    char buf[16];
    size_t got = 0;
    for (;;) {
        ssize_t n = eddy_read(fd, buf + got, sizeof buf - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    eddy_close(fd);
    return (void *)(intptr_t)(got == 5 && memcmp(buf, "hello", 5) == 0 ? 0 : 3);
}

static void half_close_lets_the_peer_read_eof_then_answer(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(2);
    struct pairctx p;
    assert_ok(eddy_tcp_listen(&p.lfd, "localhost", 0, 16, 0));
    p.port = (uint16_t)eddy_local_port(p.lfd);
    eddy_task *s, *c;
    assert_ok(eddy_rt_spawn(rt, &s, server_half_close, &p));
    assert_ok(eddy_rt_spawn(rt, &c, client_half_close, &p));
    void *r;
    assert_ok(eddy_join_timeout(c, &r, 10000));
    assert_int_equal((intptr_t)r, 0);
    assert_ok(eddy_join_timeout(s, &r, 10000));
    assert_int_equal((intptr_t)r, 0);
    eddy_close(p.lfd);
    eddy_rt_free(rt);
}

static void *resolve_unknown(void *arg)
{
    (void)arg;
    int fd;
    return (void *)(intptr_t)eddy_tcp_connect(&fd, "no-such-host.invalid", 80, 2000);
}

static void an_unknown_host_name_is_reported(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(1);
    void *r;
    assert_ok(eddy_rt_block_on(rt, resolve_unknown, NULL, &r));
    assert_true((intptr_t)r == EDDY_EAI_NONAME || (intptr_t)r == EDDY_EAI_AGAIN ||
                (intptr_t)r == EDDY_EAI_FAIL);
    int fd;
    assert_err(eddy_tcp_listen(&fd, "127.0.0.1", 0, 1, 99), -EINVAL);
    eddy_rt_free(rt);
}

/* ------------------------------------------------------------- EMFILE */

static void *accept_one(void *arg)
{
    int c;
    int rc = eddy_tcp_accept((int)(intptr_t)arg, &c, NULL);
    if (rc == 0)
        eddy_close(c);
    return (void *)(intptr_t)rc;
}

static void accept_out_of_descriptors_backs_off_and_recovers(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(1);
    int lfd;
    assert_ok(eddy_tcp_listen(&lfd, "127.0.0.1", 0, 16, 0));
    uint16_t port = (uint16_t)eddy_local_port(lfd);
    /* use up the descriptors below a low limit */
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    int used = eddy_test_count_fds();
    low = old;
    low.rlim_cur = (rlim_t)used + 8;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int hog[16], nhog = 0;
    int cfd = socket(AF_INET, SOCK_STREAM, 0); /* the client, made first */
    while (nhog < 16 && (hog[nhog] = dup(0)) >= 0)
        nhog++;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof sa), 0);
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, accept_one, (void *)(intptr_t)lfd));
    usleep(200000); /* accept keeps getting EMFILE, backing off */
    eddy_worker_metrics m;
    assert_ok(eddy_rt_worker_metrics(rt, 0, &m));
    uint64_t polls_before = m.polls;
    usleep(200000);
    assert_ok(eddy_rt_worker_metrics(rt, 0, &m));
    /* backing off, not spinning: a handful of retries in 200 ms */
    assert_true(m.polls - polls_before < 50);
    for (int i = 0; i < nhog; i++)
        close(hog[i]);
    void *r;
    assert_ok(eddy_join_timeout(h, &r, 5000)); /* it got through */
    assert_int_equal((intptr_t)r, 0);
    setrlimit(RLIMIT_NOFILE, &old);
    close(cfd);
    eddy_close(lfd);
    eddy_rt_free(rt);
}

/* --------------------------------------------------------------- UDP */

static void *udp_echo(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (int i = 0; i < 100; i++) {
        char buf[64];
        struct sockaddr_storage from;
        ssize_t n = eddy_recvfrom(fd, buf, sizeof buf, &from);
        if (n < 0)
            return (void *)(intptr_t)n;
        socklen_t len = from.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                  : sizeof(struct sockaddr_in6);
        if (eddy_sendto(fd, buf, (size_t)n, (struct sockaddr *)&from, len) != n)
            return (void *)1;
    }
    return NULL;
}

static void udp_datagrams_echo_between_a_task_and_a_thread(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(2);
    int sfd, cfd;
    assert_ok(eddy_udp_bind(&sfd, "127.0.0.1", 0));
    assert_ok(eddy_udp_bind(&cfd, "127.0.0.1", 0));
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)eddy_local_port(sfd)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    eddy_task *h;
    assert_ok(eddy_rt_spawn(rt, &h, udp_echo, (void *)(intptr_t)sfd));
    for (int i = 0; i < 100; i++) {
        char out[32], in[64];
        int len = snprintf(out, sizeof out, "datagram %d", i);
        assert_int_equal(eddy_sendto(cfd, out, (size_t)len, (struct sockaddr *)&to, sizeof to), len);
        ssize_t n = eddy_recvfrom(cfd, in, sizeof in, NULL);
        assert_int_equal(n, len);
        assert_memory_equal(in, out, (size_t)len);
    }
    void *r;
    assert_ok(eddy_join_timeout(h, &r, 5000));
    assert_null(r);
    eddy_close(sfd);
    eddy_close(cfd);
    eddy_rt_free(rt);
}


/* -------------------------------------------------------- Unix stream */

static void *unix_echo_once(void *arg)
{
    int lfd = (int)(intptr_t)arg, c;
    if (eddy_tcp_accept(lfd, &c, NULL) < 0)
        return (void *)1;
    char buf[64];
    ssize_t n = eddy_read(c, buf, sizeof buf);
    intptr_t rc = n > 0 && eddy_write(c, buf, (size_t)n) == n ? 0 : 2;
    eddy_close(c);
    return (void *)rc;
}

static void *unix_client(void *arg)
{
    const char *path = arg;
    int fd;
    int rc = eddy_unix_connect(&fd, path, 5000);
    if (rc < 0)
        return (void *)(intptr_t)rc;
    char buf[16] = { 0 };
    intptr_t r = 3;
    if (eddy_write(fd, "unix", 4) == 4 && eddy_read(fd, buf, sizeof buf) == 4 &&
        memcmp(buf, "unix", 4) == 0)
        r = 0;
    eddy_close(fd);
    return (void *)r;
}

static void unix_stream_sockets_connect_and_echo(void **state)
{
    (void)state;
    eddy_rt *rt = new_rt_small_stack(2);
    char path[64];
    snprintf(path, sizeof path, "/tmp/eddy-test-%d.sock", (int)getpid());
    unlink(path);
    int lfd;
    assert_ok(eddy_unix_listen(&lfd, path, 16));
    eddy_task *s, *c;
    assert_ok(eddy_rt_spawn(rt, &s, unix_echo_once, (void *)(intptr_t)lfd));
    assert_ok(eddy_rt_spawn(rt, &c, unix_client, path));
    void *r;
    assert_ok(eddy_join_timeout(c, &r, 10000));
    assert_int_equal((intptr_t)r, 0);
    assert_ok(eddy_join_timeout(s, &r, 10000));
    assert_int_equal((intptr_t)r, 0);
    eddy_close(lfd);
    unlink(path);
    /* nobody listens there any more */
    int fd;
    assert_err(eddy_unix_connect(&fd, path, 1000), -ENOENT);
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    assert_err(eddy_unix_listen(&fd, longpath, 1), -ENAMETOOLONG);
    assert_err(eddy_unix_listen(&fd, "", 1), -EINVAL);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(thousands_of_concurrent_echo_connections_round_trip_intact),
    cmocka_unit_test(connect_to_a_closed_port_is_refused),
    cmocka_unit_test(connect_to_a_listener_with_a_full_backlog_times_out),
    cmocka_unit_test(abort_of_tasks_blocked_in_accept_and_connect_returns_ecanceled),
    cmocka_unit_test(a_connect_with_a_huge_timeout_waits_until_aborted),
    cmocka_unit_test(a_peer_reset_reads_as_econnreset),
    cmocka_unit_test(half_close_lets_the_peer_read_eof_then_answer),
    cmocka_unit_test(an_unknown_host_name_is_reported),
    cmocka_unit_test(accept_out_of_descriptors_backs_off_and_recovers),
    cmocka_unit_test(udp_datagrams_echo_between_a_task_and_a_thread),
    cmocka_unit_test(unix_stream_sockets_connect_and_echo),
};

EDDY_TEST_MAIN(tests, 240)
