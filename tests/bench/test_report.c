/*
 * tests/bench/test_report.c: the three-model suite's output module
 * (benches/models/report.c and report_plot.c) on synthetic records:
 * results.json read back with jansson (every record, every key in order,
 * integers, NaN and inf as null), results.csv (header, one line per record,
 * RFC 4180 quoting), meta.json, report.md (command, targets, one section per
 * workload), the plots with gnuplot and without it (PATH without gnuplot,
 * stale images not counted), directories that cannot be made, the printed
 * table, and each target's verdicts (met, short, not measured).
 */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "../benches/models/report.h"

static const char *const keys[] = {
    "workload", "model", "variant", "x_name", "x", "rounds", "throughput", "thr_min",
    "thr_max", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "wall_s", "ideal_s", "offered_rate",
    "cpu_s", "rss_kb", "threads", "vcsw", "ivcsw", "requests", "errors", "share", "ok", "note",
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const report_meta meta = {
    .command = "eddy-bench models --quick --out 'my results'",
    .mode = "quick",
    .date = "2024-05-01T12:00:00Z",
    .cpu_model = "Test CPU @ 3.0GHz",
    .cpus = 2,
    .kernel = "Linux 6.1.0",
    .eddy_version = "0.1.0",
    .curl_version = NULL, /* null in meta.json */
    .compiler = "gcc 12.2.0",
    .notes = "Synthetic records | for the test.",
};

static mrec rec(const char *wl, const char *var, enum model m, double x, double thr, double p99)
{
    mrec r;
    memset(&r, 0, sizeof r);
    r.workload = wl;
    r.model = model_name(m);
    snprintf(r.variant, sizeof r.variant, "%s", var);
    r.x_name = strcmp(wl, "fanout") == 0 ? "c" : "conns";
    r.x = x;
    r.rounds = 3;
    r.throughput = thr;
    r.thr_min = thr * 0.95;
    r.thr_max = thr * 1.05;
    r.p50_ms = p99 / 4;
    r.p90_ms = p99 / 2;
    r.p99_ms = p99;
    r.p999_ms = p99 * 1.5;
    r.wall_s = 1;
    r.cpu_s = 0.5 + m;
    r.rss_kb = 10240L * (m + 1);
    r.threads = 4;
    r.vcsw = 100;
    r.ivcsw = 10;
    r.requests = (uint64_t)(thr * 10);
    r.ok = true;
    if (model_is_eddy(m))
        snprintf(r.share, sizeof r.share, "0.52 0.48");
    return r;
}

/* A run of the whole suite: 4 (workload, variant) groups, 39 records, one
   failed, a note with a comma, one with quotes, a NaN and an inf. */
static size_t suite(mrec *r)
{
    size_t n = 0;
    const double cs[] = { 10, 100, 1000 }, conns[] = { 100, 1000, 10000 };
    for (int m = 0; m < MODEL_COUNT; m++)
        for (int i = 0; i < 3; i++) {
            double ideal = 2000 * 0.02 / cs[i], slow = m == MODEL_THREAD_POOL && cs[i] > 64
                                                     ? cs[i] / 64 : 1.02 + 0.05 * m;
            r[n] = rec("fanout", "d20ms", (enum model)m, cs[i], 2000 / (ideal * slow), 20 * slow);
            r[n].ideal_s = ideal;
            r[n++].wall_s = ideal * slow;
        }
    for (int m = 0; m < MODEL_COUNT; m++)
        for (int i = 0; i < 3; i++)
            r[n++] = rec("server", "closed", (enum model)m, conns[i], 50000.0 * (m + 1) / (i + 1),
                         0.5 * (i + 1) * (MODEL_COUNT - m));
    for (int i = 0; i < 2; i++) {
        r[n++] = rec("server", "open", MODEL_THREADS, conns[i], 20000, 3 + i);
        r[n++] = rec("server", "open", MODEL_MULTI_REACTOR, conns[i], 20000, 1 + i);
    }
    for (int m = 0; m < MODEL_COUNT; m++)
        r[n++] = rec("mixed", "uniform", (enum model)m, 64, 10000.0 * (m + 1), 4);
    snprintf(r[2].note, sizeof r[2].note, "retry, then ok");
    r[17].ok = false; /* server closed threads... */
    snprintf(r[17].note, sizeof r[17].note, "spawn failed: \"EAGAIN\"");
    r[20].p999_ms = NAN;
    r[20].offered_rate = INFINITY;
    return n;
}

/* ---------------------------------------------------------------- files */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static char *tmp_dir(void)
{
    char *t = strdup("/tmp/eddy-test-report-XXXXXX");
    assert_non_null(t);
    assert_non_null(mkdtemp(t));
    return t;
}

static const char *in(char *buf, size_t cap, const char *dir, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

static char *slurp(const char *dir, const char *name)
{
    char p[512];
    FILE *f = fopen(in(p, sizeof p, dir, name), "r");
    if (f == NULL)
        fail_msg("cannot open %s: %s", p, strerror(errno));
    char *s = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&s, &len);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    fclose(m);
    return s;
}

static long file_size(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    return stat(in(p, sizeof p, dir, name), &st) == 0 ? (long)st.st_size : -1;
}

static bool gnuplot_on_path(void)
{
    const char *path = getenv("PATH");
    char *copy = strdup(path != NULL ? path : ""), *save = NULL, p[512];
    bool found = false;
    for (char *d = strtok_r(copy, ":", &save); d != NULL && !found; d = strtok_r(NULL, ":", &save))
        found = access(in(p, sizeof p, d, "gnuplot"), X_OK) == 0;
    free(copy);
    return found;
}

/* ---------------------------------------------------------------- tests */

static void every_file_is_written_and_reads_back(void **state)
{
    (void)state;
    mrec r[64];
    size_t n = suite(r);
    char *tmp = tmp_dir(), dir[256], err[256] = "", p[512];
    int plots = -1;
    snprintf(dir, sizeof dir, "%s/a/b/out", tmp); /* parents made too */
    assert_int_equal(report_write(dir, r, n, &meta, &plots, err, sizeof err), 0);
    assert_string_equal(err, "");

    json_error_t je;
    json_t *a = json_load_file(in(p, sizeof p, dir, "results.json"), 0, &je);
    if (a == NULL)
        fail_msg("results.json: %s (line %d)", je.text, je.line);
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), n);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i);
        assert_true(json_is_object(o));
        assert_int_equal(json_object_size(o), NKEYS);
        void *it = json_object_iter(o);
        for (size_t k = 0; k < NKEYS; k++, it = json_object_iter_next(o, it))
            assert_string_equal(json_object_iter_key(it), keys[k]); /* in order */
        assert_string_equal(json_string_value(json_object_get(o, "model")), r[i].model);
        assert_string_equal(json_string_value(json_object_get(o, "workload")), r[i].workload);
        assert_string_equal(json_string_value(json_object_get(o, "variant")), r[i].variant);
        assert_true(json_is_integer(json_object_get(o, "x")));
        assert_int_equal(json_integer_value(json_object_get(o, "x")), (json_int_t)r[i].x);
        assert_true(fabs(json_real_value(json_object_get(o, "throughput")) - r[i].throughput) <=
                    1e-9 * r[i].throughput);
        assert_int_equal(json_integer_value(json_object_get(o, "rss_kb")), r[i].rss_kb);
        assert_int_equal(json_integer_value(json_object_get(o, "requests")), r[i].requests);
        assert_true(json_is_boolean(json_object_get(o, "ok")));
        assert_int_equal(json_is_true(json_object_get(o, "ok")), r[i].ok);
        assert_string_equal(json_string_value(json_object_get(o, "share")), r[i].share);
        assert_string_equal(json_string_value(json_object_get(o, "note")), r[i].note);
    }
    assert_true(json_is_null(json_object_get(json_array_get(a, 20), "p999_ms")));
    assert_true(json_is_null(json_object_get(json_array_get(a, 20), "offered_rate")));
    assert_false(json_is_true(json_object_get(json_array_get(a, 17), "ok")));
    json_decref(a);

    char *csv = slurp(dir, "results.csv");
    char header[512] = "";
    for (size_t k = 0; k < NKEYS; k++)
        snprintf(header + strlen(header), sizeof header - strlen(header), "%s%s", k ? "," : "",
                 keys[k]);
    strcat(header, "\r\n");
    assert_memory_equal(csv, header, strlen(header));
    size_t lines = 0;
    for (const char *c = csv; *c != '\0'; c++)
        lines += *c == '\n';
    assert_int_equal(lines, n + 1);
    assert_non_null(strstr(csv, ",\"retry, then ok\"\r\n"));
    assert_non_null(strstr(csv, ",\"spawn failed: \"\"EAGAIN\"\"\"\r\n"));
    assert_non_null(strstr(csv, "fanout,threads,d20ms,c,10,3,"));
    free(csv);

    json_t *m = json_load_file(in(p, sizeof p, dir, "meta.json"), 0, &je);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "command")), meta.command);
    assert_string_equal(json_string_value(json_object_get(m, "mode")), "quick");
    assert_string_equal(json_string_value(json_object_get(m, "cpu_model")), meta.cpu_model);
    assert_int_equal(json_integer_value(json_object_get(m, "cpus")), 2);
    assert_true(json_is_null(json_object_get(m, "curl_version")));
    assert_true(json_is_string(json_object_get(m, "gnuplot")) == gnuplot_on_path());
    json_decref(m);

    char *md = slurp(dir, "report.md");
    assert_non_null(strstr(md, "```\neddy-bench models --quick --out 'my results'\n```"));
    assert_non_null(strstr(md, "Synthetic records | for the test."));
    assert_non_null(strstr(md, "| target | measured | verdict |"));
    assert_non_null(strstr(md, "| fanout: multi-reactor within 1.05x of ideal n*d/c at c=100 |"));
    assert_non_null(strstr(md, "Test CPU @ 3.0GHz, 2 CPUs, Linux 6.1.0"));
    const char *fan = strstr(md, "\n## fanout\n"), *srv = strstr(md, "\n## server\n"),
               *mix = strstr(md, "\n## mixed\n");
    assert_true(fan != NULL && srv != NULL && mix != NULL && fan < srv && srv < mix);
    assert_non_null(strstr(md, "| closed | threads | 10000 |"));
    assert_non_null(strstr(md, "FAILED: spawn failed"));

    assert_true(file_size(dir, "plots.gp") > 0);
    assert_true(file_size(dir, "fanout-d20ms-multi-reactor.dat") > 0);
    assert_true(file_size(dir, "fanout-d20ms-ideal.dat") > 0);
    if (gnuplot_on_path()) {
        static const char *const images[] = {
            "fanout-d20ms-throughput", "fanout-d20ms-p99", "fanout-d20ms-wall", "fanout-cpu-rss",
            "server-closed-throughput", "server-closed-p99", "server-cpu-rss",
            "server-open-throughput", "server-open-p99", "mixed-uniform-throughput",
            "mixed-uniform-p99", "mixed-cpu-rss",
        };
        for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
            char name[128];
            snprintf(name, sizeof name, "%s.svg", images[i]);
            if (file_size(dir, name) <= 0)
                fail_msg("%s/%s missing or empty (see gnuplot.log)", dir, name);
            snprintf(name, sizeof name, "%s.png", images[i]);
            if (file_size(dir, name) <= 0)
                fail_msg("%s/%s missing or empty (see gnuplot.log)", dir, name);
        }
        assert_int_equal(plots, 24);
        assert_true(file_size(dir, "server-open-wall.svg") < 0); /* fanout only */
        assert_non_null(strstr(md, "(fanout-d20ms-throughput.svg) ([PNG]"
                                   "(fanout-d20ms-throughput.png))"));
        assert_null(strstr(md, "plots skipped"));
    } else {
        assert_int_equal(plots, 0);
        assert_non_null(strstr(md, "plots skipped: gnuplot not found"));
    }
    free(md);
    rm_rf(tmp);
    free(tmp);
}

