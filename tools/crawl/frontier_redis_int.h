/*
 * tools/crawl/frontier_redis_int.h: the Redis frontier's parts shared by
 * frontier_redis.c (the frontier's calls) and frontier_redis_io.c (its
 * commands, scripts and outbox). Not for other files.
 */
#ifndef EDDY_CRAWL_FRONTIER_REDIS_INT_H
#define EDDY_CRAWL_FRONTIER_REDIS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <eddy.h>
#include <hiredis/hiredis.h>

#include "frontier.h"
#include "redis_pool.h"

enum {
    NBUCKETS = 1024,
    POLL_MS = 20,
    MAX_BATCH = 16,        /* entries leased by one call of next */
    OUTBOX_MAX_ARGS = 8192, /* past this many link arguments a finisher flushes itself */
    OUTBOX_MAX_ENDS = 1024,
    SENT_SLOTS = 1 << 18,   /* 2 MiB of fingerprints */
};
enum { S_ADD, S_FLUSH, S_NEXT, S_END, S_RETRY, S_ROBOTS, S_STATS, S_GIVEBACK, S_COUNT };

/* The scripts' sources (lua/NAME.lua): LUA_COMMON then each one's. */
extern const char *const fr_lua_src[S_COUNT];

struct rentry {
    struct entry e;          /* first: the caller's pointer */
    long long lease;         /* 0: none (a blocked entry's lease is ended) */
    struct rentry *ready_next;
    char *host;              /* "scheme://host[:port]" */
    char *buf;               /* the fields, split in place */
};

struct rhost {               /* a host whose robots.txt rules were read */
    char *key;
    struct robots *rules;    /* NULL: allow all */
    struct rhost *next;
};

/* What finished fetchers left for the flusher: FLUSH's arguments. */
struct outbox {
    char **args;             /* per page: depth, parent, k, then k URLs */
    int nargs, cap_args, groups;
    long long *ends;         /* lease ids done, after the links */
    int nends, cap_ends;
};

struct rf {
    struct frontier base;
    struct frontier_opts o;
    struct redis_pool *pool;
    char *prefix;            /* "ec:ID:" */
    long long lease_ms;
    char owner[96];
    char sha[S_COUNT][48];
    eddy_mutex *picker;
    struct rentry *ready;    /* guarded by: lock; leased for the waiting fetchers */
    _Atomic int waiting;     /* fetchers in next */
    eddy_notify *changed;
    _Atomic bool draining;
    bool defined;            /* the definition is in Redis */
    struct outbox out;       /* guarded by: lock */
    bool stopping;           /* guarded by: lock; the flusher ends when empty */
    eddy_mutex *flushing;    /* one flush at a time, in order */
    eddy_notify *to_flush;
    eddy_task *flusher;
    pthread_mutex_t lock;    /* guards: ready, out, hosts, rng, the cached stats */
    struct rhost *hosts[NBUCKETS];
    uint64_t rng;
    long st_queued, st_leased, st_hosts, st_done;
    /* URLs this process sent to Redis already, by 64-bit fingerprint in a
       direct-mapped table (a newer URL takes an older one's slot): a link
       found again is not sent again. Racy on purpose: a lost update only
       sends a URL twice, and Redis's seen set says it is not new. */
    _Atomic uint64_t *sent;
};

/* Whether r says Redis does not have the script (a restart, SCRIPT FLUSH). */
bool fr_noscript(const redisReply *r);

/* A command (redisCommand's format) through the pool. */
int fr_command(struct rf *f, redisReply **out, const char *fmt, ...);

/* An error reply of a script: said (it is a bug, not a condition) and
   turned into -EIO (*r freed and NULL); 0 for any other reply. */
int fr_script_failed(struct rf *f, redisReply **r);

/* Runs script s with "prefix per_host robots" then tail's arguments:
   EVALSHA, and EVAL when Redis lost the script (a restart, SCRIPT FLUSH).
   rc: 0 with *out a reply that is no error, or a negative errno. */
#define RUN_SCRIPT(f, s, out, rc, tail, ...)                                               \
    do {                                                                                   \
        rc = fr_command((f), (out), "EVALSHA %s 0 %s %d %d " tail, (f)->sha[s], (f)->prefix, \
                        (f)->o.per_host, (int)(f)->o.robots, __VA_ARGS__);                 \
        if (rc == 0 && fr_noscript(*(out))) {                                              \
            freeReplyObject(*(out));                                                       \
            rc = fr_command((f), (out), "EVAL %s 0 %s %d %d " tail, fr_lua_src[s],         \
                            (f)->prefix, (f)->o.per_host, (int)(f)->o.robots, __VA_ARGS__); \
        }                                                                                  \
        if (rc == 0)                                                                       \
            rc = fr_script_failed((f), (out));                                             \
    } while (0)

/* The arguments every script starts with: EVALSHA sha 0 prefix per_host
   robots (filled by fr_script_argv). */
enum { HEAD = 6 };

int fr_script_argv(struct rf *f, int s, int argc, const char **argv, size_t *lens,
                   redisReply **out);

/* The outbox (frontier_redis_io.c): room for args link arguments and ends
   lease ends; emptied (freed); after adding (lock held, released here). */
int fr_outbox_reserve(struct outbox *o, int args, int ends);
void fr_outbox_clear(struct outbox *o);
void fr_outbox_added(struct rf *f);
/* Sends the outbox now (in order with the flushes before). */
void fr_flush(struct rf *f);
/* The flusher task: sends the outbox whenever it holds something, until
   stopping and empty. */
void *fr_flusher(void *arg);

/* Checks the crawl's definition against Redis's or writes it: 0, -EINVAL
   with why naming what differs, or a command's error. */
int fr_define(struct rf *f, const struct frontier_redis_opts *ro, char *why, size_t why_len);

#endif
