/*
 * tests/bench/test_hist.c: the three-model suite's latency histogram
 * (benches/models/hist.c): bucket bounds and their relative error,
 * percentiles against exactly computed ones, the coordinated-omission
 * correction (HdrHistogram's recordValueWithExpectedInterval), merging.
 */
#include <math.h>
#include <stdlib.h>

#include "helpers.h"
#include "../benches/models/hist.h"

static void buckets_tile_the_range_with_a_small_relative_error(void **state)
{
    (void)state;
    /* consecutive buckets meet: no value falls between two */
    for (size_t i = 0; i + 1 < HIST_BUCKETS; i++) {
        assert_int_equal(hist_bucket_high(i) + 1, hist_bucket_low(i + 1));
        assert_int_equal(hist_bucket_of(hist_bucket_low(i)), i);
        assert_int_equal(hist_bucket_of(hist_bucket_high(i)), i);
    }
    assert_int_equal(hist_bucket_of(((uint64_t)1 << 63) - 1), HIST_BUCKETS - 1);
    /* exact below 128, within 1/64 of the value above */
    for (uint64_t v = 0; v < 128; v++)
        assert_int_equal(hist_bucket_low(hist_bucket_of(v)), v);
    uint64_t samples[] = { 128, 129, 1000, 12345, 999999, 123456789, (uint64_t)1 << 40,
                           ((uint64_t)1 << 62) + 12345 };
    for (size_t k = 0; k < sizeof samples / sizeof samples[0]; k++) {
        size_t i = hist_bucket_of(samples[k]);
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        assert_true(lo <= samples[k] && samples[k] <= hi);
        assert_true((double)(hi - lo) / (double)lo <= 1.0 / 64);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void percentiles_match_the_sorted_samples_within_the_bucket_error(void **state)
{
    (void)state;
    enum { N = 100000 };
    static uint64_t v[N];
    hist *h = malloc(sizeof *h);
    hist_init(h);
    assert_int_equal(hist_percentile(h, 50), 0);
    srand(7);
    for (int i = 0; i < N; i++) { /* log-uniform from 1 us to 1 s, in ns */
        v[i] = (uint64_t)exp(log(1e3) + (log(1e9) - log(1e3)) * (double)rand() / RAND_MAX);
        hist_record(h, v[i]);
    }
    qsort(v, N, sizeof v[0], cmp_u64);
    double ps[] = { 1, 50, 90, 99, 99.9, 99.99 };
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        size_t rank = (size_t)ceil(ps[k] / 100 * N); /* 1-based */
        uint64_t exact = v[rank - 1], got = hist_percentile(h, ps[k]);
        /* the reported value is its bucket's top: at or above, within 1/64 */
        assert_true(got >= exact);
        assert_true((double)(got - exact) <= (double)exact / 64 + 1);
    }
    assert_int_equal(hist_percentile(h, 100), v[N - 1]);
    assert_int_equal(hist_percentile(h, 0), v[0]);
    assert_int_equal(h->count, N);
    double mean = 0;
    for (int i = 0; i < N; i++)
        mean += (double)v[i] / N;
    assert_true(fabs(hist_mean(h) - mean) < mean * 1e-9);
    free(h);
}

static void a_stall_is_charged_for_the_requests_it_held_back(void **state)
{
    (void)state;
    hist *h = malloc(sizeof *h);
    hist_init(h);
    /* a sender every 1 ms; one reply took 100 ms, 99 others were fast */
    for (int i = 0; i < 99; i++)
        hist_record_corrected(h, 100000, 1000000);
    hist_record_corrected(h, 100000000, 1000000);
    /* uncorrected p99 would be 0.1 ms; corrected, the 99 requests that a
       steady sender could not send during the stall are there too */
    assert_int_equal(h->count, 99 + 1 + 99);
    assert_true(hist_percentile(h, 50) >= 1000000);
    assert_true(hist_percentile(h, 99) >= 98000000);
    hist_init(h);
    hist_record_corrected(h, 10, 3); /* 10, then 7 and 4 */
    assert_int_equal(h->count, 3);
    assert_int_equal(hist_percentile(h, 1), 4);
    assert_int_equal(hist_percentile(h, 50), 7);
    hist_record_corrected(h, 5, 0); /* no interval: one sample */
    assert_int_equal(h->count, 4);
    free(h);
}

static void merged_histograms_equal_one_that_saw_everything(void **state)
{
    (void)state;
    hist *a = malloc(sizeof *a), *b = malloc(sizeof *b), *all = malloc(sizeof *all);
    hist_init(a);
    hist_init(b);
    hist_init(all);
    for (uint64_t i = 1; i <= 5000; i++) {
        hist_record(i % 2 ? a : b, i * 997);
        hist_record(all, i * 997);
    }
    hist_merge(a, b);
    assert_int_equal(a->count, all->count);
    assert_int_equal(a->max, all->max);
    assert_int_equal(a->min, all->min);
    for (double p = 0; p <= 100; p += 0.5)
        assert_int_equal(hist_percentile(a, p), hist_percentile(all, p));
    free(a);
    free(b);
    free(all);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(buckets_tile_the_range_with_a_small_relative_error),
    cmocka_unit_test(percentiles_match_the_sorted_samples_within_the_bucket_error),
    cmocka_unit_test(a_stall_is_charged_for_the_requests_it_held_back),
    cmocka_unit_test(merged_histograms_equal_one_that_saw_everything),
};

EDDY_TEST_MAIN(tests, 60)
