/*
 * tools/crawl/frontier_redis.c: a frontier shared by many processes
 * through Redis (docs/crawl.md, "Many processes on one frontier"). The
 * state lives in Redis under "ec:ID:" and every step that could hand an
 * entry out twice or exceed a host's slots is one Lua script (lua/: one
 * file each, the keys, and the race each script closes). This side keeps:
 *  - a few connections that outlive a Redis restart (redis_pool.h);
 *  - a picker lock, so that one fetcher per process asks for as many
 *    entries as fetchers are waiting, in one call, and polls while
 *    nothing is due (at most every 20 ms; local changes wake it sooner);
 *  - an outbox: the links of finished pages and the ends of their leases
 *    wait there for one flusher task, which sends all that accumulated
 *    in one call while the previous call was under way (a group commit:
 *    a page costs a fraction of a round trip, not one per link). A
 *    page's links go before its end, in order, so a process killed in
 *    between loses nothing: the lease expires, the page is fetched again
 *    and its links found again;
 *  - each host's parsed robots.txt rules, read once from Redis.
 *
 * An entry travels as one string of 8 fields separated by '\t':
 *     KIND \t depth \t retries \t hops \t parent \t url \t first_url \t chain
 * KIND is R (robots.txt), C (continuation: a retry or redirect hop) or P
 * (a page); parent and first_url are empty when none; chain is the hops'
 * earlier URLs joined by '\x1f'. URLs are normalised (links.h): they never
 * hold a tab, a '\x1f' or a line end, so the format needs no escaping.
 *
 * Lease: next leases an entry for lease_ms (Redis's clock). A lease not
 * ended in time is reclaimed by the next call to next of any process: its
 * entry goes back to the front of its host's queue. done, retry and hop on
 * a lease that is gone change no count (the entry was re-queued). Every
 * script is safe to run twice, so a command whose reply was lost with its
 * connection is sent again (redis_pool.h).
 * The crawl's definition ("def") holds the options every process must
 * share: a process joining with others is refused. mark_done is not
 * needed (-ENOTSUP): Redis is the record of what is done.
 */
#include "frontier_redis_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>
#include <hiredis/hiredis.h>

#include "links.h"
#include "redis_pool.h"
#include "robots.h"

/* ------------------------------------------------------------- entries */

/* Appends s to the builder (NULL s: nothing). */
static void put(char **o, const char *s)
{
    if (s != NULL) {
        size_t n = strlen(s);
        memcpy(*o, s, n);
        *o += n;
    }
}

/* An entry as its string (see the top), chain[0..nchain) then last (NULL:
   none) as its chain. NULL on OOM. */
static char *entry_format(char kind, int depth, int retries, int hops, const char *parent,
                          const char *url, const char *first, const char *const *chain,
                          int nchain, const char *last)
{
    size_t n = 64 + strlen(url) + (parent ? strlen(parent) : 0) + (first ? strlen(first) : 0) +
               (last ? strlen(last) + 1 : 0);
    for (int i = 0; i < nchain; i++)
        n += strlen(chain[i]) + 1;
    char *s = malloc(n), *o = s;
    if (s == NULL)
        return NULL;
    o += sprintf(o, "%c\t%d\t%d\t%d\t", kind, depth, retries, hops);
    put(&o, parent);
    *o++ = '\t';
    put(&o, url);
    *o++ = '\t';
    put(&o, first);
    *o++ = '\t';
    for (int i = 0; i < nchain; i++) {
        if (i > 0)
            *o++ = '\x1f';
        put(&o, chain[i]);
    }
    if (last != NULL) {
        if (nchain > 0)
            *o++ = '\x1f';
        put(&o, last);
    }
    *o = '\0';
    return s;
}

static void entry_free(struct entry *e)
{
    struct rentry *re = (struct rentry *)e;
    if (re == NULL)
        return;
    rcstr_unref(e->parent);
    free(e->chain);
    free(re->host);
    free(re->buf);
    free(re);
}

