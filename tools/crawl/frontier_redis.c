/*
 * tools/crawl/frontier_redis.c: a frontier shared by many processes
 * through Redis (docs/crawl.md, "Many processes on one frontier"). The
 * state lives in Redis under "ec:ID:" and every step that could hand an
 * entry out twice or exceed a host's slots is one Lua script
 * (frontier_redis_lua.h: the keys, and the race each script closes).
 * This side keeps only: a few connections (commands of many fetchers
 * pipelined on them, round-robin), a picker lock and a wake-up so that one
 * fetcher per process polls while nothing is due (at most every 20 ms;
 * local done/add calls wake it sooner), and each host's parsed robots.txt
 * rules, read once from Redis.
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
 * a lease that is gone change no count (the entry was re-queued).
 * The crawl's definition ("def") holds this side's options (per_host,
 * delay, page budget, robots, lease): a process joining with others is
 * refused. Seeds, domains and depth are the command line's to add.
 * Not yet: mark_done (-ENOTSUP), retrying commands when Redis is lost (a
 * failed command ends this process's next).
 */
#include "frontier.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

#include "frontier_redis_lua.h"
#include "links.h"
#include "redis_eddy.h"
#include "robots.h"

enum { NCONN = 4, NBUCKETS = 1024, POLL_MS = 20 };
enum { S_ADD, S_NEXT, S_END, S_RETRY, S_ROBOTS, S_STATS, S_DEF, S_COUNT };

static const char *const lua_src[S_COUNT] = {
    LUA_COMMON LUA_ADD,   LUA_COMMON LUA_NEXT,   LUA_COMMON LUA_END,  LUA_COMMON LUA_RETRY,
    LUA_COMMON LUA_ROBOTS, LUA_COMMON LUA_STATS, LUA_COMMON LUA_DEF,
};

struct rentry {
    struct entry e;          /* first: the caller's pointer */
    long long lease;         /* 0: none (a blocked entry's lease is ended) */
    char *host;              /* "scheme://host[:port]" */
    char *buf;               /* the fields, split in place */
};

struct rhost {               /* a host whose robots.txt rules were read */
    char *key;
    struct robots *rules;    /* NULL: allow all */
    struct rhost *next;
};

struct rf {
    struct frontier base;
    struct frontier_opts o;
    char *prefix;            /* "ec:ID:" */
    long long lease_ms;
    char owner[96];
    redis_eddy *c[NCONN];
    _Atomic unsigned rr;
    char sha[S_COUNT][48];
    eddy_mutex *picker;
    eddy_notify *changed;
    _Atomic bool draining;
    pthread_mutex_t lock;    /* guards: hosts, rng, the cached stats */
    struct rhost *hosts[NBUCKETS];
    uint64_t rng;
    long st_queued, st_leased, st_hosts;
};

/* ------------------------------------------------------------- commands */

static redis_eddy *conn(struct rf *f)
{
    return f->c[atomic_fetch_add(&f->rr, 1) % NCONN];
}

static bool noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* Runs script s with "prefix per_host robots" then tail's arguments:
   EVALSHA, and EVAL when Redis lost the script (a restart, SCRIPT FLUSH).
   rc: 0 with *out a reply that is no error, or a negative errno. */
#define RUN_SCRIPT(f, s, out, rc, tail, ...)                                              \
    do {                                                                                  \
        redis_eddy *c_ = conn(f);                                                         \
        rc = redis_eddy_command(c_, (out), "EVALSHA %s 0 %s %d %d " tail, (f)->sha[s],    \
                                (f)->prefix, (f)->o.per_host, (int)(f)->o.robots,         \
                                __VA_ARGS__);                                             \
        if (rc == 0 && noscript(*(out))) {                                                \
            freeReplyObject(*(out));                                                      \
            rc = redis_eddy_command(c_, (out), "EVAL %s 0 %s %d %d " tail, lua_src[s],    \
                                    (f)->prefix, (f)->o.per_host, (int)(f)->o.robots,     \
                                    __VA_ARGS__);                                         \
        }                                                                                 \
        if (rc == 0 && (*(out))->type == REDIS_REPLY_ERROR) {                             \
            fprintf(stderr, "eddy-crawl: redis frontier: %s\n", (*(out))->str);           \
            freeReplyObject(*(out));                                                      \
            *(out) = NULL;                                                                \
            rc = -EIO;                                                                    \
        }                                                                                 \
    } while (0)

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
    if (redis_eddy_command(conn(f), &r, "HGET %srobots:%s rules", f->prefix, re->host) < 0)
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

