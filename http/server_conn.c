/*
 * http/server_conn.c: a connection's task. It exists only while a request
 * is being read or answered: it reads, parses, runs the handler of each
 * complete request in order, gathers the answers and writes them in one
 * go when the input holds no further complete request, and, once nothing
 * is left, hands the connection back to the reactor and ends (server.c).
 * Its buffers live only as long as it does.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <eddy/io.h>
#include <eddy/rt.h>

#include "http/server_int.h"
#include "io/io_int.h"
#include "sched/alloc.h"

#define IN_CAP 8192              /* read buffer; the parser copies what it keeps */
#define LOOK_BACK 2              /* bytes kept before the unparsed input (obs-fold) */
#define OUT_FLUSH_AT (64 * 1024) /* write gathered answers past this much */
#define LINGER_MS 2000           /* after an error answer: read and drop for so long */
#define LINGER_BYTES (64 * 1024) /* or so much */

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static int64_t ms_left(uint64_t deadline_ns)
{
    uint64_t now = eddy_now_ns();
    return now >= deadline_ns ? 0 : (int64_t)((deadline_ns - now + 999999) / 1000000);
}

/* Runs the handler for the request just parsed and frames its answer. */
static void dispatch(struct eddy__http_active *a)
{
    struct eddy__http_conn *c = a->c;
    struct eddy_http_server *s = c->srv;
    c->served++;
    a->close_after = !a->p.keep_alive || atomic_load_explicit(&s->stopping, memory_order_relaxed) ||
                     (s->o.max_requests > 0 && c->served >= s->o.max_requests);
    eddy__http_resp_begin(a);
    int rc = s->h(&a->req, &a->resp, s->ud);
    eddy__http_resp_end(a, rc);
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
}

/* Writes what is buffered, then closes the way RFC 9112 9.6 asks: the
   write side first, then what the client still sends is read and dropped
   for a while, so that its stack does not answer our close with a reset
   that destroys the answers before they were read. */
static void linger_close(struct eddy__http_active *a)
{
    struct eddy__http_conn *c = a->c;
    if (eddy__http_out_flush(a) < 0)
        return;
    if (shutdown(c->fd, SHUT_WR) < 0)
        return;
    uint64_t until = eddy_now_ns() + (uint64_t)LINGER_MS * 1000000u;
    size_t dropped = 0;
    while (dropped < LINGER_BYTES) {
        int64_t left = ms_left(until);
        if (left <= 0)
            break;
        ssize_t n = eddy_read_timeout(c->fd, a->in, a->cap, left);
        if (n <= 0)
            break;
        dropped += (size_t)n;
    }
}

/* Answers a request the server refused itself, then closes lingering. */
static void refuse(struct eddy__http_active *a, int status)
{
    atomic_fetch_add_explicit(&a->c->srv->requests, 1, memory_order_relaxed);
    eddy__http_error_append(a, status);
    linger_close(a);
}

/* Moves the unparsed input to the front, keeping LOOK_BACK bytes before it. */
static void compact(struct eddy__http_active *a)
{
    if (a->off <= LOOK_BACK)
        return;
    size_t keep = a->len - a->off + LOOK_BACK;
    memmove(a->in, a->in + a->off - LOOK_BACK, keep);
    a->len = keep;
    a->off = LOOK_BACK;
}

/* Leaves with c the empty lines read before the next request line, for
   its next task: the header timeout counts from the first of them. */
static void keep_lead(struct eddy__http_active *a, uint32_t served_at_start, size_t lead_at_start)
{
    struct eddy__http_conn *c = a->c;
    uint8_t prev;
    size_t lead = eddy__http_parse_lead(&a->p, &prev);
    if (lead > 0 && (lead_at_start == 0 || c->served != served_at_start))
        c->lead_since_ns = eddy_now_ns(); /* they began in this task */
    c->lead_bytes = lead;
    c->lead_prev = prev;
}

/* Serves until the connection goes idle (0: it is no longer ours) or is
   to be closed (< 0). */