/* The entry s (len bytes) of lease on host; NULL on OOM or a malformed s. */
static struct rentry *entry_parse(const char *s, size_t len, long long lease, const char *host)
{
    struct rentry *re = calloc(1, sizeof *re);
    if (re == NULL || (re->buf = malloc(len + 1)) == NULL || (re->host = strdup(host)) == NULL)
        goto fail;
    memcpy(re->buf, s, len);
    re->buf[len] = '\0';
    char *fl[8], *p = re->buf;
    for (int i = 0; i < 8; i++) {
        fl[i] = p;
        p = i < 7 ? strchr(p, '\t') : NULL;
        if (i < 7 && p == NULL)
            goto fail;
        if (p != NULL)
            *p++ = '\0';
    }
    struct entry *e = &re->e;
    e->is_robots = fl[0][0] == 'R';
    e->depth = atoi(fl[1]);
    e->retries = atoi(fl[2]);
    e->hops = atoi(fl[3]);
    e->url = fl[5];
    e->first_url = fl[6][0] ? fl[6] : NULL;
    if (fl[4][0] && (e->parent = rcstr_new(fl[4])) == NULL)
        goto fail;
    if (e->hops > 0) {
        if ((e->chain = calloc((size_t)e->hops, sizeof *e->chain)) == NULL)
            goto fail;
        char *c = fl[7];
        for (int i = 0; i < e->hops; i++) {
            if (c == NULL)
                goto fail;
            e->chain[i] = c;
            if ((c = strchr(c, '\x1f')) != NULL)
                *c++ = '\0';
        }
    }
    re->lease = lease;
    return re;
fail:
    if (re != NULL)
        entry_free(&re->e);
    return NULL;
}

/* The origin of url ("scheme://host[:port]"), malloc'ed; NULL on OOM. */
static char *origin_of(const char *url)
{
    return strndup(url, url_origin_prefix(url));
}

/* ------------------------------------------------------- robots.txt rules */

static size_t bucket(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)(h % NBUCKETS);
}

/* Stores rules (consumed) as host's, replacing any. Caller holds lock. */
static void rules_put(struct rf *f, const char *host, struct robots *rules)
{
    struct rhost **b = &f->hosts[bucket(host)];
    for (struct rhost *h = *b; h != NULL; h = h->next) {
        if (strcmp(h->key, host) == 0) {
            robots_free(h->rules);
            h->rules = rules;
            return;
        }
    }
    struct rhost *h = calloc(1, sizeof *h);
    if (h == NULL || (h->key = strdup(host)) == NULL) {
        free(h);
        robots_free(rules);
        return; /* OOM: read again next time */
    }
    h->rules = rules;
    h->next = *b;
    *b = h;
}

/* Whether robots.txt lets e be fetched: host's rules, read from Redis
   (and parsed) the first time. Allowed when they cannot be read. */