/* One call of the next script: 1 with *out, 0 with *wait_ms, -1 over
   (or Redis failing). */
static int next_once(struct rf *f, struct rentry **out, int64_t *wait_ms)
{
    char jit[32];
    snprintf(jit, sizeof jit, "%.4f", jitter(f));
    redisReply *r;
    int rc;
    RUN_SCRIPT(f, S_NEXT, &r, rc, "%ld %lld %lld %s %s", f->o.max_pages, f->lease_ms,
               (long long)f->o.delay_ms, jit, f->owner);
    if (rc < 0)
        return -1;
    int res = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_INTEGER) {
        long long code = r->element[0]->integer;
        if (code == 0 && r->elements == 2) {
            *wait_ms = r->element[1]->integer;
            res = 0;
        } else if (code == 1 && r->elements == 5) {
            const redisReply *e = r->element[2], *h = r->element[3], *st = r->element[4];
            struct rentry *re = entry_parse(e->str, e->len, r->element[1]->integer, h->str);
            if (re == NULL) { /* OOM or garbage: given up, as done */
                struct rentry tmp = { .lease = r->element[1]->integer };
                end_lease(f, &tmp, false);
                res = 0;
                *wait_ms = 0;
            } else {
                if (f->o.robots && !re->e.is_robots && st->str[0] == 'R' && !allowed(f, re)) {
                    end_lease(f, re, true); /* recorded, not fetched: no slot */
                    re->e.blocked = true;
                }
                *out = re;
                res = 1;
            }
        }
    }
    freeReplyObject(r);
    return res;
}

static struct entry *r_next(struct frontier *f_)
{
    struct rf *f = (struct rf *)f_;
    if (atomic_load(&f->draining) || eddy_mutex_lock(f->picker) < 0)
        return NULL;
    struct rentry *re = NULL;
    while (!atomic_load(&f->draining)) {
        int64_t wait = POLL_MS;
        int rc = next_once(f, &re, &wait);
        if (rc != 0)
            break;
        if (wait > POLL_MS)
            wait = POLL_MS; /* other processes' changes wake nobody here */
        if (wait > 0 && eddy_notify_wait(f->changed, wait) == -ECANCELED)
            break;
    }
    eddy_mutex_unlock(f->picker);
    if (re == NULL)
        eddy_notify_one(f->changed); /* the next picker sees the end too */
    return re ? &re->e : NULL; /* taken before a drain: the caller's, as in memory */
}

static void r_done(struct frontier *f_, struct entry *e)
{
    struct rf *f = (struct rf *)f_;
    end_lease(f, (struct rentry *)e, false);
    entry_free(e);
    eddy_notify_one(f->changed);
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
    redisReply *r;
    int rc;
    RUN_SCRIPT(f, S_STATS, &r, rc, "%s", "-");
    pthread_mutex_lock(&f->lock);
    if (rc == 0) {
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
            f->st_queued = (long)r->element[0]->integer;
            f->st_leased = (long)r->element[1]->integer;
            f->st_hosts = (long)r->element[2]->integer;
        }
        freeReplyObject(r);
    }
    *queued = f->st_queued; /* Redis failing: the last known */
    *in_flight = f->st_leased;
    *hosts_active = f->st_hosts;
    pthread_mutex_unlock(&f->lock);
}

static void r_free(struct frontier *f_)
{
    struct rf *f = (struct rf *)f_;
    if (f == NULL)
        return;
    for (int i = 0; i < NCONN; i++)
        redis_eddy_close(f->c[i]);
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (struct rhost *h = f->hosts[i], *nx; h != NULL; h = nx) {
            nx = h->next;
            robots_free(h->rules);
            free(h->key);
            free(h);
        }
    }
    eddy_mutex_free(f->picker);
    eddy_notify_free(f->changed);
    pthread_mutex_destroy(&f->lock);
    free(f->prefix);
    free(f);
}

