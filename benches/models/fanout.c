/*
 * benches/models/fanout.c: the fanout workload (fanout.h): the local origin,
 * and n GETs at a concurrency c under each of the five models.
 *
 * Every model takes request indices from one shared counter until n are
 * taken, so they all do the same n requests; only who waits differs: a
 * blocked thread per connection (threads, thread-pool) or a suspended task
 * on a few workers (the eddy models).
 */
#include "fanout.h"
#include "proc.h"
#include "work.h"

#include <curl/curl.h>
#include <eddy.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define THREAD_STACK (256 * 1024) /* curl's blocking calls fit well within */
#define STRIPES 16                /* threads models: histograms shared by k % 16 */
#define MAX_WORKERS 64u                /* fanout_result.per_worker's entries */
#define TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 30000L
#define DELAY_MAX 60000

_Static_assert(sizeof ((fanout_result *)0)->per_worker == MAX_WORKERS * sizeof(uint64_t),
               "MAX_WORKERS follows fanout_result.per_worker");

/* A strict decimal in [lo, hi]: no sign, no blanks, nothing after. */
static int parse_num(const char *prog, const char *name, const char *s, unsigned long lo,
                     unsigned long hi, unsigned long *out)
{
    if (parse_ulong(s, lo, hi, out) < 0) {
        fprintf(stderr, "%s: %s must be a number from %lu to %lu, got '%s'\n", prog, name, lo, hi,
                s);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ the origin */

/* delay=MS from the query: 0 when absent, -1 when not a number 0..60000. */
static long query_delay(const char *q)
{
    unsigned ms = 0;
    int rc = work_query_uint(q, "delay", DELAY_MAX, &ms);
    return rc == -EINVAL ? -1 : (long)ms;
}

static int origin_handle(eddy_http_req *req, eddy_http_resp *resp, void *ud)
{
    (void)ud;
    eddy_http_resp_header(resp, "Content-Type", "text/plain");
    long ms = query_delay(eddy_http_req_query(req));
    if (ms < 0) {
        eddy_http_resp_status(resp, 400);
        return eddy_http_resp_body(resp, "bad delay\n", 10);
    }
    if (ms > 0) {
        int rc = eddy_sleep_ms(ms); /* the task waits, the worker serves others */
        if (rc < 0)
            return rc;
    }
    return eddy_http_resp_body(resp, "ok\n", 3);
}

struct origin {
    eddy_http_server_opts opts;
    eddy_http_server *srv;
};

static void *origin_start(void *arg)
{
    struct origin *og = arg;
    return (void *)(intptr_t)eddy_http_serve(&og->srv, &og->opts, origin_handle, NULL);
}

static void *origin_stop(void *arg)
{
    struct origin *og = arg;
    return (void *)(intptr_t)eddy_http_server_stop(og->srv, 1000);
}

/* Blocks the calling (main) thread, not a worker, until stdin ends or a
   signal of sfd arrives. Input on stdin is read and ignored. */
static void wait_for_end(int sfd)
{
    struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[1].revents != 0) {
            struct signalfd_siginfo si; /* consumed: not delivered once unblocked */
            ssize_t n = read(sfd, &si, sizeof si);
            (void)n;
            return;
        }
        if (p[0].revents & POLLNVAL)
            return; /* no stdin at all: nobody could keep us alive */
        if (p[0].revents != 0) {
            char buf[256];
            ssize_t n = read(0, buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                return;
        }
    }
}

int origin_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "port", required_argument, NULL, 'p' },
        { "workers", required_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 },
    };
    struct origin og;
    eddy_http_server_opts_init(&og.opts);
    og.opts.host = "127.0.0.1";
    og.opts.port = 0;
    og.opts.keepalive_timeout_ms = 120000; /* the clients' pools stay warm between runs */
    og.opts.max_requests = 0;              /* keep-alive connections reused without end */
    og.opts.backlog = 65535;               /* a burst of 10,000 connects; the kernel caps it */
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1; /* the origin must cost the machine little */
    unsigned long v;
    int ch;
    optind = 0; /* a full rescan: the subcommands may run more than once */
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'p' && parse_num("origin", "--port", optarg, 0, 65535, &v) == 0)
            og.opts.port = (uint16_t)v;
        else if (ch == 'w' && parse_num("origin", "--workers", optarg, 0, 1024, &v) == 0)
            cfg.workers = (unsigned)v;
        else
            goto usage;
    }
    if (optind < argc) {
        fprintf(stderr, "origin: unexpected argument '%s'\n", argv[optind]);
        goto usage;
    }
    (void)raise_nofile(); /* 10,000 connections must fit */

    /* SIGTERM and SIGINT are read from a signalfd; the workers inherit the
       mask, so no worker is interrupted by them */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    eddy_rt *rt = NULL;
    int rc = sfd < 0 ? -errno : eddy_rt_new(&rt, &cfg);
    void *res = NULL;
    if (rc == 0 && (rc = eddy_rt_block_on(rt, origin_start, &og, &res)) == 0)
        rc = (int)(intptr_t)res;
    if (rc < 0) {
        fprintf(stderr, "origin: cannot serve on 127.0.0.1:%u: %s\n", og.opts.port,
                eddy_strerror(rc));
    } else {
        printf("ready %d\n", eddy_http_server_port(og.srv));
        fflush(stdout);
        wait_for_end(sfd);
        eddy_rt_block_on(rt, origin_stop, &og, NULL); /* a task of its runtime stops it */
    }
    eddy_rt_free(rt);
    if (sfd >= 0)
        close(sfd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc < 0 ? 1 : 0;
usage:
    fprintf(stderr, "usage: eddy-bench origin [--port P] [--workers N]\n");
    return 2;
}