static bool allowed(struct rf *f, struct rentry *re)
{
    bool known = false, ok = true;
    const char *path = re->e.url + strlen(re->host);
    if (*path == '\0')
        path = "/";
    pthread_mutex_lock(&f->lock);
    for (struct rhost *h = f->hosts[bucket(re->host)]; h != NULL; h = h->next) {
        if (strcmp(h->key, re->host) == 0) {
            known = true;
            ok = robots_allowed(h->rules, path);
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
    if (known)
        return ok;
    redisReply *r;
    if (fr_command(f, &r, "HGET %srobots:%s rules", f->prefix, re->host) < 0)
        return true;
    struct robots *rules = NULL;
    if (r->type == REDIS_REPLY_STRING)
        rules = robots_parse(r->str, r->len, "eddy-crawl");
    freeReplyObject(r);
    ok = robots_allowed(rules, path);
    pthread_mutex_lock(&f->lock);
    rules_put(f, re->host, rules);
    pthread_mutex_unlock(&f->lock);
    return ok;
}

/* ------------------------------------------------------------ the calls */

/* Queues the formatted entry s of url on host (the ADD script: front for a
   redirect hop); frees host and s. 1 new, 0 seen, -errno. */
static int add_entry(struct rf *f, const char *url, char *host, char *s, bool front)
{
    int rc = -ENOMEM;
    if (s != NULL) {
        redisReply *r;
        RUN_SCRIPT(f, S_ADD, &r, rc, "%s %s %s %s", url, host, s, front ? "1" : "0");
        if (rc == 0) {
            rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -EIO;
            freeReplyObject(r);
        }
    }
    free(s);
    free(host);
    if (rc == 1)
        eddy_notify_one(f->changed);
    return rc;
}

static int r_add(struct frontier *f_, const char *url, int depth, const char *parent)
{
    struct rf *f = (struct rf *)f_;
    char *host = origin_of(url);
    char *s = host ? entry_format('P', depth, 0, 0, parent, url, NULL, NULL, 0, NULL) : NULL;
    return add_entry(f, url, host, s, false);
}

static char *int_str(int v)
{
    char *s = malloc(16);
    if (s != NULL)
        snprintf(s, 16, "%d", v);
    return s;
}

/* url's fingerprint for the table of URLs sent (never 0: an empty slot).
   Two different URLs share one with odds of about one in 10^13 per
   lookup at a full table: then the second is taken as sent and not
   queued. */
static uint64_t fingerprint(const char *url)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a, then a finaliser */
    for (const char *s = url; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return h | 1;
}

static _Atomic uint64_t *sent_slot(struct rf *f, uint64_t fp)
{
    return &f->sent[(fp >> 20) & (SENT_SLOTS - 1)];
}

static int r_add_links(struct frontier *f_, char *const *urls, int n_all, int depth,
                       const char *parent)
{
    struct rf *f = (struct rf *)f_;
    if (n_all <= 0)
        return 0;
    char **a = calloc((size_t)(3 + n_all), sizeof *a);
    uint64_t *fps = malloc((size_t)n_all * sizeof *fps);
    int k = 3, n = 0; /* depth, parent, n, then the URLs this process did not send yet */
    if (a == NULL || fps == NULL)
        goto oom;
    for (int i = 0; i < n_all; i++) { /* each URL's host is cut from it by the script */
        uint64_t fp = fingerprint(urls[i]);
        if (atomic_load_explicit(sent_slot(f, fp), memory_order_relaxed) == fp)
            continue;
        fps[n++] = fp;
        if ((a[k++] = strdup(urls[i])) == NULL)
            goto oom;
    }
    if (n == 0)
        goto none;
    if ((a[0] = int_str(depth)) == NULL || (a[1] = strdup(parent ? parent : "")) == NULL ||
        (a[2] = int_str(n)) == NULL)
        goto oom;
    pthread_mutex_lock(&f->lock);
    if (fr_outbox_reserve(&f->out, k, 0) < 0) {
        pthread_mutex_unlock(&f->lock);
        goto oom;
    }
    memcpy(f->out.args + f->out.nargs, a, (size_t)k * sizeof *a);
    f->out.nargs += k;
    f->out.groups++;
    fr_outbox_added(f);
    for (int i = 0; i < n; i++) /* sent from now on (the outbox keeps order) */
        atomic_store_explicit(sent_slot(f, fps[i]), fps[i], memory_order_relaxed);
none:
    free(a);
    free(fps);
    return n; /* queued for the flusher: how many are new is Redis's to say */
oom:
    for (int i = 0; a != NULL && i < 3 + n_all; i++)
        free(a[i]);
    free(a);
    free(fps);
    return -ENOMEM;
}

static double jitter(struct rf *f)
{
    pthread_mutex_lock(&f->lock);
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    double j = 0.5 + (double)(f->rng >> 11) / (double)(1ull << 53); /* 0.5 .. 1.5 */
    pthread_mutex_unlock(&f->lock);
    return j;
}

/* Ends e's lease; blocked: robots.txt said no, it was no fetch. */
static void end_lease(struct rf *f, struct rentry *re, bool blocked)
{
    if (re->lease <= 0)
        return;
    redisReply *r;
    int rc;
    RUN_SCRIPT(f, S_END, &r, rc, "%lld %s", re->lease, blocked ? "1" : "0");
    if (rc == 0)
        freeReplyObject(r);
    re->lease = 0;
}

/* Leased by the picker for the fetchers waiting behind it: taken first. */
static struct rentry *pop_ready(struct rf *f)
{
    pthread_mutex_lock(&f->lock);
    struct rentry *re = f->ready;
    if (re != NULL)
        f->ready = re->ready_next;
    pthread_mutex_unlock(&f->lock);
    return re;
}

/* Entry i of a next reply (lease, entry, host, robots state from
   element 1 + 4i), or NULL (given up, as done, when it cannot be read). */
static struct rentry *take_leased(struct rf *f, const redisReply *r, size_t i)
{
    const redisReply *id = r->element[1 + 4 * i], *e = r->element[2 + 4 * i],
                     *h = r->element[3 + 4 * i], *st = r->element[4 + 4 * i];
    if (id->type != REDIS_REPLY_INTEGER || e->type != REDIS_REPLY_STRING ||
        h->type != REDIS_REPLY_STRING || st->type != REDIS_REPLY_STRING)
        return NULL;
    struct rentry *re = entry_parse(e->str, e->len, id->integer, h->str);
    if (re == NULL) { /* OOM or garbage: given up, as done */
        struct rentry tmp = { .lease = id->integer };
        end_lease(f, &tmp, false);
        return NULL;
    }
    /* robots.txt forbids it: recorded, not fetched; its lease ends when it
       is done (after its line), so a process killed before the line loses
       nothing: the lease comes back */
    if (f->o.robots && !re->e.is_robots && st->str[0] == 'R' && !allowed(f, re))
        re->e.blocked = true;
    return re;
}

/* One call of the next script for up to want entries, put on the ready
   list: how many (> 0), 0 with *wait_ms, -1 over (or Redis given up). */
static int next_batch(struct rf *f, int want, int64_t *wait_ms)
{
    char jit[32];
    snprintf(jit, sizeof jit, "%.4f", jitter(f));
    redisReply *r;
    int rc;
    RUN_SCRIPT(f, S_NEXT, &r, rc, "%ld %lld %lld %s %s %d", f->o.max_pages, f->lease_ms,
               (long long)f->o.delay_ms, jit, f->owner, want);
    if (rc < 0)
        return -1;
    int res = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_INTEGER) {
        long long code = r->element[0]->integer;
        if (code == 0 && r->elements == 2) {
            *wait_ms = r->element[1]->integer;
            res = 0;
        } else if (code == 1 && r->elements >= 5 && (r->elements - 1) % 4 == 0) {
            size_t n = (r->elements - 1) / 4;
            struct rentry *first = NULL, **link = &first; /* in the order leased */
            for (size_t i = 0; i < n; i++) {
                if ((*link = take_leased(f, r, i)) != NULL)
                    link = &(*link)->ready_next;
            }
            pthread_mutex_lock(&f->lock);
            struct rentry **tail = &f->ready;
            while (*tail != NULL)
                tail = &(*tail)->ready_next;
            *tail = first;
            pthread_mutex_unlock(&f->lock);
            res = (int)n;
            *wait_ms = 0;
        }
    }
    freeReplyObject(r);
    return res;
}

/* Gives the entries leased but not handed out back to the frontier. */
static void give_back(struct rf *f)
{
    enum { MAX = 64 };
    const char *argv[HEAD + MAX];
    char ids[MAX][24];
    struct rentry *re;
    int n = 0;
    while (n < MAX && (re = pop_ready(f)) != NULL) {
        if (re->lease > 0 && redis_pool_lost(f->pool) == NULL) {
            snprintf(ids[n], sizeof ids[n], "%lld", re->lease);
            argv[HEAD + n] = ids[n];
            n++;
        }
        entry_free(&re->e);
    }
    redisReply *r = NULL;
    if (n > 0 && fr_script_argv(f, S_GIVEBACK, HEAD + n, argv, NULL, &r) == 0)
        freeReplyObject(r);
}

/* Fetchers wait behind one picker; it asks for as many entries as there
   are fetchers waiting (at most MAX_BATCH) in one call, and those behind
   it take the extra ones without a call of their own. */
static struct entry *r_next(struct frontier *f_)
{
    struct rf *f = (struct rf *)f_;
    if (atomic_load(&f->draining) || redis_pool_lost(f->pool) != NULL)
        return NULL;
    atomic_fetch_add(&f->waiting, 1);
    struct rentry *re = pop_ready(f);
    if (re == NULL && eddy_mutex_lock(f->picker) == 0) {
        while (!atomic_load(&f->draining) && redis_pool_lost(f->pool) == NULL &&
               (re = pop_ready(f)) == NULL) {
            int want = atomic_load(&f->waiting);
            int64_t wait = POLL_MS;
            int rc = next_batch(f, want < 1 ? 1 : want > MAX_BATCH ? MAX_BATCH : want, &wait);
            if (rc < 0)
                break;
            if (rc > 0)
                continue;
            if (wait > POLL_MS)
                wait = POLL_MS; /* other processes' changes wake nobody here */
            if (wait > 0 && eddy_notify_wait(f->changed, wait) == -ECANCELED)
                break;
        }
        eddy_mutex_unlock(f->picker);
    }
    atomic_fetch_sub(&f->waiting, 1);
    if (re == NULL) {
        if (atomic_load(&f->draining))
            give_back(f);
        eddy_notify_one(f->changed); /* the next picker sees the end too */
    }
    return re ? &re->e : NULL; /* taken before a drain: the caller's, as in memory */
}

static void r_done(struct frontier *f_, struct entry *e)
{
    struct rf *f = (struct rf *)f_;
    struct rentry *re = (struct rentry *)e;
    if (e->blocked) {
        end_lease(f, re, true); /* no fetch: no page counted, the host's start put back */
    } else if (re->lease > 0) {
        pthread_mutex_lock(&f->lock);
        if (fr_outbox_reserve(&f->out, 0, 1) == 0) {
            f->out.ends[f->out.nends++] = re->lease;
            fr_outbox_added(f);
        } else {
            pthread_mutex_unlock(&f->lock);
            end_lease(f, re, false); /* no memory to defer it */
        }
    }
    entry_free(e);
}

static void r_retry(struct frontier *f_, struct entry *e, uint64_t at_ns)
{
    struct rf *f = (struct rf *)f_;
    struct rentry *re = (struct rentry *)e;
    if (re->lease > 0) {
        uint64_t now = eddy_now_ns();
        long long wait = at_ns > now ? (long long)((at_ns - now) / 1000000u) : 0;
        char *s = entry_format('C', e->depth, e->retries + 1, e->hops,
                               e->parent ? e->parent->s : NULL, e->url, e->first_url,
                               e->chain, e->hops, NULL);
        if (s != NULL) {
            redisReply *r;
            int rc;
            RUN_SCRIPT(f, S_RETRY, &r, rc, "%lld %lld %s", re->lease, wait, s);
            if (rc == 0) {
                freeReplyObject(r);
                re->lease = 0;
            }
            free(s);
        }
        end_lease(f, re, false); /* the retry could not be queued: as done */
    }
    entry_free(e);
    eddy_notify_one(f->changed);
}

static int r_hop(struct frontier *f_, struct entry *e, const char *target)
{
    struct rf *f = (struct rf *)f_;
    if (frontier_hop_loops(e, target))
        return -ELOOP;
    const char *first = e->first_url != NULL ? e->first_url : e->url;
    char *host = origin_of(target);
    char *s = host ? entry_format('C', e->depth, 0, e->hops + 1, e->parent ? e->parent->s : NULL,
                                  target, first, e->chain, e->hops, e->url)
                   : NULL;
    return add_entry(f, target, host, s, true);
}

static void r_set_robots(struct frontier *f_, struct entry *e, struct robots *rules)
{
    struct rf *f = (struct rf *)f_;
    struct rentry *re = (struct rentry *)e;
    size_t len = 0;
    char *text = robots_to_text(rules, &len);
    long d = robots_crawl_delay_ms(rules);
    if (d > f->o.max_crawl_delay_ms)
        d = (long)f->o.max_crawl_delay_ms;
    if (text != NULL && re->lease > 0) {
        redisReply *r;
        int rc;
        RUN_SCRIPT(f, S_ROBOTS, &r, rc, "%s %ld %b %lld", re->host, d, text, len, re->lease);
        if (rc == 0)
            freeReplyObject(r);
    }
    free(text);
    pthread_mutex_lock(&f->lock);
    rules_put(f, re->host, rules); /* this process has them already */
    pthread_mutex_unlock(&f->lock);
}

static void r_drain(struct frontier *f_)
{
    struct rf *f = (struct rf *)f_;
    atomic_store(&f->draining, true);
    eddy_notify_all(f->changed);
}

static int r_mark_done(struct frontier *f_, const char *url, bool page)
{
    (void)f_;
    (void)url;
    (void)page;
    return -ENOTSUP; /* resuming goes through Redis itself: not needed yet */
}

static void r_log_to(struct frontier *f_, int fd)
{
    (void)f_;
    (void)fd; /* Redis is the record */
}

static void r_stats(struct frontier *f_, long *queued, long *in_flight, long *hosts_active)
{
    struct rf *f = (struct rf *)f_;
    redisReply *r = NULL;
    int rc = -EAGAIN;
    if (!redis_pool_away(f->pool)) { /* not while reconnecting: the last known */
        fr_flush(f); /* this process's finished work counted */
        RUN_SCRIPT(f, S_STATS, &r, rc, "%s", "-");
    }
    pthread_mutex_lock(&f->lock);
    if (rc == 0) {
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
            f->st_queued = (long)r->element[0]->integer;
            f->st_leased = (long)r->element[1]->integer;
            f->st_hosts = (long)r->element[2]->integer;
            f->st_done = (long)r->element[3]->integer;
        }
        freeReplyObject(r);
    }
    *queued = f->st_queued;
    *in_flight = f->st_leased;
    *hosts_active = f->st_hosts;
    pthread_mutex_unlock(&f->lock);
}

