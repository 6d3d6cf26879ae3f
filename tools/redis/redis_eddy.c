/*
 * tools/redis/redis_eddy.c: hiredis's async API driven by eddy tasks.
 *
 * hiredis's async context does no I/O waiting of its own: it asks an event
 * loop, through five hooks (ev.addRead, delRead, addWrite, delWrite,
 * cleanup), to call redisAsyncHandleRead / redisAsyncHandleWrite when its
 * socket is ready. Here the event loop is two small eddy tasks per
 * connection, the pumps: the read pump waits with eddy_wait_fd for
 * readability while hiredis wants to read, the write pump for writability
 * while hiredis has bytes to send (or a connect to finish); each then calls
 * hiredis's handler. The hooks only record what hiredis wants and wake the
 * pump concerned (eddy_notify: a wakeup that comes before the wait is kept
 * as a permit, so none is lost). Two pumps rather than one because a task
 * cannot wait for "the fd or a notify" at once: a single pump asleep on
 * readability would not notice a command queued meanwhile.
 *
 * Threads. The pumps and the tasks issuing commands may run on different
 * workers at the same time, and hiredis is not thread-safe: every hiredis
 * call, and so every hook and reply callback it makes, happens under the
 * connection's mutex. It is a plain pthread mutex: no critical section
 * suspends (hiredis never blocks, the hooks and callbacks only record and
 * wake), so it is held for one hiredis call (at most one 16 KiB read's
 * worth of replies) and a task never moves to another worker while it
 * holds it (docs/guide.md: never hold one across a suspending call).
 * Unlike eddy_mutex_lock it cannot fail with -ECANCELED, so a cancelled
 * task can still tear the connection down.
 *
 * Who owns the fd. hiredis owns its socket and closes it with close(2)
 * when it frees the context, which it does by itself when the server goes
 * away or the connect fails. eddy must never wait on that fd: an fd eddy
 * has waited on must be closed with eddy_close (eddy/io.h), and hiredis
 * 0.14 has no hook to do so. Closed with close(2), its registration would
 * outlive it: with epoll, a pump waiting on it would never wake, and a
 * new fd that gets the same number is never registered, so waits on it
 * miss their events; with io_uring, the armed poll keeps the socket
 * itself open (the server never sees the close) and its events reach the
 * new fd. So the adapter waits on a duplicate of the socket (fcntl
 * F_DUPFD_CLOEXEC) that it owns: hiredis closes its fd when it likes, and
 * the duplicate, which keeps the same socket open, is closed with
 * eddy_close by redis_eddy_close once the pumps, the only tasks that wait
 * on it, have ended. When hiredis frees its context, the cleanup hook
 * calls shutdown(2) on the socket: the connection ends at once (the
 * duplicate would otherwise keep it open until redis_eddy_close) and a
 * pump waiting on the fd wakes, since a shut-down socket reads as ready
 * both ways.
 *
 * Replies. hiredis 0.14 frees a reply when the callback returns, so the
 * callback copies it (reply_dup) for the waiting task, which then owns it.
 * A task that stops waiting (aborted, or a deadline) leaves its request to
 * the callback, which frees it when the reply, or the connection's end,
 * comes: replies stay in order and nothing leaks.
 */
#include "redis_eddy.h"

#include <eddy.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

enum { RD = 0, WR = 1 };                       /* pump directions */
enum { CONNECTING, UP, DOWN };                 /* redis_eddy.state */

struct redis_eddy {
    pthread_mutex_t mu;          /* guards every field below but fd, and
                                    every hiredis call on ac */
    redisAsyncContext *ac;       /* NULL once hiredis freed it */
    int fd;                      /* our duplicate of hiredis's socket: the
                                    one eddy waits on; set before the pumps
                                    start, closed after they end */
    bool want[2];                /* hiredis wants to read / write */
    eddy_notify *wake[2];        /* wakes the pump of each direction */
    eddy_notify *owner;          /* wakes redis_eddy_connect (state change)
                                    and redis_eddy_close (users reached 0) */
    int state;                   /* CONNECTING, UP, DOWN */
    int err;                     /* why it went DOWN (negative errno) */
    int users;                   /* pumps and commands still using this */
    bool closing;                /* redis_eddy_close has begun */
};