/* --------------------------------------------------------------- the run */

/* One eddy worker's tallies: only tasks running on that worker touch them,
   and a task cannot move between reading eddy_worker_index() and the
   update (it moves only when it suspends), so no lock is needed. */
struct wslot {
    uint64_t done;
    hist h;
};

/* The threads models' histograms: thread k records into stripe k % 16. */
struct stripe {
    pthread_mutex_t lock;
    hist h;
    struct run *run;
};

struct run {
    const fanout_opts *o;
    atomic_uint next;              /* the next request index to take */
    atomic_bool told;              /* the first failure was reported */
    atomic_uint_fast64_t ok;       /* answered 200 */
    _Atomic uint64_t first, last;  /* earliest request start, latest end */
    _Atomic uint64_t peak;         /* threads of the process, at most */
    /* threads models */
    pthread_mutex_t go_lock;
    pthread_cond_t go_cond;
    bool go;
    struct stripe *stripes;
    unsigned nstripes;
    /* eddy models */
    eddy_http_client *client;
    struct wslot *slots;
    eddy_task **tasks;
    unsigned nworkers;
    int spawn_rc;                  /* the last failed spawn's error */
    unsigned spawned;
};

/* Threads of this process now, 0 if unknown. */
static unsigned threads_now(void)
{
    long n = proc_threads(getpid());
    return n > 0 ? (unsigned)n : 0;
}