static bool r_crawl_done(struct frontier *f_, long *done)
{
    struct rf *f = (struct rf *)f_;
    pthread_mutex_lock(&f->lock);
    *done = f->st_done; /* as of the last stats */
    pthread_mutex_unlock(&f->lock);
    return true;
}

static const char *r_failure(struct frontier *f_)
{
    struct rf *f = (struct rf *)f_;
    return redis_pool_lost(f->pool);
}

/* Stops the flusher after it sent everything (from a task). */
static void stop_flusher(struct rf *f)
{
    if (f->flusher == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_mutex_unlock(&f->lock);
    eddy_notify_one(f->to_flush);
    (void)eddy_join(f->flusher, NULL);
    f->flusher = NULL;
    fr_flush(f); /* what a finisher added after */
}

static void r_free(struct frontier *f_)
{
    struct rf *f = (struct rf *)f_;
    if (f == NULL)
        return;
    stop_flusher(f);
    if (f->defined)
        give_back(f);
    redis_pool_free(f->pool);
    fr_outbox_clear(&f->out);
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (struct rhost *h = f->hosts[i], *nx; h != NULL; h = nx) {
            nx = h->next;
            robots_free(h->rules);
            free(h->key);
            free(h);
        }
    }
    eddy_mutex_free(f->picker);
    eddy_mutex_free(f->flushing);
    eddy_notify_free(f->changed);
    eddy_notify_free(f->to_flush);
    pthread_mutex_destroy(&f->lock);
    free(f->prefix);
    free(f->sent);
    free(f);
}

