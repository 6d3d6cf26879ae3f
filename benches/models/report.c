/*
 * benches/models/report.c: the suite's outputs (report.h): results.json and
 * meta.json with jansson, results.csv, report.md, the printed table and the
 * targets' verdicts. The plots (data, plots.gp, gnuplot) are report_plot.c's.
 *
 * Every record is written, failed ones too; the plots and the targets use
 * only those that completed (ok). NaN and inf are null in JSON (jansson
 * refuses them), empty in CSV, "-" in the tables.
 */
#include "report.h"
#include "report_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

/* ------------------------------------------------------------ the fields */

/* One column of results.json / results.csv, in output order; the keys are
   the members' names. */
enum fkind { F_STR, F_ARR, F_X, F_DBL, F_UINT, F_LONG, F_U64, F_BOOL };
struct field {
    const char *key;
    enum fkind kind;
    size_t off, size;
};
#define FLD(m, k) { #m, k, offsetof(mrec, m), sizeof(((mrec *)0)->m) }
static const struct field fields[] = {
    FLD(workload, F_STR), FLD(model, F_STR), FLD(variant, F_ARR), FLD(x_name, F_STR),
    FLD(x, F_X), FLD(rounds, F_UINT), FLD(throughput, F_DBL), FLD(thr_min, F_DBL),
    FLD(thr_max, F_DBL), FLD(p50_ms, F_DBL), FLD(p90_ms, F_DBL), FLD(p99_ms, F_DBL),
    FLD(p999_ms, F_DBL), FLD(wall_s, F_DBL), FLD(ideal_s, F_DBL), FLD(offered_rate, F_DBL),
    FLD(cpu_s, F_DBL), FLD(rss_kb, F_LONG), FLD(threads, F_LONG), FLD(vcsw, F_LONG),
    FLD(ivcsw, F_LONG), FLD(requests, F_U64), FLD(errors, F_U64), FLD(share, F_ARR),
    FLD(ok, F_BOOL), FLD(note, F_ARR),
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* A string field (NULL for a NULL pointer); arrays need not end in NUL. */
static const char *fstr(const mrec *r, const struct field *f, size_t *len)
{
    const char *p = (const char *)r + f->off;
    if (f->kind == F_ARR) {
        *len = strnlen(p, f->size);
        return p;
    }
    const char *s;
    memcpy(&s, p, sizeof s);
    *len = s != NULL ? strlen(s) : 0;
    return s;
}

static double fdbl(const mrec *r, const struct field *f)
{
    double v;
    memcpy(&v, (const char *)r + f->off, sizeof v);
    return v;
}

static long long fint(const mrec *r, const struct field *f)
{
    const char *p = (const char *)r + f->off;
    unsigned u;
    long l;
    uint64_t q;
    bool b;
    switch (f->kind) {
    case F_UINT: memcpy(&u, p, sizeof u); return u;
    case F_LONG: memcpy(&l, p, sizeof l); return l;
    case F_U64: memcpy(&q, p, sizeof q); return q > (uint64_t)LLONG_MAX ? LLONG_MAX : (long long)q;
    default: memcpy(&b, p, sizeof b); return b;
    }
}

static bool integral(double v)
{
    return isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0; /* 2^53 */
}

static bool streq(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static const char *orq(const char *s)
{
    return s != NULL ? s : "?";
}

int report_fail_(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < errlen)
        snprintf(err + k, errlen - (size_t)k, ": %s", strerror(-rc));
    return rc;
}

/* Appends to a fixed buffer, ending in "..." when it no longer fits. */
__attribute__((format(printf, 3, 4)))
static void app(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strnlen(buf, cap);
    if (len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k >= cap - len && cap >= 4)
        memcpy(buf + cap - 4, "...", 4);
}

/* A number for the tables: "-" when not finite, fewer decimals as it grows. */
static const char *num(char *b, size_t cap, double v)
{
    if (!isfinite(v))
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, "%.*f", fabs(v) >= 100 ? 0 : fabs(v) >= 10 ? 1 : fabs(v) >= 1 ? 2 : 3, v);
    return b;
}

