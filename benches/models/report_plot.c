/*
 * benches/models/report_plot.c: the plots of the suite's report (report.h).
 * Per (workload, variant): throughput and p99 against the swept parameter,
 * log x, one line per model in a fixed order and colour, and for fanout the
 * wall time against the ideal n*d/c; per workload a bar chart of CPU time
 * and peak RSS. Each as SVG and PNG (pngcairo, else gnuplot's png).
 *
 * The data (*.dat) and the script (plots.gp) go into DIR, and gnuplot runs
 * there (posix_spawnp, no shell). The script names only relative files
 * built from sanitised names, so `gnuplot plots.gp` in DIR draws them again;
 * free text (titles) is single-quoted, where gnuplot expands nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np, pipe2 */
#endif
#include "report.h"
#include "report_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *const colours[MODEL_COUNT] = {
    [MODEL_THREADS] = "#d62728",       [MODEL_THREAD_POOL] = "#ff7f0e",
    [MODEL_SINGLE_LOOP] = "#2ca02c",   [MODEL_MULTI_REACTOR] = "#1f77b4",
    [MODEL_THREAD_PER_CORE] = "#9467bd",
};
static const int marks[MODEL_COUNT] = { 5, 7, 9, 11, 13 }; /* filled shapes */

#define SVGTERM "svg dynamic noenhanced font 'Sans,11' background rgb 'white'"
#define PNGTERM "pngcairo noenhanced font 'Sans,10'"

enum pkind { P_THR, P_P99, P_WALL, P_BARS };
static const char *const suffix[] = { "throughput", "p99", "wall", "cpu-rss" };
static const char *const what[] = { "throughput", "p99 latency", "wall time", "" };
static const char *const ylabel[] = { "throughput (requests/s)", "p99 latency (ms)",
                                      "wall time (s)", "" };

struct plot {
    enum pkind kind;
    size_t first, end; /* its group: idx[first..end) */
    char gbase[72];    /* <workload>-<variant> */
    char base[96];     /* the image without .svg/.png */
};

static bool streq(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static bool same_group(const mrec *a, const mrec *b)
{
    return streq(a->workload, b->workload) && strncmp(a->variant, b->variant, sizeof a->variant) == 0;
}

/* s (at most max bytes) for a file name: ASCII letters, digits and ._+-
   kept, anything else '_'; never empty, never hidden, at most 31 bytes. */
static void safe(char *out, const char *s, size_t max)
{
    size_t k = 0;
    for (; s != NULL && k < max && k < 31 && s[k] != '\0'; k++) {
        char c = s[k];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '+' || c == '-' || (c == '.' && k > 0);
        out[k] = keep ? c : '_';
    }
    if (k == 0)
        out[k++] = '_';
    out[k] = '\0';
}

/* A single-quoted gnuplot string: quotes doubled, control bytes and
   backquotes (command substitution elsewhere) replaced. */
static void gp_quote(FILE *gp, const char *s)
{
    fputc('\'', gp);
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '\'' || *s == '`')
            fputs("''", gp);
        else
            fputc((unsigned char)*s < 0x20 ? ' ' : *s, gp);
    }
    fputc('\'', gp);
}

static const char *x_label(const char *x_name)
{
    return streq(x_name, "c") ? "concurrency (c)" : streq(x_name, "conns") ? "connections"
                                                    : x_name != NULL ? x_name : "x";
}

/* Whether r is a point of plot kind k: ok, a known model, x > 0 for the log
   axis, and a value (positive on the log y axes). */
static bool valid(const mrec *r, enum pkind k)
{
    if (!r->ok || model_parse(r->model) < 0 || !(r->x > 0) || !isfinite(r->x))
        return false;
    switch (k) {
    case P_THR: return isfinite(r->throughput) && r->throughput >= 0;
    case P_P99: return isfinite(r->p99_ms) && r->p99_ms > 0;
    case P_WALL: return isfinite(r->wall_s) && r->wall_s > 0;
    default: return isfinite(r->cpu_s) && r->cpu_s >= 0 && r->rss_kb >= 0;
    }
}

static bool has_model(const mrec *r, const size_t *idx, const struct plot *p, int m)
{
    for (size_t i = p->first; i < p->end; i++)
        if (model_parse(r[idx[i]].model) == m && valid(&r[idx[i]], p->kind))
            return true;
    return false;
}

/* Bars: model m's record at its largest x in the group, if plottable. */
static const mrec *bar_pick(const mrec *r, const size_t *idx, const struct plot *p, int m)
{
    const mrec *best = NULL;
    for (size_t i = p->first; i < p->end; i++)
        if (model_parse(r[idx[i]].model) == m && r[idx[i]].ok && isfinite(r[idx[i]].x))
            best = &r[idx[i]]; /* sorted by x */
    return best != NULL && valid(best, P_BARS) ? best : NULL;
}

