/*
 * io/fd_uring.c: what the io_uring backend needs of the fd table besides
 * the event dispatch of io/fd.c: a poll that ended is armed again (or the
 * registration dropped so that the next wait makes a new one), and a
 * worker standing in for a stuck owner checks the fds waited on there
 * with poll(2), because the owner holds back their completions.
 * Compiled on both backends (the table does not know which one it feeds);
 * only io/uring.c calls it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include <eddy/io.h>

#include "io/fd_entry.h"
#include "io/io_int.h"
#include "sched/sched.h"

/* Gives up e's registration with its reactor, which has no poll behind
   it any more (arming it again failed): the waiters wake, try their call
   again and, on EAGAIN, register anew where they run. A watched fd's
   callback hears of both directions (a spurious report costs its owner a
   call that finds EAGAIN); its interest is registered again by the next
   eddy__fd_watch or wait. A one-shot arm is taken and stored in *arm
   (its owner, called after the unlock, reads and finds out). Caller holds
   e->lock. */
static void drop_dead_registration(struct fd_entry *e, int fd, eddy__arm_fn *arm, void **arm_arg)
{
    atomic_fetch_sub_explicit(&e->drv->nregistered, 1, memory_order_relaxed);
    e->drv = NULL;
    e->reg++;
    e->ready |= EDDY_READABLE | EDDY_WRITABLE; /* try again, to find out */
    for (int d = 0; d < 2; d++) {
        e->tick[d]++;
        if (e->waiter[d] != NULL)
            eddy__wake(e->waiter[d]);
    }
    if (e->watch != NULL)
        e->watch(e->watch_arg, fd, EDDY_READABLE | EDDY_WRITABLE);
    if (e->arm_fn != NULL) {
        *arm = e->arm_fn;
        *arm_arg = e->arm_arg;
        e->arm_fn = NULL;
        eddy__fd_note_interest(e);
    }
}

void eddy__fd_poll_ended(struct eddy__io_driver *d, uint64_t data, int res)
{
    int fd = (int)(uint32_t)data - 1;
    struct fd_entry *e = eddy__fd_entry(fd, false);
    if (e == NULL)
        return;
    eddy__arm_fn arm = NULL;
    void *arm_arg = NULL;
    pthread_mutex_lock(&e->lock);
    /* Only the fd's current registration with d. One that was replaced,
       moved or dropped was cancelled on purpose (eddy_close, a move, a
       watch change all bump reg or clear drv first) and stays ended. The
       current one ends on its own when it was a one-shot level poll that
       fired or the kernel stopped a multishot poll (it could not post a
       completion): armed again, or its waiters would sleep with nothing to
       wake them. -ECANCELED (the thread that armed it exited) likewise.
       Any other error (-EBADF: the number was closed with close(2) behind
       eddy's back) would only come back from a new poll, so the
       registration is dropped and the waiters go and find out. */
    if (e->drv == d && e->reg == (uint32_t)(data >> 32) && !atomic_load(&d->dead)) {
        bool again = res >= 0 || res == -ECANCELED;
        if (!again || eddy__io_add(d, fd, eddy__fd_reg_events(e), data) < 0)
            drop_dead_registration(e, fd, &arm, &arm_arg);
    }
    pthread_mutex_unlock(&e->lock);
    if (arm != NULL)
        arm(arm_arg);
}

/* ------------------------------------------------- standing in on io_uring */

#define STRANDED_BATCH 64

/* Polls a batch gathered by eddy__fd_poll_stranded and dispatches what is
   ready as if the reactor had reported it. */
static int dispatch_stranded(struct pollfd *p, const uint64_t *data, int n)
{
    if (n == 0 || poll(p, (nfds_t)n, 0) <= 0)
        return 0;
    int found = 0;
    for (int i = 0; i < n; i++) {
        short r = p[i].revents;
        if (r == 0 || (r & POLLNVAL))
            continue;
        uint32_t ev = (r & POLLIN ? EPOLLIN : 0) | (r & POLLOUT ? EPOLLOUT : 0) |
                      (r & POLLRDHUP ? EPOLLRDHUP : 0) | (r & POLLPRI ? EPOLLPRI : 0) |
                      (r & POLLHUP ? EPOLLHUP : 0) | (r & POLLERR ? EPOLLERR : 0);
        eddy__fd_event(data[i], ev);
        found++;
    }
    return found;
}

int eddy__fd_poll_stranded(struct eddy__io_driver *d)
{
    struct pollfd p[STRANDED_BATCH];
    uint64_t data[STRANDED_BATCH];
    int n = 0, found = 0;
    size_t nc = eddy__fd_table_chunks();
    for (size_t c = 0; c < nc; c++) {
        struct fd_entry *ch = eddy__fd_table_chunk(c);
        if (ch == NULL)
            continue;
        for (int i = 0; i < EDDY__FD_CHUNK; i++) {
            struct fd_entry *e = &ch[i];
            if (!atomic_load_explicit(&e->interest, memory_order_relaxed))
                continue;
            int fd = (int)(c * EDDY__FD_CHUNK) + i;
            short want = 0;
            pthread_mutex_lock(&e->lock);
            if (e->drv == d) {
                if (e->waiter[DIR_READ] != NULL || e->arm_fn != NULL)
                    want |= POLLIN | POLLRDHUP;
                if (e->waiter[DIR_WRITE] != NULL)
                    want |= POLLOUT;
                if (e->watch != NULL)
                    want |= (short)((e->watch_events & EDDY_READABLE ? POLLIN | POLLRDHUP : 0) |
                                    (e->watch_events & EDDY_WRITABLE ? POLLOUT : 0));
                data[n] = eddy__fd_event_data(fd, e->reg);
            }
            pthread_mutex_unlock(&e->lock);
            if (want == 0)
                continue;
            p[n].fd = fd;
            p[n].events = want;
            p[n].revents = 0;
            if (++n == STRANDED_BATCH) {
                found += dispatch_stranded(p, data, n);
                n = 0;
            }
        }
    }
    return found + dispatch_stranded(p, data, n);
}