static int serve(struct eddy__http_active *a)
{
    struct eddy__http_conn *c = a->c;
    struct eddy_http_server *s = c->srv;
    uint64_t head_deadline = UINT64_MAX;
    uint32_t served_at_start = c->served;
    size_t lead_at_start = c->lead_bytes;
    eddy__http_parse_set_lead(&a->p, c->lead_bytes, c->lead_prev);
    for (;;) {
        while (a->off < a->len) {
            if (!a->p.in_message)
                head_deadline = UINT64_MAX; /* a new request: set when it must wait */
            size_t used;
            a->p.floor = a->in;
            int st = eddy__http_parse(&a->p, a->in + a->off, a->len - a->off, &used);
            a->off += used;
            if (st >= 400) {
                refuse(a, st);
                return -1;
            }
            if (st == EDDY__PARSE_HEAD) {
                /* Expect: 100-continue, and the body is not here yet */
                if (a->off == a->len &&
                    (eddy__http_out_append(a, continue_100, sizeof continue_100 - 1) < 0 ||
                     eddy__http_out_flush(a) < 0))
                    return -1;
                continue;
            }
            if (st == EDDY__PARSE_DONE) {
                dispatch(a);
                if (a->broken)
                    return -1;
                if (a->close_after) {
                    /* requests pipelined behind the last answer are not
                       served; closing with them unread would reset the
                       connection and could destroy the answers in flight */
                    if (a->off < a->len)
                        linger_close(a);
                    else
                        (void)eddy__http_out_flush(a);
                    return -1;
                }
                if (a->olen >= OUT_FLUSH_AT && eddy__http_out_flush(a) < 0)
                    return -1;
            }
        }
        compact(a);
        if (eddy__http_out_flush(a) < 0)
            return -1;
        size_t room = a->cap - a->len;
        ssize_t n;
        if (a->p.in_message) {
            /* the rest of a request: the header timeout runs from its first
               byte, the body timeout between reads */
            n = eddy__fd_read_tick(c->fd, a->in + a->len, room, &a->tick);
            if (n == -EAGAIN) {
                /* the header timeout counts from the first wait of a head
                   (microseconds after its first byte: a clock read per
                   request saved) */
                if (!a->p.head_done && head_deadline == UINT64_MAX && s->o.header_timeout_ms >= 0)
                    head_deadline = eddy_now_ns() + (uint64_t)s->o.header_timeout_ms * 1000000u;
                int64_t t = a->p.head_done ? s->o.body_timeout_ms
                            : head_deadline == UINT64_MAX ? -1 : ms_left(head_deadline);
                n = t == 0 ? -ETIMEDOUT : eddy_read_timeout(c->fd, a->in + a->len, room, t);
                if (n == -ETIMEDOUT) {
                    refuse(a, 408);
                    return -1;
                }
                a->drained = false; /* its tick is not known */
            } else {
                a->drained = n > 0 && (size_t)n < room;
            }
        } else {
            /* between requests: a short read took all there was, so go
               idle without another read(2) that would only say EAGAIN */
            if (a->drained) {
                keep_lead(a, served_at_start, lead_at_start);
                int r = eddy__http_conn_idle(c, a->tick);
                if (r == 0)
                    return 0;
                if (r < 0)
                    return -1;
            }
            n = eddy__fd_read_tick(c->fd, a->in + a->len, room, &a->tick);
            if (n == -EAGAIN) {
                a->drained = true;
                continue;
            }
            a->drained = n > 0 && (size_t)n < room;
        }
        if (n <= 0)
            return -1; /* EOF, an error, or an abort */
        a->len += (size_t)n;
    }
}

void *eddy__http_conn_task(void *arg)
{
    struct eddy__http_conn *c = arg;
    if (c->expired) { /* spawned by the idle timer, to close it */
        eddy__http_conn_end(c);
        return NULL;
    }
    struct eddy__http_active a;
    memset(&a, 0, sizeof a);
    a.c = c;
    eddy__http_parse_init(&a.p, &c->srv->lim);
    a.req.p = &a.p;
    a.resp.a = &a;
    a.cap = IN_CAP;
    a.in = eddy__alloc(a.cap);
    int rc = -1;
    if (a.in != NULL) {
        a.in[0] = a.in[1] = '\0';
        a.off = a.len = LOOK_BACK;
        rc = serve(&a);
    }
    eddy__dealloc(a.in, a.cap);
    eddy__dealloc(a.out, a.ocap);
    eddy__http_resp_free(&a.resp);
    eddy__http_parse_free(&a.p);
    if (rc < 0)
        eddy__http_conn_end(c);
    return NULL;
}
