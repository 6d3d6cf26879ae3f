/*
 * tests/chaos/chaos_echo.c: a seeded chaos load against an echo server on
 * the same runtime, then a count of what it left behind (issue 9's
 * scenario 2). The server runs a task per accepted connection that reads
 * up to 64 KiB and writes the same bytes back until a read returns <= 0,
 * then closes. Client tasks open connections until the time is up, each
 * doing one of:
 *   echo      1 B .. 1 MiB, a sender task and the reader on one fd, every
 *             byte checked
 *   lockstep  the same in 64 KiB steps from one task
 *   halfclose write, shutdown(SHUT_WR), read the echo up to EOF
 *   reset     write, then close with SO_LINGER 0 (the server sees a reset)
 *   abort     a lockstep echo of 1 MiB aborted after 0-3 ms
 *   closewait eddy_close of the fd while another task is blocked reading it
 *   timeout   a read that times out, then a small echo on the same fd
 *   refused   a connect to a closed port
 * When the load stops and every client fd is closed, every server task must
 * end and the process must hold the fds it held before: the program fails
 * (exit 1) on any task left alive, fd left open, byte changed or call that
 * answered what it should not. tools/soak.sh runs it for minutes.
 *
 * Usage: eddy_chaos [--seconds N] [--seed S] [--backend epoll|uring]
 *                   [--workers N] [--clients N] [--quiet]
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <eddy.h>

#include "io/fd_entry.h"

int eddy_test_count_fds(void); /* tests/helpers.c */

enum action { ECHO, LOCKSTEP, HALFCLOSE, RESET, ABORT, CLOSEWAIT, TIMEOUT, REFUSED, NACTIONS };
static const char *const action_names[NACTIONS] = {
    "echo", "lockstep", "halfclose", "reset", "abort", "closewait", "timeout", "refused",
};

#define CHUNK (64 * 1024)

static struct {
    uint16_t port, closed_port;
    uint64_t deadline_ns;
    atomic_int live_conns;          /* server tasks alive */
    atomic_long served;             /* connections accepted */
    atomic_long done[NACTIONS];     /* client actions finished */
    atomic_long bytes;              /* echoed bytes checked */
    atomic_long errors;
    bool quiet;
} g;

static void error_at(const char *what, long detail)
{
    atomic_fetch_add(&g.errors, 1);
    if (atomic_load(&g.errors) <= 20)
        fprintf(stderr, "chaos: %s (%ld)\n", what, detail);
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The byte at offset i of a stream keyed key. */
static inline unsigned char pattern(uint64_t key, size_t i)
{
    return (unsigned char)((i * 131u) ^ (key >> ((i & 7) * 8)));
}

static void fill(unsigned char *buf, uint64_t key, size_t off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(key, off + i);
}

static bool same(const unsigned char *buf, uint64_t key, size_t off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != pattern(key, off + i))
            return false;
    return true;
}

/* ------------------------------------------------------------- server */

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(CHUNK);
    for (;;) {
        ssize_t n = buf != NULL ? eddy_read(fd, buf, CHUNK) : -ENOMEM;
        if (n <= 0)
            break;
        if (eddy_write(fd, buf, (size_t)n) != n)
            break;
    }
    free(buf);
    eddy_close(fd);
    atomic_fetch_sub(&g.live_conns, 1);
    return NULL;
}

static void *accept_loop(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd;
        int rc = eddy_tcp_accept(lfd, &fd, NULL);
        if (rc == -EBADF || rc == -ECANCELED)
            return NULL; /* the listener was closed: the load is over */
        if (rc < 0) {
            error_at("accept", rc);
            eddy_sleep_ms(1);
            continue;
        }
        atomic_fetch_add(&g.live_conns, 1);
        atomic_fetch_add(&g.served, 1);
        if (eddy_spawn(NULL, serve_conn, (void *)(intptr_t)fd) < 0) {
            eddy_close(fd);
            atomic_fetch_sub(&g.live_conns, 1);
            error_at("spawn", 0);
        }
    }
}