/* One command waiting for its reply. */
struct request {
    eddy_notify *done_n; /* the waiting task sleeps on it */
    redisReply *reply;   /* the copy for the waiter; guarded by mu */
    int rc;              /* guarded by mu */
    bool done;           /* guarded by mu: reply or rc is set */
    bool abandoned;      /* guarded by mu: the waiter left; the callback frees */
};

/* ------------------------------------------------------------- errors */

/* A negative errno for the error hiredis recorded in ac. hiredis keeps an
   I/O error only as strerror's text, but it calls back (connect callback,
   a pending command's callback, the cleanup hook) right after the failed
   system call, so errno, saved on entry by the caller as e, still holds
   the code: it is used when its text is the one hiredis recorded. */
static int hiredis_err(const redisAsyncContext *ac, int e)
{
    switch (ac->c.err) {
    case REDIS_ERR_IO:
        if (e > 0 && strstr(ac->c.errstr, strerror(e)) != NULL)
            return -e;
        return -EIO;
    case REDIS_ERR_EOF: /* "Server closed the connection" */
        return -ECONNRESET;
    case REDIS_ERR_PROTOCOL:
        return -EPROTO;
    case REDIS_ERR_OOM:
        return -ENOMEM;
    default: /* REDIS_ERR_OTHER: a name that does not resolve, or an error
                reply the server sent unasked (max clients) before closing */
        return -EIO;
    }
}

/* Marks the connection DOWN with err (the first error wins). Under mu. */
static void set_down(redis_eddy *c, int err)
{
    if (c->err == 0)
        c->err = c->closing ? -ECONNABORTED : err;
    c->state = DOWN;
}

/* -------------------------------------------------- hooks and callbacks */
/* All called by hiredis from a hiredis call made under c->mu. */

static void set_want(redis_eddy *c, int dir, bool on)
{
    c->want[dir] = on;
    if (on)
        eddy_notify_one(c->wake[dir]);
}
static void ev_add_read(void *p) { set_want(p, RD, true); }
static void ev_del_read(void *p) { set_want(p, RD, false); }
static void ev_add_write(void *p) { set_want(p, WR, true); }
static void ev_del_write(void *p) { set_want(p, WR, false); }

/* hiredis is about to free ac (and close its own fd). */
static void ev_cleanup(void *p)
{
    int e = errno;
    redis_eddy *c = p;
    set_down(c, c->ac->c.err ? hiredis_err(c->ac, e) : -ECONNRESET);
    c->ac = NULL;
    c->want[RD] = c->want[WR] = false;
    /* end the connection now (our duplicate keeps the socket open) and
       wake a pump waiting on it: a shut-down socket is ready both ways */
    shutdown(c->fd, SHUT_RDWR);
    eddy_notify_one(c->wake[RD]);
    eddy_notify_one(c->wake[WR]);
    eddy_notify_one(c->owner);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    int e = errno;
    redis_eddy *c = ac->ev.data;
    if (status == REDIS_OK)
        c->state = UP;
    else
        set_down(c, hiredis_err(ac, e)); /* hiredis frees ac next */
    eddy_notify_one(c->owner);
}

/* Deep copy of a reply, freed by freeReplyObject: the struct is copied
   whole (whatever fields the hiredis version has), then its string and
   elements. */
static redisReply *reply_dup(const redisReply *r)
{
    redisReply *d = malloc(sizeof *d);
    if (d == NULL)
        return NULL;
    *d = *r;
    d->str = NULL;
    d->element = NULL;
    d->elements = 0; /* counts the elements copied so far */
    if (r->str != NULL) {
        if ((d->str = malloc(r->len + 1)) == NULL)
            goto fail;
        memcpy(d->str, r->str, r->len);
        d->str[r->len] = '\0';
    }
    if (r->element != NULL) {
        if ((d->element = calloc(r->elements ? r->elements : 1, sizeof *d->element)) == NULL)
            goto fail;
        for (; d->elements < r->elements; d->elements++) {
            const redisReply *x = r->element[d->elements];
            if (x != NULL && (d->element[d->elements] = reply_dup(x)) == NULL)
                goto fail;
        }
    }
    return d;
fail:
    freeReplyObject(d);
    return NULL;
}