static const char *fmt_x(char *b, size_t cap, double x)
{
    snprintf(b, cap, "%.10g", x);
    return b;
}

/* ------------------------------------------------------------ the order */

static bool same_group(const mrec *a, const mrec *b)
{
    return streq(a->workload, b->workload) && strncmp(a->variant, b->variant, sizeof a->variant) == 0;
}

/* Sorts by workload and variant (each in order of first appearance), then
   x, then model order. */
struct skey {
    size_t wl, g, i;
    double x;
    int model;
};

static int skey_cmp(const void *pa, const void *pb)
{
    const struct skey *a = pa, *b = pb;
    if (a->wl != b->wl)
        return a->wl < b->wl ? -1 : 1;
    if (a->g != b->g)
        return a->g < b->g ? -1 : 1;
    if (a->x != b->x && !(isnan(a->x) && isnan(b->x)))
        return isnan(a->x) ? 1 : isnan(b->x) ? -1 : a->x < b->x ? -1 : 1;
    if (a->model != b->model)
        return a->model < b->model ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The records' indices in report order (malloc'd), or NULL. */
static size_t *order_build(const mrec *r, size_t n)
{
    size_t *idx = calloc(n + 1, sizeof *idx);
    struct skey *k = calloc(n + 1, sizeof *k);
    if (idx == NULL || k == NULL) {
        free(idx);
        free(k);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int m = model_parse(r[i].model);
        k[i] = (struct skey){ .wl = i, .g = i, .i = i, .x = r[i].x, .model = m < 0 ? MODEL_COUNT : m };
        for (size_t j = i; j-- > 0;) { /* the first records of its workload and group */
            if (streq(r[j].workload, r[i].workload))
                k[i].wl = j;
            if (same_group(&r[j], &r[i]))
                k[i].g = j;
        }
    }
    qsort(k, n, sizeof *k, skey_cmp);
    for (size_t i = 0; i < n; i++)
        idx[i] = k[i].i;
    free(k);
    return idx;
}

/* ------------------------------------------------------------ targets */

static bool rec_is(const mrec *r, const char *wl, const char *var, int model)
{
    return r->ok && streq(r->workload, wl) && model_parse(r->model) == model &&
           (var == NULL || strncmp(r->variant, var, sizeof r->variant) == 0);
}

/* The ok record of model at exactly x (var NULL: any variant). */
static const mrec *find(const mrec *r, size_t n, const char *wl, const char *var, int model,
                        double x)
{
    for (size_t i = 0; i < n; i++)
        if (rec_is(&r[i], wl, var, model) && r[i].x == x)
            return &r[i];
    return NULL;
}

/* The largest x at which both models a and b have ok records. */
static bool common_x(const mrec *r, size_t n, const char *wl, const char *var, int a, int b,
                     double *x)
{
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (rec_is(&r[i], wl, var, a) && isfinite(r[i].x) && (!found || r[i].x > *x) &&
            find(r, n, wl, var, b, r[i].x) != NULL) {
            *x = r[i].x;
            found = true;
        }
    return found;
}

static double ratio(double a, double b)
{
    return isfinite(a) && isfinite(b) && b > 0 ? a / b : NAN;
}

static void target_set(target_result *t, const char *name, int verdict)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    t->verdict = verdict;
}

/* mixed: multi-reactor's throughput over other's at their largest common x,
   met at >= want (and, want_p99, with a lower p99). */
