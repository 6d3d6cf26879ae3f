/*
 * benches/models/server_threads.c: the blocking HTTP/1.1 server of the
 * `threads` and `thread-pool` models (server_threads.h).
 */
#include "server_threads.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/server_int.h"

#define IN_CAP 8192
#define BODY_CAP 65536
#define STACK (64 * 1024)

struct st_conn {
    struct st_server *s;
    int fd;
    struct st_conn *prev, *next; /* guarded by: s->lock */
};

struct st_server {
    int lfd, port;
    unsigned pool;
    st_answer_fn fn;
    void *ud;
    struct eddy__http_limits lim;
    pthread_mutex_t lock;
    pthread_cond_t gone;
    struct st_conn *conns;  /* guarded by: lock */
    unsigned threads;       /* guarded by: lock; serving or accepting */
    bool stopping;          /* guarded by: lock */
    _Atomic uint64_t accepted;
    pthread_t acceptor;
    pthread_t *pool_threads;
};

/* The Date header, formatted once a second per thread as eddy's is. */
static size_t date_line(char *out, size_t cap)
{
    static _Thread_local time_t sec;
    static _Thread_local char line[48];
    static _Thread_local size_t len;
    time_t now = time(NULL);
    if (now != sec || len == 0) {
        struct tm tm;
        gmtime_r(&now, &tm);
        len = strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        sec = now;
    }
    if (len > cap)
        return 0;
    memcpy(out, line, len);
    return len;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Answers one request; false when the connection is to close. */
static bool answer(struct st_server *s, int fd, struct eddy__http_parse *p, char *out, char *body)
{
    int status = 200;
    const char *method = llhttp_method_name((llhttp_method_t)p->ll.method);
    size_t blen = s->fn(method, p->path, p->query, body, BODY_CAP, &status, s->ud);
    bool keep = p->keep_alive;
    int n = snprintf(out, 256, "HTTP/1.1 %d %s\r\nServer: eddy\r\n", status,
                     eddy__http_reason(status));
    size_t len = (size_t)n + date_line(out + n, 64);
    n = snprintf(out + len, 128, "Content-Length: %zu\r\n%s\r\n", blen,
                 keep ? (p->ll.http_minor == 0 ? "Connection: keep-alive\r\n" : "")
                      : "Connection: close\r\n");
    len += (size_t)n;
    if (p->ll.method != HTTP_HEAD) {
        memcpy(out + len, body, blen);
        len += blen;
    }
    return write_all(fd, out, len) && keep;
}

static void serve_conn(struct st_server *s, int fd)
{
    char *in = malloc(IN_CAP), *out = malloc(BODY_CAP + 512), *body = malloc(BODY_CAP);
    struct eddy__http_parse p;
    eddy__http_parse_init(&p, &s->lim);
    size_t off = 2, len = 2; /* two bytes kept before the input, as eddy's server does */
    bool open = in != NULL && out != NULL && body != NULL;
    if (open)
        in[0] = in[1] = '\0';
    while (open) {
        while (open && off < len) {
            size_t used;
            p.floor = in;
            int st = eddy__http_parse(&p, in + off, len - off, &used);
            off += used;
            if (st >= 400) {
                char head[160];
                int n = snprintf(head, sizeof head,
                                 "HTTP/1.1 %d Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", st);
                (void)write_all(fd, head, (size_t)n);
                open = false;
            } else if (st == EDDY__PARSE_HEAD) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                open = write_all(fd, cont, sizeof cont - 1);
            } else if (st == EDDY__PARSE_DONE) {
                open = answer(s, fd, &p, out, body);
            }
        }
        if (!open)
            break;
        if (off > 2) { /* keep two bytes of look-back */
            memmove(in, in + off - 2, len - off + 2);
            len = len - off + 2;
            off = 2;
        }
        ssize_t n = recv(fd, in + len, IN_CAP - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    eddy__http_parse_free(&p);
    free(in);
    free(out);
    free(body);
}

static void conn_done(struct st_server *s, struct st_conn *c)
{
    pthread_mutex_lock(&s->lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->lock);
    close(c->fd);
    free(c);
}

/* Registers a connection (NULL when stopping: the caller closes it). */
static struct st_conn *conn_add(struct st_server *s, int fd)
{
    struct st_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->s = s;
    c->fd = fd;
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        free(c);
        return NULL;
    }
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    return c;
}

static void thread_gone(struct st_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->threads--;
    pthread_cond_broadcast(&s->gone);
    pthread_mutex_unlock(&s->lock);
}

static void *conn_thread(void *arg)
{
    struct st_conn *c = arg;
    struct st_server *s = c->s;
    serve_conn(s, c->fd);
    conn_done(s, c);
    thread_gone(s);
    return NULL;
}

/* Accepts one connection; -1 when the listener was shut. */
static int accept_one(struct st_server *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            atomic_fetch_add(&s->accepted, 1);
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
            usleep(10000); /* out of descriptors: wait for some to close */
            continue;
        }
        return -1; /* EINVAL after shutdown: stopping */
    }
}