static void without_gnuplot_the_plots_are_skipped(void **state)
{
    (void)state;
    mrec r[64];
    size_t n = suite(r);
    char *tmp = tmp_dir(), dir[256], bin[256], err[256] = "";
    int plots = -1;
    snprintf(dir, sizeof dir, "%s/out", tmp);
    snprintf(bin, sizeof bin, "%s/empty-bin", tmp);
    assert_int_equal(mkdir(bin, 0755), 0);
    bool have = gnuplot_on_path();
    if (have) { /* first with, so that the run without finds images there */
        assert_int_equal(report_write(dir, r, n, &meta, &plots, err, sizeof err), 0);
        assert_true(plots > 0);
        assert_true(file_size(dir, "fanout-d20ms-throughput.svg") > 0);
    }
    const char *old = getenv("PATH");
    char *saved = old != NULL ? strdup(old) : NULL;
    assert_int_equal(setenv("PATH", bin, 1), 0);
    plots = -1;
    int rc = report_write(dir, r, n, &meta, &plots, err, sizeof err);
    if (saved != NULL) {
        setenv("PATH", saved, 1);
        free(saved);
    } else {
        unsetenv("PATH");
    }
    assert_int_equal(rc, 0);
    assert_int_equal(plots, 0);
    assert_true(file_size(dir, "fanout-d20ms-throughput.svg") < 0); /* the stale one: gone */
    assert_true(file_size(dir, "plots.gp") > 0);
    assert_true(file_size(dir, "server-closed-threads.dat") > 0);
    assert_true(file_size(dir, "results.json") > 0);
    char *md = slurp(dir, "report.md");
    assert_non_null(strstr(md, "plots skipped: gnuplot not found (apt-get install gnuplot-nox)"));
    assert_null(strstr(md, "!["));
    free(md);
    char *mj = slurp(dir, "meta.json");
    assert_non_null(strstr(mj, "\"gnuplot\": null"));
    free(mj);
    rm_rf(tmp);
    free(tmp);
}