/* ------------------------------------------------------------- clients */

static int connect_server(int *fd)
{
    int rc = eddy_tcp_connect(fd, "127.0.0.1", g.port, 5000);
    if (rc < 0)
        error_at("connect", rc);
    return rc;
}

/* Writes n bytes of key's stream in steps, from its own task. */
struct sender {
    int fd;
    uint64_t key;
    size_t n;
};

static void *send_stream(void *arg)
{
    struct sender *s = arg;
    unsigned char *buf = malloc(CHUNK);
    if (buf == NULL)
        return (void *)(intptr_t)-ENOMEM;
    for (size_t off = 0; off < s->n;) {
        size_t k = s->n - off < CHUNK ? s->n - off : CHUNK;
        fill(buf, s->key, off, k);
        ssize_t w = eddy_write(s->fd, buf, k);
        if (w != (ssize_t)k) {
            free(buf);
            return (void *)(intptr_t)(w < 0 ? w : -EIO);
        }
        off += k;
    }
    free(buf);
    return NULL;
}

/* Reads n bytes of key's stream from off on, checking each. 0 or -errno
   (-EILSEQ for a changed byte, -EPIPE for an early EOF). */
static int read_stream(int fd, uint64_t key, size_t off, size_t n, unsigned char *buf)
{
    size_t end = off + n;
    while (off < end) {
        size_t want = end - off < CHUNK ? end - off : CHUNK;
        ssize_t r = eddy_read(fd, buf, want);
        if (r <= 0)
            return r == 0 ? -EPIPE : (int)r;
        if (!same(buf, key, off, (size_t)r))
            return -EILSEQ;
        off += (size_t)r;
        atomic_fetch_add(&g.bytes, r);
    }
    return 0;
}

static size_t echo_size(uint64_t *rnd)
{
    /* log-uniform from 1 B to 1 MiB: small ones are most of them */
    unsigned bits = (unsigned)(next_rand(rnd) % 21);
    return 1 + (size_t)(next_rand(rnd) % ((size_t)1 << bits));
}

static void act_echo(uint64_t *rnd, unsigned char *buf)
{
    int fd;
    if (connect_server(&fd) < 0)
        return;
    struct sender s = { .fd = fd, .key = next_rand(rnd), .n = echo_size(rnd) };
    eddy_task *t;
    if (eddy_spawn(&t, send_stream, &s) < 0) {
        error_at("spawn sender", 0);
        eddy_close(fd);
        return;
    }
    int rc = read_stream(fd, s.key, 0, s.n, buf);
    void *sent = NULL;
    int jrc = eddy_join(t, &sent);
    if (rc < 0 || jrc < 0 || sent != NULL)
        error_at("echo", rc < 0 ? rc : jrc < 0 ? jrc : (long)(intptr_t)sent);
    eddy_close(fd);
}

/* One task writes a step and reads it back; returns 0 or -errno. */
static int lockstep(int fd, uint64_t key, size_t n, unsigned char *buf)
{
    for (size_t off = 0; off < n;) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        fill(buf, key, off, k);
        ssize_t w = eddy_write(fd, buf, k);
        if (w != (ssize_t)k)
            return w < 0 ? (int)w : -EIO;
        int rc = read_stream(fd, key, off, k, buf);
        if (rc < 0)
            return rc;
        off += k;
    }
    return 0;
}

static void act_lockstep(uint64_t *rnd, unsigned char *buf)
{
    int fd;
    if (connect_server(&fd) < 0)
        return;
    int rc = lockstep(fd, next_rand(rnd), echo_size(rnd), buf);
    if (rc < 0)
        error_at("lockstep", rc);
    eddy_close(fd);
}