static void mixed_target(target_result *t, const mrec *r, size_t n, const char *name,
                         const char *var, int other, double want, bool want_p99)
{
    double x = 0;
    target_set(t, name, -1);
    if (!common_x(r, n, "mixed", var, MODEL_MULTI_REACTOR, other, &x)) {
        snprintf(t->measured, sizeof t->measured, "no mixed %s records of both models", var);
        return;
    }
    const mrec *a = find(r, n, "mixed", var, MODEL_MULTI_REACTOR, x);
    const mrec *b = find(r, n, "mixed", var, other, x);
    double thr = ratio(a->throughput, b->throughput), p99 = ratio(a->p99_ms, b->p99_ms);
    char xs[32];
    fmt_x(xs, sizeof xs, x);
    if (want_p99)
        snprintf(t->measured, sizeof t->measured, "%.2fx throughput, p99 %.2fx at %s=%s", thr,
                 p99, orq(a->x_name), xs);
    else
        snprintf(t->measured, sizeof t->measured, "%.2fx at %s=%s", thr, orq(a->x_name), xs);
    t->verdict = thr >= want && (!want_p99 || p99 < 1);
}

size_t report_targets(const mrec *r, size_t n, target_result *out, size_t cap)
{
    target_result all[6];
    memset(all, 0, sizeof all);
    target_result *t = &all[0];
    const mrec *mr, *th, *tp;

    target_set(t, "fanout: multi-reactor within 1.05x of ideal n*d/c at c=100", -1);
    mr = find(r, n, "fanout", NULL, MODEL_MULTI_REACTOR, 100);
    if (mr == NULL || !(mr->ideal_s > 0) || !isfinite(mr->wall_s)) {
        snprintf(t->measured, sizeof t->measured, "no multi-reactor fanout record at c=100");
    } else {
        double q = mr->wall_s / mr->ideal_s;
        snprintf(t->measured, sizeof t->measured, "%.2fx of ideal (%.2f s vs %.2f s)", q,
                 mr->wall_s, mr->ideal_s);
        t->verdict = q <= 1.05;
    }

    t = &all[1];
    target_set(t, "fanout c=1000: multi-reactor ahead of threads and thread-pool in wall "
                  "time, CPU and RSS", -1);
    mr = find(r, n, "fanout", NULL, MODEL_MULTI_REACTOR, 1000);
    th = find(r, n, "fanout", NULL, MODEL_THREADS, 1000);
    tp = find(r, n, "fanout", NULL, MODEL_THREAD_POOL, 1000);
    if (mr == NULL || th == NULL || tp == NULL) {
        snprintf(t->measured, sizeof t->measured, "needs fanout records of multi-reactor, "
                 "threads and thread-pool at c=1000");
    } else {
        double q[6] = { ratio(mr->wall_s, th->wall_s), ratio(mr->wall_s, tp->wall_s),
                        ratio(mr->cpu_s, th->cpu_s), ratio(mr->cpu_s, tp->cpu_s),
                        ratio((double)mr->rss_kb, (double)th->rss_kb),
                        ratio((double)mr->rss_kb, (double)tp->rss_kb) };
        snprintf(t->measured, sizeof t->measured, "wall %.2fx/%.2fx, cpu %.2fx/%.2fx, "
                 "rss %.2fx/%.2fx (vs threads/thread-pool)", q[0], q[1], q[2], q[3], q[4], q[5]);
        t->verdict = 1;
        for (int i = 0; i < 6; i++)
            if (!(q[i] < 1))
                t->verdict = 0;
    }

    mixed_target(&all[2], r, n, "mixed uniform: multi-reactor >= 1.8x single-loop throughput",
                 "uniform", MODEL_SINGLE_LOOP, 1.8, false);
    mixed_target(&all[3], r, n, "mixed skewed: multi-reactor >= 1.3x thread-per-core "
                 "throughput, lower p99", "skewed", MODEL_THREAD_PER_CORE, 1.3, true);
    mixed_target(&all[4], r, n, "mixed uniform: multi-reactor within 5% of thread-per-core",
                 "uniform", MODEL_THREAD_PER_CORE, 0.95, false);

    t = &all[5];
    target_set(t, "server >= 1000 conns: multi-reactor ahead of threads in throughput and p99",
               -1);
    snprintf(t->measured, sizeof t->measured, "thr/p99 vs threads:");
    for (size_t i = 0; i < n; i++) {
        if (!rec_is(&r[i], "server", "closed", MODEL_MULTI_REACTOR) || !(r[i].x >= 1000) ||
            (th = find(r, n, "server", "closed", MODEL_THREADS, r[i].x)) == NULL)
            continue;
        double thr = ratio(r[i].throughput, th->throughput), p99 = ratio(r[i].p99_ms, th->p99_ms);
        char xs[32];
        app(t->measured, sizeof t->measured, " %s=%s %.2fx/%.2fx", orq(r[i].x_name),
            fmt_x(xs, sizeof xs, r[i].x), thr, p99);
        t->verdict = (t->verdict != 0) && thr > 1 && p99 < 1;
    }
    if (t->verdict == -1)
        snprintf(t->measured, sizeof t->measured,
                 "no server closed records of multi-reactor and threads at >= 1000 conns");

    size_t k = cap < 6 ? cap : 6;
    if (k > 0)
        memcpy(out, all, k * sizeof *out);
    return k;
}

