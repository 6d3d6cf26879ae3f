/*
 * tools/crawl/crawl.c: the crawl engine (crawl.h). `concurrency` fetcher
 * tasks loop: take the next entry from the frontier (which spaces and
 * limits requests per host and puts robots.txt first), fetch it with the
 * page client (redirects are not followed by curl: each hop goes back to
 * the frontier, so politeness, the domain filter and robots.txt apply to
 * it), retry network errors and 408/429/5xx with full-jitter backoff and
 * Retry-After, queue the links of HTML pages, and record the outcome.
 * Links are queued before the page's line is written, so a resumed crawl
 * (state.c) never loses them. A watcher task turns the first Ctrl-C into
 * a drain and the second into an abort; a ticker task draws the progress
 * line. With --frontier the frontier lives in Redis (frontier_redis.c),
 * made by the first task (it needs the runtime) and closed by it.
 */
#include "crawl.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <eddy.h>

#include "frontier.h"
#include "links.h"
#include "output.h"
#include "robots.h"
#include "state.h"

enum { MAX_CRAWL_DELAY_MS = 30000 }; /* a longer robots.txt Crawl-delay is cut */

struct crawl {
    const struct crawl_opts *o;
    struct frontier *f;
    eddy_http_client *pages, *robots;
    struct output *out;
    char *token;                 /* robots.txt product token */
    eddy_task **fetchers;
    atomic_int signals;          /* Ctrl-Cs seen */
    atomic_bool finished;
    uint64_t started_ns;
    uint64_t rng;                /* guarded by: rng_lock */
    pthread_mutex_t rng_lock;
    /* the Redis frontier is made by the first task: how that went */
    int setup_rc;
    bool lost;                   /* Redis was lost mid-crawl: why says how */
    char *why;
    size_t why_len;
};

static int sig_fd = -1;          /* the watcher waits on it */
static atomic_int sig_count;

static void on_signal(int sig)
{
    (void)sig;
    atomic_fetch_add(&sig_count, 1);
    uint64_t one = 1;
    ssize_t w = write(sig_fd, &one, sizeof one); /* async-signal-safe */
    (void)w;
}

static uint64_t random_below(struct crawl *c, uint64_t n)
{
    if (n == 0)
        return 0;
    pthread_mutex_lock(&c->rng_lock);
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    uint64_t r = c->rng % n;
    pthread_mutex_unlock(&c->rng_lock);
    return r;
}

/* ----------------------------------------------------------- filtering */

static bool allowed(const struct crawl *c, const char *url)
{
    char host[256];
    url_host_in(url, host, sizeof host);
    for (int i = 0; i < c->o->n_allow; i++)
        if (host_in_domain(host, c->o->allow[i]))
            return true;
    return false;
}

static bool is_html(const char *ctype)
{
    return ctype != NULL && (strncasecmp(ctype, "text/html", 9) == 0 ||
                             strncasecmp(ctype, "application/xhtml+xml", 21) == 0);
}

/* ------------------------------------------------------------ recording */

static void record(struct crawl *c, const struct entry *e, const eddy_http_response *r,
                   const char *final_url, const char *error)
{
    struct record rec = {
        .url = e->first_url != NULL ? e->first_url : e->url,
        .final_url = final_url != NULL ? final_url : e->url,
        .depth = e->depth,
        .parent = e->parent != NULL ? e->parent->s : NULL,
        .retries = e->retries,
        .redirects = e->hops,
        .error = error,
    };
    if (r != NULL) {
        rec.status = r->status;
        rec.content_type = r->content_type[0] ? r->content_type : NULL;
        rec.bytes_wire = r->wire_bytes;
        rec.bytes_body = r->body_len;
        rec.dns_s = r->dns_s;
        rec.connect_s = r->connect_s;
        rec.ttfb_s = r->ttfb_s;
        rec.total_s = r->total_s;
    }
    int rc = output_record(c->out, &rec);
    if (rc < 0 && !c->o->quiet)
        fprintf(stderr, "eddy-crawl: cannot write the output: %s\n", strerror(-rc));
}