/* *a = max(*a, v), or min when less. */
static void fold(_Atomic uint64_t *a, uint64_t v, bool less)
{
    uint64_t cur = atomic_load(a);
    while ((less ? v < cur : v > cur) && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

static void note_peak(struct run *run)
{
    fold(&run->peak, threads_now(), false);
}

/* Folds one thread's or task's span into the run's (once per taker, not
   per request: the atomics stay off the hot path). */
static void span_merge(struct run *run, uint64_t first, uint64_t last)
{
    if (first != UINT64_MAX) {
        fold(&run->first, first, true);
        fold(&run->last, last, false);
    }
}

/* ----------------------------------------------------- threads, pool */

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    (void)ud;
    return size * nmemb;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* One connection's thread: its own easy handle (kept alive between its
   requests), one blocking request at a time. */
static void *thread_main(void *arg)
{
    struct stripe *st = arg;
    struct run *run = st->run;
    pthread_mutex_lock(&run->go_lock);
    while (!run->go)
        pthread_cond_wait(&run->go_cond, &run->go_lock);
    pthread_mutex_unlock(&run->go_lock);
    CURL *easy = curl_easy_init();
    if (easy == NULL)
        return NULL; /* the other threads take its share */
    curl_easy_setopt(easy, CURLOPT_URL, run->o->url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    uint64_t first = UINT64_MAX, last = 0;
    while (atomic_fetch_add(&run->next, 1) < run->o->n) {
        uint64_t t0 = eddy_now_ns();
        long status = 0;
        CURLcode cc = curl_easy_perform(easy);
        if (cc == CURLE_OK)
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200 && !atomic_exchange(&run->told, true))
            fprintf(stderr, "%s: first failed request: %s (status %ld)\n",
                    model_name(run->o->model), curl_easy_strerror(cc), status);
        uint64_t t1 = eddy_now_ns();
        if (first == UINT64_MAX)
            first = t0;
        last = t1;
        if (status == 200) {
            atomic_fetch_add_explicit(&run->ok, 1, memory_order_relaxed);
            pthread_mutex_lock(&st->lock);
            hist_record(&st->h, t1 - t0);
            pthread_mutex_unlock(&st->lock);
        }
    }
    span_merge(run, first, last);
    curl_easy_cleanup(easy);
    return NULL;
}

static int run_threads(struct run *run, unsigned nthreads, hist *lat)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return -EIO;
    run->nstripes = nthreads < STRIPES ? nthreads : STRIPES;
    run->stripes = calloc(run->nstripes, sizeof *run->stripes);
    pthread_t *tids = calloc(nthreads, sizeof *tids);
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (run->stripes == NULL || tids == NULL || err != 0) {
        free(run->stripes);
        free(tids);
        return err != 0 ? -err : -ENOMEM;
    }
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    for (unsigned s = 0; s < run->nstripes; s++) {
        pthread_mutex_init(&run->stripes[s].lock, NULL);
        hist_init(&run->stripes[s].h);
        run->stripes[s].run = run;
    }
    /* every thread waits for the last one to exist: they all live at once
       (the peak is the model's) and the clock starts with the first request */
    unsigned made = 0;
    for (; made < nthreads; made++)
        if ((err = pthread_create(&tids[made], &attr, thread_main,
                                  &run->stripes[made % run->nstripes])) != 0)
            break;
    pthread_attr_destroy(&attr);
    if (made < nthreads)
        fprintf(stderr, "%s: only %u of %u threads could be created (%s)\n",
                model_name(run->o->model), made, nthreads, strerror(err));
    note_peak(run);
    pthread_mutex_lock(&run->go_lock);
    run->go = true;
    pthread_cond_broadcast(&run->go_cond);
    pthread_mutex_unlock(&run->go_lock);
    for (unsigned k = 0; k < made; k++)
        pthread_join(tids[k], NULL);
    for (unsigned s = 0; s < run->nstripes; s++) {
        hist_merge(lat, &run->stripes[s].h);
        pthread_mutex_destroy(&run->stripes[s].lock);
    }
    free(run->stripes);
    free(tids);
    return made > 0 ? 0 : -err;
}

/* ------------------------------------------------------------ eddy models */

static void *fetch_task(void *arg)
{
    struct run *run = arg;
    uint64_t first = UINT64_MAX, last = 0;
    while (atomic_fetch_add(&run->next, 1) < run->o->n) {
        uint64_t t0 = eddy_now_ns();
        eddy_http_response *resp = NULL;
        int rc = eddy_http_get(run->client, run->o->url, &resp);
        uint64_t t1 = eddy_now_ns();
        bool good = rc == 0 && resp->status == 200;
        eddy_http_response_free(resp);
        if (first == UINT64_MAX)
            first = t0;
        last = t1;
        int w = eddy_worker_index();
        if (good && w >= 0 && (unsigned)w < run->nworkers) {
            atomic_fetch_add_explicit(&run->ok, 1, memory_order_relaxed);
            run->slots[w].done++;
            hist_record(&run->slots[w].h, t1 - t0);
        }
    }
    span_merge(run, first, last);
    return NULL;
}

/* The root task: spawns the c fetchers (round-robin over the workers when
   tasks never move: else they would all stay on this one) and joins them. */
