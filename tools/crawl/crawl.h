/*
 * tools/crawl/crawl.h: the crawl engine behind eddy-crawl (main.c parses
 * the command line into struct crawl_opts): fetcher tasks on an eddy
 * runtime take URLs from the frontier, fetch them with eddy's HTTP client,
 * follow redirects and links, retry what may be retried, and record one
 * JSON line per URL.
 */
#ifndef EDDY_CRAWL_CRAWL_H
#define EDDY_CRAWL_CRAWL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct crawl_opts {
    char **seeds;               /* normalised absolute URLs */
    int n_seeds;
    const char *output;         /* "-": standard output */
    int concurrency;
    int per_host;
    int64_t delay_ms;
    long max_pages;             /* 0: no limit */
    int max_depth;              /* -1: no limit */
    char **allow;               /* domains (a host or its subdomains) */
    int n_allow;
    int64_t timeout_ms, connect_timeout_ms;
    int retries;
    int64_t retry_base_ms;      /* the first backoff; doubles, capped */
    int64_t max_retry_after_ms; /* cap of Retry-After and of the backoff */
    size_t max_body;
    int max_redirects;
    bool robots;
    const char *user_agent;
    unsigned workers;           /* 0: one per CPU */
    const char *state_dir;      /* NULL: not resumable */
    bool quiet;                 /* no progress line, no summary */
    bool progress;              /* stderr is a terminal and not quiet */
};

/* How a crawl ended. */
enum {
    CRAWL_FINISHED = 0,     /* ran to its end */
    CRAWL_INTERRUPTED = 1,  /* Ctrl-C */
    CRAWL_FAILED = 2,       /* could not run: *why and *err say why */
    CRAWL_STATE_FAILED = 3, /* the --state directory is unusable or another crawl's */
};

/* Runs the crawl and says how it ended. On a failure *why (static)
   names the problem and *err is its negative errno. */
int crawl_run(const struct crawl_opts *o, const char **why, int *err);

#endif