/* "<errno name>: <what curl said>" for a transport failure. */
static char *failure(int rc, const eddy_http_response *r)
{
    const char *what = r != NULL && r->error[0] ? r->error : "";
    size_t n = strlen(what) + 64;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "%s%s%s", eddy_strerror(rc), what[0] ? ": " : "", what);
    return s;
}

/* --------------------------------------------------------------- retries */

static bool retryable_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504 || s == 522 ||
           s == 524;
}

static bool retryable_error(int rc, const eddy_http_response *r)
{
    switch (rc) {
    case -ETIMEDOUT:
    case -ECONNRESET:
    case -ECONNREFUSED:
    case -ECONNABORTED:
    case -ENETUNREACH:
    case -EHOSTUNREACH:
        return true;
    case -EIO: /* a name lookup that failed may work next time */
        return r != NULL && r->curl_code == CURLE_COULDNT_RESOLVE_HOST;
    default:
        return false;
    }
}

/* Retry-After in ms (seconds or an HTTP-date), -1 when absent or bad. */
static int64_t retry_after_ms(const eddy_http_response *r)
{
    const char *v = eddy_http_response_header(r, "Retry-After");
    if (v == NULL)
        return -1;
    char *end;
    long s = strtol(v, &end, 10);
    if (end != v && *end == '\0' && s >= 0)
        return (int64_t)s * 1000;
    time_t at = curl_getdate(v, NULL);
    if (at < 0)
        return -1;
    time_t now = time(NULL);
    return at > now ? (int64_t)(at - now) * 1000 : 0;
}

/* Queues e again after its backoff (full jitter: uniform in 0 ..
   base * 2^tries, capped) or the server's Retry-After, whichever is
   later. The wait holds no connection and no fetcher. */
static void retry_later(struct crawl *c, struct entry *e, const eddy_http_response *r)
{
    int64_t cap = c->o->max_retry_after_ms;
    int64_t ceil = c->o->retry_base_ms << (e->retries < 20 ? e->retries : 20);
    if (ceil > cap || ceil < 0)
        ceil = cap;
    int64_t wait = (int64_t)random_below(c, (uint64_t)ceil + 1);
    int64_t ra = r != NULL ? retry_after_ms(r) : -1;
    if (ra > cap)
        ra = cap;
    if (ra > wait)
        wait = ra;
    output_count_retry(c->out);
    c->f->ops->retry(c->f, e, eddy_now_ns() + (uint64_t)wait * 1000000u);
}

/* -------------------------------------------------------------- fetching */

static void fetch_robots(struct crawl *c, struct entry *e)
{
    eddy_http_response *r = NULL;
    int rc = eddy_http_get(c->robots, e->url, &r);
    struct robots *rules;
    if (rc == 0 && r->status >= 200 && r->status < 300)
        rules = robots_parse(r->body, r->body_len, c->token);
    else if ((rc == 0 && r->status >= 400 && r->status < 500) || rc == -ELOOP)
        rules = robots_allow_all(); /* unavailable: RFC 9309 2.3.1.3 */
    else
        rules = robots_disallow_all(); /* unreachable: 5xx or network (2.3.1.4) */
    eddy_http_response_free(r);
    if (rc != -ECANCELED)
        c->f->ops->set_robots(c->f, e, rules);
    else
        robots_free(rules);
    c->f->ops->done(c->f, e);
}

/* Queues the links of page r (fetched as e) when deep enough allowed. */
static void follow_links(struct crawl *c, const struct entry *e, const eddy_http_response *r)
{
    if (!is_html(r->content_type) || (c->o->max_depth >= 0 && e->depth >= c->o->max_depth))
        return;
    char **links = NULL;
    bool nofollow = false;
    int n = links_extract(r->body, r->body_len, e->url, &links, &nofollow);
    int keep = 0; /* the allowed ones, moved to the front, queued at once */
    for (int i = 0; i < n; i++) {
        if (allowed(c, links[i])) {
            char *t = links[keep];
            links[keep++] = links[i];
            links[i] = t;
        }
    }
    if (keep > 0)
        (void)c->f->ops->add_links(c->f, links, keep, e->depth + 1, e->url);
    if (n > 0)
        links_free(links, n);
}