static const char *verdict_text(int v)
{
    return v > 0 ? "met" : v == 0 ? "short" : "not measured";
}

/* ------------------------------------------------------------ the table */

void report_print_table(FILE *f, const mrec *recs, size_t n)
{
    size_t *idx = order_build(recs, n);
    if (idx == NULL) {
        fprintf(f, "(out of memory)\n");
        return;
    }
    fprintf(f, "%-8s %-11s %-15s %7s %10s %8s %8s %7s %8s %7s  %s\n", "workload", "variant",
            "model", "x", "req/s", "p50 ms", "p99 ms", "CPU s", "RSS MiB", "errors", "share");
    for (size_t k = 0; k < n; k++) {
        const mrec *r = &recs[idx[k]];
        char b[6][32];
        if (k > 0 && !same_group(r, &recs[idx[k - 1]]))
            fputc('\n', f);
        fprintf(f, "%-8s %-11.*s %-15s %7s %10s %8s %8s %7s %8s %7llu  %.*s%s%.*s\n",
                orq(r->workload), (int)sizeof r->variant, r->variant, orq(r->model),
                fmt_x(b[0], sizeof b[0], r->x), num(b[1], 32, r->throughput),
                num(b[2], 32, r->p50_ms), num(b[3], 32, r->p99_ms), num(b[4], 32, r->cpu_s),
                num(b[5], 32, (double)r->rss_kb / 1024), (unsigned long long)r->errors,
                (int)sizeof r->share, r->share, r->ok ? "" : " FAILED: ",
                r->ok ? 0 : (int)sizeof r->note, r->note);
    }
    free(idx);
    target_result t[8];
    size_t nt = report_targets(recs, n, t, 8);
    fprintf(f, "\ntargets:\n");
    for (size_t i = 0; i < nt; i++)
        fprintf(f, "  %-12s %s\n  %12s %s\n", verdict_text(t[i].verdict), t[i].name, "",
                t[i].measured);
}

/* ------------------------------------------------------------ files */

int report_out_open_(struct report_out *o, const char *dir, const char *name, char *err,
                     size_t errlen)
{
    o->f = NULL;
    if ((size_t)snprintf(o->path, sizeof o->path, "%s/%s", dir, name) >= sizeof o->path)
        return report_fail_(err, errlen, -ENAMETOOLONG, "cannot write %s/%s", dir, name);
    o->f = fopen(o->path, "we");
    if (o->f == NULL)
        return report_fail_(err, errlen, -errno, "cannot write %s", o->path);
    return 0;
}

