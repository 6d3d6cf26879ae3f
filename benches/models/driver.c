/*
 * benches/models/driver.c: `eddy-bench models` (driver.h). Every point of
 * the plan runs under every model in turn, round after round (rounds
 * interleaved, so a noisy minute on a shared machine hits all models
 * alike), each run in a fresh process. The load generator of the server
 * and mixed workloads runs here, on an eddy runtime of its own.
 */
#include "driver.h"

#include <curl/curl.h>
#include <eddy.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "loadgen.h"
#include "proc.h"
#include "report.h"
#include "work.h"

/* One point of the plan. */
typedef struct kase {
    const char *workload;
    char variant[32];
    const char *x_name;
    unsigned x;
    /* server and mixed */
    unsigned pipeline, rate;
    char path[96], heavy_path[96];
    unsigned heavy_every;
    /* fanout */
    unsigned n;
} kase;

struct ctx {
    const models_opts *o;
    eddy_rt *lg_rt;
    mrec *recs;
    size_t nrecs, cap;
    unsigned runs_done, runs_total;
    unsigned failed;
    unsigned ncpu;
    uint16_t origin_port;
};

static void progress(struct ctx *c, const kase *k, enum model m, unsigned round,
                     const mrec *r)
{
    c->runs_done++;
    fprintf(stderr, "[%u/%u] %s %s %s=%u %s", c->runs_done, c->runs_total, k->workload,
            k->variant, k->x_name, k->x, model_name(m));
    if (c->o->rounds > 1)
        fprintf(stderr, " round %u", round + 1);
    if (!r->ok)
        fprintf(stderr, ": FAILED (%s)\n", r->note);
    else
        fprintf(stderr, ": %.0f req/s, p99 %.2f ms, %llu errors\n", r->throughput, r->p99_ms,
                (unsigned long long)r->errors);
}

static void rec_init(mrec *r, const kase *k, enum model m)
{
    memset(r, 0, sizeof *r);
    r->workload = k->workload;
    r->model = model_name(m);
    snprintf(r->variant, sizeof r->variant, "%s", k->variant);
    r->x_name = k->x_name;
    r->x = k->x;
    r->rounds = 1;
    r->offered_rate = k->rate;
    r->ok = true;
}

static void fail_rec(mrec *r, const char *fmt, const char *what)
{
    r->ok = false;
    snprintf(r->note, sizeof r->note, fmt, what);
}

static void rec_latency(mrec *r, const hist *h)
{
    r->p50_ms = (double)hist_percentile(h, 50) / 1e6;
    r->p90_ms = (double)hist_percentile(h, 90) / 1e6;
    r->p99_ms = (double)hist_percentile(h, 99) / 1e6;
    r->p999_ms = (double)hist_percentile(h, 99.9) / 1e6;
}

static void rec_rusage(mrec *r, const struct rusage *ru)
{
    r->vcsw = ru->ru_nvcsw;
    r->ivcsw = ru->ru_nivcsw;
}

/* The model's own arguments for serve / fanout. */
static size_t model_args(const struct ctx *c, enum model m, unsigned pool, char *args[],
                         size_t n, char *wbuf, char *pbuf)
{
    args[n++] = "--model";
    args[n++] = (char *)model_name(m);
    if (m == MODEL_MULTI_REACTOR || m == MODEL_THREAD_PER_CORE) {
        snprintf(wbuf, 16, "%u", c->o->workers);
        args[n++] = "--workers";
        args[n++] = wbuf;
    }
    if (m == MODEL_THREAD_POOL) {
        snprintf(pbuf, 16, "%u", pool);
        args[n++] = "--pool";
        args[n++] = pbuf;
    }
    return n;
}

/* ------------------------------------------------------ server / mixed */

struct lg_call {
    lg_opts o;
    lg_result *r;
    int rc;
};

static void *lg_task(void *arg)
{
    struct lg_call *l = arg;
    l->rc = lg_run(&l->o, l->r);
    return NULL;
}