static void fetch_redirect(struct crawl *c, struct entry *e, const eddy_http_response *r)
{
    const char *loc = eddy_http_response_header(r, "Location");
    char *target = loc != NULL ? url_normalize(e->url, loc) : NULL;
    if (target == NULL) {
        record(c, e, r, NULL, loc != NULL ? "redirect to an unusable location" : NULL);
    } else if (e->hops + 1 > c->o->max_redirects) {
        record(c, e, r, target, "too many redirects");
    } else if (!allowed(c, target)) {
        record(c, e, r, target, "redirect outside the allowed domains");
    } else {
        int rc = c->f->ops->hop(c->f, e, target);
        if (rc == -ELOOP)
            record(c, e, r, target, "redirect loop");
        else if (rc == 0)
            record(c, e, r, target, NULL); /* to a URL crawled on its own */
        else if (rc < 0)
            record(c, e, r, target, "out of memory");
        /* rc 1: the hop carries the outcome on */
    }
    free(target);
    c->f->ops->done(c->f, e);
}

static void fetch_page(struct crawl *c, struct entry *e)
{
    eddy_http_response *r = NULL;
    int rc = eddy_http_get(c->pages, e->url, &r);
    bool draining = atomic_load(&c->signals) > 0;
    if (rc == -ECANCELED) {
        record(c, e, r, NULL, "aborted");
        c->f->ops->done(c->f, e);
    } else if (e->retries < c->o->retries && !draining &&
               ((rc < 0 && retryable_error(rc, r)) || (rc == 0 && retryable_status(r->status)))) {
        retry_later(c, e, rc == 0 ? r : NULL);
    } else if (rc < 0) {
        char *why = failure(rc, r);
        record(c, e, r, NULL, why != NULL ? why : eddy_strerror(rc));
        free(why);
        c->f->ops->done(c->f, e);
    } else if (r->status >= 300 && r->status < 400 &&
               eddy_http_response_header(r, "Location") != NULL) {
        fetch_redirect(c, e, r);
    } else {
        follow_links(c, e, r); /* before the line: a resumed crawl has them */
        record(c, e, r, NULL, NULL);
        c->f->ops->done(c->f, e);
    }
    eddy_http_response_free(r);
}

static void *fetcher(void *arg)
{
    struct crawl *c = arg;
    struct entry *e;
    while ((e = c->f->ops->next(c->f)) != NULL) {
        if (e->blocked) {
            record(c, e, NULL, NULL, "blocked by robots.txt");
            c->f->ops->done(c->f, e);
        } else if (e->is_robots) {
            fetch_robots(c, e);
        } else {
            fetch_page(c, e);
        }
    }
    return NULL;
}

/* ----------------------------------------------- signals, progress, end */

static void *watch_signals(void *arg)
{
    struct crawl *c = arg;
    for (;;) {
        int rc = eddy_wait_fd(sig_fd, EDDY_READABLE, -1);
        if (rc < 0)
            return NULL; /* aborted at the end */
        uint64_t v;
        ssize_t n = read(sig_fd, &v, sizeof v);
        (void)n;
        int seen = atomic_load(&sig_count);
        atomic_store(&c->signals, seen);
        if (seen == 1) {
            if (!c->o->quiet)
                fprintf(stderr, "\neddy-crawl: interrupted: finishing the requests under way "
                                "(Ctrl-C again to abort them)\n");
            c->f->ops->drain(c->f);
        } else if (seen >= 2) {
            for (int i = 0; i < c->o->concurrency; i++)
                eddy_abort(c->fetchers[i]);
        }
    }
}