static void nan_and_inf_become_null(void **state)
{
    (void)state;
    mrec r[4] = {
        rec("server", "closed", MODEL_MULTI_REACTOR, 100, NAN, INFINITY),
        rec("server", "closed", MODEL_MULTI_REACTOR, 1000, 5000, 2),
        rec("server", "closed", MODEL_THREADS, NAN, -INFINITY, 2),
        rec("server", "closed", MODEL_THREADS, 2.5, 100, 0),
    };
    r[1].thr_min = NAN;
    char *tmp = tmp_dir(), err[256] = "", p[512];
    int plots = -1;
    assert_int_equal(report_write(tmp, r, 4, NULL, &plots, err, sizeof err), 0);
    json_error_t je;
    json_t *a = json_load_file(in(p, sizeof p, tmp, "results.json"), 0, &je);
    assert_non_null(a);
    assert_int_equal(json_array_size(a), 4);
    assert_true(json_is_null(json_object_get(json_array_get(a, 0), "throughput")));
    assert_true(json_is_null(json_object_get(json_array_get(a, 0), "p99_ms")));
    assert_true(json_is_null(json_object_get(json_array_get(a, 1), "thr_min")));
    assert_true(json_is_real(json_object_get(json_array_get(a, 1), "thr_max")));
    assert_true(json_is_null(json_object_get(json_array_get(a, 2), "x")));
    assert_true(json_is_null(json_object_get(json_array_get(a, 2), "throughput")));
    assert_true(json_is_real(json_object_get(json_array_get(a, 3), "x")));
    assert_true(json_real_value(json_object_get(json_array_get(a, 3), "x")) == 2.5);
    json_decref(a);
    char *csv = slurp(tmp, "results.csv");
    assert_non_null(strstr(csv, "server,multi-reactor,closed,conns,100,3,,")); /* empty: NaN */
    free(csv);
    char *m = slurp(tmp, "meta.json"); /* no meta: every field null */
    assert_non_null(strstr(m, "\"command\": null"));
    free(m);
    if (gnuplot_on_path())
        assert_true(plots > 0); /* the finite points still make plots */
    rm_rf(tmp);
    free(tmp);
}

