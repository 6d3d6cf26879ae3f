/*
 * benches/models/driver.h: `eddy-bench models`: plans the sweep from the
 * options, runs every point under every model (each run in fresh
 * processes: the server under test or the fan-out client, plus the
 * origin), and hands the records to report.c.
 */
#ifndef EDDY_BENCH_DRIVER_H
#define EDDY_BENCH_DRIVER_H

/* Exit status: 0 every run completed, 1 a run could not complete or the
   report could not be written, 2 bad options. */
int models_main(int argc, char **argv);

#endif
