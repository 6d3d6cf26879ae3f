/*
 * http/server.c: eddy_http_serve and eddy_http_server_stop; listeners,
 * acceptors, and the life of a connection between requests.
 *
 * A connection is owned by exactly one party at a time: its task while a
 * request is read or answered; while idle, whoever takes it back first
 * from the reactor: the read-readiness arm (io/fd_arm.c) is the arbiter.
 * The readiness callback (bytes came: spawn its task), the idle timer
 * (close it) and eddy_http_server_stop (close it) each call
 * eddy__fd_disarm or are the arm's callback; only the one that got the
 * arm touches the connection. The timer is armed before the read arm and
 * disarmed by the one that got the arm, and a disarm returns only after a
 * fire in progress ended, so no timer outlives its connection.
 * Locks, outermost first: a timer wheel's, a shard's, an fd entry's.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <eddy/io.h>
#include <eddy/rt.h>
#include <eddy/sync.h>

#include "http/server_int.h"
#include "io/io_int.h"
#include "sched/alloc.h"
#include "sched/sched.h"
#include "sched/task.h"

#define STOP_RESCAN_MS 10 /* stop looks for newly idle connections this often */

void eddy_http_server_opts_init(eddy_http_server_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->max_header_bytes = 16 * 1024;
    o->max_body_bytes = 1024 * 1024;
    o->header_timeout_ms = 20000;
    o->body_timeout_ms = 60000;
    o->keepalive_timeout_ms = 75000;
    o->max_target_bytes = 8 * 1024;
    o->max_headers = 100;
    o->max_requests = 1000;
    o->listen = EDDY_HTTP_LISTEN_PER_WORKER;
    o->backlog = 4096;
}

/* ---------------------------------------------------------- connections */

static void link_conn(struct eddy__http_shard *sh, struct eddy__http_conn *c)
{
    pthread_mutex_lock(&sh->lock);
    c->prev = NULL;
    c->next = sh->conns;
    if (sh->conns != NULL)
        sh->conns->prev = c;
    sh->conns = c;
    pthread_mutex_unlock(&sh->lock);
}