static void *fetch_root(void *arg)
{
    struct run *run = arg;
    unsigned c = run->o->c;
    eddy_task **t = run->tasks;
    eddy_spawn_opts so;
    eddy_spawn_opts_init(&so);
    for (unsigned k = 0; k < c; k++) {
        if (run->o->model == MODEL_THREAD_PER_CORE)
            so.worker = (int)(k % run->nworkers);
        int rc = eddy_spawn_ex(&t[k], fetch_task, run, &so);
        if (rc < 0) {
            run->spawn_rc = rc;
            t[k] = NULL;
        } else {
            run->spawned++;
        }
    }
    note_peak(run);
    for (unsigned k = 0; k < c; k++)
        if (t[k] != NULL)
            eddy_join(t[k], NULL);
    return NULL;
}

static int run_eddy(struct run *run, fanout_result *r)
{
    const fanout_opts *o = run->o;
    unsigned w = o->model == MODEL_SINGLE_LOOP ? 1 : o->workers;
    if (w == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        w = cpus < 1 ? 1 : cpus > (long)MAX_WORKERS ? (unsigned)MAX_WORKERS : (unsigned)cpus;
    }
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = w;
    cfg.work_stealing = o->model != MODEL_THREAD_PER_CORE;
    eddy_http_client_opts co;
    eddy_http_client_opts_init(&co);
    co.compression = false;           /* as the curl easy handles: plain bodies */
    co.max_idle_connections = o->c;   /* every connection kept for reuse */
    co.total_timeout_ms = TIMEOUT_MS;
    co.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    run->slots = calloc(w, sizeof *run->slots);
    run->tasks = calloc(o->c, sizeof *run->tasks);
    for (unsigned k = 0; run->slots != NULL && k < w; k++)
        hist_init(&run->slots[k].h);
    eddy_rt *rt = NULL;
    int rc = run->slots == NULL || run->tasks == NULL ? -ENOMEM
                                                      : eddy_http_client_new(&run->client, &co);
    if (rc == 0)
        rc = eddy_rt_new(&rt, &cfg);
    if (rc == 0) {
        run->nworkers = eddy_rt_workers(rt) < w ? eddy_rt_workers(rt) : w;
        note_peak(run);
        rc = eddy_rt_block_on(rt, fetch_root, run, NULL);
    }
    eddy_rt_free(rt);
    eddy_http_client_free(run->client);
    if (rc == 0 && run->spawned == 0)
        rc = run->spawn_rc < 0 ? run->spawn_rc : -ENOMEM;
    if (rc == 0 && run->spawn_rc < 0)
        fprintf(stderr, "%s: only %u of %u tasks could be spawned (%s)\n",
                model_name(o->model), run->spawned, o->c, eddy_strerror(run->spawn_rc));
    if (rc == 0) {
        r->nworkers = run->nworkers;
        for (unsigned k = 0; k < run->nworkers; k++) {
            r->per_worker[k] = run->slots[k].done;
            hist_merge(&r->lat, &run->slots[k].h);
        }
    }
    free(run->slots);
    free(run->tasks);
    return rc;
}

int fanout_run(const fanout_opts *o, fanout_result *r)
{
    if (o == NULL || r == NULL || o->url == NULL || o->n < 1 || o->c < 1 ||
        (unsigned)o->model >= MODEL_COUNT ||
        (o->model != MODEL_SINGLE_LOOP && o->workers > MAX_WORKERS))
        return -EINVAL;
    memset(r, 0, sizeof *r);
    hist_init(&r->lat);
    struct run *run = calloc(1, sizeof *run);
    if (run == NULL)
        return -ENOMEM;
    run->o = o; /* calloc's zeros start the other counters */
    atomic_init(&run->first, UINT64_MAX);
    pthread_mutex_init(&run->go_lock, NULL);
    pthread_cond_init(&run->go_cond, NULL);
    note_peak(run);
    int rc;
    if (model_is_eddy(o->model)) {
        rc = run_eddy(run, r);
    } else {
        unsigned pool = o->pool != 0 ? o->pool : FANOUT_POOL_DEFAULT;
        unsigned nthreads = o->model == MODEL_THREAD_POOL && pool < o->c ? pool : o->c;
        rc = run_threads(run, nthreads, &r->lat);
    }
    uint64_t first = atomic_load(&run->first), last = atomic_load(&run->last);
    r->requests = atomic_load(&run->ok);
    r->errors = o->n - r->requests; /* refused, timed out, a status other than 200 */
    r->wall_s = last > first ? (double)(last - first) / 1e9 : 0;
    r->threads_peak = (unsigned)atomic_load(&run->peak);
    pthread_cond_destroy(&run->go_cond);
    pthread_mutex_destroy(&run->go_lock);
    free(run);
    return rc;
}

