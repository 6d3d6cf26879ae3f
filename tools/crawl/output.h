/*
 * tools/crawl/output.h: the crawl's results: one JSON line per URL
 * outcome, written whole with one write(2) and at once (another program
 * may follow the file; a crash or Ctrl-C leaves only whole lines), and
 * the counters behind the progress line and the summary.
 */
#ifndef EDDY_CRAWL_OUTPUT_H
#define EDDY_CRAWL_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct output;

struct record {
    const char *url;          /* as queued (the start of a redirect chain) */
    const char *final_url;    /* the last URL fetched, or the redirect target */
    long status;              /* 0: no response */
    const char *content_type; /* NULL: none */
    uint64_t bytes_wire, bytes_body;
    int depth;
    const char *parent;       /* NULL for a seed */
    int retries, redirects;
    double dns_s, connect_s, ttfb_s, total_s;
    const char *error;        /* NULL on success */
};

/* Opens path for appending ("-": standard output). 0 or -errno. */
int output_open(struct output **out, const char *path);
void output_close(struct output *o);
/* Writes r as one line. 0 or -errno. Any thread. */
int output_record(struct output *o, const struct record *r);

/* Counters: everything recorded so far. Any thread. */
struct output_stats {
    long pages, errors, retries;
    uint64_t bytes_wire, bytes_body;
    long status_count[6];     /* [0]: no response, [k]: kxx */
    double p50_ms, p95_ms;    /* fetch time of responses */
};
void output_stats(struct output *o, struct output_stats *s);
/* Counts a retry (not a recorded outcome). */
void output_count_retry(struct output *o);

#endif
