/*
 * benches/models/serve.c: `eddy-bench serve` (serve.h). The threads models
 * run server_threads.c; the eddy models run eddy_http_serve with one, N,
 * or N shared-nothing workers. One handler (work.c) for all of them.
 */
#include "serve.h"

#include <eddy.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models.h"
#include "proc.h"
#include "server_threads.h"
#include "work.h"

#define MAX_WORKERS 64

static _Atomic uint64_t served[MAX_WORKERS + 1]; /* per worker; the last: threads */

static size_t answer_of(const char *path, const char *query, char *body, size_t cap,
                        int *status, work_req *w)
{
    int rc = work_parse(path, query, w);
    if (rc == -ENOENT) {
        *status = 404;
        return (size_t)snprintf(body, cap, "not found\n");
    }
    if (rc < 0) {
        *status = 400;
        return (size_t)snprintf(body, cap, "bad request\n");
    }
    *status = 200;
    return work_answer(w, body, cap);
}

/* ------------------------------------------------------ threads models */

static size_t threads_answer(const char *method, const char *path, const char *query,
                             char *body, size_t cap, int *status, void *ud)
{
    (void)method;
    (void)ud;
    work_req w;
    size_t n = answer_of(path, query, body, cap, status, &w);
    if (*status == 200 && w.wait_us > 0) {
        struct timespec ts = { w.wait_us / 1000000, (long)(w.wait_us % 1000000) * 1000 };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    atomic_fetch_add_explicit(&served[MAX_WORKERS], 1, memory_order_relaxed);
    return n;
}

/* --------------------------------------------------------- eddy models */

static int eddy_handler(eddy_http_req *req, eddy_http_resp *resp, void *ud)
{
    (void)ud;
    char body[64];
    int status;
    work_req w;
    size_t n = answer_of(eddy_http_req_path(req), eddy_http_req_query(req), body, sizeof body,
                         &status, &w);
    if (status == 200 && w.wait_us > 0)
        eddy_sleep_until_ns(eddy_now_ns() + (uint64_t)w.wait_us * 1000u);
    int wi = eddy_worker_index();
    atomic_fetch_add_explicit(&served[wi >= 0 && wi < MAX_WORKERS ? wi : MAX_WORKERS], 1,
                              memory_order_relaxed);
    if (status != 200)
        eddy_http_resp_status(resp, status);
    return eddy_http_resp_body(resp, body, n);
}

struct eddy_side {
    eddy_http_server_opts opts;
    eddy_http_server *srv;
};

static void *eddy_start(void *arg)
{
    struct eddy_side *e = arg;
    return (void *)(intptr_t)eddy_http_serve(&e->srv, &e->opts, eddy_handler, NULL);
}

static void *eddy_stop(void *arg)
{
    eddy_http_server_stop(arg, 1000);
    return NULL;
}

/* ------------------------------------------------------------- command */

static void usage(FILE *f)
{
    fprintf(f, "usage: eddy-bench serve --model M [--port P] [--workers N] [--pool N]\n"
               "                        [--listen per-worker|shared] [--pin]\n"
               "  M: threads, thread-pool, single-loop, multi-reactor, thread-per-core\n");
}

static int parse_uint(const char *name, const char *s, unsigned long max, unsigned long *out)
{
    if (parse_ulong(s, 0, max, out) < 0) {
        fprintf(stderr, "eddy-bench serve: %s must be a number from 0 to %lu, got '%s'\n", name,
                max, s);
        return -EINVAL;
    }
    return 0;
}

/* Blocks until stdin ends: the driver closes its end to stop us. */
static void wait_stdin_eof(void)
{
    char b[64];
    for (;;) {
        ssize_t n = read(0, b, sizeof b);
        if (n == 0 || (n < 0 && errno != EINTR))
            return;
    }
}

int serve_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' }, { "port", required_argument, NULL, 'p' },
        { "workers", required_argument, NULL, 'w' }, { "pool", required_argument, NULL, 'P' },
        { "listen", required_argument, NULL, 'l' }, { "pin", no_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    int model = -1;
    unsigned long port = 0, workers = 0, pool = SERVE_POOL_DEFAULT;
    int listen_mode = EDDY_HTTP_LISTEN_PER_WORKER;
    bool pin = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm':
            model = model_parse(optarg);
            if (model < 0) {
                fprintf(stderr, "eddy-bench serve: unknown model '%s'\n", optarg);
                usage(stderr);
                return 2;
            }
            break;
        case 'p':
            if (parse_uint("--port", optarg, 65535, &port) < 0)
                return 2;
            break;
        case 'w':
            if (parse_uint("--workers", optarg, MAX_WORKERS, &workers) < 0)
                return 2;
            break;
        case 'P':
            if (parse_uint("--pool", optarg, 100000, &pool) < 0 || pool == 0) {
                if (pool == 0)
                    fprintf(stderr, "eddy-bench serve: --pool must be at least 1\n");
                return 2;
            }
            break;
        case 'l':
            if (strcmp(optarg, "per-worker") == 0)
                listen_mode = EDDY_HTTP_LISTEN_PER_WORKER;
            else if (strcmp(optarg, "shared") == 0)
                listen_mode = EDDY_HTTP_LISTEN_SHARED;
            else {
                fprintf(stderr, "eddy-bench serve: --listen must be per-worker or shared, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'i':
            pin = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "eddy-bench serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (model < 0) {
        fprintf(stderr, "eddy-bench serve: --model is required\n");
        usage(stderr);
        return 2;
    }
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    if (!model_is_eddy((enum model)model)) {
        struct st_server *s;
        int rc = st_start(&s, (uint16_t)port, model == MODEL_THREADS ? 0 : (unsigned)pool,
                          threads_answer, NULL);
        if (rc < 0) {
            fprintf(stderr, "eddy-bench serve: cannot listen on port %lu: %s\n", port,
                    strerror(-rc));
            return 1;
        }
        printf("ready %d\n", st_port(s));
        fflush(stdout);
        wait_stdin_eof();
        st_stop(s);
        printf("served %llu\nshare -\nrss_kb %ld\n",
               (unsigned long long)atomic_load(&served[MAX_WORKERS]), proc_hwm_kb(getpid()));
        return 0;
    }

    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = model == MODEL_SINGLE_LOOP ? 1 : (unsigned)workers;
    cfg.work_stealing = model != MODEL_THREAD_PER_CORE;
    cfg.pin_workers = pin;
    eddy_rt *rt;
    int rc = eddy_rt_new(&rt, &cfg);
    if (rc < 0) {
        fprintf(stderr, "eddy-bench serve: cannot start the runtime: %s\n", eddy_strerror(rc));
        return 1;
    }
    struct eddy_side e;
    eddy_http_server_opts_init(&e.opts);
    e.opts.port = (uint16_t)port;
    e.opts.listen = listen_mode;
    e.opts.max_requests = 0;            /* as the threads server: no limit */
    e.opts.keepalive_timeout_ms = 120000;
    void *res = NULL;
    eddy_rt_block_on(rt, eddy_start, &e, &res);
    rc = (int)(intptr_t)res;
    if (rc < 0) {
        fprintf(stderr, "eddy-bench serve: cannot listen on port %lu: %s\n", port,
                eddy_strerror(rc));
        eddy_rt_free(rt);
        return 1;
    }
    printf("ready %d\n", eddy_http_server_port(e.srv));
    fflush(stdout);
    wait_stdin_eof();
    eddy_rt_block_on(rt, eddy_stop, e.srv, NULL);
    unsigned nw = eddy_rt_workers(rt);
    eddy_rt_free(rt);
    uint64_t total = 0;
    for (unsigned i = 0; i <= MAX_WORKERS; i++)
        total += atomic_load(&served[i]);
    printf("served %llu\nshare ", (unsigned long long)total);
    for (unsigned i = 0; i < nw && i < MAX_WORKERS; i++)
        printf("%s%.3f", i ? "," : "",
               total ? (double)atomic_load(&served[i]) / (double)total : 0.0);
    printf("\nrss_kb %ld\n", proc_hwm_kb(getpid()));
    return 0;
}
