/*
 * rt/chan.c: bounded and rendezvous channels. Elements are copied into a
 * ring buffer; a sender that finds a waiting receiver hands the element
 * straight into the receiver's buffer, and a receiver that frees a slot
 * moves the oldest waiting sender's element in (so senders stay FIFO). A
 * rendezvous channel (capacity 0) only ever hands over directly.
 */
#include <errno.h>
#include <string.h>

#include <eddy/sync.h>

#include "rt/rt_int.h"
#include "rt/waitq.h"
#include "sched/alloc.h"
#include "sched/lock.h"

#define MAX_ELEM (64u * 1024u)

struct eddy_chan {
    struct eddy__lock lock;
    size_t cap, esz;             /* immutable after new */
    size_t head, count;          /* guarded by: lock */
    bool closed;                 /* guarded by: lock */
    struct eddy__waitq senders;  /* guarded by: lock; data: const elem */
    struct eddy__waitq receivers; /* guarded by: lock; data: elem out */
    /* then the ring, cap * esz bytes (guarded by: lock) */
};

/* The ring right behind the header (elements are copied with memcpy, so
   it needs no alignment of its own). */
static inline char *ring(eddy_chan *c)
{
    return (char *)(c + 1);
}

int eddy_chan_new(eddy_chan **out, size_t capacity, size_t elem_size)
{
    if (out == NULL || elem_size == 0 || elem_size > MAX_ELEM ||
        capacity > (SIZE_MAX - sizeof(eddy_chan)) / elem_size)
        return -EINVAL;
    eddy_chan *c = eddy__alloc(sizeof *c + capacity * elem_size);
    if (c == NULL)
        return -ENOMEM;
    memset(c, 0, sizeof *c); /* the lock unlocked, the queues empty */
    c->cap = capacity;
    c->esz = elem_size;
    *out = c;
    return 0;
}

void eddy_chan_free(eddy_chan *c)
{
    if (c != NULL)
        eddy__dealloc(c, sizeof *c + c->cap * c->esz);
}

static void buf_push(eddy_chan *c, const void *elem)
{
    size_t tail = (c->head + c->count) % c->cap;
    memcpy(ring(c) + tail * c->esz, elem, c->esz);
    c->count++;
}

static void buf_pop(eddy_chan *c, void *elem)
{
    memcpy(elem, ring(c) + c->head * c->esz, c->esz);
    c->head = (c->head + 1) % c->cap;
    c->count--;
}

/* timeout_ms: -1 none; try: never wait. */
static int send(eddy_chan *c, const void *elem, int64_t timeout_ms, bool try)
{
    if (c == NULL || elem == NULL)
        return -EINVAL;
    if (!try) {
        int rc = eddy__wait_check();
        if (rc < 0)
            return rc;
    }
    eddy__lock_acquire(&c->lock);
    if (c->closed) {
        eddy__lock_release(&c->lock);
        return -EPIPE;
    }
    struct eddy__waiter *r = eddy__waitq_pop(&c->receivers);
    if (r != NULL) { /* a receiver waits: the buffer is empty */
        memcpy(r->data, elem, c->esz);
        eddy__waiter_signal(r, EDDY__W_SIGNALLED);
        eddy__lock_release(&c->lock);
        return 0;
    }
    if (c->count < c->cap) {
        buf_push(c, elem);
        eddy__lock_release(&c->lock);
        return 0;
    }
    if (try) {
        eddy__lock_release(&c->lock);
        return -EAGAIN;
    }
    struct eddy__waiter w;
    int rc = eddy__waiter_init(&w, (void *)elem);
    if (rc < 0) {
        eddy__lock_release(&c->lock);
        return rc;
    }
    eddy__waitq_push(&c->senders, &w);
    rc = eddy__waitq_wait(&c->lock, &c->senders, &w, eddy__deadline_after_ms(timeout_ms),
                          EDDY__WAIT_CHAN_SEND, c);
    eddy__lock_release(&c->lock);
    if (rc == EDDY__W_SIGNALLED)
        return 0;
    if (rc == EDDY__W_CLOSED)
        return -EPIPE;
    return rc;
}

static int recv(eddy_chan *c, void *elem, int64_t timeout_ms, bool try)
{
    if (c == NULL || elem == NULL)
        return -EINVAL;
    if (!try) {
        int rc = eddy__wait_check();
        if (rc < 0)
            return rc;
    }
    eddy__lock_acquire(&c->lock);
    if (c->count > 0) {
        buf_pop(c, elem);
        struct eddy__waiter *s = eddy__waitq_pop(&c->senders);
        if (s != NULL) { /* room now: the oldest waiting sender gets in */
            buf_push(c, s->data);
            eddy__waiter_signal(s, EDDY__W_SIGNALLED);
        }
        eddy__lock_release(&c->lock);
        return 0;
    }
    struct eddy__waiter *s = eddy__waitq_pop(&c->senders);
    if (s != NULL) { /* rendezvous: take it from the sender */
        memcpy(elem, s->data, c->esz);
        eddy__waiter_signal(s, EDDY__W_SIGNALLED);
        eddy__lock_release(&c->lock);
        return 0;
    }
    if (c->closed) {
        eddy__lock_release(&c->lock);
        return -EPIPE;
    }
    if (try) {
        eddy__lock_release(&c->lock);
        return -EAGAIN;
    }
    struct eddy__waiter w;
    int rc = eddy__waiter_init(&w, elem);
    if (rc < 0) {
        eddy__lock_release(&c->lock);
        return rc;
    }
    eddy__waitq_push(&c->receivers, &w);
    rc = eddy__waitq_wait(&c->lock, &c->receivers, &w, eddy__deadline_after_ms(timeout_ms),
                          EDDY__WAIT_CHAN_RECV, c);
    eddy__lock_release(&c->lock);
    if (rc == EDDY__W_SIGNALLED)
        return 0;
    if (rc == EDDY__W_CLOSED)
        return -EPIPE;
    return rc;
}

int eddy_chan_send(eddy_chan *c, const void *elem) { return send(c, elem, -1, false); }
int eddy_chan_recv(eddy_chan *c, void *elem) { return recv(c, elem, -1, false); }
int eddy_chan_try_send(eddy_chan *c, const void *elem) { return send(c, elem, -1, true); }
int eddy_chan_try_recv(eddy_chan *c, void *elem) { return recv(c, elem, -1, true); }

int eddy_chan_send_timeout(eddy_chan *c, const void *elem, int64_t timeout_ms)
{
    return send(c, elem, timeout_ms, false);
}

int eddy_chan_recv_timeout(eddy_chan *c, void *elem, int64_t timeout_ms)
{
    return recv(c, elem, timeout_ms, false);
}

void eddy_chan_close(eddy_chan *c)
{
    if (c == NULL)
        return;
    eddy__lock_acquire(&c->lock);
    if (!c->closed) {
        c->closed = true;
        eddy__waitq_signal_all(&c->senders, EDDY__W_CLOSED);
        eddy__waitq_signal_all(&c->receivers, EDDY__W_CLOSED);
    }
    eddy__lock_release(&c->lock);
}