static void run_server(struct ctx *c, const kase *k, enum model m, mrec *r)
{
    const models_opts *o = c->o;
    rec_init(r, k, m);
    char wbuf[16], pbuf[16];
    char *args[16] = { "serve", "--port", "0" };
    size_t na = model_args(c, m, o->pool, args, 3, wbuf, pbuf);
    if (o->pin && model_is_eddy(m))
        args[na++] = "--pin";
    args[na] = NULL;
    child ch;
    int rc = child_start(&ch, args);
    if (rc < 0) {
        fail_rec(r, "cannot start the server: %s", strerror(-rc));
        return;
    }
    char line[256];
    int port = 0;
    rc = child_line(&ch, line, sizeof line, 15000);
    if (rc != 1 || sscanf(line, "ready %d", &port) != 1) {
        struct rusage ru;
        child_finish(&ch, NULL, 0, 2000, &ru);
        fail_rec(r, "the server did not start (%s)", rc == -ETIMEDOUT ? "timed out" : "exited");
        return;
    }
    lg_result *res = malloc(sizeof *res);
    if (res == NULL) {
        struct rusage ru;
        child_finish(&ch, NULL, 0, 2000, &ru);
        fail_rec(r, "%s", "out of memory");
        return;
    }
    struct lg_call call = { .r = res };
    lg_opts_init(&call.o);
    call.o.port = (uint16_t)port;
    call.o.conns = k->x;
    call.o.pipeline = k->pipeline;
    call.o.rate = k->rate;
    call.o.path = k->path;
    call.o.duration_ms = o->duration_ms;
    call.o.warmup_ms = o->warmup_ms;
    if (k->heavy_path[0] != '\0') {
        call.o.heavy_path = k->heavy_path;
        call.o.heavy_every = k->heavy_every;
    }
    sampler sm;
    uint64_t from = eddy_now_ns() + (uint64_t)o->warmup_ms * 1000000u;
    bool sampling = sampler_start(&sm, ch.pid, from, from + (uint64_t)o->duration_ms * 1000000u) == 0;
    rc = eddy_rt_block_on(c->lg_rt, lg_task, &call, NULL);
    if (rc == 0)
        rc = call.rc;
    if (sampling) {
        sampler_hwm_now(&sm); /* the server still lives: its peak so far */
        sampler_stop(&sm);
        r->rss_kb = sm.hwm_kb;
    }
    char rest[1024];
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    int st = child_finish(&ch, rest, sizeof rest, 30000, &ru);
    if (rc < 0) {
        fail_rec(r, "the load generator failed: %s", eddy_strerror(rc));
    } else if (st != 0) {
        snprintf(r->note, sizeof r->note, "the server exited with status %d", st);
        r->ok = false;
    }
    r->requests = res->requests;
    r->errors = res->errors;
    r->wall_s = res->secs;
    r->throughput = res->secs > 0 ? (double)res->requests / res->secs : 0;
    rec_latency(r, &res->lat);
    if (sampling) {
        r->cpu_s = sm.cpu_to - sm.cpu_from;
        r->threads = sm.threads_peak;
    }
    rec_rusage(r, &ru);
    /* its own reading of its peak RSS at its end, when it gave one */
    char *hw = strstr(rest, "rss_kb ");
    long kb;
    if (hw != NULL && sscanf(hw, "rss_kb %ld", &kb) == 1 && kb > r->rss_kb)
        r->rss_kb = kb;
    char *sh = strstr(rest, "share ");
    if (sh != NULL && sh[6] != '-') {
        size_t l = strcspn(sh + 6, "\n");
        snprintf(r->share, sizeof r->share, "%.*s", (int)(l < sizeof r->share - 1 ? l : sizeof r->share - 1),
                 sh + 6);
    }
    if (res->timeouts > 0 && r->ok)
        snprintf(r->note, sizeof r->note, "%llu requests unanswered for 5 s or the whole window",
                 (unsigned long long)res->timeouts);
    free(res);
}