static void progress_line(struct crawl *c, long *last_pages, uint64_t *last_ns, double *rate)
{
    struct output_stats s;
    long queued, in_flight, hosts;
    output_stats(c->out, &s);
    c->f->ops->stats(c->f, &queued, &in_flight, &hosts);
    uint64_t now = eddy_now_ns();
    if (now - *last_ns >= 1000000000u) {
        double inst = (double)(s.pages - *last_pages) * 1e9 / (double)(now - *last_ns);
        *rate = *rate == 0 ? inst : 0.8 * *rate + 0.2 * inst; /* about the last 5 s */
        *last_pages = s.pages;
        *last_ns = now;
    }
    long all;
    if (c->f->ops->crawl_done(c->f, &all)) /* the counts are the whole crawl's */
        fprintf(stderr, "\r\033[K%ld pages  %.0f/s  %ld errors | crawl %s: %ld done  %ld in "
                        "flight  %ld queued  %ld hosts",
                s.pages, *rate, s.errors, c->o->crawl_id, all, in_flight, queued, hosts);
    else
        fprintf(stderr, "\r\033[K%ld pages  %.0f/s  %ld in flight  %ld queued  %ld hosts  %ld "
                        "errors", s.pages, *rate, in_flight, queued, hosts, s.errors);
}

static void *tick(void *arg)
{
    struct crawl *c = arg;
    long last_pages = 0;
    uint64_t last_ns = eddy_now_ns();
    double rate = 0;
    while (!atomic_load(&c->finished)) {
        if (eddy_sleep_ms(250) < 0)
            break;
        progress_line(c, &last_pages, &last_ns, &rate);
    }
    fprintf(stderr, "\r\033[K");
    return NULL;
}

static void summary(struct crawl *c)
{
    struct output_stats s;
    output_stats(c->out, &s);
    double secs = (double)(eddy_now_ns() - c->started_ns) / 1e9;
    fprintf(stderr,
            "eddy-crawl: %ld pages in %.1f s (%.0f/s), %ld errors, %ld retries, "
            "%llu bytes (%llu on the wire)\n",
            s.pages, secs, secs > 0 ? (double)s.pages / secs : 0.0, s.errors, s.retries,
            (unsigned long long)s.bytes_body, (unsigned long long)s.bytes_wire);
    fprintf(stderr, "eddy-crawl: status 2xx %ld, 3xx %ld, 4xx %ld, 5xx %ld, none %ld; "
                    "fetch time p50 %.0f ms, p95 %.0f ms\n",
            s.status_count[2], s.status_count[3], s.status_count[4], s.status_count[5],
            s.status_count[0] + s.status_count[1], s.p50_ms, s.p95_ms);
    long queued, in_flight, hosts, all;
    c->f->ops->stats(c->f, &queued, &in_flight, &hosts);
    if (c->f->ops->failure(c->f) == NULL && c->f->ops->crawl_done(c->f, &all))
        fprintf(stderr, "eddy-crawl: the whole crawl %s (all its processes): %ld fetches done, "
                        "%ld in flight, %ld queued\n", c->o->crawl_id, all, in_flight, queued);
}

/* The frontier's options from the command line's (no log yet). */
static struct frontier_opts frontier_opts_of(const struct crawl_opts *o)
{
    return (struct frontier_opts){
        .per_host = o->per_host,
        .delay_ms = o->delay_ms,
        .max_pages = o->max_pages,
        .robots = o->robots,
        .max_crawl_delay_ms = MAX_CRAWL_DELAY_MS,
        .log_fd = -1,
        .quiet = o->quiet,
    };
}

/* What processes on one Redis crawl must agree on besides the frontier's
   own options: (name, value) pairs, NULL-terminated, the lists sorted so
   that their order on the command line does not matter. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *joined_sorted(char **v, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char **sorted = malloc(((size_t)n + 1) * sizeof *sorted), *s = malloc(len), *p = s;
    if (sorted == NULL || s == NULL) {
        free(sorted);
        free(s);
        return NULL;
    }
    memcpy(sorted, v, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    *p = '\0';
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i > 0 ? " " : "", sorted[i]);
    free(sorted);
    return s;
}

/* Makes the Redis frontier and queues the seeds (every process adds them:
   a seed found seen was queued by another). From a task. */
