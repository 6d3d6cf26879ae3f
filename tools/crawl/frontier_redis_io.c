/*
 * tools/crawl/frontier_redis_io.c: how the Redis frontier talks to Redis
 * (frontier_redis_int.h): its commands and scripts (EVALSHA, and EVAL
 * when Redis lost them), the outbox of finished work and the flusher that
 * sends it, and the crawl's definition.
 */
#include "frontier_redis_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontier_redis_lua.h"

const char *const fr_lua_src[S_COUNT] = {
    LUA_COMMON LUA_ADD,    LUA_COMMON LUA_FLUSH,  LUA_COMMON LUA_NEXT,
    LUA_COMMON LUA_END,    LUA_COMMON LUA_RETRY,  LUA_COMMON LUA_ROBOTS,
    LUA_COMMON LUA_STATS,  LUA_COMMON LUA_GIVEBACK,
};

/* ------------------------------------------------------------- commands */

bool fr_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

int fr_command(struct rf *f, redisReply **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return -ENOMEM;
    int rc = redis_pool_send(f->pool, out, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

/* An error reply of a script: said (it is a bug, not a condition) and
   turned into -EIO. */
int fr_script_failed(struct rf *f, redisReply **r)
{
    if ((*r)->type != REDIS_REPLY_ERROR)
        return 0;
    if (!f->o.quiet)
        fprintf(stderr, "eddy-crawl: redis frontier: %s\n", (*r)->str);
    freeReplyObject(*r);
    *r = NULL;
    return -EIO;
}

/* RUN_SCRIPT for arguments given as a vector: argv[HEAD..argc) (lens
   NULL: strings), argv[0..HEAD) left for this to fill. */
int fr_script_argv(struct rf *f, int s, int argc, const char **argv, size_t *lens,
                   redisReply **out)
{
    char ph[16];
    snprintf(ph, sizeof ph, "%d", f->o.per_host);
    argv[0] = "EVALSHA";
    argv[1] = f->sha[s];
    argv[2] = "0";
    argv[3] = f->prefix;
    argv[4] = ph;
    argv[5] = f->o.robots ? "1" : "0";
    if (lens != NULL)
        for (int i = 0; i < HEAD; i++)
            lens[i] = strlen(argv[i]);
    int rc = 0;
    for (int round = 0; round < 2; round++) {
        char *cmd;
        int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
        if (len < 0)
            return -ENOMEM;
        rc = redis_pool_send(f->pool, out, cmd, (size_t)len);
        redisFreeCommand(cmd);
        if (rc < 0 || !fr_noscript(*out))
            break;
        freeReplyObject(*out); /* Redis lost the script: EVAL it */
        *out = NULL;
        argv[0] = "EVAL";
        argv[1] = fr_lua_src[s];
        if (lens != NULL) {
            lens[0] = 4;
            lens[1] = strlen(fr_lua_src[s]);
        }
    }
    return rc == 0 ? fr_script_failed(f, out) : rc;
}

/* ---------------------------------------------------------------- outbox */

int fr_outbox_reserve(struct outbox *o, int args, int ends)
{
    if (o->nargs + args > o->cap_args) {
        int cap = o->cap_args ? o->cap_args : 256;
        while (cap < o->nargs + args)
            cap *= 2;
        char **a = realloc(o->args, (size_t)cap * sizeof *a);
        if (a == NULL)
            return -ENOMEM;
        o->args = a;
        o->cap_args = cap;
    }
    if (o->nends + ends > o->cap_ends) {
        int cap = o->cap_ends ? o->cap_ends * 2 : 64;
        long long *e = realloc(o->ends, (size_t)cap * sizeof *e);
        if (e == NULL)
            return -ENOMEM;
        o->ends = e;
        o->cap_ends = cap;
    }
    return 0;
}

void fr_outbox_clear(struct outbox *o)
{
    for (int i = 0; i < o->nargs; i++)
        free(o->args[i]);
    free(o->args);
    free(o->ends);
    memset(o, 0, sizeof *o);
}

/* Sends what is in the outbox (the FLUSH script), in order with the
   flushes before: links first, then ends. A flush that fails (Redis given
   up) is dropped: its leases expire and their pages go to other processes. */
void fr_flush(struct rf *f)
{
    if (eddy_mutex_lock(f->flushing) < 0)
        return;
    pthread_mutex_lock(&f->lock);
    struct outbox o = f->out;
    memset(&f->out, 0, sizeof f->out);
    pthread_mutex_unlock(&f->lock);
    if (o.groups > 0 || o.nends > 0) {
        const char **argv = malloc(((size_t)HEAD + 1 + (size_t)o.nargs + (size_t)o.nends) *
                                   sizeof *argv);
        char *ids = malloc((size_t)o.nends * 24 + 1), *p = ids;
        char g[16];
        bool sent = false;
        if (argv != NULL && ids != NULL) {
            int argc = HEAD;
            snprintf(g, sizeof g, "%d", o.groups);
            argv[argc++] = g;
            for (int i = 0; i < o.nargs; i++)
                argv[argc++] = o.args[i];
            for (int i = 0; i < o.nends; i++) {
                argv[argc++] = p;
                p += sprintf(p, "%lld", o.ends[i]) + 1;
            }
            redisReply *r = NULL;
            if (fr_script_argv(f, S_FLUSH, argc, argv, NULL, &r) == 0) {
                if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
                    eddy_notify_one(f->changed);
                freeReplyObject(r);
                sent = true;
            }
        }
        if (!sent) /* its links are not in Redis: found again, they must go */
            for (size_t i = 0; i < SENT_SLOTS; i++)
                atomic_store_explicit(&f->sent[i], 0, memory_order_relaxed);
        free(argv);
        free(ids);
        eddy_notify_one(f->changed); /* slots are free */
    }
    eddy_mutex_unlock(f->flushing);
    fr_outbox_clear(&o);
}

/* The flusher task: sends the outbox whenever it holds something; ends
   once stopping and empty. */
void *fr_flusher(void *arg)
{
    struct rf *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        bool empty = f->out.groups == 0 && f->out.nends == 0, stop = f->stopping;
        pthread_mutex_unlock(&f->lock);
        if (!empty)
            fr_flush(f);
        else if (stop || eddy_notify_wait(f->to_flush, -1) < 0)
            break;
    }
    return NULL;
}

/* After adding to the outbox (lock held by the caller, released here):
   wakes the flusher, or flushes from here when the outbox is full (the
   fetchers then wait for Redis rather than pile up memory). */
void fr_outbox_added(struct rf *f)
{
    bool full = f->out.nargs > OUTBOX_MAX_ARGS || f->out.nends > OUTBOX_MAX_ENDS;
    pthread_mutex_unlock(&f->lock);
    if (full)
        fr_flush(f);
    else
        eddy_notify_one(f->to_flush);
}

int fr_define(struct rf *f, const struct frontier_redis_opts *ro, char *why, size_t why_len)
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
    int rc = redis_pool_send(f->pool, &r, cmd, (size_t)len);
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

