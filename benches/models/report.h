/*
 * benches/models/report.h: what `eddy-bench models` writes once its runs
 * are done: DIR/results.json (a list of records, with jansson as
 * eddy-crawl), DIR/results.csv, DIR/meta.json (machine, versions, command),
 * the plots (gnuplot, SVG and PNG: throughput and p99 against the swept
 * parameter, one line per model, log x), DIR/report.md embedding them, and
 * the table printed at the end. It also judges the suite's targets.
 */
#ifndef EDDY_BENCH_REPORT_H
#define EDDY_BENCH_REPORT_H

#include <stdio.h>

#include "models.h"

typedef struct report_meta {
    const char *command;    /* the command line, as run */
    const char *mode;       /* "quick" or "full" */
    const char *date;       /* UTC, ISO 8601 */
    const char *cpu_model;  /* /proc/cpuinfo "model name" */
    unsigned cpus;          /* online CPUs */
    const char *kernel;     /* uname -sr */
    const char *eddy_version, *curl_version, *compiler;
    const char *notes;      /* free text for report.md (method), or NULL */
} report_meta;

/* One target of the suite, judged from the records. */
typedef struct target_result {
    char name[96];          /* e.g. "mixed uniform: multi-reactor >= 1.8x single-loop" */
    char measured[128];     /* e.g. "1.92x at conns=64" */
    int verdict;            /* 1 met, 0 short, -1 not measured in this run */
} target_result;

/* Judges the targets from recs; fills up to cap results, returns how many. */
size_t report_targets(const mrec *recs, size_t n, target_result *out, size_t cap);

/* Prints the table of recs (and the targets) to f. */
void report_print_table(FILE *f, const mrec *recs, size_t n);

/* Writes every file into dir (created if missing). Plots are skipped, and
   report.md says so, when gnuplot is missing (*plots_written = 0).
   0, or -errno with a message in err. */
int report_write(const char *dir, const mrec *recs, size_t n, const report_meta *m,
                 int *plots_written, char *err, size_t errlen);

#endif