static int open_redis_frontier(struct crawl *c, const struct frontier_opts *fo)
{
    const struct crawl_opts *o = c->o;
    char depth[24], redirects[24];
    snprintf(depth, sizeof depth, "%d", o->max_depth);
    snprintf(redirects, sizeof redirects, "%d", o->max_redirects);
    char *seeds = joined_sorted(o->seeds, o->n_seeds);
    char *allow = joined_sorted(o->allow, o->n_allow);
    const char *def[] = {
        "seed URLs", seeds, "--allow-domain", allow, "--max-depth", depth,
        "--max-redirects", redirects, NULL, NULL,
    };
    struct frontier_redis_opts ro = {
        .host = o->redis_host, .port = o->redis_port, .db = o->redis_db,
        .crawl_id = o->crawl_id, .lease_ms = o->lease_ms, .retry_ms = o->redis_retry_ms,
        .def = def,
    };
    int rc = -ENOMEM;
#ifdef EDDY_CRAWL_REDIS
    if (seeds != NULL && allow != NULL)
        c->f = frontier_redis_new(fo, &ro, c->why, c->why_len, &rc);
#else
    (void)fo;
    (void)ro;
    rc = -ENOTSUP; /* main.c refuses --frontier first */
#endif
    free(seeds);
    free(allow);
    if (c->f == NULL)
        return rc;
    for (int i = 0; i < o->n_seeds; i++) {
        if ((rc = c->f->ops->add(c->f, o->seeds[i], 0, NULL)) < 0) {
            const char *lost = c->f->ops->failure(c->f);
            snprintf(c->why, c->why_len, "%s", lost != NULL ? lost : "cannot queue the seeds");
            return rc;
        }
    }
    return 0;
}

/* The Redis frontier's connections are the runtime's: closed in a task. */
static void close_redis_frontier(struct crawl *c)
{
    if (c->o->redis_host != NULL && c->f != NULL) {
        c->f->ops->free(c->f);
        c->f = NULL;
    }
}

static void *crawl_main(void *arg)
{
    struct crawl *c = arg;
    eddy_task *watcher = NULL, *ticker = NULL;
    if (c->f == NULL) {
        struct frontier_opts fo = frontier_opts_of(c->o);
        if ((c->setup_rc = open_redis_frontier(c, &fo)) < 0) {
            close_redis_frontier(c);
            return NULL;
        }
        c->started_ns = eddy_now_ns();
    }
    (void)eddy_spawn(&watcher, watch_signals, c);
    if (c->o->progress)
        (void)eddy_spawn(&ticker, tick, c);
    for (int i = 0; i < c->o->concurrency; i++)
        if (eddy_spawn(&c->fetchers[i], fetcher, c) < 0)
            c->fetchers[i] = NULL;
    for (int i = 0; i < c->o->concurrency; i++)
        if (c->fetchers[i] != NULL)
            (void)eddy_join(c->fetchers[i], NULL);
    atomic_store(&c->finished, true);
    if (watcher != NULL) {
        eddy_abort(watcher);
        (void)eddy_join(watcher, NULL);
    }
    if (ticker != NULL) {
        eddy_abort(ticker);
        (void)eddy_join(ticker, NULL);
    }
    if (!c->o->quiet)
        summary(c);
    const char *lost = c->f->ops->failure(c->f);
    if (lost != NULL) {
        snprintf(c->why, c->why_len, "%s", lost);
        c->lost = true;
    }
    close_redis_frontier(c);
    return NULL;
}

/* ------------------------------------------------------------------ run */

static int make_clients(struct crawl *c)
{
    const struct crawl_opts *o = c->o;
    eddy_http_client_opts co;
    eddy_http_client_opts_init(&co);
    co.connect_timeout_ms = o->connect_timeout_ms;
    co.total_timeout_ms = o->timeout_ms;
    co.max_redirects = 0; /* hops go through the frontier */
    co.user_agent = o->user_agent;
    co.max_body_bytes = o->max_body;
    /* a host limit that can bind: also one pool per host (the host never
       sees more connections than that) */
    co.max_host_connections = o->per_host < o->concurrency ? o->per_host : 0;
    co.max_idle_connections = o->concurrency;
    int rc = eddy_http_client_new(&c->pages, &co);
    if (rc < 0)
        return rc;
    co.max_redirects = 5; /* RFC 9309 2.3.1.2 */
    co.max_body_bytes = 2 * ROBOTS_MAX_BYTES;
    co.max_host_connections = 0;
    return eddy_http_client_new(&c->robots, &co);
}

