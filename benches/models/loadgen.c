/*
 * benches/models/loadgen.c: the load generator (loadgen.h).
 */
#include "loadgen.h"

#include <eddy.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUF_CAP 65536

void lg_opts_init(lg_opts *o)
{
    memset(o, 0, sizeof *o);
    o->conns = 1;
    o->pipeline = 1;
    o->duration_ms = 1000;
    o->timeout_ms = 5000;
}

struct run {
    const lg_opts *o;
    char req[512], heavy[512];
    size_t req_len, heavy_len;
    uint64_t start_ns, end_ns; /* the measured window */
    eddy_mutex *lock;          /* guards the merge into *r */
    lg_result *r;
};

struct conn {
    struct run *run;
    unsigned index;
};

/* Reads one answer from fd (buffered in buf/len); its status in *status,
   and whether it said Connection: close in *last. 1 an answer, 0 the
   connection closed, < 0 an error. */
static int read_answer(int fd, char *buf, size_t *len, int *status, bool *last)
{
    for (;;) {
        char *end = memmem(buf, *len, "\r\n\r\n", 4);
        if (end != NULL) {
            size_t head = (size_t)(end - buf) + 4;
            if (*len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
                return -EPROTO;
            *status = atoi(buf + 9);
            size_t body = 0;
            *last = false;
            for (char *p = buf; p < end; p++) {
                if (p != buf && p[-1] != '\n')
                    continue;
                if (strncasecmp(p, "Content-Length:", 15) == 0)
                    body = (size_t)strtoull(p + 15, NULL, 10);
                else if (strncasecmp(p, "Connection: close", 17) == 0)
                    *last = true;
            }
            if (head + body > BUF_CAP)
                return -EMSGSIZE;
            if (*len >= head + body) {
                memmove(buf, buf + head + body, *len - head - body);
                *len -= head + body;
                return 1;
            }
        }
        if (*len == BUF_CAP)
            return -EMSGSIZE;
        ssize_t n = eddy_read(fd, buf + *len, BUF_CAP - *len);
        if (n <= 0)
            return n == 0 ? 0 : (int)n;
        *len += (size_t)n;
    }
}

static void *conn_task(void *arg)
{
    struct conn *cn = arg;
    struct run *run = cn->run;
    const lg_opts *o = run->o;
    /* its own counts, merged at the end (a histogram is 30 KB: not on the
       task's stack) */
    struct { uint64_t requests, errors, timeouts; hist *lat; } mine = { 0, 0, 0,
                                                                    malloc(sizeof(hist)) };
    bool heavy = o->heavy_path != NULL && cn->index % o->heavy_every == 0;
    const char *req = heavy ? run->heavy : run->req;
    size_t req_len = heavy ? run->heavy_len : run->req_len;
    int64_t timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    char *buf = mine.lat != NULL ? malloc(BUF_CAP) : NULL;
    bool oom = buf == NULL;
    if (mine.lat != NULL)
        hist_init(mine.lat);
    uint64_t due[64];
    int fd = -1;
    /* open loop: this connection's share of the rate, its first request
       offset so that the connections interleave */
    uint64_t interval = o->rate > 0 ? (uint64_t)(1e9 * o->conns / o->rate) : 0;
    uint64_t next = run->start_ns - (uint64_t)o->warmup_ms * 1000000u +
                    (interval > 0 ? interval * cn->index / o->conns : 0);
    while (buf != NULL && eddy_now_ns() < run->end_ns) {
        if (fd < 0 && eddy_tcp_connect(&fd, o->host != NULL ? o->host : "127.0.0.1", o->port,
                                       1000) < 0) {
            fd = -1;
            mine.errors++;
            eddy_sleep_ms(10);
            continue;
        }
        unsigned k = interval > 0 ? 1 : o->pipeline;
        if (interval > 0) {
            if (next >= run->end_ns)
                break;
            eddy_sleep_until_ns(next); /* at once when it is past (behind schedule) */
            due[0] = next;
            next += interval;
        } else {
            uint64_t now = eddy_now_ns();
            for (unsigned i = 0; i < k; i++)
                due[i] = now;
        }
        size_t len = 0;
        int rc = 0;
        /* k requests in one write (pipelined), then their k answers */
        char *many = k == 1 ? (char *)req : malloc(req_len * k);
        if (many == NULL)
            break;
        for (unsigned i = 1; k > 1 && i <= k; i++)
            memcpy(many + (i - 1) * req_len, req, req_len);
        /* bounded: a server that never answers (a full thread pool leaves
           connections in its backlog) costs an error, not a hung run */
        eddy_deadline_push(timeout_ms);
        if (eddy_write(fd, many, req_len * k) < 0)
            rc = -EPIPE;
        if (many != req)
            free(many);
        bool last = false;
        for (unsigned i = 0; rc >= 0 && i < k && !last; i++) {
            int status = 0;
            rc = read_answer(fd, buf, &len, &status, &last);
            if (rc == -ETIMEDOUT) {
                /* the unanswered ones still waiting in the window count,
                   once each: also those sent during the warm-up (a
                   connection a full thread pool never serves waits from
                   its first request on) */
                for (unsigned j = i; j < k; j++)
                    if (due[j] < run->end_ns) {
                        mine.errors++;
                        mine.timeouts++;
                    }
                rc = 0;
                last = true; /* closed below; not counted again */
                break;
            }
            if (rc <= 0)
                break;
            uint64_t now = eddy_now_ns();
            bool measured = due[i] >= run->start_ns && now <= run->end_ns;
            if (due[i] < run->start_ns && now > run->end_ns) {
                /* sent before the window and answered only after it: it
                   waited through all of it (a connection a full thread
                   pool left in its backlog until another closed) */
                mine.errors++;
                mine.timeouts++;
                continue;
            }
            if (status < 200 || status > 299)
                mine.errors += measured;
            else if (measured) {
                mine.requests++;
                hist_record(mine.lat, now - due[i]);
            }
        }
        eddy_deadline_pop();
        if (rc <= 0 || last) {
            /* failed or closed unasked: an error; closed as the server said
               (its max requests per connection): not one. Open another;
               requests pipelined behind the last answer go unanswered. */
            if ((rc < 0 || (rc == 0 && !last)) && eddy_now_ns() < run->end_ns)
                mine.errors++;
            eddy_close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        eddy_close(fd);
    free(buf);
    eddy_mutex_lock(run->lock);
    run->r->requests += mine.requests;
    run->r->errors += mine.errors + oom; /* no memory: said, not hidden */
    run->r->timeouts += mine.timeouts;
    if (mine.lat != NULL)
        hist_merge(&run->r->lat, mine.lat);
    eddy_mutex_unlock(run->lock);
    free(mine.lat);
    return NULL;
}

int lg_run(const lg_opts *o, lg_result *r)
{
    if (o == NULL || r == NULL || o->conns == 0 || o->duration_ms <= 0 || o->warmup_ms < 0 ||
        o->rate < 0 || o->pipeline == 0 || o->pipeline > 64 || o->port == 0)
        return -EINVAL;
    memset(r, 0, sizeof *r);
    hist_init(&r->lat);
    struct run run = { .o = o, .r = r };
    int n = snprintf(run.req, sizeof run.req, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                     o->path != NULL ? o->path : "/", o->host != NULL ? o->host : "127.0.0.1");
    if (n < 0 || (size_t)n >= sizeof run.req)
        return -EINVAL;
    run.req_len = (size_t)n;
    if (o->heavy_path != NULL) {
        if (o->heavy_every == 0)
            return -EINVAL;
        n = snprintf(run.heavy, sizeof run.heavy, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                     o->heavy_path, o->host != NULL ? o->host : "127.0.0.1");
        if (n < 0 || (size_t)n >= sizeof run.heavy)
            return -EINVAL;
        run.heavy_len = (size_t)n;
    }
    int rc = eddy_mutex_new(&run.lock);
    if (rc < 0)
        return rc;
    run.start_ns = eddy_now_ns() + (uint64_t)o->warmup_ms * 1000000u;
    run.end_ns = run.start_ns + (uint64_t)o->duration_ms * 1000000u;
    struct conn *cs = calloc(o->conns, sizeof *cs);
    eddy_task **ts = calloc(o->conns, sizeof *ts);
    unsigned started = 0;
    rc = cs == NULL || ts == NULL ? -ENOMEM : 0;
    for (unsigned i = 0; rc == 0 && i < o->conns; i++) {
        cs[i] = (struct conn){ .run = &run, .index = i };
        rc = eddy_spawn(&ts[i], conn_task, &cs[i]);
        started += rc == 0;
    }
    for (unsigned i = 0; i < started; i++)
        eddy_join(ts[i], NULL);
    r->secs = (double)o->duration_ms / 1000.0;
    free(cs);
    free(ts);
    eddy_mutex_free(run.lock);
    return rc;
}