int report_out_close_(struct report_out *o, char *err, size_t errlen)
{
    if (o->f == NULL)
        return 0;
    int bad = ferror(o->f);
    errno = 0;
    int rc = fclose(o->f);
    o->f = NULL;
    if (bad || rc != 0)
        return report_fail_(err, errlen, errno > 0 ? -errno : -EIO, "cannot write %s", o->path);
    return 0;
}

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
    char p[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0)
        return report_fail_(err, errlen, -EINVAL, "no output directory given");
    if (len >= sizeof p)
        return report_fail_(err, errlen, -ENAMETOOLONG, "cannot create %s", dir);
    memcpy(p, dir, len + 1);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return report_fail_(err, errlen, -errno, "cannot create %s", p);
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(dir, &st) < 0)
        return report_fail_(err, errlen, -errno, "cannot create %s", dir);
    if (!S_ISDIR(st.st_mode))
        return report_fail_(err, errlen, -ENOTDIR, "cannot create %s", dir);
    return 0;
}

/* A JSON string; bytes that are not UTF-8 become %XX rather than losing it. */
static json_t *jtext(const char *s, size_t len)
{
    if (s == NULL)
        return json_null();
    json_t *j = json_stringn(s, len);
    if (j != NULL)
        return j;
    char *t = malloc(len * 3 + 1), *o = t;
    if (t == NULL)
        return json_null();
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80)
            *o++ = (char)ch;
        else
            o += sprintf(o, "%%%02X", ch);
    }
    j = json_stringn(t, (size_t)(o - t));
    free(t);
    return j != NULL ? j : json_null();
}

static json_t *jstr(const char *s)
{
    return jtext(s, s != NULL ? strlen(s) : 0);
}

/* jansson refuses NaN and inf: null instead. */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *field_json(const mrec *r, const struct field *f)
{
    size_t len;
    const char *s;
    switch (f->kind) {
    case F_STR:
    case F_ARR:
        s = fstr(r, f, &len);
        return jtext(s, len);
    case F_X:
        return integral(fdbl(r, f)) ? json_integer((json_int_t)fdbl(r, f)) : jnum(fdbl(r, f));
    case F_DBL:
        return jnum(fdbl(r, f));
    case F_BOOL:
        return json_boolean(fint(r, f));
    default:
        return json_integer(fint(r, f));
    }
}

static int dump_json(json_t *j, const char *dir, const char *name, char *err, size_t errlen)
{
    struct report_out o;
    int rc = report_out_open_(&o, dir, name, err, errlen);
    if (rc < 0)
        return rc;
    if (json_dumpf(j, o.f, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) < 0 || fputc('\n', o.f) == EOF) {
        fclose(o.f);
        return report_fail_(err, errlen, errno > 0 ? -errno : -EIO, "cannot write %s", o.path);
    }
    return report_out_close_(&o, err, errlen);
}

static int write_json(const char *dir, const mrec *recs, size_t n, char *err, size_t errlen)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        json_t *j = json_object();
        for (size_t k = 0; j != NULL && k < NFIELDS; k++)
            json_object_set_new(j, fields[k].key, field_json(&recs[i], &fields[k]));
        if (j == NULL || json_array_append_new(a, j) < 0) {
            json_decref(a);
            a = NULL;
        }
    }
    if (a == NULL)
        return report_fail_(err, errlen, -ENOMEM, "cannot build results.json");
    int rc = dump_json(a, dir, "results.json", err, errlen);
    json_decref(a);
    return rc;
}

/* RFC 4180: quoted when it holds a comma, quote, space or line break. */
static void csv_str(FILE *f, const char *s, size_t len)
{
    if (s == NULL)
        return;
    if (strcspn(s, ",\" \t\r\n") >= len) {
        fwrite(s, 1, len, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static int write_csv(const char *dir, const mrec *recs, size_t n, char *err, size_t errlen)
{
    struct report_out o;
    int rc = report_out_open_(&o, dir, "results.csv", err, errlen);
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < NFIELDS; k++)
        fprintf(o.f, "%s%s", k ? "," : "", fields[k].key);
    fputs("\r\n", o.f);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < NFIELDS; k++) {
            const struct field *f = &fields[k];
            size_t len;
            const char *s;
            if (k > 0)
                fputc(',', o.f);
            if (f->kind == F_STR || f->kind == F_ARR) {
                s = fstr(&recs[i], f, &len);
                csv_str(o.f, s, len);
            } else if (f->kind == F_BOOL) {
                fputs(fint(&recs[i], f) ? "true" : "false", o.f);
            } else if (f->kind == F_X || f->kind == F_DBL) {
                if (isfinite(fdbl(&recs[i], f))) /* empty: not a number */
                    fprintf(o.f, "%.10g", fdbl(&recs[i], f));
            } else {
                fprintf(o.f, "%lld", fint(&recs[i], f));
            }
        }
        fputs("\r\n", o.f);
    }
    return report_out_close_(&o, err, errlen);
}