static void act_halfclose(uint64_t *rnd, unsigned char *buf)
{
    int fd;
    if (connect_server(&fd) < 0)
        return;
    uint64_t key = next_rand(rnd);
    size_t n = 1 + next_rand(rnd) % CHUNK; /* fits the socket buffers both ways */
    fill(buf, key, 0, n);
    int rc = eddy_write(fd, buf, n) == (ssize_t)n ? 0 : -EIO;
    if (rc == 0)
        rc = eddy_shutdown(fd, SHUT_WR);
    if (rc == 0)
        rc = read_stream(fd, key, 0, n, buf);
    if (rc == 0) {
        ssize_t r = eddy_read(fd, buf, 1);
        rc = r == 0 ? 0 : r < 0 ? (int)r : -EPROTO; /* EOF after the echo */
    }
    if (rc < 0)
        error_at("halfclose", rc);
    eddy_close(fd);
}

static void act_reset(uint64_t *rnd, unsigned char *buf)
{
    int fd;
    if (connect_server(&fd) < 0)
        return;
    size_t n = 1 + next_rand(rnd) % CHUNK;
    fill(buf, 0, 0, n);
    ssize_t w = eddy_write(fd, buf, n);
    if (w != (ssize_t)n)
        error_at("reset write", w);
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    eddy_close(fd);
}

struct aborted {
    uint64_t key;
};

static void *lockstep_big(void *arg)
{
    struct aborted *a = arg;
    unsigned char *buf = malloc(CHUNK);
    int fd;
    int rc = buf != NULL ? eddy_tcp_connect(&fd, "127.0.0.1", g.port, 5000) : -ENOMEM;
    if (rc == 0) {
        rc = lockstep(fd, a->key, 1 << 20, buf);
        eddy_close(fd);
    }
    free(buf);
    return (void *)(intptr_t)rc;
}

static void act_abort(uint64_t *rnd, unsigned char *buf)
{
    (void)buf;
    struct aborted a = { .key = next_rand(rnd) };
    eddy_task *t;
    if (eddy_spawn(&t, lockstep_big, &a) < 0) {
        error_at("spawn aborted", 0);
        return;
    }
    eddy_sleep_ms((int64_t)(next_rand(rnd) % 4));
    eddy_abort(t);
    void *res = NULL;
    int rc = eddy_join(t, &res);
    int r = (int)(intptr_t)res;
    /* cancelled somewhere, or done before the abort: nothing else */
    if (rc != -ECANCELED && !(rc == 0 && (r == 0 || r == -ECANCELED)))
        error_at("abort", rc < 0 ? rc : r);
}

struct blocked {
    int fd;
    atomic_int result;
};

static void *read_blocked(void *arg)
{
    struct blocked *b = arg;
    char c;
    atomic_store(&b->result, (int)eddy_read(b->fd, &c, 1));
    return NULL;
}

/* Whether a task waits to read fd (so closing it cannot race its start). */
static bool reader_waits(int fd)
{
    struct fd_entry *e = eddy__fd_entry(fd, false);
    if (e == NULL)
        return false;
    pthread_mutex_lock(&e->lock);
    bool w = e->waiter[DIR_READ] != NULL;
    pthread_mutex_unlock(&e->lock);
    return w;
}

static void act_closewait(uint64_t *rnd, unsigned char *buf)
{
    (void)buf;
    struct blocked b = { .fd = -1, .result = 1 };
    if (connect_server(&b.fd) < 0)
        return;
    eddy_task *t;
    if (eddy_spawn(&t, read_blocked, &b) < 0) {
        error_at("spawn reader", 0);
        eddy_close(b.fd);
        return;
    }
    int i = 0;
    while (!reader_waits(b.fd) && i++ < 2000)
        eddy_sleep_ms(i < 10 ? 0 : 1);
    eddy_sleep_ms((int64_t)(next_rand(rnd) % 2));
    eddy_close(b.fd);
    eddy_join(t, NULL);
    if (atomic_load(&b.result) != -EBADF)
        error_at("closewait: the blocked read returned", atomic_load(&b.result));
}