static const struct frontier_ops redis_ops = {
    .add = r_add,
    .add_links = r_add_links,
    .next = r_next,
    .done = r_done,
    .retry = r_retry,
    .hop = r_hop,
    .set_robots = r_set_robots,
    .drain = r_drain,
    .mark_done = r_mark_done,
    .log_to = r_log_to,
    .stats = r_stats,
    .crawl_done = r_crawl_done,
    .failure = r_failure,
    .free = r_free,
};

/* Checks the crawl's definition against the one in Redis, or writes it
   when this process is the first (the DEF script): 0, -EINVAL with why
   naming the first thing that differs, or a command's error. */
struct frontier *frontier_redis_new(const struct frontier_opts *o,
                                    const struct frontier_redis_opts *ro, char *why,
                                    size_t why_len, int *err)
{
    struct rf *f = calloc(1, sizeof *f);
    int rc = -ENOMEM;
    snprintf(why, why_len, "cannot start the Redis frontier");
    if (f == NULL)
        goto fail;
    f->base.ops = &redis_ops;
    f->o = *o;
    if (f->o.per_host < 1)
        f->o.per_host = 1;
    f->lease_ms = ro->lease_ms > 0 ? ro->lease_ms : 60000;
    f->rng = 0x9e3779b97f4a7c15u ^ (uint64_t)eddy_now_ns() ^ ((uint64_t)getpid() << 32);
    pthread_mutex_init(&f->lock, NULL);
    char hn[64] = "?";
    (void)gethostname(hn, sizeof hn - 1);
    snprintf(f->owner, sizeof f->owner, "%s:%d:%p", hn, (int)getpid(), (void *)f);
    if ((f->sent = calloc(SENT_SLOTS, sizeof *f->sent)) == NULL)
        goto fail;
    if (asprintf(&f->prefix, "ec:%s:", ro->crawl_id) < 0) {
        f->prefix = NULL;
        goto fail;
    }
    if ((rc = eddy_mutex_new(&f->picker)) < 0 || (rc = eddy_mutex_new(&f->flushing)) < 0 ||
        (rc = eddy_notify_new(&f->changed)) < 0 || (rc = eddy_notify_new(&f->to_flush)) < 0)
        goto fail;
    struct redis_pool_opts po = {
        .host = ro->host, .port = ro->port, .db = ro->db, .retry_ms = ro->retry_ms,
        .quiet = o->quiet, .on_lost = f->changed,
    };
    if ((rc = redis_pool_new(&f->pool, &po)) < 0) {
        snprintf(why, why_len, "cannot reach the Redis frontier at %s:%d (db %d)", ro->host,
                 ro->port, ro->db);
        goto fail;
    }
    for (int s = 0; s < S_COUNT; s++) {
        redisReply *r;
        if ((rc = fr_command(f, &r, "SCRIPT LOAD %s", fr_lua_src[s])) < 0)
            goto fail;
        bool ok = r->type == REDIS_REPLY_STRING && r->len < sizeof f->sha[s];
        if (ok)
            memcpy(f->sha[s], r->str, r->len + 1);
        else
            snprintf(why, why_len, "the Redis frontier's script %d: %s", s,
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        if (!ok) {
            rc = -EIO;
            goto fail;
        }
    }
    if ((rc = fr_define(f, ro, why, why_len)) < 0)
        goto fail;
    char key[160];
    snprintf(key, sizeof key, "%sdef", f->prefix);
    if ((rc = redis_pool_require(f->pool, key)) < 0)
        goto fail;
    f->defined = true;
    eddy_spawn_opts so;
    eddy_spawn_opts_init(&so);
    so.name = "redis frontier flusher";
    if ((rc = eddy_spawn_ex(&f->flusher, fr_flusher, f, &so)) < 0)
        goto fail;
    return &f->base;
fail:
    *err = rc;
    if (f != NULL)
        r_free(&f->base);
    return NULL;
}
