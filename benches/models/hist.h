/*
 * benches/models/hist.h: a latency histogram for the three-model suite
 * (eddy-bench models), in the manner of HdrHistogram: log-linear buckets,
 * 64 per power of two above 128 (a relative error of at most 1/64, 1.6%),
 * exact below 128, from 0 to 2^63. Recording is O(1) and allocation free;
 * one histogram per thread or task, merged at the end.
 *
 * Open-loop (constant-rate) runs measure latency from the time a request
 * was due, not from when it was sent, so a stalled server is charged for
 * the requests it kept waiting (coordinated omission: Gil Tene, wrk2).
 * Closed-loop runs can correct after the fact with hist_record_corrected,
 * which adds the samples a steady sender would have seen during a stall.
 */
#ifndef EDDY_BENCH_HIST_H
#define EDDY_BENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB 128                          /* exact below this */
#define HIST_HALF (HIST_SUB / 2)              /* buckets per power of two above */
#define HIST_BUCKETS (HIST_SUB + 56 * HIST_HALF) /* up to 2^63 - 1 */

typedef struct hist {
    uint64_t count, max, min;
    long double sum;           /* for the mean; exact enough for ns sums */
    uint64_t n[HIST_BUCKETS];
} hist;

/** Empties h. */
void hist_init(hist *h);
/** Records one value (e.g. nanoseconds). */
void hist_record(hist *h, uint64_t v);
/**
 * Records v, and when v exceeds interval (the time between two requests of
 * a steady sender, > 0), also v - interval, v - 2 * interval, ... while
 * they exceed interval: the requests a closed loop did not send while it
 * waited. interval 0: as hist_record.
 */
void hist_record_corrected(hist *h, uint64_t v, uint64_t interval);
/** Adds from's samples to into. */
void hist_merge(hist *into, const hist *from);
/**
 * The value at percentile p (0-100): the smallest recorded bucket whose
 * cumulative count reaches p% of all, reported as the bucket's highest
 * value (never above the largest recorded value). 0 when empty.
 */
uint64_t hist_percentile(const hist *h, double p);
/** Mean of the recorded values, 0 when empty. */
double hist_mean(const hist *h);

/* For tests: the bucket of v, and the lowest and highest value in bucket i. */
size_t hist_bucket_of(uint64_t v);
uint64_t hist_bucket_low(size_t i);
uint64_t hist_bucket_high(size_t i);

#endif