static void act_timeout(uint64_t *rnd, unsigned char *buf)
{
    int fd;
    if (connect_server(&fd) < 0)
        return;
    ssize_t r = eddy_read_timeout(fd, buf, 16, 1 + (int64_t)(next_rand(rnd) % 5));
    if (r != -ETIMEDOUT)
        error_at("timeout: the read returned", r);
    int rc = lockstep(fd, next_rand(rnd), 100, buf);
    if (rc < 0)
        error_at("timeout: echo after it", rc);
    eddy_close(fd);
}

static void act_refused(uint64_t *rnd, unsigned char *buf)
{
    (void)rnd;
    (void)buf;
    int fd;
    int rc = eddy_tcp_connect(&fd, "127.0.0.1", g.closed_port, 5000);
    if (rc == 0)
        eddy_close(fd); /* somebody else took the port meanwhile */
    else if (rc != -ECONNREFUSED)
        error_at("refused: connect returned", rc);
}

static void (*const actions[NACTIONS])(uint64_t *, unsigned char *) = {
    act_echo, act_lockstep, act_halfclose, act_reset,
    act_abort, act_closewait, act_timeout, act_refused,
};

static void *client(void *arg)
{
    uint64_t rnd = (uint64_t)(uintptr_t)arg;
    unsigned char *buf = malloc(CHUNK);
    if (buf == NULL)
        return NULL;
    while (eddy_now_ns() < g.deadline_ns) {
        /* echoes are half the mix, the rest one of the oddities */
        uint64_t pick = next_rand(&rnd) % (2 * NACTIONS);
        int a = pick < NACTIONS ? (int)(pick % 2 == 0 ? ECHO : LOCKSTEP) : (int)(pick - NACTIONS);
        actions[a](&rnd, buf);
        atomic_fetch_add(&g.done[a], 1);
    }
    free(buf);
    return NULL;
}

/* -------------------------------------------------------------- main */

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

static uint16_t closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0) {
        perror("chaos: a free port");
        exit(2);
    }
    close(s);
    return ntohs(a.sin_port);
}

struct opts {
    double seconds;
    uint64_t seed;
    int backend;
    unsigned workers, clients;
};

static void usage(const char *msg)
{
    fprintf(stderr, "eddy_chaos: %s\nusage: eddy_chaos [--seconds N] [--seed S] "
                    "[--backend epoll|uring] [--workers N] [--clients N] [--quiet]\n", msg);
    exit(2);
}

static struct opts parse(int argc, char **argv)
{
    struct opts o = { .seconds = 3, .seed = 1, .backend = EDDY_IO_AUTO, .workers = 2, .clients = 64 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quiet") == 0) {
            g.quiet = true;
            continue;
        }
        if (i + 1 >= argc)
            usage("an option is missing its value");
        const char *v = argv[++i];
        char *end = NULL;
        if (strcmp(a, "--seconds") == 0)
            o.seconds = strtod(v, &end);
        else if (strcmp(a, "--seed") == 0)
            o.seed = strtoull(v, &end, 10);
        else if (strcmp(a, "--workers") == 0)
            o.workers = (unsigned)strtoul(v, &end, 10);
        else if (strcmp(a, "--clients") == 0)
            o.clients = (unsigned)strtoul(v, &end, 10);
        else if (strcmp(a, "--backend") == 0) {
            if (strcmp(v, "epoll") == 0)
                o.backend = EDDY_IO_EPOLL;
            else if (strcmp(v, "uring") == 0)
                o.backend = EDDY_IO_URING;
            else
                usage("--backend takes epoll or uring");
            continue;
        } else
            usage("unknown option");
        if (end == v || *end != '\0')
            usage("an option's value is not a number");
    }
    if (o.seconds <= 0 || o.workers == 0 || o.clients == 0 || o.clients > 10000)
        usage("--seconds, --workers and --clients must be positive (clients at most 10000)");
    return o;
}

struct run {
    struct opts o;
    int lfd;
};