static void a_directory_that_cannot_be_made_is_an_error(void **state)
{
    (void)state;
    mrec r[1] = { rec("mixed", "uniform", MODEL_THREADS, 64, 1000, 3) };
    char err[256] = "", *tmp = tmp_dir(), p[512];
    int plots = -1;
    int rc = report_write("/proc/forbidden/x", r, 1, &meta, &plots, err, sizeof err);
    assert_true(rc < 0);
    assert_non_null(strstr(err, "cannot create /proc/forbidden"));
    assert_non_null(strstr(err, strerror(-rc)));
    assert_int_equal(plots, 0);
    FILE *f = fopen(in(p, sizeof p, tmp, "file"), "w"); /* a file where a directory goes */
    assert_non_null(f);
    fclose(f);
    strcat(p, "/sub");
    assert_int_equal(report_write(p, r, 1, &meta, &plots, err, sizeof err), -ENOTDIR);
    assert_non_null(strstr(err, "cannot create"));
    assert_int_equal(report_write(NULL, r, 1, &meta, &plots, err, sizeof err), -EINVAL);
    assert_int_equal(report_write("", r, 1, &meta, &plots, NULL, 0), -EINVAL);
    rm_rf(tmp);
    free(tmp);
}

/* ---------------------------------------------------------------- targets */

