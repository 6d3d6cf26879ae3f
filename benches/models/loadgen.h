/*
 * benches/models/loadgen.h: the HTTP/1.1 load generator of the three-model
 * suite, on eddy: one task per connection, keep-alive, closed loop (each
 * connection keeps `pipeline` requests in flight) or open loop (a constant
 * total rate, each request due at its time: latency counts from when it
 * was due, so a slow server is charged for the wait it caused, as wrk2
 * does; wrk2 is not in Debian). Answers are framed by Content-Length.
 * Loopback only; every run ends at its duration.
 */
#ifndef EDDY_BENCH_LOADGEN_H
#define EDDY_BENCH_LOADGEN_H

#include <stdint.h>

#include "hist.h"

typedef struct lg_opts {
    const char *host;       /* NULL: 127.0.0.1 */
    uint16_t port;
    const char *path;       /* NULL: "/" */
    unsigned conns;         /* connections (>= 1) */
    double rate;            /* open loop: requests/s over all connections; 0: closed loop */
    unsigned pipeline;      /* closed loop: requests in flight per connection (1-64) */
    int64_t duration_ms;    /* measured time (> 0) */
    int64_t warmup_ms;      /* before it, not measured (>= 0) */
    int64_t timeout_ms;     /* an answer later than this is an error, and
                               its connection is closed; 0: 5000 */
    const char *heavy_path; /* skew: connections i % heavy_every == 0 ask
                               for this path instead (NULL: none) */
    unsigned heavy_every;   /* >= 1 with heavy_path */
} lg_opts;

typedef struct lg_result {
    uint64_t requests;      /* answered 2xx in the measured time */
    uint64_t errors;        /* connect, read, write or parse failures, non-2xx
                               answers, answers later than timeout_ms */
    uint64_t timeouts;      /* of which answers later than timeout_ms, or
                               sent before the window and answered only
                               after it (they waited through all of it) */
    double secs;            /* the measured time */
    hist lat;               /* latency of each answer, ns */
} lg_result;

/* Sets conns 1, pipeline 1, rate 0, duration 1000 ms, warmup 0,
   timeout 5000 ms, no skew. */
void lg_opts_init(lg_opts *o);
/* Runs the load from a task (it spawns one task per connection and waits
   for them). 0, -EINVAL for bad options, -ENOMEM, -EPERM outside a task. */
int lg_run(const lg_opts *o, lg_result *r);

#endif
