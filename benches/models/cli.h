/*
 * benches/models/cli.h: the options of `eddy-bench models`.
 *
 *   eddy-bench models [--quick|--full] [--workload fanout|server|mixed]...
 *                     [--out DIR] [tuning options, see models_usage]
 *
 * --quick (the default) sweeps few points once each and finishes in about
 * a minute on two cores; --full sweeps 10 to 10,000 and repeats each
 * point (5 rounds, interleaved across the models), for the report.
 */
#ifndef EDDY_BENCH_CLI_H
#define EDDY_BENCH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "models.h"

#define CLI_MAX_POINTS 16

enum { WL_FANOUT = 1, WL_SERVER = 2, WL_MIXED = 4, WL_ALL = 7 };

typedef struct point_list {
    unsigned n;
    unsigned v[CLI_MAX_POINTS];
} point_list;

typedef struct models_opts {
    bool full;              /* --full; else --quick */
    unsigned workloads;     /* WL_* bits */
    unsigned models;        /* 1 << enum model bits (--models) */
    const char *out;        /* --out DIR */
    unsigned rounds;        /* runs per point */
    unsigned duration_ms, warmup_ms;
    unsigned workers;       /* eddy N-worker models; 0: one per CPU */
    unsigned lg_workers;    /* the load generator's workers */
    unsigned pool;          /* thread-pool's threads (server workload) */
    unsigned fanout_pool;   /* thread-pool's threads (fanout workload) */
    bool pin;               /* pin the eddy models' workers */
    /* server */
    point_list conns;       /* closed loop */
    point_list conns_p16;   /* closed loop, 16 pipelined */
    point_list conns_open;  /* open loop at `rate` */
    unsigned rate;          /* open loop: requests/s */
    /* mixed */
    point_list mixed_conns;
    unsigned cpu_us;        /* CPU per request (hashing) */
    unsigned wait_us;       /* then a wait */
    unsigned skew;          /* skewed: heavy connections do skew x the CPU */
    unsigned heavy_every;   /* one connection in heavy_every is heavy */
    unsigned mixed_load;    /* skewed-open: offered load, % of the server
                               CPUs' capacity for the mean request */
    /* fanout */
    point_list fanout_c;
    unsigned delay_ms;      /* the origin's answer delay */
    unsigned fanout_per_c;  /* n = fanout_per_c * c (at least fanout_min_n) */
    unsigned fanout_min_n;
} models_opts;

/* Fills o from argv (argv[0] is "models"). 0 ready to run, 1 --help was
   asked (usage printed to out), -EINVAL with a message in err naming the
   bad option. */
int models_parse(int argc, char **argv, models_opts *o, FILE *out, char *err, size_t errlen);

void models_usage(FILE *f);

/* "10,100,1000": 0 or -EINVAL (empty, not a number, 0, above max, more
   than CLI_MAX_POINTS). */
int point_list_parse(const char *s, unsigned max, point_list *out);

#endif