static bool has_ideal(const mrec *r, const size_t *idx, const struct plot *p)
{
    for (size_t i = p->first; i < p->end; i++)
        if (valid(&r[idx[i]], P_WALL) && isfinite(r[idx[i]].ideal_s) && r[idx[i]].ideal_s > 0)
            return true;
    return false;
}

/* The plots the records call for, in report order; bars once per workload,
   for its first variant (one variant, so that the models compare). */
static int plot_list(const mrec *r, size_t n, const size_t *idx, struct plot **out, size_t *np)
{
    struct plot *v = calloc(4 * n + 1, sizeof *v);
    size_t k = 0;
    if (v == NULL)
        return -ENOMEM;
    for (size_t a = 0, b; a < n; a = b) {
        const mrec *g = &r[idx[a]];
        bool first_of_wl = true;
        for (b = a + 1; b < n && same_group(g, &r[idx[b]]); b++)
            ;
        for (size_t i = 0; i < a; i++)
            first_of_wl = first_of_wl && !streq(r[idx[i]].workload, g->workload);
        char wl[32], var[32];
        safe(wl, g->workload, SIZE_MAX);
        safe(var, g->variant, sizeof g->variant);
        for (int kind = P_THR; kind <= P_BARS; kind++) {
            struct plot *p = &v[k];
            *p = (struct plot){ .kind = (enum pkind)kind, .first = a, .end = b };
            snprintf(p->gbase, sizeof p->gbase, "%s-%s", wl, var);
            if (kind == P_BARS)
                snprintf(p->base, sizeof p->base, "%s-%s", wl, suffix[kind]);
            else
                snprintf(p->base, sizeof p->base, "%s-%s", p->gbase, suffix[kind]);
            bool any = false;
            for (int m = 0; m < MODEL_COUNT; m++)
                any = any || (kind == P_BARS ? bar_pick(r, idx, p, m) != NULL
                                             : has_model(r, idx, p, m));
            if (any && (kind != P_WALL || streq(g->workload, "fanout")) &&
                (kind != P_BARS || first_of_wl))
                k++;
        }
    }
    *out = v;
    *np = k;
    return 0;
}

static void title_of(char *t, size_t cap, const mrec *r, const size_t *idx, const struct plot *p)
{
    const mrec *g = &r[idx[p->first]];
    if (p->kind == P_BARS)
        snprintf(t, cap, "%s %.*s: CPU time and peak RSS per model, at its largest %s",
                 g->workload ? g->workload : "?", (int)sizeof g->variant, g->variant,
                 g->x_name ? g->x_name : "x");
    else
        snprintf(t, cap, "%s %.*s: %s vs %s", g->workload ? g->workload : "?",
                 (int)sizeof g->variant, g->variant, what[p->kind], x_label(g->x_name));
}

static void dat_val(FILE *f, double v, bool positive)
{
    if (isfinite(v) && (v > 0 || (!positive && v == 0)))
        fprintf(f, " %.10g", v);
    else
        fputs(" ?", f);
}

/* The data of plot p: per model (lines: x throughput p99 wall ideal; '?'
   where a value cannot be drawn), the ideal, or the bars. */
