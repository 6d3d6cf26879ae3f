/*
 * tools/crawl/redis_pool.c: Redis connections that outlive a restart
 * (redis_pool.h).
 */
#include "redis_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_eddy.h"

enum {
    NCONN = 4,
    CMD_TIMEOUT_MS = 10000, /* a reply later than this: the connection is taken as lost */
    CONNECT_TIMEOUT_MS = 5000,
    BACKOFF_MIN_MS = 50,    /* between reconnects, doubling */
    BACKOFF_MAX_MS = 1000,
};

struct retired {             /* a lost connection, closed by redis_pool_free:
                                a command may still be leaving it */
    redis_eddy *c;
    struct retired *next;
};

struct redis_pool {
    struct redis_pool_opts o;
    char *host;
    char *require;           /* a key a reconnect checks for, or NULL */
    redis_eddy *c[NCONN];    /* guarded by: lock (a lost one is replaced) */
    struct retired *retired; /* guarded by: lock */
    pthread_mutex_t lock;
    _Atomic unsigned rr;
    eddy_mutex *reviver;     /* one task at a time reconnects */
    _Atomic uint64_t outage_ns; /* when Redis went away; 0: it is there */
    _Atomic int lost;        /* 0, or the error Redis was given up with */
    char lost_why[192];      /* written before lost is set */
};

/* Whether a command's rc says the connection (or Redis) is gone rather
   than something about the command or the calling task. */
static bool conn_lost(int rc)
{
    return rc < 0 && rc != -ECANCELED && rc != -EINVAL && rc != -ENOMEM && rc != -ENOTSUP;
}

/* A new connection to Redis, its database selected; with a required key,
   also checks that Redis still holds it (-ESTALE: it came back empty) and
   is done loading its data (-EAGAIN). */
