/*
 * benches/models/serve.h: the process under test of the `server` and
 * `mixed` workloads.
 *
 *   eddy-bench serve --model M [--port P] [--workers N] [--pool N]
 *                    [--listen per-worker|shared] [--pin]
 *
 * Serves work.h's handler under model M on 127.0.0.1:P (0: any port),
 * prints "ready PORT" once it listens, and serves until its stdin ends;
 * then stops and prints "served N" and, for the eddy models,
 * "share F0,F1,..." (each worker's fraction of the requests).
 */
#ifndef EDDY_BENCH_SERVE_H
#define EDDY_BENCH_SERVE_H

#define SERVE_POOL_DEFAULT 256 /* thread-pool: Apache's prefork MaxRequestWorkers */

/* Exit status: 0 served, 1 could not serve, 2 bad options. */
int serve_main(int argc, char **argv);

#endif
