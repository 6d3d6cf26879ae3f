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
#include "rt/sync_int.h"
#include "rt/waitq.h"
#include "sched/alloc.h"
#include "sched/lock.h"

#define MAX_ELEM (64u * 1024u)

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
    int rc = eddy__chan_send_locked(c, elem);
    if (rc != -EAGAIN || try) {
        eddy__lock_release(&c->lock);
        return rc;
    }
    struct eddy__waiter w;
    rc = eddy__waiter_init(&w, (void *)elem);
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
    int rc = eddy__chan_recv_locked(c, elem);
    if (rc != -EAGAIN || try) {
        eddy__lock_release(&c->lock);
        return rc;
    }
    struct eddy__waiter w;
    rc = eddy__waiter_init(&w, elem);
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

int eddy_chan_send(eddy_chan *c, const void *elem)
{
    int rc = send(c, elem, -1, false);
    EDDY__KEEP_FRAME(); /* a dump names eddy_chan_send, see sched.h */
    return rc;
}

int eddy_chan_recv(eddy_chan *c, void *elem)
{
    int rc = recv(c, elem, -1, false);
    EDDY__KEEP_FRAME();
    return rc;
}

int eddy_chan_try_send(eddy_chan *c, const void *elem) { return send(c, elem, -1, true); }
int eddy_chan_try_recv(eddy_chan *c, void *elem) { return recv(c, elem, -1, true); }

int eddy_chan_send_timeout(eddy_chan *c, const void *elem, int64_t timeout_ms)
{
    int rc = send(c, elem, timeout_ms, false);
    EDDY__KEEP_FRAME();
    return rc;
}

int eddy_chan_recv_timeout(eddy_chan *c, void *elem, int64_t timeout_ms)
{
    int rc = recv(c, elem, timeout_ms, false);
    EDDY__KEEP_FRAME();
    return rc;
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
