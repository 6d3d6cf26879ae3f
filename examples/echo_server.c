/*
 * examples/echo_server.c: a TCP echo server, one task per connection.
 *
 *   echo_server [PORT=9000] [WORKERS=0 (one per CPU)]
 *
 * Each worker gets its own SO_REUSEPORT listener and accept task, so the
 * kernel spreads connections over the workers' reactors. Stops on SIGINT.
 *
 * Environment:
 *   HOG_MS=N         N > 0: one more task spins N ms on the CPU without ever
 *                    yielding, then sleeps N ms, forever: a stuck worker, as in
 *                    the network peers' "run.sh stuck" (NET_PEERS, see
 *                    benches/run_net.sh).
 *   EDDY_IO_BACKEND  "epoll" or "uring" (default: epoll).
 *   PIN_WORKERS=1    pin worker i to CPU i (eddy_rt_config.pin_workers).
 */
#include <eddy.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint16_t port = 9000;
static long hog_ms;
static atomic_bool stopping; /* set at SIGINT: ends the hog's spin early */

static void *connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096]; /* as the peers' echo servers (Tokio, Go) */
    ssize_t n;
    while ((n = eddy_read(fd, buf, sizeof buf)) > 0)
        if (eddy_write(fd, buf, (size_t)n) < 0)
            break;
    eddy_close(fd);
    return NULL;
}

static void *acceptor(void *arg)
{
    (void)arg;
    int lfd, rc = eddy_tcp_listen(&lfd, NULL, port, 4096, EDDY_REUSEPORT);
    if (rc < 0) {
        fprintf(stderr, "echo_server: listen on port %u: %s\n", port, eddy_strerror(rc));
        return (void *)1;
    }
    for (;;) {
        int c;
        rc = eddy_tcp_accept(lfd, &c, NULL);
        if (rc < 0)
            break; /* aborted at shutdown */
        if (eddy_spawn(NULL, connection, (void *)(intptr_t)c) < 0)
            eddy_close(c);
    }
    eddy_close(lfd);
    return NULL;
}

static void *hog(void *arg)
{
    (void)arg;
    do {
        uint64_t end = eddy_now_ns() + (uint64_t)hog_ms * 1000000u; /* CLOCK_MONOTONIC */
        while (eddy_now_ns() < end && !atomic_load_explicit(&stopping, memory_order_relaxed))
            ; /* never yields: its worker runs nothing else meanwhile */
    } while (eddy_sleep_ms(hog_ms) == 0); /* -ECANCELED at shutdown */
    return NULL;
}

static void *spawn_acceptors(void *arg)
{
    unsigned n = eddy_rt_workers(eddy_rt_current());
    eddy_task **h = arg;
    for (unsigned i = 0; i < n; i++) {
        eddy_spawn_opts o;
        eddy_spawn_opts_init(&o);
        o.worker = (int)i; /* one listener per worker's reactor */
        o.name = "acceptor";
        if (eddy_spawn_ex(&h[i], acceptor, NULL, &o) < 0)
            return (void *)1;
    }
    if (hog_ms > 0 && eddy_spawn(NULL, hog, NULL) < 0)
        return (void *)1;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        char *end;
        long p = strtol(argv[1], &end, 10);
        if (*end != '\0' || p < 1 || p > 65535) {
            fprintf(stderr, "echo_server: bad port '%s' (1-65535)\n", argv[1]);
            return 2;
        }
        port = (uint16_t)p;
    }
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    if (argc > 2)
        cfg.workers = (unsigned)strtoul(argv[2], NULL, 10);
    const char *io = getenv("EDDY_IO_BACKEND"), *hog_env = getenv("HOG_MS");
    if (io != NULL && strcmp(io, "epoll") == 0)
        cfg.io_backend = EDDY_IO_EPOLL;
    else if (io != NULL && strcmp(io, "uring") == 0)
        cfg.io_backend = EDDY_IO_URING;
    else if (io != NULL && *io != '\0') {
        fprintf(stderr, "echo_server: EDDY_IO_BACKEND must be epoll or uring, got '%s'\n", io);
        return 2;
    }
    hog_ms = hog_env != NULL ? strtol(hog_env, NULL, 10) : 0;
    const char *pin = getenv("PIN_WORKERS");
    cfg.pin_workers = pin != NULL && strcmp(pin, "1") == 0;
    eddy_rt *rt;
    int rc = eddy_rt_new(&rt, &cfg);
    if (rc < 0) {
        fprintf(stderr, "echo_server: %s\n", eddy_strerror(rc));
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask */
    eddy_task *h[1024];
    void *failed = NULL;
    eddy_rt_block_on(rt, spawn_acceptors, h, &failed);
    if (failed == NULL) {
        printf("echo_server: port %u, %u workers", port, eddy_rt_workers(rt));
        if (hog_ms > 0)
            printf(", hog %ld ms", hog_ms);
        printf("\n");
        fflush(stdout);
        int sig;
        sigwait(&set, &sig);
        atomic_store(&stopping, true);
    }
    eddy_rt_free(rt); /* aborts the acceptors and connections */
    return failed != NULL;
}
