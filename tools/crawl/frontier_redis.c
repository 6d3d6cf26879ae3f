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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

#include "frontier_redis_lua.h"
#include "links.h"
#include "redis_eddy.h"
#include "robots.h"

enum {
    NCONN = 4,
    NBUCKETS = 1024,
    POLL_MS = 20,
    CMD_TIMEOUT_MS = 10000, /* a reply later than this: the connection is taken as lost */
    CONNECT_TIMEOUT_MS = 5000,
    BACKOFF_MIN_MS = 50,    /* between reconnects, doubling */
    BACKOFF_MAX_MS = 1000,
};
enum { S_ADD, S_NEXT, S_END, S_RETRY, S_ROBOTS, S_STATS, S_COUNT };

static const char *const lua_src[S_COUNT] = {
    LUA_COMMON LUA_ADD,   LUA_COMMON LUA_NEXT,   LUA_COMMON LUA_END,  LUA_COMMON LUA_RETRY,
    LUA_COMMON LUA_ROBOTS, LUA_COMMON LUA_STATS,
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

struct retired {             /* a lost connection, closed by r_free: a
                                command may still be leaving it */
    redis_eddy *c;
    struct retired *next;
};

struct rf {
    struct frontier base;
    struct frontier_opts o;
    char *rhost;             /* Redis's host, port and database */
    int rport, rdb;
    char *prefix;            /* "ec:ID:" */
    long long lease_ms;
    int64_t retry_ms;
    char owner[96];
    redis_eddy *c[NCONN];    /* guarded by: lock (a lost one is replaced) */
    struct retired *retired; /* guarded by: lock */
    _Atomic unsigned rr;
    char sha[S_COUNT][48];
    eddy_mutex *picker;
    eddy_mutex *reviver;     /* one task at a time reconnects */
    eddy_notify *changed;
    _Atomic bool draining;
    bool defined;            /* the definition is in Redis: a Redis without
                                it has lost the crawl */
    _Atomic uint64_t outage_ns; /* when Redis went away; 0: it is there */
    _Atomic int lost;        /* 0, or the error this process gave Redis up on */
    char lost_why[192];      /* written before lost is set */
    pthread_mutex_t lock;    /* guards: c, retired, hosts, rng, the cached stats */
    struct rhost *hosts[NBUCKETS];
    uint64_t rng;
    long st_queued, st_leased, st_hosts, st_done;
};

/* ------------------------------------------------------------- commands */

static bool noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* Whether a command's rc says the connection (or Redis) is gone rather
   than something about the command or the calling task. */
static bool conn_lost(int rc)
{
    return rc < 0 && rc != -ECANCELED && rc != -EINVAL && rc != -ENOMEM && rc != -ENOTSUP;
}

/* A new connection to Redis, its database selected; once the crawl is
   defined, also checks that Redis still holds it (-ESTALE: it came back
   empty) and is done loading it (-EAGAIN). */
static int dial(struct rf *f, redis_eddy **out)
{
    redis_eddy *c;
    redisReply *r = NULL;
    int rc = redis_eddy_connect(&c, f->rhost, f->rport, CONNECT_TIMEOUT_MS);
    if (rc < 0)
        return rc;
    rc = redis_eddy_command(c, &r, "SELECT %d", f->rdb);
    if (rc == 0)
        rc = r->type == REDIS_REPLY_STATUS ? 0 : r->type == REDIS_REPLY_ERROR &&
             strncmp(r->str, "LOADING", 7) == 0 ? -EAGAIN : -EIO;
    freeReplyObject(r);
    r = NULL;
    if (rc == 0 && f->defined) {
        rc = redis_eddy_command(c, &r, "EXISTS %sdef", f->prefix);
        if (rc == 0)
            rc = r->type != REDIS_REPLY_INTEGER ? -EAGAIN /* LOADING */
                 : r->integer == 0              ? -ESTALE
                                                : 0;
        freeReplyObject(r);
    }
    if (rc < 0) {
        redis_eddy_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Gives Redis up: from now on every command fails with rc at once. */
static void give_up(struct rf *f, int rc, const char *why)
{
    snprintf(f->lost_why, sizeof f->lost_why, "%s", why);
    atomic_store(&f->lost, rc);
    eddy_notify_all(f->changed); /* the picker stops */
}

/* Connects slot i again, unless another task has replaced bad there
   already, retrying with backoff while Redis has been away less than
   retry_ms. 0: send again; else the error Redis was given up with. */
static int revive(struct rf *f, unsigned i, redis_eddy *bad, int why)
{
    if (eddy_mutex_lock(f->reviver) < 0)
        return -ECANCELED;
    int rc = atomic_load(&f->lost);
    pthread_mutex_lock(&f->lock);
    bool replaced = f->c[i] != bad;
    pthread_mutex_unlock(&f->lock);
    int64_t backoff = BACKOFF_MIN_MS;
    while (rc == 0 && !replaced) {
        redis_eddy *nc = NULL;
        int drc = dial(f, &nc);
        uint64_t now = eddy_now_ns(), since = atomic_load(&f->outage_ns);
        if (drc == 0) {
            struct retired *old = malloc(sizeof *old);
            pthread_mutex_lock(&f->lock);
            f->c[i] = nc;
            if (old != NULL) {
                old->c = bad;
                old->next = f->retired;
                f->retired = old;
            } /* else leaked: out of memory already */
            pthread_mutex_unlock(&f->lock);
            if (since != 0 && !f->o.quiet)
                fprintf(stderr, "eddy-crawl: the Redis frontier is back after %.1f s\n",
                        (double)(now - since) / 1e9);
            atomic_store(&f->outage_ns, 0);
            break;
        }
        if (drc == -ESTALE) {
            rc = drc;
            give_up(f, rc, "Redis came back without this crawl's data (restarted without "
                           "persistence?): stopped taking URLs");
            break;
        }
        if (since == 0) {
            atomic_store(&f->outage_ns, since = now);
            if (!f->o.quiet)
                fprintf(stderr, "eddy-crawl: lost the Redis frontier (%s): reconnecting for up "
                                "to %lld ms\n", eddy_strerror(why), (long long)f->retry_ms);
        }
        if (now - since >= (uint64_t)f->retry_ms * 1000000u) {
            rc = why;
            char msg[160];
            snprintf(msg, sizeof msg, "lost the Redis frontier for %.1f s (%s): stopped taking URLs",
                     (double)(now - since) / 1e9, eddy_strerror(why));
            give_up(f, rc, msg);
            break;
        }
        if (eddy_sleep_ms(backoff) < 0) {
            rc = -ECANCELED;
            break;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    eddy_mutex_unlock(f->reviver);
    return rc;
}

/* Sends cmd (Redis's wire format, len bytes) on one of the connections,
   round-robin, and waits for its reply. A connection that is lost, or
   silent for CMD_TIMEOUT_MS, is replaced and the command sent again:
   every script is safe to run twice (a second add finds its URL seen, a
   second end or retry finds its lease gone, a lease a lost next took
   expires and returns its entry). Once Redis has stayed away retry_ms,
   every command fails at once with the error it was lost with. */
static int send_cmd(struct rf *f, redisReply **out, const char *cmd, size_t len)
{
    for (;;) {
        int rc = atomic_load(&f->lost);
        if (rc < 0)
            return rc;
        unsigned i = atomic_fetch_add(&f->rr, 1) % NCONN;
        pthread_mutex_lock(&f->lock);
        redis_eddy *c = f->c[i];
        pthread_mutex_unlock(&f->lock);
        if ((rc = eddy_deadline_push(CMD_TIMEOUT_MS)) == 0) {
            rc = redis_eddy_formatted(c, out, cmd, len);
            eddy_deadline_pop();
        }
        if (!conn_lost(rc))
            return rc;
        if ((rc = revive(f, i, c, rc)) < 0)
            return rc;
    }
}

/* send_cmd with the command given as redisCommand's format. */
static int command(struct rf *f, redisReply **out, const char *fmt, ...)
{
    char *cmd;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return -ENOMEM;
    int rc = send_cmd(f, out, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

/* An error reply of a script: said (it is a bug, not a condition) and
   turned into -EIO. */
static int script_failed(struct rf *f, redisReply **r)
{
    if ((*r)->type != REDIS_REPLY_ERROR)
        return 0;
    if (!f->o.quiet)
        fprintf(stderr, "eddy-crawl: redis frontier: %s\n", (*r)->str);
    freeReplyObject(*r);
    *r = NULL;
    return -EIO;
}

/* Runs script s with "prefix per_host robots" then tail's arguments:
   EVALSHA, and EVAL when Redis lost the script (a restart, SCRIPT FLUSH).
   rc: 0 with *out a reply that is no error, or a negative errno. */
#define RUN_SCRIPT(f, s, out, rc, tail, ...)                                              \
    do {                                                                                  \
        rc = command((f), (out), "EVALSHA %s 0 %s %d %d " tail, (f)->sha[s], (f)->prefix, \
                     (f)->o.per_host, (int)(f)->o.robots, __VA_ARGS__);                   \
        if (rc == 0 && noscript(*(out))) {                                                \
            freeReplyObject(*(out));                                                      \
            rc = command((f), (out), "EVAL %s 0 %s %d %d " tail, lua_src[s], (f)->prefix, \
                         (f)->o.per_host, (int)(f)->o.robots, __VA_ARGS__);               \
        }                                                                                 \
        if (rc == 0)                                                                      \
            rc = script_failed((f), (out));                                               \
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
    if (command(f, &r, "HGET %srobots:%s rules", f->prefix, re->host) < 0)
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
    if (atomic_load(&f->draining) || atomic_load(&f->lost) || eddy_mutex_lock(f->picker) < 0)
        return NULL;
    struct rentry *re = NULL;
    while (!atomic_load(&f->draining) && !atomic_load(&f->lost)) {
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
    redisReply *r = NULL;
    int rc = -EAGAIN;
    if (atomic_load(&f->outage_ns) == 0) /* not while reconnecting: the last known */
        RUN_SCRIPT(f, S_STATS, &r, rc, "%s", "-");
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
    return atomic_load(&f->lost) < 0 ? f->lost_why : NULL;
}

static void r_free(struct frontier *f_)
{
    struct rf *f = (struct rf *)f_;
    if (f == NULL)
        return;
    for (int i = 0; i < NCONN; i++)
        redis_eddy_close(f->c[i]);
    for (struct retired *r = f->retired, *nx; r != NULL; r = nx) {
        nx = r->next;
        redis_eddy_close(r->c);
        free(r);
    }
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (struct rhost *h = f->hosts[i], *nx; h != NULL; h = nx) {
            nx = h->next;
            robots_free(h->rules);
            free(h->key);
            free(h);
        }
    }
    eddy_mutex_free(f->picker);
    eddy_mutex_free(f->reviver);
    eddy_notify_free(f->changed);
    pthread_mutex_destroy(&f->lock);
    free(f->prefix);
    free(f->rhost);
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
    .crawl_done = r_crawl_done,
    .failure = r_failure,
    .free = r_free,
};

/* Checks the crawl's definition against the one in Redis, or writes it
   when this process is the first (the DEF script): 0, -EINVAL with why
   naming the first thing that differs, or a command's error. */
static int define(struct rf *f, const struct frontier_redis_opts *ro, char *why, size_t why_len)
{
    enum { MAX_ARGS = 96 };
    char v[4][32];
    snprintf(v[0], sizeof v[0], "%d", f->o.per_host);
    snprintf(v[1], sizeof v[1], "%lld", (long long)f->o.delay_ms);
    snprintf(v[2], sizeof v[2], "%ld", f->o.max_pages);
    snprintf(v[3], sizeof v[3], "%lld", f->lease_ms);
    const char *argv[MAX_ARGS] = {
        "EVAL", LUA_COMMON LUA_DEF, "0", f->prefix, v[0], f->o.robots ? "1" : "0",
        "--per-host", v[0], "--delay-ms", v[1], "--max-pages", v[2], "--lease-ms", v[3],
        "--no-robots", f->o.robots ? "no" : "yes",
    };
    int argc = 16;
    for (int i = 0; ro->def != NULL && ro->def[i] != NULL && ro->def[i + 1] != NULL; i += 2) {
        if (argc + 2 > MAX_ARGS)
            return -E2BIG;
        argv[argc++] = ro->def[i];
        argv[argc++] = ro->def[i + 1];
    }
    char *cmd;
    int len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    if (len < 0)
        return -ENOMEM;
    redisReply *r = NULL;
    int rc = send_cmd(f, &r, cmd, (size_t)len);
    redisFreeCommand(cmd);
    if (rc < 0)
        return rc;
    if (r->type == REDIS_REPLY_STRING && r->len > 0) {
        snprintf(why, why_len, "crawl '%s' differs from this process in its %s (all processes "
                 "on a crawl id must agree)", ro->crawl_id, r->str);
        rc = -EINVAL;
    } else if (r->type != REDIS_REPLY_STRING) {
        snprintf(why, why_len, "the Redis frontier's definition: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        rc = -EIO;
    }
    freeReplyObject(r);
    return rc;
}

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
    f->retry_ms = ro->retry_ms > 0 ? ro->retry_ms : 0;
    f->rport = ro->port;
    f->rdb = ro->db;
    f->rng = 0x9e3779b97f4a7c15u ^ (uint64_t)eddy_now_ns() ^ ((uint64_t)getpid() << 32);
    pthread_mutex_init(&f->lock, NULL);
    char hn[64] = "?";
    (void)gethostname(hn, sizeof hn - 1);
    snprintf(f->owner, sizeof f->owner, "%s:%d:%p", hn, (int)getpid(), (void *)f);
    size_t n = strlen(ro->crawl_id) + 8;
    if ((f->prefix = malloc(n)) == NULL || (f->rhost = strdup(ro->host)) == NULL)
        goto fail;
    snprintf(f->prefix, n, "ec:%s:", ro->crawl_id);
    if ((rc = eddy_mutex_new(&f->picker)) < 0 || (rc = eddy_mutex_new(&f->reviver)) < 0 ||
        (rc = eddy_notify_new(&f->changed)) < 0)
        goto fail;
    for (int i = 0; i < NCONN; i++) {
        if ((rc = dial(f, &f->c[i])) < 0) {
            snprintf(why, why_len, "cannot reach the Redis frontier at %s:%d (db %d)", ro->host,
                     ro->port, ro->db);
            goto fail;
        }
    }
    for (int s = 0; s < S_COUNT; s++) {
        redisReply *r;
        if ((rc = command(f, &r, "SCRIPT LOAD %s", lua_src[s])) < 0)
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
    if ((rc = define(f, ro, why, why_len)) < 0)
        goto fail;
    f->defined = true;
    return &f->base;
fail:
    *err = rc;
    if (f != NULL)
        r_free(&f->base);
    return NULL;
}
