/*
 * benches/models/fanout.h: the `fanout` workload of the three-model suite
 * (the crawler's case): n GETs to the built-in local origin, each answered
 * after a delay d, at a concurrency c. The threads models fetch with curl
 * easy handles and blocking calls, the eddy models with eddy's client.
 *
 *   eddy-bench origin [--port P] [--workers N]
 *       the origin: an eddy HTTP server on 127.0.0.1 answering
 *       GET /?delay=MS after MS ms (0..60000) with a short body; prints
 *       "ready PORT" on stdout and serves until stdin ends or SIGTERM.
 *   eddy-bench fanout --model M --url URL --n N --c C [--workers W] [--pool P]
 *       runs the n requests under model M and prints one "result ..." line.
 */
#ifndef EDDY_BENCH_FANOUT_H
#define EDDY_BENCH_FANOUT_H

#include <stdint.h>

#include "hist.h"
#include "models.h"

#define FANOUT_POOL_DEFAULT 64 /* thread-pool: as eddy's blocking pool */

typedef struct fanout_opts {
    enum model model;
    const char *url;        /* the origin's URL, with its ?delay=MS */
    unsigned n;             /* requests (>= 1) */
    unsigned c;             /* concurrency (>= 1) */
    unsigned workers;       /* eddy models but single-loop: 0 = one per CPU */
    unsigned pool;          /* thread-pool's threads (0: FANOUT_POOL_DEFAULT) */
} fanout_opts;

typedef struct fanout_result {
    uint64_t requests;      /* answered 200 */
    uint64_t errors;        /* any other outcome */
    double wall_s;          /* from the first request to the last answer */
    unsigned threads_peak;  /* threads of the process at most (models' own) */
    uint64_t per_worker[64];/* eddy models: requests finished per worker */
    unsigned nworkers;      /* entries used in per_worker; 0 for threads */
    hist lat;               /* per-request latency, ns */
} fanout_result;

/* Runs the workload in this process. 0, -EINVAL for bad options, or
   -errno when it could not run (e.g. a runtime that could not start).
   Request failures are counted, not returned. */
int fanout_run(const fanout_opts *o, fanout_result *r);

/* The subcommands (argv[0] is the subcommand's name). Exit status: 0 ran,
   1 could not run, 2 bad options (with a message on stderr). */
int origin_main(int argc, char **argv);
int fanout_main(int argc, char **argv);

#endif