static int write_meta(const char *dir, const report_meta *m, const char *gnuplot, char *err,
                      size_t errlen)
{
    report_meta none = { 0 };
    if (m == NULL)
        m = &none;
    json_t *j = json_object();
    if (j == NULL)
        return report_fail_(err, errlen, -ENOMEM, "cannot build meta.json");
    json_object_set_new(j, "command", jstr(m->command));
    json_object_set_new(j, "mode", jstr(m->mode));
    json_object_set_new(j, "date", jstr(m->date));
    json_object_set_new(j, "cpu_model", jstr(m->cpu_model));
    json_object_set_new(j, "cpus", json_integer(m->cpus));
    json_object_set_new(j, "kernel", jstr(m->kernel));
    json_object_set_new(j, "eddy_version", jstr(m->eddy_version));
    json_object_set_new(j, "curl_version", jstr(m->curl_version));
    json_object_set_new(j, "compiler", jstr(m->compiler));
    json_object_set_new(j, "gnuplot", jstr(gnuplot));
    json_object_set_new(j, "notes", jstr(m->notes));
    int rc = dump_json(j, dir, "meta.json", err, errlen);
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------ report.md */

/* Text for a table cell: '|' escaped, line breaks as spaces. */
static void md_cell(FILE *f, const char *s, size_t max)
{
    for (size_t i = 0; s != NULL && i < max && s[i] != '\0'; i++) {
        if (s[i] == '|')
            fputs("\\|", f);
        else
            fputc(s[i] == '\n' || s[i] == '\r' ? ' ' : s[i], f);
    }
}

static void md_record(FILE *f, const mrec *r)
{
    char b[10][32];
    fputs("| ", f);
    md_cell(f, r->variant, sizeof r->variant);
    fputs(" | ", f);
    md_cell(f, orq(r->model), SIZE_MAX);
    fprintf(f, " | %s | %s | %s-%s | %s | %s | %s | %s | %s | %ld | %ld/%ld | %llu | ",
            fmt_x(b[0], 32, r->x), num(b[1], 32, r->throughput), num(b[2], 32, r->thr_min),
            num(b[3], 32, r->thr_max), num(b[4], 32, r->p50_ms), num(b[5], 32, r->p99_ms),
            num(b[6], 32, r->p999_ms), num(b[7], 32, r->cpu_s),
            num(b[8], 32, (double)r->rss_kb / 1024), r->threads, r->vcsw, r->ivcsw,
            (unsigned long long)r->errors);
    md_cell(f, r->share, sizeof r->share);
    fputs(r->ok ? " | " : " | FAILED: ", f);
    md_cell(f, r->note, sizeof r->note);
    fputs(" |\n", f);
}

static int write_md(const char *dir, const mrec *recs, size_t n, const size_t *idx,
                    const report_meta *m, const char *gnuplot, int status, char *err,
                    size_t errlen)
{
    struct report_out o;
    int rc = report_out_open_(&o, dir, "report.md", err, errlen);
    if (rc < 0)
        return rc;
    FILE *f = o.f;
    /* the command in a fence longer than any run of backticks in it */
    size_t run = 0, fence = 3;
    for (const char *c = orq(m->command); *c != '\0'; c++)
        if ((run = *c == '`' ? run + 1 : 0) >= fence)
            fence = run + 1;
    fputs("# eddy-bench models: threads, thread-pool, single-loop, multi-reactor, "
          "thread-per-core\n\nCommand:\n\n", f);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < fence; i++)
            fputc('`', f);
        fprintf(f, "\n%s", k ? "\n" : "");
        if (k == 0)
            fprintf(f, "%s\n", orq(m->command));
    }
    fprintf(f, "- Date: %s\n- Mode: %s\n- Machine: %s, %u CPUs, %s\n", orq(m->date),
            orq(m->mode), orq(m->cpu_model), m->cpus, orq(m->kernel));
    fprintf(f, "- Versions: eddy %s, libcurl %s, compiler %s, %s\n\n## Method\n\n",
            orq(m->eddy_version), orq(m->curl_version), orq(m->compiler),
            gnuplot != NULL ? gnuplot : "gnuplot not found");
    fprintf(f, "%s\n\n## Targets\n\n| target | measured | verdict |\n|---|---|---|\n",
            m->notes != NULL ? m->notes
            : "Each point is the median over the rounds run (thr range: the lowest and "
              "highest throughput of the rounds); the latencies are the median round's. CPU "
              "time, peak RSS, threads and context switches are those of the process under "
              "test. Failed runs are listed, but neither plotted nor judged.");
    target_result t[8];
    size_t nt = report_targets(recs, n, t, 8);
    for (size_t i = 0; i < nt; i++) {
        fputs("| ", f);
        md_cell(f, t[i].name, sizeof t[i].name);
        fputs(" | ", f);
        md_cell(f, t[i].measured, sizeof t[i].measured);
        fprintf(f, " | %s |\n", verdict_text(t[i].verdict));
    }
    for (size_t k = 0; k < n; k++) {
        const mrec *r = &recs[idx[k]];
        if (k == 0 || !streq(r->workload, recs[idx[k - 1]].workload)) {
            fprintf(f, "\n## %s\n\n| variant | model | x | req/s | thr range | p50 ms | p99 ms "
                    "| p999 ms | CPU s | RSS MiB | threads | csw vol/invol | errors | share "
                    "| note |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
                    "|---|---|\n", orq(r->workload));
        }
        md_record(f, r);
        if (k + 1 == n || !streq(r->workload, recs[idx[k + 1]].workload)) {
            fputc('\n', f);
            report_plots_md_(f, dir, recs, n, idx, r->workload, status);
        }
    }
    return report_out_close_(&o, err, errlen);
}