/* Caller holds sh->lock. */
static void unlink_locked(struct eddy__http_shard *sh, struct eddy__http_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        sh->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Frees c, already out of its shard's list, and closes its fd. */
static void free_conn(struct eddy__http_conn *c)
{
    struct eddy_http_server *s = c->srv;
    (void)eddy_close(c->fd);
    eddy__dealloc(c, sizeof *c);
    /* under drain_lock: stop frees the server once it saw no connection
       left and then took this lock, so no notify is still under way */
    pthread_mutex_lock(&s->drain_lock);
    if (atomic_fetch_sub_explicit(&s->nconns, 1, memory_order_acq_rel) == 1 &&
        s->stopper != NULL)
        eddy__wake(s->stopper); /* the last one: stop need not wait its pause out */
    pthread_mutex_unlock(&s->drain_lock);
}

static void close_conn(struct eddy__http_conn *c)
{
    struct eddy__http_shard *sh = c->shard;
    pthread_mutex_lock(&sh->lock);
    unlink_locked(sh, c);
    pthread_mutex_unlock(&sh->lock);
    free_conn(c);
}

/* Spawns c's task (c is ours: no one else holds it). */
static void start_task(struct eddy__http_conn *c)
{
    struct eddy_http_server *s = c->srv;
    eddy_spawn_opts so;
    eddy_spawn_opts_init(&so);
    so.stack_size = s->o.stack_size;
    /* the handle is stored under the lock the task takes as it ends */
    pthread_mutex_lock(&c->shard->lock);
    int rc = eddy_spawn_ex(&c->task, eddy__http_conn_task, c, &so);
    pthread_mutex_unlock(&c->shard->lock);
    if (rc < 0)
        close_conn(c); /* -ENOMEM, or the runtime is shutting down */
}

/* The idle timer fired, under its wheel's lock: unless the readiness
   callback or stop took c first, c is ours, and a task closes it (the
   wheel's lock is for waking tasks, not for close(2) and the reactor's
   bookkeeping). */
static void idle_fired(struct eddy__timer *tm)
{
    struct eddy__http_conn *c =
        (struct eddy__http_conn *)((char *)tm - offsetof(struct eddy__http_conn, idle));
    if (!eddy__fd_disarm(c->fd))
        return;
    c->expired = true; /* read by the task: the spawn publishes it */
    start_task(c);
}

/* Bytes came on an idle connection (the reactor's callback). */
static void conn_readable(void *arg)
{
    struct eddy__http_conn *c = arg;
    (void)eddy__timer_disarm(&c->idle); /* a fire now finds no arm: it leaves c */
    start_task(c);
}

/* Arms c's idle timer (timeout_ms < 0: none). */
static void arm_idle_timer(struct eddy__http_conn *c, int64_t timeout_ms)
{
    uint64_t dl = eddy__deadline_after_ms(timeout_ms); /* saturates: INT64_MAX is none */
    if (dl != UINT64_MAX)
        (void)eddy__timer_arm(&c->idle, dl);
}

int eddy__http_conn_idle(struct eddy__http_conn *c, uint64_t tick)
{
    struct eddy_http_server *s = c->srv;
    if (atomic_load_explicit(&s->stopping, memory_order_acquire) != 0)
        return -ESHUTDOWN;
    int64_t timeout_ms = s->o.keepalive_timeout_ms;
    if (c->lead_bytes > 0 && s->o.header_timeout_ms >= 0) {
        /* empty lines came and no request line yet: a head has begun */
        uint64_t now = eddy_now_ns();
        int64_t spent = now > c->lead_since_ns ? (int64_t)((now - c->lead_since_ns) / 1000000u) : 0;
        int64_t left = spent >= s->o.header_timeout_ms ? 0 : s->o.header_timeout_ms - spent;
        if (timeout_ms < 0 || left < timeout_ms)
            timeout_ms = left;
    }
    arm_idle_timer(c, timeout_ms);
    pthread_mutex_lock(&c->shard->lock);
    eddy_task *self = c->task;
    c->task = NULL; /* the next task's spawner stores its own */
    pthread_mutex_unlock(&c->shard->lock);
    int r = eddy__fd_arm_after(c->fd, tick, conn_readable, c);
    if (r == 0) {
        eddy_detach(self); /* c is not ours any more */
        return 0;
    }
    pthread_mutex_lock(&c->shard->lock);
    c->task = self;
    pthread_mutex_unlock(&c->shard->lock);
    (void)eddy__timer_disarm(&c->idle);
    return r;
}

void eddy__http_conn_end(struct eddy__http_conn *c)
{
    struct eddy__http_shard *sh = c->shard;
    pthread_mutex_lock(&sh->lock);
    eddy_task *self = c->task;
    c->task = NULL;
    unlink_locked(sh, c);
    pthread_mutex_unlock(&sh->lock);
    free_conn(c);
    if (self != NULL)
        eddy_detach(self);
}

/* A connection just accepted: it waits idle (with the header timeout) for
   its first bytes. */
static void conn_new(struct eddy_http_server *s, struct eddy__http_shard *sh, int fd)
{
    struct eddy__http_conn *c = eddy__calloc(sizeof *c);
    if (c == NULL) {
        (void)eddy_close(fd);
        return;
    }
    c->srv = s;
    c->shard = sh;
    c->fd = fd;
    c->idle.fire = idle_fired;
    atomic_fetch_add_explicit(&s->nconns, 1, memory_order_relaxed);
    link_conn(sh, c);
    arm_idle_timer(c, s->o.header_timeout_ms);
    ssize_t r = eddy__fd_read_or_arm(fd, NULL, 0, conn_readable, c);
    if (r == -EINPROGRESS)
        return;
    (void)eddy__timer_disarm(&c->idle);
    if (r == 0)
        start_task(c); /* readable already */
    else
        close_conn(c);
}

/* ------------------------------------------------------------- accepting */

static void *accept_loop(void *arg)
{
    struct eddy__http_shard *sh = arg;
    struct eddy_http_server *s = sh->srv;
    while (atomic_load_explicit(&s->stopping, memory_order_acquire) == 0) {
        int fd;
        int rc = eddy_tcp_accept(sh->lfd, &fd, NULL);
        if (rc == -ECANCELED || rc == -EBADF)
            break;
        if (rc < 0) {
            /* a failed handshake, or no memory for the fd's entry (EMFILE
               backs off inside): never a tight loop */
            if (rc != -ECONNABORTED && eddy_sleep_ms(1) == -ECANCELED)
                break;
            continue;
        }
        atomic_fetch_add_explicit(&sh->accepted, 1, memory_order_relaxed);
        conn_new(s, sh, fd);
    }
    return NULL;
}

/* ----------------------------------------------------------------- serve */

static int check_opts(const eddy_http_server_opts *o)
{
    if (o->max_header_bytes < 256 || o->max_target_bytes < 16 || o->max_headers == 0 ||
        (o->listen != EDDY_HTTP_LISTEN_PER_WORKER && o->listen != EDDY_HTTP_LISTEN_SHARED) ||
        o->backlog < 0 || o->max_header_bytes > UINT32_MAX / 2 ||
        o->max_target_bytes > UINT32_MAX / 2 || o->max_body_bytes > SIZE_MAX / 16 ||
        (o->stack_size != 0 && (o->stack_size < 16 * 1024 || o->stack_size > (size_t)1 << 30)))
        return -EINVAL; /* stack_size: eddy_spawn_ex's bounds */
    for (int i = 0; i < 4; i++)
        if (o->reserved[i] != NULL)
            return -EINVAL;
    return 0;
}

static void free_server(struct eddy_http_server *s)
{
    /* the last connection's free_conn may still hold it (notifying) */
    pthread_mutex_lock(&s->drain_lock);
    pthread_mutex_unlock(&s->drain_lock);
    pthread_mutex_destroy(&s->drain_lock);
    for (unsigned i = 0; i < s->nshards; i++)
        pthread_mutex_destroy(&s->shards[i].lock);
    eddy__dealloc(s->shards, s->nshards * sizeof *s->shards);
    eddy__strfree(s->host);
    eddy__dealloc(s, sizeof *s);
}

/* Opens the listeners (shards' lfd); 0 or -errno with none left open. */
static int open_listeners(struct eddy_http_server *s)
{
    const char *host = s->host != NULL && s->host[0] != '\0' ? s->host : "127.0.0.1";
    int flags = s->nshards > 1 ? EDDY_REUSEPORT : 0;
    uint16_t port = s->o.port;
    for (unsigned i = 0; i < s->nshards; i++) {
        int rc = eddy_tcp_listen(&s->shards[i].lfd, host, port, s->o.backlog, flags);
        if (rc < 0) {
            while (i-- > 0)
                (void)eddy_close(s->shards[i].lfd);
            return rc;
        }
        int one = 1; /* accepted sockets inherit it: no setsockopt per connection */
        (void)setsockopt(s->shards[i].lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (i == 0) {
            s->port = eddy_local_port(s->shards[0].lfd);
            port = (uint16_t)s->port;
        }
    }
    return 0;
}

int eddy_http_serve(eddy_http_server **out, const eddy_http_server_opts *o,
                    eddy_http_handler h, void *ud)
{
    if (out == NULL || h == NULL)
        return -EINVAL;
    *out = NULL;
    eddy_http_server_opts defaults;
    if (o == NULL) {
        eddy_http_server_opts_init(&defaults);
        o = &defaults;
    }
    int rc = check_opts(o);
    if (rc < 0)
        return rc;
    eddy_rt *rt = eddy_rt_current();
    if (rt == NULL || eddy__task_current() == NULL)
        return -EPERM;
    struct eddy_http_server *s = eddy__calloc(sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    pthread_mutex_init(&s->drain_lock, NULL);
    s->rt = rt;
    s->o = *o;
    s->h = h;
    s->ud = ud;
    s->host = eddy__strdup(o->host);
    s->o.host = s->host;
    s->lim = (struct eddy__http_limits){ .max_target = o->max_target_bytes,
                                         .max_head = o->max_header_bytes,
                                         .max_body = o->max_body_bytes,
                                         .max_headers = o->max_headers };
    unsigned n = o->listen == EDDY_HTTP_LISTEN_SHARED ? 1 : eddy_rt_workers(rt);
    s->shards = eddy__calloc(n * sizeof *s->shards);
    if (s->shards != NULL)
        s->nshards = n;
    if ((o->host != NULL && s->host == NULL) || s->shards == NULL) {
        free_server(s);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < s->nshards; i++) {
        pthread_mutex_init(&s->shards[i].lock, NULL);
        s->shards[i].srv = s;
    }
    rc = open_listeners(s);
    if (rc < 0) {
        free_server(s);
        return rc;
    }
    for (unsigned i = 0; i < s->nshards; i++) {
        eddy_spawn_opts so;
        eddy_spawn_opts_init(&so);
        so.worker = s->nshards > 1 ? (int)i : -1; /* a listener per worker */
        so.name = "http-accept";
        rc = eddy_spawn_ex(&s->shards[i].acceptor, accept_loop, &s->shards[i], &so);
        if (rc < 0) {
            (void)eddy_http_server_stop(s, 0);
            return rc;
        }
    }
    *out = s;
    return 0;
}

int eddy_http_server_port(eddy_http_server *s)
{
    return s != NULL ? s->port : -EINVAL;
}

int eddy_http_server_stats_get(eddy_http_server *s, eddy_http_server_stats *st)
{
    if (s == NULL || st == NULL)
        return -EINVAL;
    memset(st, 0, sizeof *st);
    st->listeners = s->nshards;
    for (unsigned i = 0; i < s->nshards; i++) {
        uint64_t n = atomic_load_explicit(&s->shards[i].accepted, memory_order_relaxed);
        st->accepted += n;
        if (i < 16)
            st->accepted_by_listener[i] = n;
    }
    st->requests = atomic_load_explicit(&s->requests, memory_order_relaxed);
    st->connections = atomic_load_explicit(&s->nconns, memory_order_relaxed);
    return 0;
}

/* ------------------------------------------------------------------ stop */

/* Whether the task behind join handle h has ended. One aborted before its
   first run ends without calling its function: its connection was never
   served, and stop must close it itself. */
static bool task_ended(eddy_task *h)
{
    struct eddy__task *t = eddy__task_from_handle(h);
    return t == NULL || (eddy__task_flags(t) & EDDY__T_COMPLETE) != 0;
}

struct stop_pause {
    struct eddy__timer tm;
    struct eddy__task *self;
};

static void stop_pause_fired(struct eddy__timer *tm)
{
    eddy__wake(((struct stop_pause *)(void *)tm)->self);
}

/* Waits about ms (less when woken), whatever the caller's cancellation or
   deadline: stop must run to its end, since it frees the server. */
static void stop_pause(int ms)
{
    struct stop_pause p = { .self = eddy__task_current() };
    p.tm.fire = stop_pause_fired;
    if (p.self == NULL || eddy__timer_arm(&p.tm, eddy__now_ns() + (uint64_t)ms * 1000000u) < 0) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };
        nanosleep(&ts, NULL); /* a plain thread (or the blocking pool) may block */
        return;
    }
    eddy__wait_uncancellable();
    (void)eddy__timer_disarm(&p.tm);
}

/* Closes every idle connection (those whose arm stop takes back) and those
   whose task was aborted before it ever ran; with force, also aborts the
   tasks of the busy ones and shuts their sockets. */
static void sweep(struct eddy_http_server *s, bool force)
{
    for (unsigned i = 0; i < s->nshards; i++) {
        struct eddy__http_shard *sh = &s->shards[i];
        struct eddy__http_conn *mine = NULL;
        pthread_mutex_lock(&sh->lock);
        struct eddy__http_conn *c = sh->conns;
        while (c != NULL) {
            struct eddy__http_conn *next = c->next;
            bool take = false;
            if (c->task == NULL) {
                take = eddy__fd_disarm(c->fd);
            } else if (task_ended(c->task)) {
                /* still linked, so its body never ran (it unlinks before it
                   ends): the handle is ours to give up */
                eddy_detach(c->task);
                c->task = NULL;
                take = true;
            } else if (force) {
                (void)eddy_abort(c->task);
                (void)shutdown(c->fd, SHUT_RDWR);
            }
            if (take) {
                unlink_locked(sh, c);
                c->next = mine;
                mine = c;
            }
            c = next;
        }
        pthread_mutex_unlock(&sh->lock);
        /* outside the shard's lock: a timer's fire takes it under the wheel's */
        while (mine != NULL) {
            struct eddy__http_conn *next = mine->next;
            (void)eddy__timer_disarm(&mine->idle);
            free_conn(mine);
            mine = next;
        }
    }
}

/* Whether the calling task serves one of s's connections (it would wait
   for itself). */
static bool called_from_handler(struct eddy_http_server *s)
{
    struct eddy__task *self = eddy__task_current();
    bool found = false;
    for (unsigned i = 0; self != NULL && i < s->nshards && !found; i++) {
        pthread_mutex_lock(&s->shards[i].lock);
        for (struct eddy__http_conn *c = s->shards[i].conns; c != NULL && !found; c = c->next)
            found = c->task != NULL && eddy__task_from_handle(c->task) == self;
        pthread_mutex_unlock(&s->shards[i].lock);
    }
    return found;
}

int eddy_http_server_stop(eddy_http_server *s, int64_t grace_ms)
{
    if (s == NULL)
        return -EINVAL;
    if (called_from_handler(s))
        return -EDEADLK;
    pthread_mutex_lock(&s->drain_lock);
    s->stopper = eddy__task_current();
    pthread_mutex_unlock(&s->drain_lock);
    atomic_store_explicit(&s->stopping, 1, memory_order_release);
    for (unsigned i = 0; i < s->nshards; i++) {
        struct eddy__http_shard *sh = &s->shards[i];
        if (sh->acceptor != NULL) {
            /* not eddy_join: a cancelled caller's join returns at once,
               and the acceptor must be gone before the server is freed */
            (void)eddy_abort(sh->acceptor);
            while (!task_ended(sh->acceptor))
                stop_pause(1);
            eddy_detach(sh->acceptor);
            sh->acceptor = NULL;
        }
        (void)eddy_close(sh->lfd);
    }
    uint64_t deadline = eddy__deadline_after_ms(grace_ms);
    bool force = false;
    while (atomic_load_explicit(&s->nconns, memory_order_acquire) > 0) {
        if (!force && eddy_now_ns() >= deadline) {
            force = true;
            atomic_store_explicit(&s->stopping, 2, memory_order_release);
        }
        sweep(s, force);
        if (atomic_load_explicit(&s->nconns, memory_order_acquire) == 0)
            break;
        stop_pause(STOP_RESCAN_MS);
    }
    free_server(s);
    return 0;
}