static int dial(struct redis_pool *p, redis_eddy **out)
{
    redis_eddy *c;
    redisReply *r = NULL;
    int rc = redis_eddy_connect(&c, p->host, p->o.port, CONNECT_TIMEOUT_MS);
    if (rc < 0)
        return rc;
    rc = redis_eddy_command(c, &r, "SELECT %d", p->o.db);
    if (rc == 0)
        rc = r->type == REDIS_REPLY_STATUS ? 0 : r->type == REDIS_REPLY_ERROR &&
             strncmp(r->str, "LOADING", 7) == 0 ? -EAGAIN : -EIO;
    freeReplyObject(r);
    r = NULL;
    if (rc == 0 && p->require != NULL) {
        rc = redis_eddy_command(c, &r, "EXISTS %s", p->require);
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
static void give_up(struct redis_pool *p, int rc, const char *why)
{
    snprintf(p->lost_why, sizeof p->lost_why, "%s", why);
    atomic_store(&p->lost, rc);
    if (p->o.on_lost != NULL)
        eddy_notify_all(p->o.on_lost);
}

/* Connects slot i again, unless another task has replaced bad there
   already, retrying with backoff while Redis has been away less than
   retry_ms. 0: send again; else the error Redis was given up with. */
static int revive(struct redis_pool *p, unsigned i, redis_eddy *bad, int why)
{
    if (eddy_mutex_lock(p->reviver) < 0)
        return -ECANCELED;
    int rc = atomic_load(&p->lost);
    pthread_mutex_lock(&p->lock);
    bool replaced = p->c[i] != bad;
    pthread_mutex_unlock(&p->lock);
    int64_t backoff = BACKOFF_MIN_MS;
    while (rc == 0 && !replaced) {
        redis_eddy *nc = NULL;
        int drc = dial(p, &nc);
        uint64_t now = eddy_now_ns(), since = atomic_load(&p->outage_ns);
        if (drc == 0) {
            struct retired *old = malloc(sizeof *old);
            pthread_mutex_lock(&p->lock);
            p->c[i] = nc;
            if (old != NULL) {
                old->c = bad;
                old->next = p->retired;
                p->retired = old;
            } /* else leaked: out of memory already */
            pthread_mutex_unlock(&p->lock);
            if (since != 0 && !p->o.quiet)
                fprintf(stderr, "eddy-crawl: the Redis frontier is back after %.1f s\n",
                        (double)(now - since) / 1e9);
            atomic_store(&p->outage_ns, 0);
            break;
        }
        if (drc == -ESTALE) {
            rc = drc;
            give_up(p, rc, "Redis came back without this crawl's data (restarted without "
                           "persistence?)");
            break;
        }
        if (since == 0) {
            atomic_store(&p->outage_ns, since = now);
            if (!p->o.quiet)
                fprintf(stderr, "eddy-crawl: lost the Redis frontier (%s): reconnecting for up "
                                "to %lld ms\n", eddy_strerror(why), (long long)p->o.retry_ms);
        }
        if (now - since >= (uint64_t)p->o.retry_ms * 1000000u) {
            rc = why;
            char msg[160];
            snprintf(msg, sizeof msg, "lost the Redis frontier for %.1f s (%s)",
                     (double)(now - since) / 1e9, eddy_strerror(why));
            give_up(p, rc, msg);
            break;
        }
        if (eddy_sleep_ms(backoff) < 0) {
            rc = -ECANCELED;
            break;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    eddy_mutex_unlock(p->reviver);
    return rc;
}

int redis_pool_send(struct redis_pool *p, redisReply **out, const char *cmd, size_t len)
{
    for (;;) {
        int rc = atomic_load(&p->lost);
        if (rc < 0)
            return rc;
        unsigned i = atomic_fetch_add(&p->rr, 1) % NCONN;
        pthread_mutex_lock(&p->lock);
        redis_eddy *c = p->c[i];
        pthread_mutex_unlock(&p->lock);
        if ((rc = eddy_deadline_push(CMD_TIMEOUT_MS)) == 0) {
            rc = redis_eddy_formatted(c, out, cmd, len);
            eddy_deadline_pop();
        }
        if (!conn_lost(rc))
            return rc;
        if ((rc = revive(p, i, c, rc)) < 0)
            return rc;
    }
}

int redis_pool_command(struct redis_pool *p, redisReply **out, const char *fmt, ...)
{
    char *cmd;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return -ENOMEM;
    int rc = redis_pool_send(p, out, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}


int redis_pool_new(struct redis_pool **out, const struct redis_pool_opts *o)
{
    struct redis_pool *p = calloc(1, sizeof *p);
    int rc = -ENOMEM;
    *out = NULL;
    if (p == NULL)
        return rc;
    p->o = *o;
    pthread_mutex_init(&p->lock, NULL);
    if ((p->host = strdup(o->host)) == NULL || (rc = eddy_mutex_new(&p->reviver)) < 0)
        goto fail;
    for (int i = 0; i < NCONN; i++)
        if ((rc = dial(p, &p->c[i])) < 0)
            goto fail;
    *out = p;
    return 0;
fail:
    redis_pool_free(p);
    return rc;
}

int redis_pool_require(struct redis_pool *p, const char *key)
{
    char *k = strdup(key);
    if (k == NULL)
        return -ENOMEM;
    free(p->require);
    p->require = k;
    return 0;
}

const char *redis_pool_lost(struct redis_pool *p)
{
    return atomic_load(&p->lost) < 0 ? p->lost_why : NULL;
}

bool redis_pool_away(struct redis_pool *p)
{
    return atomic_load(&p->outage_ns) != 0;
}

void redis_pool_free(struct redis_pool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < NCONN; i++)
        redis_eddy_close(p->c[i]);
    for (struct retired *r = p->retired, *nx; r != NULL; r = nx) {
        nx = r->next;
        redis_eddy_close(r->c);
        free(r);
    }
    eddy_mutex_free(p->reviver);
    pthread_mutex_destroy(&p->lock);
    free(p->require);
    free(p->host);
    free(p);
}