int report_write(const char *dir, const mrec *recs, size_t n, const report_meta *m,
                 int *plots_written, char *err, size_t errlen)
{
    report_meta none = { 0 };
    int written = 0, status = 127, rc;
    char version[128] = "";
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (plots_written != NULL)
        *plots_written = 0;
    if (dir == NULL || (n > 0 && recs == NULL))
        return report_fail_(err, errlen, -EINVAL, "report_write: no directory or no records");
    if ((rc = mkdir_p(dir, err, errlen)) < 0)
        return rc;
    size_t *idx = order_build(recs, n);
    if (idx == NULL)
        return report_fail_(err, errlen, -ENOMEM, "cannot order the records");
    if (m == NULL)
        m = &none;
    if ((rc = write_json(dir, recs, n, err, errlen)) == 0 &&
        (rc = write_csv(dir, recs, n, err, errlen)) == 0 &&
        (rc = report_plots_(dir, recs, n, idx, version, sizeof version, &status, &written, err,
                            errlen)) == 0) {
        const char *gp = status != 127 && version[0] != '\0' ? version : NULL;
        if ((rc = write_meta(dir, m, gp, err, errlen)) == 0)
            rc = write_md(dir, recs, n, idx, m, gp, status, err, errlen);
    }
    free(idx);
    if (plots_written != NULL)
        *plots_written = written;
    return rc;
}