/* ------------------------------------------------------------- fanout */

static void run_fanout(struct ctx *c, const kase *k, enum model m, mrec *r)
{
    const models_opts *o = c->o;
    rec_init(r, k, m);
    char url[128], nbuf[16], cbuf[16], wbuf[16], pbuf[16];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/?delay=%u", c->origin_port, o->delay_ms);
    snprintf(nbuf, sizeof nbuf, "%u", k->n);
    snprintf(cbuf, sizeof cbuf, "%u", k->x);
    char *args[20] = { "fanout", "--url", url, "--n", nbuf, "--c", cbuf };
    size_t na = model_args(c, m, o->fanout_pool, args, 7, wbuf, pbuf);
    args[na] = NULL;
    unsigned eff_c = m == MODEL_THREAD_POOL && o->fanout_pool < k->x ? o->fanout_pool : k->x;
    r->ideal_s = (double)k->n * o->delay_ms / 1000.0 / k->x;
    double bound_s = (double)k->n * o->delay_ms / 1000.0 / eff_c;
    child ch;
    int rc = child_start(&ch, args);
    if (rc < 0) {
        fail_rec(r, "cannot start the client: %s", strerror(-rc));
        return;
    }
    sampler sm;
    bool sampling = sampler_start(&sm, ch.pid, 0, UINT64_MAX) == 0;
    char line[512];
    int timeout_ms = (int)(bound_s * 10 * 1000) + 60000;
    rc = child_line(&ch, line, sizeof line, timeout_ms);
    if (sampling) {
        sampler_hwm_now(&sm); /* it may still live after its result line */
        sampler_stop(&sm);
        r->rss_kb = sm.hwm_kb;
    }
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    int st = child_finish(&ch, NULL, 0, 10000, &ru);
    unsigned long long req = 0, err = 0;
    long threads = 0;
    char share[64] = "-";
    if (rc != 1 || sscanf(line, "result requests=%llu errors=%llu wall_s=%lf p50_ms=%lf "
                                "p90_ms=%lf p99_ms=%lf p999_ms=%lf threads=%ld share=%63s",
                          &req, &err, &r->wall_s, &r->p50_ms, &r->p90_ms, &r->p99_ms,
                          &r->p999_ms, &threads, share) != 9) {
        fail_rec(r, "the client %s", rc == -ETIMEDOUT ? "did not finish in time" : "failed");
        return;
    }
    if (st != 0) {
        snprintf(r->note, sizeof r->note, "the client exited with status %d", st);
        r->ok = false;
    }
    r->requests = req;
    r->errors = err;
    r->throughput = r->wall_s > 0 ? (double)req / r->wall_s : 0;
    r->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    rec_rusage(r, &ru);
    r->threads = sampling && sm.threads_peak > threads ? sm.threads_peak : threads;
    char *hw = strstr(line, " rss_kb=");
    long kb;
    if (hw != NULL && sscanf(hw, " rss_kb=%ld", &kb) == 1 && kb > r->rss_kb)
        r->rss_kb = kb;
    if (strcmp(share, "-") != 0) {
        for (char *p = share; *p != '\0'; p++)
            if (*p == ',')
                *p = ' ';
        snprintf(r->share, sizeof r->share, "%s", share);
    }
}

static int origin_start(struct ctx *c, child *ch)
{
    char *args[] = { "origin", "--port", "0", "--workers", "1", NULL };
    int rc = child_start(ch, args);
    if (rc < 0)
        return rc;
    char line[128];
    int port;
    rc = child_line(ch, line, sizeof line, 15000);
    if (rc != 1 || sscanf(line, "ready %d", &port) != 1) {
        struct rusage ru;
        child_finish(ch, NULL, 0, 2000, &ru);
        return -EIO;
    }
    c->origin_port = (uint16_t)port;
    return 0;
}

/* --------------------------------------------------------------- plan */

