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
    /* the frontier shared through Redis (--frontier): redis_host NULL for
       the in-process one */
    const char *redis_host;
    int redis_port, redis_db;
    const char *frontier_url;   /* as given, for messages and --state */
    const char *crawl_id;
    int64_t lease_ms;
    int64_t redis_retry_ms;     /* how long a lost Redis is retried */
    bool quiet;                 /* no progress line, no summary */
    bool progress;              /* stderr is a terminal and not quiet */
};

/* How a crawl ended. */
enum {
    CRAWL_FINISHED = 0,     /* ran to its end */
    CRAWL_INTERRUPTED = 1,  /* Ctrl-C */
    CRAWL_FAILED = 2,       /* could not run: *why and *err say why */
    CRAWL_STATE_FAILED = 3, /* the --state directory is unusable or another crawl's */
    CRAWL_FRONTIER_LOST = 4, /* Redis unreachable at the start, or lost for good:
                                the fetches under way were finished and recorded */
    CRAWL_REDEFINED = 5,    /* the crawl id runs with another definition */
};

/* Runs the crawl and says how it ended. Unless it finished or was
   interrupted, why (why_len bytes) names the problem in one line and *err
   is its negative errno. */
int crawl_run(const struct crawl_opts *o, char *why, size_t why_len, int *err);

#endif