static int verdict(const mrec *r, size_t n, const char *prefix, char *measured)
{
    target_result t[8];
    size_t nt = report_targets(r, n, t, 8);
    assert_int_equal(nt, 6);
    for (size_t i = 0; i < nt; i++)
        if (strncmp(t[i].name, prefix, strlen(prefix)) == 0) {
            if (measured != NULL)
                strcpy(measured, t[i].measured);
            return t[i].verdict;
        }
    fail_msg("no target named %s...", prefix);
    return -2;
}

static void fanout_targets(void **state)
{
    (void)state;
    const char *ideal = "fanout: multi-reactor within 1.05x", *ahead = "fanout c=1000:";
    char m[128];
    mrec r[4] = { rec("fanout", "d20ms", MODEL_MULTI_REACTOR, 100, 970, 20) };
    r[0].wall_s = 2.06;
    r[0].ideal_s = 2.0;
    assert_int_equal(verdict(r, 1, ideal, m), 1);
    assert_string_equal(m, "1.03x of ideal (2.06 s vs 2.00 s)");
    r[0].wall_s = 2.2;
    assert_int_equal(verdict(r, 1, ideal, m), 0);
    assert_non_null(strstr(m, "1.10x of ideal"));
    r[0].ok = false; /* failed runs are not judged */
    assert_int_equal(verdict(r, 1, ideal, NULL), -1);
    r[0].ok = true;
    r[0].x = 1000;
    assert_int_equal(verdict(r, 1, ideal, NULL), -1);

    /* c=1000: lower wall, CPU and RSS than both threads models */
    r[1] = rec("fanout", "d20ms", MODEL_THREADS, 1000, 100, 20);
    r[2] = rec("fanout", "d20ms", MODEL_THREAD_POOL, 1000, 100, 20);
    r[0].wall_s = 1, r[0].cpu_s = 1, r[0].rss_kb = 1000;
    r[1].wall_s = 2, r[1].cpu_s = 2, r[1].rss_kb = 2000;
    r[2].wall_s = 4, r[2].cpu_s = 5, r[2].rss_kb = 10000;
    assert_int_equal(verdict(r, 2, ahead, NULL), -1); /* no thread-pool */
    assert_int_equal(verdict(r, 3, ahead, m), 1);
    assert_non_null(strstr(m, "wall 0.50x/0.25x, cpu 0.50x/0.20x, rss 0.50x/0.10x"));
    r[0].rss_kb = 2500;
    assert_int_equal(verdict(r, 3, ahead, m), 0);
    assert_non_null(strstr(m, "rss 1.25x/0.25x"));
}