static size_t plan(const models_opts *o, kase *ks, size_t cap)
{
    size_t n = 0;
#define ADD() (n < cap ? &ks[n++] : NULL)
    if (o->workloads & WL_FANOUT) {
        for (unsigned i = 0; i < o->fanout_c.n; i++) {
            kase *k = ADD();
            if (k == NULL)
                break;
            *k = (kase){ .workload = "fanout", .x_name = "c", .x = o->fanout_c.v[i] };
            snprintf(k->variant, sizeof k->variant, "d%ums", o->delay_ms);
            unsigned nn = o->fanout_per_c * k->x;
            k->n = nn > o->fanout_min_n ? nn : o->fanout_min_n;
        }
    }
    if (o->workloads & WL_SERVER) {
        const struct { const point_list *l; const char *v; unsigned pipe, rate; } vs[] = {
            { &o->conns, "closed", 1, 0 },
            { &o->conns_p16, "closed-p16", 16, 0 },
            { &o->conns_open, "open", 1, o->rate },
        };
        for (size_t j = 0; j < sizeof vs / sizeof vs[0]; j++)
            for (unsigned i = 0; i < vs[j].l->n; i++) {
                kase *k = ADD();
                if (k == NULL)
                    break;
                *k = (kase){ .workload = "server", .x_name = "conns", .x = vs[j].l->v[i],
                             .pipeline = vs[j].pipe, .rate = vs[j].rate };
                snprintf(k->variant, sizeof k->variant, "%s", vs[j].v);
                snprintf(k->path, sizeof k->path, "/");
            }
    }
    return n;
#undef ADD
}

static size_t plan_mixed(const models_opts *o, double ns_per_kib, unsigned ncpu, kase *ks,
                         size_t n, size_t cap)
{
    if (!(o->workloads & WL_MIXED))
        return n;
    unsigned kib = (unsigned)(o->cpu_us * 1000.0 / ns_per_kib + 0.5);
    if (kib == 0 && o->cpu_us > 0)
        kib = 1;
    /* skewed-open: a constant rate that needs mixed_load % of the CPUs for
       the mean request's work alone (one request in heavy_every does skew
       times the CPU), the same for every model */
    double mean_us = o->cpu_us * (1.0 + (double)(o->skew - 1) / o->heavy_every);
    unsigned rate = mean_us > 0 ? (unsigned)(o->mixed_load / 100.0 * ncpu * 1e6 / mean_us) : 0;
    static const char *const variants[] = { "uniform", "skewed", "skewed-open" };
    for (int v = 0; v < 3; v++)
        for (unsigned i = 0; i < o->mixed_conns.n && n < cap; i++) {
            if (v == 2 && rate == 0)
                break;
            kase *k = &ks[n++];
            *k = (kase){ .workload = "mixed", .x_name = "conns", .x = o->mixed_conns.v[i],
                         .pipeline = 1, .rate = v == 2 ? rate : 0 };
            snprintf(k->variant, sizeof k->variant, "%s", variants[v]);
            snprintf(k->path, sizeof k->path, "/work?kib=%u&wait_us=%u", kib, o->wait_us);
            if (v > 0) {
                snprintf(k->heavy_path, sizeof k->heavy_path, "/work?kib=%u&wait_us=%u",
                         kib * o->skew, o->wait_us);
                k->heavy_every = o->heavy_every;
            }
        }
    return n;
}

/* ---------------------------------------------------------- aggregate */

static int cmp_thr(const void *a, const void *b)
{
    const mrec *x = a, *y = b;
    return x->throughput < y->throughput ? -1 : x->throughput > y->throughput;
}

/* The median round's record (by throughput), with the range and round
   count; a failed round makes the point failed. */
static mrec aggregate(mrec *rounds, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!rounds[i].ok)
            return rounds[i];
    qsort(rounds, n, sizeof *rounds, cmp_thr);
    mrec m = rounds[n / 2];
    m.rounds = n;
    m.thr_min = rounds[0].throughput;
    m.thr_max = rounds[n - 1].throughput;
    return m;
}