static const struct frontier_ops redis_ops = {
    .add = r_add,
    .next = r_next,
    .done = r_done,
    .retry = r_retry,
    .hop = r_hop,
    .set_robots = r_set_robots,
    .drain = r_drain,
    .mark_done = r_mark_done,
    .log_to = r_log_to,
    .stats = r_stats,
    .free = r_free,
};

/* A reply that is a status "OK": 0, else a negative errno. */
static int expect_ok(int rc, redisReply *r)
{
    if (rc < 0)
        return rc;
    rc = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0 ? 0 : -EIO;
    if (rc < 0)
        fprintf(stderr, "eddy-crawl: redis frontier: %s\n",
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return rc;
}

struct frontier *frontier_redis_new(const struct frontier_opts *o, const char *host, int port,
                                    int db, const char *crawl_id, int64_t lease_ms, int *err)
{
    struct rf *f = calloc(1, sizeof *f);
    int rc = -ENOMEM;
    if (f == NULL)
        goto fail;
    f->base.ops = &redis_ops;
    f->o = *o;
    if (f->o.per_host < 1)
        f->o.per_host = 1;
    f->lease_ms = lease_ms > 0 ? lease_ms : 60000;
    f->rng = 0x9e3779b97f4a7c15u ^ (uint64_t)eddy_now_ns() ^ ((uint64_t)getpid() << 32);
    pthread_mutex_init(&f->lock, NULL);
    char hn[64] = "?";
    (void)gethostname(hn, sizeof hn - 1);
    snprintf(f->owner, sizeof f->owner, "%s:%d:%p", hn, (int)getpid(), (void *)f);
    size_t n = strlen(crawl_id) + 8;
    if ((f->prefix = malloc(n)) == NULL)
        goto fail;
    snprintf(f->prefix, n, "ec:%s:", crawl_id);
    if ((rc = eddy_mutex_new(&f->picker)) < 0 || (rc = eddy_notify_new(&f->changed)) < 0)
        goto fail;
    for (int i = 0; i < NCONN; i++) {
        redisReply *r = NULL;
        if ((rc = redis_eddy_connect(&f->c[i], host, port, 5000)) < 0)
            goto fail;
        rc = redis_eddy_command(f->c[i], &r, "SELECT %d", db);
        if ((rc = expect_ok(rc, r)) < 0)
            goto fail;
    }
    for (int s = 0; s < S_COUNT; s++) {
        redisReply *r;
        if ((rc = redis_eddy_command(f->c[0], &r, "SCRIPT LOAD %s", lua_src[s])) < 0)
            goto fail;
        bool ok = r->type == REDIS_REPLY_STRING && r->len < sizeof f->sha[s];
        if (ok)
            memcpy(f->sha[s], r->str, r->len + 1);
        else
            fprintf(stderr, "eddy-crawl: redis frontier: script %d: %s\n", s,
                    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        if (!ok) {
            rc = -EIO;
            goto fail;
        }
    }
    redisReply *r;
    RUN_SCRIPT(f, S_DEF, &r, rc, "per-host %d delay-ms %lld max-pages %ld robots %d lease-ms %lld",
               f->o.per_host, (long long)f->o.delay_ms, f->o.max_pages, (int)f->o.robots,
               f->lease_ms);
    if (rc < 0)
        goto fail;
    if (r->type == REDIS_REPLY_STRING && r->len > 0) {
        fprintf(stderr, "eddy-crawl: crawl %s runs with another --%s%s\n", crawl_id,
                strcmp(r->str, "robots") == 0 ? "no-" : "", r->str);
        rc = -EINVAL;
    }
    freeReplyObject(r);
    if (rc < 0)
        goto fail;
    return &f->base;
fail:
    *err = rc;
    if (f != NULL)
        r_free(&f->base);
    return NULL;
}