static void mixed_targets(void **state)
{
    (void)state;
    const char *sl = "mixed uniform: multi-reactor >= 1.8x", *tpc = "mixed uniform: multi-reactor within 5%",
               *sk = "mixed skewed:";
    char m[128];
    mrec r[8] = {
        rec("mixed", "uniform", MODEL_MULTI_REACTOR, 16, 500, 3),
        rec("mixed", "uniform", MODEL_SINGLE_LOOP, 16, 400, 3),
        rec("mixed", "uniform", MODEL_MULTI_REACTOR, 64, 1900, 3),
        rec("mixed", "uniform", MODEL_SINGLE_LOOP, 64, 1000, 3),
        rec("mixed", "uniform", MODEL_MULTI_REACTOR, 256, 1, 3), /* no single-loop there */
    };
    assert_int_equal(verdict(r, 1, sl, NULL), -1);
    assert_int_equal(verdict(r, 5, sl, m), 1); /* judged at 64, the largest common x */
    assert_string_equal(m, "1.90x at conns=64");
    r[2].throughput = 1500;
    assert_int_equal(verdict(r, 5, sl, m), 0);
    assert_string_equal(m, "1.50x at conns=64");

    assert_int_equal(verdict(r, 5, tpc, NULL), -1);
    r[5] = rec("mixed", "uniform", MODEL_THREAD_PER_CORE, 64, 1560, 3);
    assert_int_equal(verdict(r, 6, tpc, m), 1); /* 1500 / 1560 = 0.96 */
    r[5].throughput = 1600;
    assert_int_equal(verdict(r, 6, tpc, m), 0);

    assert_int_equal(verdict(r, 6, sk, NULL), -1);
    r[6] = rec("mixed", "skewed", MODEL_MULTI_REACTOR, 64, 1400, 5);
    r[7] = rec("mixed", "skewed", MODEL_THREAD_PER_CORE, 64, 1000, 8);
    assert_int_equal(verdict(r, 8, sk, m), 1);
    assert_non_null(strstr(m, "1.40x throughput"));
    r[6].p99_ms = 9; /* faster, but a worse tail */
    assert_int_equal(verdict(r, 8, sk, NULL), 0);
    r[6].p99_ms = 5;
    r[6].throughput = 1200;
    assert_int_equal(verdict(r, 8, sk, NULL), 0);
}

static void server_target(void **state)
{
    (void)state;
    const char *t = "server >= 1000 conns";
    char m[128];
    mrec r[8] = {
        rec("server", "closed", MODEL_MULTI_REACTOR, 100, 900, 2), /* below 1000: not judged */
        rec("server", "closed", MODEL_THREADS, 100, 1000, 1),
        rec("server", "closed", MODEL_MULTI_REACTOR, 1000, 3000, 2),
        rec("server", "closed", MODEL_THREADS, 1000, 2000, 5),
        rec("server", "closed-p16", MODEL_THREADS, 10000, 9000, 1), /* other variant */
        rec("server", "closed", MODEL_MULTI_REACTOR, 10000, 3000, 4),
        rec("server", "closed", MODEL_THREADS, 10000, 1000, 40),
    };
    assert_int_equal(verdict(r, 2, t, NULL), -1);
    assert_int_equal(verdict(r, 7, t, m), 1);
    assert_non_null(strstr(m, "conns=1000 1.50x/0.40x"));
    assert_non_null(strstr(m, "conns=10000 3.00x/0.10x"));
    r[5].p99_ms = 50; /* behind at 10000 */
    assert_int_equal(verdict(r, 7, t, NULL), 0);
    r[5].p99_ms = 4;
    r[6].ok = false; /* threads failed at 10000: judged at 1000 alone */
    assert_int_equal(verdict(r, 7, t, m), 1);
    assert_null(strstr(m, "10000"));
    target_result few[2];
    assert_int_equal(report_targets(r, 7, few, 2), 2);
    assert_int_equal(report_targets(r, 7, NULL, 0), 0);
}

static void the_table_groups_by_workload_and_variant(void **state)
{
    (void)state;
    mrec r[64];
    size_t n = suite(r);
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    report_print_table(f, r, n);
    fclose(f);
    const char *fan = strstr(s, "\nfanout "), *closed = strstr(s, "\nserver   closed"),
               *opn = strstr(s, "\nserver   open"), *mix = strstr(s, "\nmixed ");
    assert_true(fan && closed && opn && mix && fan < closed && closed < opn && opn < mix);
    assert_non_null(strstr(s, "multi-reactor"));
    assert_non_null(strstr(s, "thread-per-core"));
    assert_non_null(strstr(s, "FAILED: spawn failed"));
    assert_non_null(strstr(s, "\ntargets:\n"));
    assert_non_null(strstr(s, "server >= 1000 conns"));
    assert_non_null(strstr(s, "not measured")); /* no skewed variant */
    free(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_file_is_written_and_reads_back),
    cmocka_unit_test(without_gnuplot_the_plots_are_skipped),
    cmocka_unit_test(nan_and_inf_become_null),
    cmocka_unit_test(a_directory_that_cannot_be_made_is_an_error),
    cmocka_unit_test(fanout_targets),
    cmocka_unit_test(mixed_targets),
    cmocka_unit_test(server_target),
    cmocka_unit_test(the_table_groups_by_workload_and_variant),
};

EDDY_TEST_MAIN(tests, 120)
