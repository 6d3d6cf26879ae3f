/*
 * benches/models/models.h: what the parts of `eddy-bench models` share.
 * The suite runs one workload under five models and keeps one record per
 * (workload, variant, model, x) point; the driver (driver.c) fills the
 * records, report.c writes them out (results.json, results.csv, plots,
 * report.md).
 *
 * Models, named exactly so in every output:
 *   threads          a thread per request / connection, blocking calls, no eddy
 *   thread-pool      a fixed pool of such threads
 *   single-loop      eddy, 1 worker
 *   multi-reactor    eddy, N workers, work stealing
 *   thread-per-core  eddy, N workers, stealing off (shared-nothing)
 */
#ifndef EDDY_BENCH_MODELS_H
#define EDDY_BENCH_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum model {
    MODEL_THREADS,
    MODEL_THREAD_POOL,
    MODEL_SINGLE_LOOP,
    MODEL_MULTI_REACTOR,
    MODEL_THREAD_PER_CORE,
    MODEL_COUNT
};

/* "threads", ...; NULL for an unknown value. */
const char *model_name(enum model m);
/* The model named s, or -1. */
int model_parse(const char *s);
/* True for the three eddy models. */
bool model_is_eddy(enum model m);

/* A strict decimal from lo to hi: digits only (no sign, no blanks, nothing
   after), no overflow. 0 or -EINVAL; the caller names the problem. */
int parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out);

/* One point of a sweep, a median over the rounds run. Strings point to
   static storage or live in the record. */
typedef struct mrec {
    const char *workload;   /* "fanout", "server" or "mixed" */
    const char *model;      /* model_name() */
    char variant[32];       /* server: "closed", "closed-p16", "open";
                               mixed: "uniform", "skewed"; fanout: "d20ms" */
    const char *x_name;     /* the swept parameter: "c" (fanout
                               concurrency) or "conns" (connections) */
    double x;
    unsigned rounds;        /* runs behind the medians */
    double throughput;      /* requests/s, median over rounds */
    double thr_min, thr_max;/* its range over rounds */
    double p50_ms, p90_ms, p99_ms, p999_ms; /* latency, median round */
    double wall_s;          /* the measured time (fanout: for all n) */
    double ideal_s;         /* fanout: n * d / c; 0 otherwise */
    double offered_rate;    /* open loop: the constant rate asked; else 0 */
    double cpu_s;           /* user + system CPU of the process under test */
    long rss_kb;            /* its peak RSS, KiB */
    long threads;           /* its peak thread count */
    long vcsw, ivcsw;       /* its voluntary / involuntary context switches */
    uint64_t requests;      /* answered in the measured time */
    uint64_t errors;        /* failed requests (connect, read, status) */
    char share[64];         /* eddy models: each worker's share of the
                               requests, "0.52 0.48"; "" otherwise */
    bool ok;                /* the run completed */
    char note[96];          /* why not, when !ok; free text otherwise */
} mrec;

#endif
