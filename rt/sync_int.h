/*
 * rt/sync_int.h: the layouts of the channel and the notify, and their
 * operations that never wait, run under the object's lock: shared by the
 * primitives themselves (rt/chan.c, rt/notify.c) and by eddy_select
 * (rt/select.c), which takes the same locks and hands over through the
 * same paths, so a select case behaves exactly as the single call.
 */
#ifndef EDDY_RT_SYNC_INT_H
#define EDDY_RT_SYNC_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <eddy/sync.h>

#include "rt/waitq.h"
#include "sched/lock.h"

struct eddy_chan {
    struct eddy__lock lock;
    size_t cap, esz;             /* immutable after new */
    size_t head, count;          /* guarded by: lock */
    bool closed;                 /* guarded by: lock */
    struct eddy__waitq senders;  /* guarded by: lock; data: const elem */
    struct eddy__waitq receivers; /* guarded by: lock; data: elem out */
    /* then the ring, cap * esz bytes (guarded by: lock) */
};

struct eddy_notify {
    struct eddy__lock lock;
    bool permit;                /* guarded by: lock */
    struct eddy__waitq waiters; /* guarded by: lock */
};

/* The ring right behind the header (elements are copied with memcpy, so
   it needs no alignment of its own). */
static inline char *eddy__chan_ring(eddy_chan *c)
{
    return (char *)(c + 1);
}

static inline void eddy__chan_buf_push(eddy_chan *c, const void *elem)
{
    size_t tail = (c->head + c->count) % c->cap;
    memcpy(eddy__chan_ring(c) + tail * c->esz, elem, c->esz);
    c->count++;
}

static inline void eddy__chan_buf_pop(eddy_chan *c, void *elem)
{
    memcpy(elem, eddy__chan_ring(c) + c->head * c->esz, c->esz);
    c->head = (c->head + 1) % c->cap;
    c->count--;
}

/* A send that does not wait: to the oldest waiting receiver, else into the
   buffer. 0, -EPIPE (closed), -EAGAIN (full, or no receiver for a
   rendezvous). Caller holds c->lock. */
static inline int eddy__chan_send_locked(eddy_chan *c, const void *elem)
{
    if (c->closed)
        return -EPIPE;
    struct eddy__waiter *r = eddy__waitq_pop(&c->receivers);
    if (r != NULL) { /* a receiver waits: the buffer is empty */
        memcpy(r->data, elem, c->esz);
        eddy__waiter_signal(r, EDDY__W_SIGNALLED);
        return 0;
    }
    if (c->count < c->cap) {
        eddy__chan_buf_push(c, elem);
        return 0;
    }
    return -EAGAIN;
}

/* A receive that does not wait: from the buffer (the oldest waiting
   sender then gets in, so senders stay FIFO), else straight from a waiting
   sender. 0, -EPIPE (closed and empty), -EAGAIN. Caller holds c->lock. */
static inline int eddy__chan_recv_locked(eddy_chan *c, void *elem)
{
    if (c->count > 0) {
        eddy__chan_buf_pop(c, elem);
        struct eddy__waiter *s = eddy__waitq_pop(&c->senders);
        if (s != NULL) { /* room now: the oldest waiting sender gets in */
            eddy__chan_buf_push(c, s->data);
            eddy__waiter_signal(s, EDDY__W_SIGNALLED);
        }
        return 0;
    }
    struct eddy__waiter *s = eddy__waitq_pop(&c->senders);
    if (s != NULL) { /* rendezvous: take it from the sender */
        memcpy(elem, s->data, c->esz);
        eddy__waiter_signal(s, EDDY__W_SIGNALLED);
        return 0;
    }
    return c->closed ? -EPIPE : -EAGAIN;
}

#endif