/* A command's reply, or NULL when the connection ends first. */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    int e = errno;
    redis_eddy *c = ac->ev.data;
    struct request *q = privdata;
    if (q->abandoned) { /* nobody waits: the request is ours to free */
        eddy_notify_free(q->done_n);
        free(q);
        return;
    }
    if (reply != NULL) {
        q->reply = reply_dup(reply);
        q->rc = q->reply != NULL ? 0 : -ENOMEM;
    } else {
        set_down(c, ac->c.err ? hiredis_err(ac, e) : -ECONNRESET);
        q->rc = c->err;
    }
    q->done = true;
    eddy_notify_one(q->done_n);
}

/* ------------------------------------------------------------ the pumps */

/* A task that leaves: the last one out while closing wakes the closer. */
static void leave(redis_eddy *c)
{
    if (--c->users == 0 && c->closing)
        eddy_notify_one(c->owner);
}

/* redisAsyncHandleWrite writes with write(2): on a connection the server
   has reset, that raises SIGPIPE, which kills a process that does not
   ignore it. Rather than change the process's disposition, SIGPIPE is
   blocked in this thread for the call and a SIGPIPE it raised is consumed
   (a thread's own write raises it for that thread). */
static void handle_write(redisAsyncContext *ac)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    redisAsyncHandleWrite(ac);
    if (!was_pending) {
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = { 0, 0 };
            sigtimedwait(&pipe_set, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The loop of one pump: while the context lives, sleep until hiredis wants
   this direction, wait for the fd, call hiredis. */
static void pump(redis_eddy *c, int dir)
{
    pthread_mutex_lock(&c->mu);
    while (c->ac != NULL) {
        bool io = c->want[dir];
        pthread_mutex_unlock(&c->mu);
        /* c->fd stays open while a pump runs: no other fd can have its
           number, and it is the adapter's, so eddy may register it */
        int rc = io ? eddy_wait_fd(c->fd, dir == RD ? EDDY_READABLE : EDDY_WRITABLE, -1)
                    : eddy_notify_wait(c->wake[dir], -1);
        pthread_mutex_lock(&c->mu);
        if (c->ac == NULL)
            break;
        if (rc < 0) {
            /* -ECANCELED (the runtime shuts down) or a failed wait: end the
               connection (its commands fail) rather than spin or hang */
            set_down(c, rc == -ECANCELED ? -ECONNABORTED : rc);
            redisAsyncFree(c->ac); /* calls ev_cleanup: c->ac = NULL */
            break;
        }
        if (io && c->want[dir]) {
            if (dir == RD)
                redisAsyncHandleRead(c->ac);
            else
                handle_write(c->ac);
        }
    }
    leave(c);
    pthread_mutex_unlock(&c->mu);
}

static void *pump_read(void *c) { pump(c, RD); return NULL; }
static void *pump_write(void *c) { pump(c, WR); return NULL; }

/* -------------------------------------------------------------- connect */

/* redisAsyncConnect resolves host with getaddrinfo, which blocks, so it
   runs on eddy's blocking pool (its connect(2) is non-blocking). If the
   connecting task stops waiting first, the job frees its own result. */
struct dial {
    _Atomic int state; /* DIAL_RUNNING, then DIAL_DONE or DIAL_ABANDONED */
    redisAsyncContext *ac;
    int err; /* errno right after redisAsyncConnect */
    int port;
    char host[];
};
enum { DIAL_RUNNING, DIAL_DONE, DIAL_ABANDONED };

static void *dial_job(void *arg)
{
    struct dial *d = arg;
    errno = 0;
    d->ac = redisAsyncConnect(d->host, d->port);
    d->err = errno;
    if (d->ac != NULL) /* hiredis's socket must not leak into programs
                          this process runs (it sets no close-on-exec) */
        (void)fcntl(d->ac->c.fd, F_SETFD, FD_CLOEXEC);
    if (atomic_exchange(&d->state, DIAL_DONE) == DIAL_ABANDONED) {
        if (d->ac != NULL)
            redisAsyncFree(d->ac); /* no hooks yet: eddy never saw its fd */
        free(d);
    }
    return NULL;
}

/* Runs redisAsyncConnect on the blocking pool: 0 and *out, or -errno. */
static int dial(const char *host, int port, redisAsyncContext **out)
{
    size_t n = strlen(host) + 1;
    struct dial *d = calloc(1, sizeof *d + n);
    if (d == NULL)
        return -ENOMEM;
    memcpy(d->host, host, n);
    d->port = port;
    atomic_init(&d->state, DIAL_RUNNING);
    eddy_task *h;
    int rc = eddy_spawn_blocking(&h, dial_job, d);
    if (rc < 0) {
        free(d);
        return rc;
    }
    rc = eddy_join(h, NULL);
    if (rc < 0) { /* cancelled or past a deadline: leave it to the job */
        eddy_detach(h);
        if (atomic_exchange(&d->state, DIAL_ABANDONED) == DIAL_RUNNING)
            return rc;
        if (d->ac != NULL) /* it finished meanwhile */
            redisAsyncFree(d->ac);
        free(d);
        return rc;
    }
    redisAsyncContext *ac = d->ac;
    int e = d->err;
    free(d);
    if (ac == NULL)
        return -ENOMEM;
    if (ac->err) { /* failed at once: refused on loopback, bad name... */
        rc = hiredis_err(ac, e);
        redisAsyncFree(ac);
        return rc;
    }
    *out = ac;
    return 0;
}

int redis_eddy_connect(redis_eddy **out, const char *host, int port, int64_t timeout_ms)
{
    if (out == NULL || host == NULL || port <= 0 || port > 65535)
        return -EINVAL;
    *out = NULL;
    if (timeout_ms >= 0) {
        int rc = eddy_deadline_push(timeout_ms); /* bounds everything below */
        if (rc < 0)
            return rc;
    } else if (eddy_rt_current() == NULL || eddy_worker_index() < 0) {
        return -EPERM;
    }
    redis_eddy *c = calloc(1, sizeof *c);
    redisAsyncContext *ac = NULL;
    int rc = c == NULL ? -ENOMEM : 0;
    if (rc == 0) {
        pthread_mutex_init(&c->mu, NULL);
        c->fd = -1;
        if ((rc = eddy_notify_new(&c->wake[RD])) == 0 &&
            (rc = eddy_notify_new(&c->wake[WR])) == 0)
            rc = eddy_notify_new(&c->owner);
    }
    if (rc == 0)
        rc = dial(host, port, &ac);
    if (rc == 0 && (c->fd = fcntl(ac->c.fd, F_DUPFD_CLOEXEC, 0)) < 0) {
        rc = -errno;
        redisAsyncFree(ac);
    }
    if (rc < 0) {
        if (timeout_ms >= 0)
            eddy_deadline_pop();
        if (c != NULL) {
            eddy_notify_free(c->wake[RD]);
            eddy_notify_free(c->wake[WR]);
            eddy_notify_free(c->owner);
            pthread_mutex_destroy(&c->mu);
            free(c);
        }
        return rc;
    }

    /* attach: from here on, hiredis calls only under c->mu */
    pthread_mutex_lock(&c->mu);
    c->ac = ac;
    ac->ev.data = c;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect); /* asks for writability:
                                                     connect(2) finished */
    pthread_mutex_unlock(&c->mu);

    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    for (int dir = RD; dir <= WR && rc == 0; dir++) {
        o.name = dir == RD ? "redis read pump" : "redis write pump";
        pthread_mutex_lock(&c->mu);
        c->users++;
        pthread_mutex_unlock(&c->mu);
        rc = eddy_spawn_ex(NULL, dir == RD ? pump_read : pump_write, c, &o);
        if (rc < 0) {
            pthread_mutex_lock(&c->mu);
            c->users--;
            pthread_mutex_unlock(&c->mu);
        }
    }

    /* wait for hiredis to say the connection is up, or down */
    pthread_mutex_lock(&c->mu);
    while (rc == 0 && c->state == CONNECTING) {
        pthread_mutex_unlock(&c->mu);
        rc = eddy_notify_wait(c->owner, -1); /* -ETIMEDOUT past the deadline */
        pthread_mutex_lock(&c->mu);
    }
    if (rc == 0 && c->state == DOWN)
        rc = c->err;
    pthread_mutex_unlock(&c->mu);
    if (timeout_ms >= 0)
        eddy_deadline_pop();
    if (rc < 0) {
        redis_eddy_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ------------------------------------------------------------- commands */

/* The blocking-style call maps one command to one reply; these commands'
   replies keep coming (and hiredis would call the callback again). cmd is
   hiredis's formatted command: "*<argc>\r\n$<len>\r\n<name>\r\n...". */
static int check_command(const char *cmd, int len)
{
    static const char *const streaming[] = { "subscribe",   "psubscribe",   "ssubscribe",
                                              "unsubscribe", "punsubscribe", "monitor" };
    const char *p = memchr(cmd, '$', (size_t)len);
    if (p == NULL)
        return -EINVAL; /* no command name (an empty format) */
    char *end;
    long n = strtol(p + 1, &end, 10);
    const char *name = end + 2; /* past "\r\n" */
    for (size_t i = 0; i < sizeof streaming / sizeof streaming[0]; i++)
        if ((size_t)n == strlen(streaming[i]) && strncasecmp(name, streaming[i], (size_t)n) == 0)
            return -ENOTSUP;
    return 0;
}

int redis_eddy_vcommand(redis_eddy *c, redisReply **out, const char *fmt, va_list ap)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL || out == NULL || fmt == NULL)
        return -EINVAL;
    char *cmd;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    if (len < 0)
        return -EINVAL; /* a bad format (or out of memory) */
    int rc = redis_eddy_formatted(c, out, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

int redis_eddy_formatted(redis_eddy *c, redisReply **out, const char *cmd, size_t len)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL || out == NULL || cmd == NULL || len == 0 || len > INT_MAX)
        return -EINVAL;
    struct request *q = NULL;
    int rc = check_command(cmd, (int)len);
    if (rc == 0 && (q = calloc(1, sizeof *q)) == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = eddy_notify_new(&q->done_n);
    if (rc == 0) {
        pthread_mutex_lock(&c->mu);
        if (c->ac == NULL)
            rc = c->err;
        else if (redisAsyncFormattedCommand(c->ac, on_reply, q, cmd, len) != REDIS_OK)
            rc = -EIO;
        else
            c->users++; /* the pump may now call on_reply */
        pthread_mutex_unlock(&c->mu);
    }
    if (rc < 0) {
        if (q != NULL)
            eddy_notify_free(q->done_n);
        free(q);
        return rc;
    }

    /* wait for on_reply; stop early only when this task is aborted or its
       deadline passes */
    int wrc;
    for (;;) {
        wrc = eddy_notify_wait(q->done_n, -1);
        pthread_mutex_lock(&c->mu);
        if (q->done || wrc < 0)
            break;
        pthread_mutex_unlock(&c->mu);
    }
    bool done = q->done;
    if (!done)
        q->abandoned = true; /* on_reply frees q when its reply comes */
    leave(c);
    pthread_mutex_unlock(&c->mu); /* after on_reply's notify: q is free to go */
    if (!done)
        return wrc;
    rc = q->rc;
    *out = q->reply;
    eddy_notify_free(q->done_n);
    free(q);
    return rc;
}

int redis_eddy_command(redis_eddy *c, redisReply **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = redis_eddy_vcommand(c, out, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---------------------------------------------------------------- close */

void redis_eddy_close(redis_eddy *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    if (c->ac != NULL)
        redisAsyncFree(c->ac); /* fails pending commands (-ECONNABORTED),
                                  ev_cleanup wakes the pumps */
    while (c->users > 0) {
        pthread_mutex_unlock(&c->mu);
        if (eddy_notify_wait(c->owner, -1) < 0)
            eddy_yield(); /* this task was aborted: the others are already
                             woken and leave at once; let them run */
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    /* nothing waits on the fd any more: eddy_close drops its registration
       and closes the socket's last descriptor */
    if (c->fd >= 0)
        eddy_close(c->fd);
    eddy_notify_free(c->wake[RD]);
    eddy_notify_free(c->wake[WR]);
    eddy_notify_free(c->owner);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