/* Thread per connection: the acceptor starts one for each. */
static void *acceptor(void *arg)
{
    struct st_server *s = arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int fd;
    while ((fd = accept_one(s)) >= 0) {
        struct st_conn *c = conn_add(s, fd);
        if (c == NULL) {
            close(fd);
            continue;
        }
        pthread_mutex_lock(&s->lock);
        s->threads++;
        pthread_mutex_unlock(&s->lock);
        pthread_t t;
        if (pthread_create(&t, &attr, conn_thread, c) != 0) {
            conn_done(s, c); /* no thread: the client sees a close */
            thread_gone(s);
        }
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

/* Thread pool: each takes a connection and serves it to its end. */
static void *pool_thread(void *arg)
{
    struct st_server *s = arg;
    int fd;
    while ((fd = accept_one(s)) >= 0) {
        struct st_conn *c = conn_add(s, fd);
        if (c == NULL) {
            close(fd);
            continue;
        }
        serve_conn(s, fd);
        conn_done(s, c);
    }
    return NULL;
}

int st_start(struct st_server **out, uint16_t port, unsigned pool, st_answer_fn fn, void *ud)
{
    if (out == NULL || fn == NULL || pool > 100000)
        return -EINVAL;
    struct st_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->pool = pool;
    s->fn = fn;
    s->ud = ud;
    /* eddy_http_server_opts_init's limits */
    s->lim = (struct eddy__http_limits){ .max_target = 8192, .max_head = 16384,
                                         .max_body = 1 << 20, .max_headers = 100 };
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->gone, NULL);
    int one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(s->lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 4096) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0) {
        int e = -errno;
        if (s->lfd >= 0)
            close(s->lfd);
        free(s);
        return e;
    }
    s->port = ntohs(a.sin_port);
    int rc = 0;
    if (pool == 0) {
        rc = -pthread_create(&s->acceptor, NULL, acceptor, s);
    } else {
        s->pool_threads = calloc(pool, sizeof *s->pool_threads);
        rc = s->pool_threads == NULL ? -ENOMEM : 0;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, STACK);
        for (unsigned i = 0; rc == 0 && i < pool; i++) {
            rc = -pthread_create(&s->pool_threads[i], &attr, pool_thread, s);
            if (rc < 0)
                s->pool = i; /* those started are joined by stop */
        }
        pthread_attr_destroy(&attr);
    }
    *out = s;
    if (rc < 0) {
        st_stop(s);
        *out = NULL;
    }
    return rc;
}

int st_port(const struct st_server *s)
{
    return s->port;
}

uint64_t st_accepted(const struct st_server *s)
{
    return atomic_load(&((struct st_server *)s)->accepted);
}

unsigned st_threads(const struct st_server *s)
{
    struct st_server *m = (struct st_server *)s;
    pthread_mutex_lock(&m->lock);
    unsigned n = m->threads;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void st_stop(struct st_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    for (struct st_conn *c = s->conns; c != NULL; c = c->next)
        shutdown(c->fd, SHUT_RDWR); /* their threads' reads return */
    pthread_mutex_unlock(&s->lock);
    shutdown(s->lfd, SHUT_RDWR); /* accept returns EINVAL */
    if (s->pool == 0 && s->acceptor != 0)
        pthread_join(s->acceptor, NULL);
    for (unsigned i = 0; s->pool_threads != NULL && i < s->pool; i++)
        pthread_join(s->pool_threads[i], NULL);
    pthread_mutex_lock(&s->lock);
    while (s->threads > 0)
        pthread_cond_wait(&s->gone, &s->lock);
    pthread_mutex_unlock(&s->lock);
    close(s->lfd);
    free(s->pool_threads);
    pthread_cond_destroy(&s->gone);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
