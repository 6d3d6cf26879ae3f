/*
 * tools/crawl/frontier.h: the crawl frontier: which URL is fetched next.
 * It owns de-duplication (every URL once), politeness per host (at most
 * per_host fetches at once, starts spaced by the delay, jittered
 * 0.5-1.5x, or the host's Crawl-delay when longer), robots.txt gating (a
 * host's robots.txt before any other URL of it), retries waiting their
 * turn without a fetch slot, redirect hops queued like any URL of their
 * host, the page budget, and the end of the crawl. Fetcher tasks call it
 * from any worker. Two frontiers stand behind struct frontier_ops: the
 * in-process one (frontier.c, with an optional append-only log for
 * resuming) and one shared by many processes through Redis
 * (frontier_redis.c, --frontier).
 */
#ifndef EDDY_CRAWL_FRONTIER_H
#define EDDY_CRAWL_FRONTIER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct robots;
struct frontier;

/* A shared, counted string (a page's URL is the parent of all its links). */
struct rcstr {
    _Atomic int refs;
    char s[];
};

struct entry {
    const char *url;         /* interned: lives as long as the frontier */
    struct rcstr *parent;    /* NULL for a seed */
    const char *first_url;   /* a redirect hop: where the chain began; else NULL */
    const char **chain;      /* a hop: the URLs before it (loop check) */
    int hops;                /* redirects followed to get here */
    int depth;
    int retries;             /* failed attempts so far */
    bool is_robots;          /* the host's robots.txt */
    bool blocked;            /* handed out only to be recorded: robots.txt says no */
    /* frontier-private */
    uint64_t not_before;
    void *host;
    struct entry *next;
};

struct frontier_opts {
    int per_host;            /* >= 1 */
    int64_t delay_ms;        /* >= 0 */
    long max_pages;          /* 0: no limit (robots.txt fetches do not count) */
    bool robots;             /* fetch and obey robots.txt */
    int64_t max_crawl_delay_ms; /* a longer Crawl-delay is cut to this */
    int log_fd;              /* -1, or where discovered URLs are appended */
    bool quiet;              /* no warnings on stderr (a store being retried) */
};

/* The interface a crawl runs against. Every call is thread- and
   task-safe; next suspends. */
struct frontier_ops {
    /* url (normalised) found at depth from parent (NULL: a seed). 1 when
       new, 0 when seen before, -ENOMEM. */
    int (*add)(struct frontier *f, const char *url, int depth, const char *parent);
    /* add() for the n links of one page (normalised), at once: how many
       were new (the Redis frontier: how many it passed on to be queued,
       Redis dropping those seen), or -ENOMEM. */
    int (*add_links)(struct frontier *f, char *const *urls, int n, int depth,
                     const char *parent);
    /* The next entry to fetch: waits until one is due (politeness,
       retries) and returns NULL when the crawl is over or drained. */
    struct entry *(*next)(struct frontier *f);
    /* e was fetched (or recorded): its slot is free; frees e. */
    void (*done)(struct frontier *f, struct entry *e);
    /* e failed and is tried again not before at_ns (its slot is free
       meanwhile). */
    void (*retry)(struct frontier *f, struct entry *e, uint64_t at_ns);
    /* e was redirected to target (normalised): 1 queued as a hop of e's
       chain (e's slot is free), 0 target was seen already (nothing
       queued), -ELOOP target is in e's chain, -ENOMEM. e stays the
       caller's: done() it. */
    int (*hop)(struct frontier *f, struct entry *e, const char *target);
    /* The rules read from e's host's robots.txt (consumed; NULL: allow
       all). */
    void (*set_robots)(struct frontier *f, struct entry *e, struct robots *r);
    /* Stop handing out entries; next returns NULL from now on. */
    void (*drain)(struct frontier *f);
    /* Marks url fetched already (a resumed crawl): seen, never handed out;
       counted against max_pages when page is set (not for a redirect
       chain's end). 0 or -ENOMEM. */
    int (*mark_done)(struct frontier *f, const char *url, bool page);
    /* From now on, appends each new URL add() takes to fd (-1: none). */
    void (*log_to)(struct frontier *f, int fd);
    /* Counters for the progress line (the whole crawl's where it is
       shared). */
    void (*stats)(struct frontier *f, long *queued, long *in_flight, long *hosts_active);
    /* Where other processes share the crawl: true with the URLs all of
       them have finished (the last known when the frontier cannot be
       reached). False: this process is the whole crawl. */
    bool (*crawl_done)(struct frontier *f, long *done);
    /* Why the frontier stopped handing out entries on its own (its store
       was lost), or NULL (it did not, or the crawl ended). */
    const char *(*failure)(struct frontier *f);
    void (*free)(struct frontier *f);
};

struct frontier {
    const struct frontier_ops *ops;
};

/* The in-process frontier. NULL on OOM. */
struct frontier *frontier_mem_new(const struct frontier_opts *o);

/* Where the Redis frontier is and what defines its crawl. */
struct frontier_redis_opts {
    const char *host;
    int port, db;
    const char *crawl_id;
    int64_t lease_ms;        /* an entry handed out stays leased (<= 0: 60 s) */
    int64_t retry_ms;        /* a lost Redis is retried this long, then given up */
    /* more of what processes on the crawl must agree on, NULL-terminated
       (name, value) pairs, the name as the user knows it ("seed URLs") */
    const char *const *def;
};

/* A frontier shared by the processes crawling ro->crawl_id (frontier_redis.c;
   built when EDDY_CRAWL_REDIS is defined). Entries handed out are leased:
   one not done in time goes to another process. o->log_fd is not used.
   Must be called from an eddy task. NULL with *err a negative errno on
   failure and why (why_len bytes) naming it in one line: -EINVAL the crawl
   id is defined otherwise by processes on it; -ECONNREFUSED, -ETIMEDOUT,
   -EIO (an error Redis returned), -ENOMEM. */
struct frontier *frontier_redis_new(const struct frontier_opts *o,
                                    const struct frontier_redis_opts *ro, char *why,
                                    size_t why_len, int *err);

/* True when a redirect of e to target would revisit its chain (the
   start, a hop before, or e itself): both frontiers answer -ELOOP. */
bool frontier_hop_loops(const struct entry *e, const char *target);

struct rcstr *rcstr_new(const char *s);
void rcstr_unref(struct rcstr *r);

#endif
