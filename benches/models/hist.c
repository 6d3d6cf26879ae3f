/*
 * benches/models/hist.c: the log-linear latency histogram (hist.h).
 */
#include "hist.h"

#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

size_t hist_bucket_of(uint64_t v)
{
    if (v < HIST_SUB)
        return (size_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = msb - 6;                          /* v >> shift in [64, 128) */
    return HIST_SUB + (size_t)(shift - 1) * HIST_HALF + (size_t)((v >> shift) - HIST_HALF);
}

uint64_t hist_bucket_low(size_t i)
{
    if (i < HIST_SUB)
        return i;
    size_t j = i - HIST_SUB;
    unsigned shift = (unsigned)(j / HIST_HALF) + 1;
    return (uint64_t)(HIST_HALF + j % HIST_HALF) << shift;
}

uint64_t hist_bucket_high(size_t i)
{
    if (i < HIST_SUB)
        return i;
    unsigned shift = (unsigned)((i - HIST_SUB) / HIST_HALF) + 1;
    return hist_bucket_low(i) + ((uint64_t)1 << shift) - 1;
}

void hist_record(hist *h, uint64_t v)
{
    if (v >= (uint64_t)1 << 63)
        v = ((uint64_t)1 << 63) - 1; /* the last bucket holds the rest */
    h->n[hist_bucket_of(v)]++;
    h->count++;
    h->sum += (long double)v;
    if (v > h->max)
        h->max = v;
    if (v < h->min)
        h->min = v;
}

void hist_record_corrected(hist *h, uint64_t v, uint64_t interval)
{
    hist_record(h, v);
    if (interval == 0)
        return;
    for (uint64_t missed = v; missed > interval;) {
        missed -= interval;
        if (missed < interval)
            break;
        hist_record(h, missed);
    }
}

void hist_merge(hist *into, const hist *from)
{
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        into->n[i] += from->n[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
    if (from->min < into->min)
        into->min = from->min;
}

uint64_t hist_percentile(const hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    /* the rank of the sample at p%: at least 1, at most count */
    long double want = (long double)p / 100.0L * (long double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((long double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            uint64_t hi = hist_bucket_high(i);
            return hi < h->max ? hi : h->max;
        }
    }
    return h->max;
}

double hist_mean(const hist *h)
{
    return h->count == 0 ? 0 : (double)(h->sum / (long double)h->count);
}