/* ------------------------------------------------------------- the command */

static int fanout_usage(void)
{
    fprintf(stderr, "usage: eddy-bench fanout --model M --url URL --n N --c C [--workers W] "
                    "[--pool P]\n");
    return 2;
}

int fanout_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' }, { "url", required_argument, NULL, 'u' },
        { "n", required_argument, NULL, 'x' },     { "c", required_argument, NULL, 'x' },
        { "workers", required_argument, NULL, 'x' }, { "pool", required_argument, NULL, 'x' },
        { NULL, 0, NULL, 0 },
    };
    fanout_opts o = { .model = MODEL_COUNT };
    /* the numeric options, in longopts' order after --model and --url */
    const struct { const char *name; unsigned long lo, hi; unsigned *to; } num[] = {
        { "--n", 1, 10000000, &o.n },         { "--c", 1, 100000, &o.c },
        { "--workers", 0, MAX_WORKERS, &o.workers }, { "--pool", 0, 100000, &o.pool },
    };
    unsigned long v = 0;
    int ch, at = 0, m;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "", longopts, &at)) != -1) {
        if (ch == 'm' && (m = model_parse(optarg)) >= 0) {
            o.model = (enum model)m;
        } else if (ch == 'm') {
            fprintf(stderr, "fanout: unknown model '%s'\n", optarg);
            return fanout_usage();
        } else if (ch == 'u' && (strncmp(optarg, "http://", 7) == 0 ||
                                 strncmp(optarg, "https://", 8) == 0)) {
            o.url = optarg;
        } else if (ch == 'u') {
            fprintf(stderr, "fanout: --url must be an http:// URL, got '%s'\n", optarg);
            return fanout_usage();
        } else if (ch == 'x' && at >= 2 &&
                   parse_num("fanout", num[at - 2].name, optarg, num[at - 2].lo, num[at - 2].hi,
                             &v) == 0) {
            *num[at - 2].to = (unsigned)v;
        } else {
            return fanout_usage(); /* getopt or parse_num named the problem */
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fanout: unexpected argument '%s'\n", argv[optind]);
        return fanout_usage();
    }
    const char *missing = o.model == MODEL_COUNT ? "--model" : o.url == NULL ? "--url"
                          : o.n == 0 ? "--n" : o.c == 0 ? "--c" : NULL;
    if (missing != NULL) {
        fprintf(stderr, "fanout: %s is required\n", missing);
        return fanout_usage();
    }
    (void)raise_nofile(); /* 10,000 connections must fit */
    fanout_result *r = malloc(sizeof *r);
    if (r == NULL)
        return 1;
    int rc = fanout_run(&o, r);
    if (rc < 0) {
        fprintf(stderr, "fanout: %s could not run: %s\n", model_name(o.model), eddy_strerror(rc));
        free(r);
        return 1;
    }
    char share[MAX_WORKERS * 8 + 2] = "-";
    size_t len = 0;
    for (unsigned k = 0; k < r->nworkers; k++) {
        double f = r->requests > 0 ? (double)r->per_worker[k] / (double)r->requests : 0;
        len += (size_t)snprintf(share + len, sizeof share - len, "%s%.3f", k > 0 ? "," : "", f);
    }
    printf("result requests=%llu errors=%llu wall_s=%.6f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
           "p999_ms=%.3f threads=%u share=%s rss_kb=%ld\n",
           (unsigned long long)r->requests, (unsigned long long)r->errors, r->wall_s,
           (double)hist_percentile(&r->lat, 50) / 1e6, (double)hist_percentile(&r->lat, 90) / 1e6,
           (double)hist_percentile(&r->lat, 99) / 1e6,
           (double)hist_percentile(&r->lat, 99.9) / 1e6, r->threads_peak, share,
           proc_hwm_kb(getpid())); /* its peak RSS, read by itself: exact */
    fflush(stdout);
    free(r);
    return 0;
}