static int write_data(const char *dir, const mrec *r, const size_t *idx, const struct plot *p,
                      char *err, size_t errlen)
{
    struct report_out o;
    char name[128];
    int rc = 0;
    if (p->kind == P_BARS) {
        snprintf(name, sizeof name, "%s.dat", p->base);
        if ((rc = report_out_open_(&o, dir, name, err, errlen)) < 0)
            return rc;
        fputs("# model x cpu_s rss_mib colour\n", o.f);
        for (int m = 0; m < MODEL_COUNT; m++) {
            const mrec *b = bar_pick(r, idx, p, m);
            char xn[32];
            safe(xn, b != NULL ? b->x_name : NULL, SIZE_MAX);
            if (b != NULL)
                fprintf(o.f, "%s %s=%.10g %.10g %.10g %ld\n", model_name(m), xn, b->x, b->cpu_s,
                        (double)b->rss_kb / 1024, strtol(colours[m] + 1, NULL, 16));
        }
        return report_out_close_(&o, err, errlen);
    }
    if (p->kind == P_WALL) { /* and the models' data below */
        snprintf(name, sizeof name, "%s-ideal.dat", p->gbase);
        if ((rc = report_out_open_(&o, dir, name, err, errlen)) < 0)
            return rc;
        fputs("# x ideal_s\n", o.f);
        double last = NAN;
        for (size_t i = p->first; i < p->end; i++) {
            const mrec *q = &r[idx[i]];
            if (valid(q, P_WALL) && isfinite(q->ideal_s) && q->ideal_s > 0 && q->x != last) {
                fprintf(o.f, "%.10g %.10g\n", q->x, q->ideal_s);
                last = q->x;
            }
        }
        if ((rc = report_out_close_(&o, err, errlen)) < 0)
            return rc;
    }
    for (int m = 0; m < MODEL_COUNT; m++) { /* rewritten for each plot of the group */
        snprintf(name, sizeof name, "%s-%s.dat", p->gbase, model_name(m));
        bool opened = false;
        for (size_t i = p->first; i < p->end && rc == 0; i++) {
            const mrec *q = &r[idx[i]];
            if (model_parse(q->model) != m || !q->ok || !(q->x > 0) || !isfinite(q->x))
                continue;
            if (!opened && (rc = report_out_open_(&o, dir, name, err, errlen)) == 0)
                fputs("# x throughput p99_ms wall_s ideal_s\n", o.f);
            opened = rc == 0;
            if (opened) {
                fprintf(o.f, "%.10g", q->x);
                dat_val(o.f, q->throughput, false);
                dat_val(o.f, q->p99_ms, true);
                dat_val(o.f, q->wall_s, true);
                dat_val(o.f, q->ideal_s, true);
                fputc('\n', o.f);
            }
        }
        if (opened && (rc = report_out_close_(&o, err, errlen)) < 0)
            return rc;
    }
    return rc;
}

/* Plot p in one format into the script. */
static void write_plot(FILE *gp, const mrec *r, const size_t *idx, const struct plot *p, bool png)
{
    char title[256];
    title_of(title, sizeof title, r, idx, p);
    fprintf(gp, "\nreset\nset terminal %s size 800,%d\nset output '%s.%s'\n"
            "set datafile missing '?'\n", png ? "@PNGTERM" : SVGTERM,
            p->kind == P_BARS ? 700 : 500, p->base, png ? "png" : "svg");
    if (p->kind == P_BARS) {
        int bars = 0;
        for (int m = 0; m < MODEL_COUNT; m++)
            bars += bar_pick(r, idx, p, m) != NULL;
        fputs("set multiplot layout 2,1 title ", gp);
        gp_quote(gp, title);
        fprintf(gp, "\nset style fill solid 0.8 border -1\nset boxwidth 0.6\nset yrange [0:*]\n"
                "set xrange [-0.6:%d.4]\nset grid ytics\nset bmargin 3.5\nunset key\n", bars - 1);
        for (int k = 0; k < 2; k++) /* labels: model, then its x */
            fprintf(gp, "set ylabel '%s'\nplot '%s.dat' using 0:%d:5:xtic(strcol(1).\"\\n\"."
                    "strcol(2)) with boxes lc rgb variable\n", k ? "peak RSS (MiB)" : "CPU time (s)",
                    p->base, 3 + k);
        fputs("unset multiplot\nunset output\n", gp);
        return;
    }
    /* the key beside the graph, never on a line; room for the points at the edges */
    fprintf(gp, "set grid\nset key outside right top vertical Left reverse\n"
            "set offsets graph 0.03, graph 0.03, %s, 0\n"
            "set logscale x\nset format x '%%g'\nset title ", p->kind == P_THR ? "graph 0.06" : "0");
    gp_quote(gp, title);
    fputs("\nset xlabel ", gp);
    gp_quote(gp, x_label(r[idx[p->first]].x_name));
    fprintf(gp, "\nset ylabel '%s'\n%s", ylabel[p->kind],
            p->kind == P_THR ? "set yrange [0:*]\n" : "set logscale y\nset format y '%g'\n");
    const char *sep = "plot ";
    for (int m = 0; m < MODEL_COUNT; m++) {
        if (!has_model(r, idx, p, m))
            continue;
        fprintf(gp, "%s'%s-%s.dat' using 1:%d with linespoints lw 2 pt %d ps 1.2 lc rgb '%s' "
                "title '%s'", sep, p->gbase, model_name(m), 2 + (int)p->kind, marks[m],
                colours[m], model_name(m));
        sep = ", \\\n     ";
    }
    if (p->kind == P_WALL && has_ideal(r, idx, p))
        fprintf(gp, "%s'%s-ideal.dat' using 1:2 with lines dt 2 lw 2 lc rgb 'black' "
                "title 'ideal n*d/c'", sep, p->gbase);
    fputs("\nunset output\n", gp);
}

/* Runs gnuplot with argv in dir (NULL: here), stdin from /dev/null, stdout
   and stderr into the file log there or, log NULL, stdout's first cap - 1
   bytes into out. Its exit status (127: not found), or -errno. */
