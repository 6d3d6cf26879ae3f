/*
 * tools/crawl/redis_pool.h: a few Redis connections that outlive a Redis
 * restart, for the crawler's shared frontier (frontier_redis.c). Commands
 * of many tasks are pipelined on them, round-robin (tools/redis/
 * redis_eddy.h does the I/O on eddy's reactor). A connection that is
 * lost, or silent for 10 s, is replaced and the command sent again, with
 * backoff (50 ms doubling to 1 s) while Redis has been away less than
 * retry_ms; then the pool gives Redis up and every command fails at once.
 * Only for commands that are safe to run twice.
 */
#ifndef EDDY_CRAWL_REDIS_POOL_H
#define EDDY_CRAWL_REDIS_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <eddy.h>
#include <hiredis/hiredis.h>

struct redis_pool;

struct redis_pool_opts {
    const char *host;
    int port, db;
    int64_t retry_ms;       /* how long Redis may stay away */
    bool quiet;             /* no lines on stderr about losing Redis */
    eddy_notify *on_lost;   /* notified (all) when Redis is given up; may be NULL */
};

/* Connects (from an eddy task). 0, or a negative errno: -ECONNREFUSED,
   -ETIMEDOUT, -EIO (a name that does not resolve, an error reply to
   SELECT), -ENOMEM. */
int redis_pool_new(struct redis_pool **out, const struct redis_pool_opts *o);

/* From now on a reconnect also checks that key exists: a Redis that came
   back without it (restarted without persistence) is given up at once
   with -ESTALE. */
int redis_pool_require(struct redis_pool *p, const char *key);

/* Sends cmd (Redis's wire format, len bytes, as redisFormatCommand makes
   it) and waits for its reply: 0 with *out (the caller's; an error reply
   is a reply), or a negative errno (Redis given up: the error it was lost
   with; -ECANCELED: the task was aborted). */
int redis_pool_send(struct redis_pool *p, redisReply **out, const char *cmd, size_t len);

/* redis_pool_send with the command as redisCommand's format. */
int redis_pool_command(struct redis_pool *p, redisReply **out, const char *fmt, ...);

/* Why Redis was given up (one line), or NULL while it was not. */
const char *redis_pool_lost(struct redis_pool *p);

/* Whether Redis is away right now (being reconnected to). */
bool redis_pool_away(struct redis_pool *p);

/* Closes every connection (from an eddy task). NULL: no-op. */
void redis_pool_free(struct redis_pool *p);

#endif
