/*
 * benches/models/work.h: the one request handler every model of the
 * `server` and `mixed` workloads runs, so that the models differ only in
 * how they wait, not in what they do. The answer's bytes are the same
 * under every model (a test compares them).
 *
 *   GET /                          "Hello, World!" (the plaintext job)
 *   GET /work?kib=K&wait_us=W      hashes K KiB (FNV-1a over a fixed
 *                                  buffer: CPU work that cannot be
 *                                  skipped), then waits W us (sleeps: I/O
 *                                  stand-in), and answers the hash in hex
 */
#ifndef EDDY_BENCH_WORK_H
#define EDDY_BENCH_WORK_H

#include <stddef.h>
#include <stdint.h>

#define WORK_KIB_MAX 1048576u      /* 1 GiB of hashing: a bound, not a use */
#define WORK_WAIT_US_MAX 10000000u /* 10 s */

typedef struct work_req {
    unsigned kib;      /* KiB to hash */
    unsigned wait_us;  /* then wait this long */
    int plaintext;     /* 1: the "/" answer */
} work_req;

/* Reads a request's path and query (query NULL or "" when none). 0, or
   -ENOENT for an unknown path, -EINVAL for a bad or out-of-range value. */
int work_parse(const char *path, const char *query, work_req *w);

/* The value of key in a query "a=1&b=2" (NULL: none): 0 with *out set,
   -ENOENT when absent, -EINVAL when not a decimal up to max. */
int work_query_uint(const char *q, const char *key, unsigned max, unsigned *out);

/* Hashes kib KiB; the same value for the same kib, every time. */
uint64_t work_hash(unsigned kib);

/* The answer body for w (after its wait): writes at most cap bytes and
   returns the length. Does the hashing. */
size_t work_answer(const work_req *w, char *body, size_t cap);

/* Nanoseconds one KiB of work_hash takes here, measured now (median of
   a few runs of a few milliseconds each). */
double work_ns_per_kib(void);

#endif