static void *load(void *arg)
{
    struct run *r = arg;
    eddy_task *acceptor;
    eddy_task **clients = calloc(r->o.clients, sizeof *clients);
    if (clients == NULL || eddy_spawn(&acceptor, accept_loop, (void *)(intptr_t)r->lfd) < 0) {
        error_at("start", 0);
        free(clients);
        return NULL;
    }
    for (unsigned i = 0; i < r->o.clients; i++) {
        uint64_t seed = r->o.seed * 1000003u + i;
        if (eddy_spawn(&clients[i], client, (void *)(uintptr_t)seed) < 0) {
            error_at("spawn client", i);
            clients[i] = NULL;
        }
    }
    for (unsigned i = 0; i < r->o.clients; i++)
        if (clients[i] != NULL)
            eddy_join(clients[i], NULL);
    free(clients);
    /* every client fd is closed: each server task has its EOF or reset on
       the way; give them 5 s to end */
    for (int i = 0; i < 5000 && atomic_load(&g.live_conns) > 0; i++)
        eddy_sleep_ms(1);
    eddy_close(r->lfd); /* ends the acceptor */
    eddy_join(acceptor, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    struct run r = { .o = parse(argc, argv) };
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = r.o.workers;
    cfg.io_backend = r.o.backend;
    eddy_rt *rt;
    int rc = eddy_rt_new(&rt, &cfg);
    if (rc < 0) {
        fprintf(stderr, "eddy_chaos: eddy_rt_new: %s\n", eddy_strerror(rc));
        return 2;
    }
    int fds_before = eddy_test_count_fds();
    long rss_start = rss_kb();
    rc = eddy_tcp_listen(&r.lfd, "127.0.0.1", 0, 4096, 0);
    if (rc < 0) {
        fprintf(stderr, "eddy_chaos: listen: %s\n", eddy_strerror(rc));
        return 2;
    }
    g.port = (uint16_t)eddy_local_port(r.lfd);
    g.closed_port = closed_port();
    g.deadline_ns = eddy_now_ns() + (uint64_t)(r.o.seconds * 1e9);
    rc = eddy_rt_block_on(rt, load, &r, NULL);
    if (rc < 0)
        error_at("block_on", rc);
    int tasks_left = atomic_load(&g.live_conns);
    int fds_left = eddy_test_count_fds() - fds_before;
    long rss_end = rss_kb();
    int shut = eddy_rt_shutdown(rt, 2000); /* -ETIMEDOUT: a task outlived the load */
    eddy_rt_free(rt);
    long total = 0;
    for (int a = 0; a < NACTIONS; a++)
        total += atomic_load(&g.done[a]);
    printf("chaos: backend=%s workers=%u clients=%u seconds=%g seed=%llu connections=%ld "
           "actions=%ld bytes_checked=%ld errors=%ld tasks_left=%d fds_left=%d shutdown=%s "
           "rss_start_kb=%ld rss_end_kb=%ld\n",
           cfg.io_backend == EDDY_IO_URING ? "uring" : cfg.io_backend == EDDY_IO_EPOLL ? "epoll" : "auto",
           r.o.workers, r.o.clients, r.o.seconds, (unsigned long long)r.o.seed,
           atomic_load(&g.served), total, atomic_load(&g.bytes), atomic_load(&g.errors),
           tasks_left, fds_left, shut == 0 ? "ok" : eddy_strerror(shut), rss_start, rss_end);
    if (!g.quiet) {
        printf("chaos: actions:");
        for (int a = 0; a < NACTIONS; a++)
            printf(" %s=%ld", action_names[a], atomic_load(&g.done[a]));
        printf("\n");
    }
    bool ok = atomic_load(&g.errors) == 0 && tasks_left == 0 && fds_left == 0 && shut == 0;
    if (!ok)
        fprintf(stderr, "chaos: FAILED (errors, tasks or fds left, or a shutdown that waited)\n");
    return ok ? 0 : 1;
}
