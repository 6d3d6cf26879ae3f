/*
 * tools/redis/redis_eddy.h: Redis from eddy tasks, through hiredis's async API.
 *
 * An example of plugging a third-party library that owns its sockets into
 * eddy with eddy_wait_fd (docs/guide.md, "Integrating a third-party
 * library"). A task calls redis_eddy_command and suspends until the reply
 * comes; any number of tasks, on any workers, may share one connection
 * (their commands are pipelined on it, replies come back in order).
 *
 *     redis_eddy *db;
 *     int rc = redis_eddy_connect(&db, "127.0.0.1", 6379, 1000);
 *     redisReply *r;
 *     if (rc == 0 && (rc = redis_eddy_command(db, &r, "GET %s", key)) == 0) {
 *         if (r->type == REDIS_REPLY_STRING) puts(r->str);
 *         freeReplyObject(r);
 *     }
 *     redis_eddy_close(db);
 *
 * Build: cc app.c redis_eddy.c $(pkg-config --cflags --libs eddy hiredis).
 * Written and tested against hiredis 0.14.1 (Debian 12's libhiredis-dev);
 * what it uses (the async API, the ev hooks, c.fd, c.err, c.errstr) is
 * still there in hiredis 1.x, but it was not tested with it.
 */
#ifndef REDIS_EDDY_H
#define REDIS_EDDY_H

#include <stdarg.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One Redis connection, shared by any number of tasks. */
typedef struct redis_eddy redis_eddy;

/**
 * Connects to host:port (a name is resolved on eddy's blocking pool) and
 * waits until the connection is up, at most timeout_ms (negative: no
 * limit). Must be called from an eddy task. On success *out holds the
 * connection, released with redis_eddy_close. Errors: -ECONNREFUSED,
 * -ETIMEDOUT, -ECANCELED, -ENOMEM, -EPERM outside a task, -EIO (a name
 * that does not resolve and other failures hiredis reports only as text).
 */
int redis_eddy_connect(redis_eddy **out, const char *host, int port, int64_t timeout_ms);

/**
 * Sends a command (printf-like, as hiredis's redisCommand: "SET %s %b",
 * key, buf, len) and suspends until its reply. Returns 0 with *out set to
 * the reply, which the caller owns and frees with freeReplyObject (a Redis
 * error such as WRONGTYPE is a reply too: type REDIS_REPLY_ERROR). Else a
 * negative errno with *out NULL:
 *  - the connection's error once it is lost: -ECONNRESET when the server
 *    went away, -EPIPE, -ECONNABORTED after redis_eddy_close or once the
 *    runtime shuts down... A lost connection stays lost: connect again.
 *  - -ECANCELED if the calling task was aborted, -ETIMEDOUT if an
 *    enclosing eddy_deadline_push passed: the late reply is then dropped
 *    and the connection stays usable.
 *  - -EINVAL for a bad format, -ENOTSUP for (P|S)SUBSCRIBE,
 *    (P)UNSUBSCRIBE and MONITOR, whose replies never end.
 *
 * Thread safety: any task or thread, concurrently with other commands.
 */
int redis_eddy_command(redis_eddy *c, redisReply **out, const char *fmt, ...);

/** redis_eddy_command with a va_list. */
int redis_eddy_vcommand(redis_eddy *c, redisReply **out, const char *fmt, va_list ap);

/**
 * redis_eddy_command for a command already in Redis's wire format (RESP),
 * as redisFormatCommand makes it: len bytes at cmd, which stay the
 * caller's. For a caller that sends one command again (say, on another
 * connection after this one was lost) without formatting it again.
 */
int redis_eddy_formatted(redis_eddy *c, redisReply **out, const char *cmd, size_t len);

/**
 * Closes the connection: commands still waiting fail with -ECONNABORTED,
 * and close waits for them to return before it frees c. Starting a command
 * once close has begun is a use after free. NULL: no-op.
 */
void redis_eddy_close(redis_eddy *c);

#ifdef __cplusplus
}
#endif
#endif /* REDIS_EDDY_H */