static int run_gnuplot(const char *dir, char *const argv[], const char *log, char *out,
                       size_t cap)
{
    int p[2] = { -1, -1 }, rc = 0, st;
    pid_t pid;
    if (log == NULL && pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (dir != NULL)
        rc = posix_spawn_file_actions_addchdir_np(&fa, dir);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = log != NULL ? posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT |
                                                            O_TRUNC, 0644)
                         : posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    if (rc == 0)
        rc = log != NULL ? posix_spawn_file_actions_adddup2(&fa, 1, 2)
                         : posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (p[1] >= 0)
        close(p[1]);
    if (rc != 0) {
        if (p[0] >= 0)
            close(p[0]);
        return rc == ENOENT || rc == EACCES ? 127 : -rc;
    }
    if (p[0] >= 0) { /* read to the end, so that gnuplot never blocks on the pipe */
        char buf[256];
        size_t got = 0;
        ssize_t k;
        while ((k = read(p[0], buf, sizeof buf)) != 0) {
            if (k < 0 && errno != EINTR)
                break;
            size_t take = k < 0 ? 0 : cap - 1 - got < (size_t)k ? cap - 1 - got : (size_t)k;
            memcpy(out + got, buf, take);
            got += take;
        }
        out[got] = '\0';
        close(p[0]);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool image_exists(const char *dir, const char *base, const char *ext)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.%s", dir, base, ext);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

int report_plots_(const char *dir, const mrec *r, size_t n, const size_t *idx, char *version,
                  size_t vlen, int *status, int *written, char *err, size_t errlen)
{
    struct plot *v;
    size_t np;
    struct report_out o;
    char path[PATH_MAX];
    *written = 0;
    version[0] = '\0';
    int rc = plot_list(r, n, idx, &v, &np);
    if (rc < 0)
        return report_fail_(err, errlen, rc, "cannot plan the plots");
    for (size_t i = 0; i < np && rc == 0; i++)
        rc = write_data(dir, r, idx, &v[i], err, errlen);
    if (rc == 0 && (rc = report_out_open_(&o, dir, "plots.gp", err, errlen)) == 0) {
        fprintf(o.f, "# The plots of this report (eddy-bench models). To draw them again, run\n"
                "# `gnuplot plots.gp` in this directory.\nPNGTERM = strstrt(GPVAL_TERMINALS, "
                "'pngcairo') > 0 ? \"%s\" : \"png noenhanced\"\n", PNGTERM);
        for (size_t i = 0; i < np; i++)
            for (int png = 0; png < 2; png++)
                write_plot(o.f, r, idx, &v[i], png);
        rc = report_out_close_(&o, err, errlen);
    }
    if (rc < 0) {
        free(v);
        return rc;
    }
    /* no stale image from an earlier run may count as drawn */
    for (size_t i = 0; i < np; i++)
        for (int png = 0; png < 2; png++) {
            snprintf(path, sizeof path, "%s/%s.%s", dir, v[i].base, png ? "png" : "svg");
            unlink(path);
        }
    *status = run_gnuplot(NULL, (char *[]){ "gnuplot", "--version", NULL }, NULL, version, vlen);
    version[strcspn(version, "\r\n")] = '\0';
    if (*status == 0 && np > 0)
        *status = run_gnuplot(dir, (char *[]){ "gnuplot", "plots.gp", NULL }, "gnuplot.log",
                              NULL, 0);
    for (size_t i = 0; i < np; i++)
        *written += image_exists(dir, v[i].base, "svg") + image_exists(dir, v[i].base, "png");
    free(v);
    return rc;
}

void report_plots_md_(FILE *md, const char *dir, const mrec *r, size_t n, const size_t *idx,
                      const char *wl, int status)
{
    struct plot *v;
    size_t np;
    char title[256];
    if (status == 127) {
        fputs("plots skipped: gnuplot not found (apt-get install gnuplot-nox); the data and "
              "plots.gp are in this directory.\n\n", md);
        return;
    }
    if (plot_list(r, n, idx, &v, &np) < 0)
        return;
    for (size_t i = 0; i < np; i++) {
        if (!streq(r[idx[v[i].first]].workload, wl) || !image_exists(dir, v[i].base, "svg"))
            continue;
        title_of(title, sizeof title, r, idx, &v[i]);
        for (char *c = title; *c != '\0'; c++) /* the alt text ends at ']' */
            *c = *c == '[' ? '(' : *c == ']' ? ')' : *c;
        fprintf(md, "![%s](%s.svg) ([PNG](%s.png))\n\n", title, v[i].base, v[i].base);
    }
    if (status != 0)
        fprintf(md, "Some plots are missing: gnuplot exited with status %d (see gnuplot.log).\n\n",
                status);
    free(v);
}