/* The product token robots.txt groups are matched against: the user
   agent up to its first '/' or space. */
static char *product_token(const char *ua)
{
    size_t n = strcspn(ua, "/ \t");
    char *t = malloc(n + 1);
    if (t != NULL) {
        memcpy(t, ua, n);
        t[n] = '\0';
    }
    return t;
}

int crawl_run(const struct crawl_opts *o, char *why, size_t why_len, int *err)
{
    struct crawl c = { .o = o, .why = why, .why_len = why_len };
    const char *what = NULL;
    int rc = -ENOMEM, kind = CRAWL_FAILED;
    eddy_rt *rt = NULL;
    int log_fd = -1;
    why[0] = '\0';
    pthread_mutex_init(&c.rng_lock, NULL);
    c.rng = 0x2545f4914f6cdd1du ^ (uint64_t)eddy_now_ns();
    c.token = product_token(o->user_agent);
    c.fetchers = calloc((size_t)o->concurrency, sizeof *c.fetchers);
    sig_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c.token == NULL || c.fetchers == NULL || sig_fd < 0)
        goto out;
    if (o->state_dir != NULL) {
        /* checks it, trims a torn output line; no queue.log with Redis */
        rc = state_open(o, o->redis_host != NULL ? NULL : &log_fd, &what);
        if (rc < 0) {
            kind = CRAWL_STATE_FAILED;
            goto out;
        }
    }
    rc = output_open(&c.out, o->output);
    if (rc < 0) {
        what = "cannot open the output";
        goto out;
    }
    if ((rc = make_clients(&c)) < 0)
        goto out;
    if (o->redis_host == NULL) { /* in-process: made here (Redis: by crawl_main) */
        struct frontier_opts fo = frontier_opts_of(o); /* no log while replaying */
        rc = -ENOMEM;
        if ((c.f = frontier_mem_new(&fo)) == NULL)
            goto out;
        if (o->state_dir != NULL && (rc = state_replay(o, c.f, &what)) < 0) {
            kind = CRAWL_STATE_FAILED;
            goto out;
        }
        c.f->ops->log_to(c.f, log_fd);
        for (int i = 0; i < o->n_seeds; i++)
            if ((rc = c.f->ops->add(c.f, o->seeds[i], 0, NULL)) < 0)
                goto out;
    }
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = o->workers;
    rc = eddy_rt_new(&rt, &cfg);
    if (rc < 0) {
        what = "cannot start the runtime";
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    c.started_ns = eddy_now_ns();
    rc = eddy_rt_block_on(rt, crawl_main, &c, NULL);
    if (rc < 0) {
        what = "the crawl could not run";
        goto out;
    }
    if ((rc = c.setup_rc) < 0) { /* why is set */
        kind = rc == -EINVAL ? CRAWL_REDEFINED : CRAWL_FRONTIER_LOST;
        goto out;
    }
    if (c.lost) { /* why is set and says how */
        *err = 0;
        rc = CRAWL_FRONTIER_LOST;
    } else {
        rc = atomic_load(&sig_count) > 0 ? CRAWL_INTERRUPTED : CRAWL_FINISHED;
    }
out:
    if (rc < 0) {
        *err = rc;
        if (why[0] == '\0')
            snprintf(why, why_len, "%s", what != NULL ? what : "the crawl could not run");
        rc = kind;
    }
    eddy_rt_free(rt);
    if (c.f != NULL)
        c.f->ops->free(c.f);
    eddy_http_client_free(c.pages);
    eddy_http_client_free(c.robots);
    output_close(c.out);
    if (log_fd >= 0)
        close(log_fd);
    if (sig_fd >= 0)
        close(sig_fd);
    free(c.fetchers);
    free(c.token);
    pthread_mutex_destroy(&c.rng_lock);
    return rc;
}