static int push(struct ctx *c, const mrec *r)
{
    if (c->nrecs == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        mrec *p = realloc(c->recs, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        c->recs = p;
        c->cap = cap;
    }
    c->recs[c->nrecs++] = *r;
    return 0;
}

/* --------------------------------------------------------------- meta */

static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[512];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        char *v = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && v != NULL) {
            v += 2;
            v[strcspn(v, "\n")] = '\0';
            snprintf(out, cap, "%s", v);
            break;
        }
    }
    if (f != NULL)
        fclose(f);
}

/* mkdir -p dir, then a file made and removed in it: a run of many minutes
   should not end on "cannot write". 0 or -errno. */
static int out_dir_ready(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.eddy-bench-probe", dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    close(fd);
    unlink(path);
    return 0;
}

static void join_args(int argc, char **argv, char *out, size_t cap)
{
    size_t used = (size_t)snprintf(out, cap, "eddy-bench");
    for (int i = 0; i < argc && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, " %s", argv[i]);
}

/* ---------------------------------------------------------------- main */

int models_main(int argc, char **argv)
{
    models_opts o;
    char err[256];
    int rc = models_parse(argc, argv, &o, stdout, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "eddy-bench models: %s\n", err);
        fprintf(stderr, "Try 'eddy-bench models --help'.\n");
        return 2;
    }
    rc = out_dir_ready(o.out);
    if (rc < 0) {
        fprintf(stderr, "eddy-bench models: cannot write into --out %s: %s\n", o.out,
                strerror(-rc));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    unsigned long nofile = raise_nofile();
    curl_global_init(CURL_GLOBAL_DEFAULT);

    struct ctx c = { .o = &o, .ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN) };
    double ns_per_kib = work_ns_per_kib();
    kase ks[128];
    size_t nk = plan(&o, ks, 128);
    nk = plan_mixed(&o, ns_per_kib, c.ncpu, ks, nk, 128);
    unsigned nmodels = 0;
    for (int m = 0; m < MODEL_COUNT; m++)
        nmodels += (o.models >> m) & 1;
    c.runs_total = (unsigned)nk * nmodels * o.rounds;
    /* connections the sweep holds at once here, plus the server's own */
    unsigned need = 0;
    for (size_t i = 0; i < nk; i++)
        need = ks[i].x > need ? ks[i].x : need;
    if (nofile < need + 64)
        fprintf(stderr, "eddy-bench models: warning: the fd limit is %lu, the sweep wants %u "
                        "connections; larger points will fail to connect\n", nofile, need);

    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = o.lg_workers;
    rc = eddy_rt_new(&c.lg_rt, &cfg);
    if (rc < 0) {
        fprintf(stderr, "eddy-bench models: cannot start the load generator: %s\n",
                eddy_strerror(rc));
        return 1;
    }
    fprintf(stderr, "eddy-bench models: %s, %zu points x %u models x %u rounds = %u runs "
                    "(1 KiB of hashing = %.2f us here)\n",
            o.full ? "full" : "quick", nk, nmodels, o.rounds, c.runs_total, ns_per_kib / 1000);

    child origin;
    bool origin_up = false;
    mrec *rounds = calloc(o.rounds, sizeof *rounds);
    if (rounds == NULL)
        return 1;
    for (size_t i = 0; i < nk; i++) {
        const kase *k = &ks[i];
        bool fan = strcmp(k->workload, "fanout") == 0;
        if (fan && !origin_up) {
            rc = origin_start(&c, &origin);
            if (rc < 0) {
                fprintf(stderr, "eddy-bench models: cannot start the origin: %s\n",
                        strerror(-rc));
                c.failed++;
                continue;
            }
            origin_up = true;
        }
        if (!fan && origin_up) {
            struct rusage ru;
            child_finish(&origin, NULL, 0, 10000, &ru);
            origin_up = false;
        }
        /* rounds interleaved: every model once, then again */
        mrec per[MODEL_COUNT][16];
        for (unsigned r = 0; r < o.rounds; r++)
            for (int m = 0; m < MODEL_COUNT; m++) {
                if (!((o.models >> m) & 1))
                    continue;
                mrec *rr = &per[m][r < 16 ? r : 15];
                if (fan)
                    run_fanout(&c, k, (enum model)m, rr);
                else
                    run_server(&c, k, (enum model)m, rr);
                progress(&c, k, (enum model)m, r, rr);
            }
        for (int m = 0; m < MODEL_COUNT; m++) {
            if (!((o.models >> m) & 1))
                continue;
            unsigned nr = o.rounds < 16 ? o.rounds : 16;
            memcpy(rounds, per[m], nr * sizeof *rounds);
            mrec agg = aggregate(rounds, nr);
            if (!agg.ok)
                c.failed++;
            if (push(&c, &agg) < 0)
                return 1;
        }
    }
    if (origin_up) {
        struct rusage ru;
        child_finish(&origin, NULL, 0, 10000, &ru);
    }
    free(rounds);
    eddy_rt_free(c.lg_rt);

    char cmd[1024], cpu[256], kernel[256], date[64], notes[2048], eddyv[32];
    join_args(argc, argv, cmd, sizeof cmd);
    cpu_model(cpu, sizeof cpu);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(kernel, sizeof kernel, "%s %s", u.sysname, u.release);
    else
        snprintf(kernel, sizeof kernel, "unknown");
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(eddyv, sizeof eddyv, "%s", eddy_version_string());
    snprintf(notes, sizeof notes,
             "Each point ran %u round(s), the models interleaved round by round, each run in "
             "fresh processes on loopback; the median round by throughput is shown, with the "
             "range. server/mixed: %u ms measured after %u ms of warm-up; the load generator "
             "(eddy, %u worker(s)) shares the machine with the server. Closed-loop latency "
             "is per request as sent; open-loop latency counts from each request's due time "
             "(no coordinated omission). CPU is the server's (or the fan-out client's) user + "
             "system time in the measured window (fan-out: its whole run). mixed: %u us of "
             "CPU (hashing; 1 KiB = %.2f us here) then %u us of waiting per request; skewed: "
             "one connection in %u does %ux the CPU; skewed-open offers a constant rate that "
             "needs %u%% of the CPUs for that work. fanout: n = max(%u c, %u) GETs, "
             "origin delay %u ms, thread-pool %u threads; server thread-pool %u threads.",
             o.rounds, o.duration_ms, o.warmup_ms, o.lg_workers, o.cpu_us, ns_per_kib / 1000,
             o.wait_us, o.heavy_every, o.skew, o.mixed_load, o.fanout_per_c, o.fanout_min_n, o.delay_ms,
             o.fanout_pool, o.pool);
    report_meta meta = {
        .command = cmd, .mode = o.full ? "full" : "quick", .date = date, .cpu_model = cpu,
        .cpus = c.ncpu, .kernel = kernel, .eddy_version = eddyv,
        .curl_version = curl_version(), .compiler = "gcc " __VERSION__, .notes = notes,
    };
    printf("\n");
    report_print_table(stdout, c.recs, c.nrecs);
    int plots = 0;
    rc = report_write(o.out, c.recs, c.nrecs, &meta, &plots, err, sizeof err);
    free(c.recs);
    curl_global_cleanup();
    if (rc < 0) {
        fprintf(stderr, "eddy-bench models: cannot write the report: %s\n", err);
        return 1;
    }
    printf("\nwrote %s/results.json, results.csv, meta.json, report.md%s\n", o.out,
           plots > 0 ? " and the plots" : " (no plots: gnuplot not found; apt-get install gnuplot-nox)");
    if (c.failed > 0) {
        fprintf(stderr, "eddy-bench models: %u point(s) could not complete\n", c.failed);
        return 1;
    }
    return 0;
}
