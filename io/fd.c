/*
 * io/fd.c: readiness of file descriptors for tasks. Each fd eddy touches
 * gets an entry in a table indexed by fd number: readiness bits fed by the
 * reactor, the task (at most one per direction) waiting for each, and a
 * generation bumped by eddy_close so that no event of a closed fd reaches a
 * task waiting on a new fd with the same number.
 *
 * An fd is registered once, edge-triggered for in and out, with the reactor
 * of the worker that first has to wait on it, and deregistered by
 * eddy_close. It moves to another worker's reactor only when a task waits
 * on it there while its reactor's worker is stuck in one long task. Every
 * call tries the system call first; only EAGAIN waits.
 * Readiness bits are cleared on EAGAIN only if no event arrived since the
 * attempt began (a tick per direction), so an edge is never lost between
 * the failed call and the wait. Plain threads (no worker) wait in poll(2).
 * The entry is in io/fd_entry.h; level-triggered watches of foreign fds
 * are in io/fd_watch.c.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <eddy/io.h>

#include "io/fd_entry.h"
#include "io/io_int.h"
#include "sched/alloc.h"
#include "sched/sched.h"

#define CHUNK EDDY__FD_CHUNK
#define IOV_ON_STACK 8 /* eddy_writev copies this many buffers on the stack */

#define dir_bit eddy__fd_dir_bit
#define clear_readiness eddy__fd_clear_readiness
#define make_nonblocking eddy__fd_make_nonblocking

static struct {
    pthread_mutex_t lock;                   /* guards growing chunks */
    struct fd_entry *_Atomic *_Atomic chunks; /* [nchunks], readers lock-free */
    _Atomic size_t nchunks;
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct fd_entry *eddy__fd_entry(int fd, bool create)
{
    if (fd < 0)
        return NULL;
    size_t c = (size_t)fd / CHUNK;
    size_t nc = atomic_load_explicit(&table.nchunks, memory_order_acquire);
    if (c < nc) {
        struct fd_entry *_Atomic *chunks = atomic_load_explicit(&table.chunks, memory_order_acquire);
        struct fd_entry *ch = atomic_load_explicit(&chunks[c], memory_order_acquire);
        if (ch != NULL)
            return &ch[fd % CHUNK];
    }
    if (!create)
        return NULL;
    pthread_mutex_lock(&table.lock);
    nc = atomic_load_explicit(&table.nchunks, memory_order_relaxed);
    struct fd_entry *_Atomic *chunks = atomic_load_explicit(&table.chunks, memory_order_relaxed);
    if (c >= nc) {
        size_t nn = c + 1 > 2 * nc ? c + 1 : 2 * nc;
        struct fd_entry *_Atomic *grown = eddy__calloc(nn * sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&table.lock);
            return NULL;
        }
        for (size_t i = 0; i < nc; i++)
            atomic_init(&grown[i], atomic_load_explicit(&chunks[i], memory_order_relaxed));
        /* the old array stays allocated: a reader may still hold it */
        atomic_store_explicit(&table.chunks, grown, memory_order_release);
        atomic_store_explicit(&table.nchunks, nn, memory_order_release);
        chunks = grown;
    }
    struct fd_entry *ch = atomic_load_explicit(&chunks[c], memory_order_relaxed);
    if (ch == NULL) {
        ch = eddy__calloc(CHUNK * sizeof *ch);
        if (ch == NULL) {
            pthread_mutex_unlock(&table.lock);
            return NULL;
        }
        for (size_t i = 0; i < CHUNK; i++)
            pthread_mutex_init(&ch[i].lock, NULL);
        atomic_store_explicit(&chunks[c], ch, memory_order_release);
    }
    pthread_mutex_unlock(&table.lock);
    return &ch[fd % CHUNK];
}

size_t eddy__fd_table_chunks(void)
{
    return atomic_load_explicit(&table.nchunks, memory_order_acquire);
}

struct fd_entry *eddy__fd_table_chunk(size_t c)
{
    if (c >= atomic_load_explicit(&table.nchunks, memory_order_acquire))
        return NULL;
    struct fd_entry *_Atomic *chunks = atomic_load_explicit(&table.chunks, memory_order_acquire);
    return atomic_load_explicit(&chunks[c], memory_order_acquire);
}

void eddy__fd_event(uint64_t data, uint32_t events)
{
    int fd = (int)(uint32_t)data - 1;
    uint32_t reg = (uint32_t)(data >> 32);
    struct fd_entry *e = eddy__fd_entry(fd, false);
    if (e == NULL)
        return;
    int r = 0;
    eddy__arm_fn arm = NULL;
    void *arm_arg = NULL;
    pthread_mutex_lock(&e->lock);
    /* an event of an earlier registration (the number was closed and
       reused, or the fd moved) is dropped */
    if (e->reg == reg && e->drv != NULL) {
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            r |= EDDY_READABLE;
        if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            r |= EDDY_WRITABLE;
        if (events & (EPOLLHUP | EPOLLERR))
            r |= EDDY__HANGUP;
        e->ready |= (uint8_t)(r & (EDDY_READABLE | EDDY_WRITABLE));
        for (int d = 0; d < 2; d++) {
            if (!(r & dir_bit(d)))
                continue;
            e->tick[d]++;
            if (e->waiter[d] != NULL)
                eddy__wake(e->waiter[d]);
        }
        /* under the lock: once eddy__fd_unwatch returns, no call of the
           old callback is under way */
        if (e->watch != NULL && r != 0)
            e->watch(e->watch_arg, fd, r);
        /* a one-shot arm is taken here and run after the unlock: its
           owner may close the fd from it */
        if ((r & EDDY_READABLE) && e->arm_fn != NULL) {
            arm = e->arm_fn;
            arm_arg = e->arm_arg;
            e->arm_fn = NULL;
            eddy__fd_note_interest(e);
        }
    }
    pthread_mutex_unlock(&e->lock);
    if (arm != NULL)
        arm(arm_arg);
}

/* epoll events of a registration: level-triggered for the interest of a
   watched fd, edge-triggered for both directions otherwise. */
uint32_t eddy__fd_reg_events(const struct fd_entry *e)
{
    if (e->watch == NULL)
        return EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    return (e->watch_events & EDDY_READABLE ? EPOLLIN | EPOLLRDHUP : 0) |
           (e->watch_events & EDDY_WRITABLE ? EPOLLOUT : 0);
}

/* Registers e's fd with the current worker's reactor if not yet. Caller
   holds e->lock. */
int eddy__fd_ensure_registered(struct fd_entry *e, int fd)
{
    struct eddy__io_driver *d = eddy__worker_driver_current();
    if (e->drv != NULL && !atomic_load(&e->drv->dead) && !e->ours &&
        !eddy__fd_same_file(e, fd, true)) {
        /* closed with close(2) and the number reused (io/fd_reuse.c): the
           old file's registration went with it; register the new one */
        e->drv = NULL;
        e->ready = 0;
        e->nonblock = false;
        e->not_socket = false;
    }
    if (e->drv != NULL && !atomic_load(&e->drv->dead)) {
        if (e->drv == d || !atomic_load_explicit(&e->drv->stuck, memory_order_relaxed))
            return 0;
        /* its reactor's worker is stuck in a long task (another worker
           polled for it): move here rather than wait on it. Adding an
           edge-triggered fd reports its current readiness, so nothing is
           lost between the two calls. */
        eddy__io_del(e->drv, fd, eddy__fd_event_data(fd, e->reg));
        atomic_fetch_sub_explicit(&e->drv->nregistered, 1, memory_order_relaxed);
    }
    e->drv = NULL; /* unregistered, or its runtime was freed */
    e->reg++;
    int rc = eddy__io_add(d, fd, eddy__fd_reg_events(e), eddy__fd_event_data(fd, e->reg));
    if (rc < 0)
        return rc; /* epoll: EPERM for a regular file, which never blocks */
    e->drv = d;
    atomic_fetch_add_explicit(&d->nregistered, 1, memory_order_relaxed);
    if (!e->ours)
        (void)eddy__fd_same_file(e, fd, false); /* remember which file */
    return 0;
}

int eddy__fd_make_nonblocking(struct fd_entry *e, int fd)
{
    if (e->nonblock)
        return 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    e->nonblock = true;
    return 0;
}

/* Opens an I/O attempt: the fd is non-blocking, and *tick says which
   events the attempt may have missed. */
static int begin(int fd, int dir, struct fd_entry **out, uint64_t *tick, uint32_t *gen)
{
    if (fd < 0)
        return -EBADF;
    struct fd_entry *e = eddy__fd_entry(fd, true);
    if (e == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&e->lock);
    int rc = make_nonblocking(e, fd);
    *tick = e->tick[dir];
    *gen = e->gen;
    pthread_mutex_unlock(&e->lock);
    *out = e;
    return rc;
}

/* poll(2) events for EDDY_READABLE|EDDY_WRITABLE, and back: an error or
   hang-up counts as ready for both. */
static short poll_events(int events)
{
    return (short)((events & EDDY_READABLE ? POLLIN : 0) | (events & EDDY_WRITABLE ? POLLOUT : 0));
}

static int ready_bits(short revents, int events)
{
    int r = 0;
    if (revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))
        r |= EDDY_READABLE;
    if (revents & (POLLOUT | POLLHUP | POLLERR))
        r |= EDDY_WRITABLE;
    return r & events;
}

/* Takes self out of the waiter slots it holds. Caller holds e->lock. */
static void drop_waiter(struct fd_entry *e, struct eddy__task *self)
{
    for (int d = 0; d < 2; d++) {
        if (e->waiter[d] == self) {
            e->waiter[d] = NULL;
            eddy__task_unref(self);
        }
    }
    eddy__fd_note_interest(e);
}

/* Whether direction d of e is held by another task (then -EBUSY). A
   plain thread holding it only for its wake on close gives way: it is
   woken (its eddy call goes round again and polls without the slot) and
   the slot is free. Caller holds e->lock. */
static bool slot_busy_for_task(struct fd_entry *e, int d, struct eddy__task *self)
{
    struct eddy__task *w = e->waiter[d];
    if (w == NULL || w == self)
        return false;
    if (!eddy__waiter_is_thread(w))
        return true;
    e->waiter[d] = NULL;
    eddy__wake(w);
    eddy__task_unref(w);
    return false;
}

/* A plain thread (no worker) waits in poll(2), its parker taking the
   waiter slots so that eddy_close (and an abort of the thread's blocking
   task) wakes it like a task. A slot another waiter holds is left to it:
   several plain threads may wait on one fd (acceptor threads on one
   listener), only the slot holders are woken by a close. events:
   EDDY_READABLE|EDDY_WRITABLE; *ready (may be NULL) gets the ready ones,
   0 after a wake. 0, -EBADF (closed meanwhile), -ETIMEDOUT, -ECANCELED,
   -ENOMEM. */
static int plain_wait(struct fd_entry *e, int fd, int events, uint32_t gen, uint64_t deadline_ns,
                      int *ready)
{
    struct eddy__task *self = eddy__waiter_current();
    if (self == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&e->lock);
    if (e->gen != gen) {
        pthread_mutex_unlock(&e->lock);
        return -EBADF;
    }
    for (int d = 0; d < 2; d++) {
        if ((events & dir_bit(d)) && e->waiter[d] == NULL) {
            eddy__task_ref(self);
            e->waiter[d] = self;
        }
    }
    eddy__fd_note_interest(e);
    pthread_mutex_unlock(&e->lock);
    short revents = 0;
    int rc = eddy__parker_poll(self, fd, poll_events(events), deadline_ns, &revents);
    pthread_mutex_lock(&e->lock);
    drop_waiter(e, self);
    bool closed = e->gen != gen;
    pthread_mutex_unlock(&e->lock);
    if (closed || (revents & POLLNVAL))
        return -EBADF;
    if (rc < 0)
        return rc;
    int check = eddy__wait_check(); /* an abort of the thread's blocking task */
    if (check < 0)
        return check;
    if (ready != NULL)
        *ready = ready_bits(revents, events);
    return 0;
}

/* Waits for dir after an attempt that hit EAGAIN with tick seen. */
static int wait_dir(struct fd_entry *e, int fd, int dir, uint64_t *tick, uint32_t gen,
                    uint64_t deadline_ns)
{
    if (deadline_ns != UINT64_MAX && eddy__now_ns() >= deadline_ns)
        return -ETIMEDOUT;
    int rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    if (eddy__task_current() == NULL) {
        if (eddy__on_worker_outside_task())
            return -EPERM; /* blocking here would stall the worker */
        return plain_wait(e, fd, dir_bit(dir), gen, deadline_ns, NULL);
    }
    struct eddy__task *self = eddy__task_current();
    uint8_t bit = dir_bit(dir);
    pthread_mutex_lock(&e->lock);
    if (e->gen != gen) {
        pthread_mutex_unlock(&e->lock);
        return -EBADF;
    }
    clear_readiness(e, dir, *tick);
    rc = eddy__fd_ensure_registered(e, fd);
    if (rc < 0) {
        pthread_mutex_unlock(&e->lock);
        return rc;
    }
    if (e->ready & bit) {
        *tick = e->tick[dir];
        pthread_mutex_unlock(&e->lock);
        return 0;
    }
    if (slot_busy_for_task(e, dir, self)) {
        pthread_mutex_unlock(&e->lock);
        return -EBUSY; /* one task per direction */
    }
    eddy__task_ref(self);
    e->waiter[dir] = self;
    eddy__fd_note_interest(e);
    pthread_mutex_unlock(&e->lock);
    rc = eddy__wait_on(EDDY__WAIT_FD, NULL, (int64_t)fd | (int64_t)bit << 32, deadline_ns);
    pthread_mutex_lock(&e->lock);
    drop_waiter(e, self);
    bool closed = e->gen != gen;
    *tick = e->tick[dir];
    pthread_mutex_unlock(&e->lock);
    if (closed)
        return -EBADF;
    return rc;
}

/* Current readiness of fd for events by poll(2), without waiting: the
   bits, 0, or a negative errno (-EBADF for a closed fd). */
static int poll_now(int fd, int events)
{
    struct pollfd p = { .fd = fd, .events = poll_events(events) };
    int n = poll(&p, 1, 0);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return 0;
    if (p.revents & POLLNVAL)
        return -EBADF;
    return ready_bits(p.revents, events);
}

int eddy_wait_fd(int fd, int events, int64_t timeout_ms)
{
    if (fd < 0 || (events & (EDDY_READABLE | EDDY_WRITABLE)) == 0)
        return -EINVAL;
    events &= EDDY_READABLE | EDDY_WRITABLE;
    uint64_t deadline = eddy__deadline_after_ms(timeout_ms);
    int rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    struct eddy__task *self = eddy__task_current();
    if (self == NULL && eddy__on_worker_outside_task())
        return -EPERM; /* a signal handler on a worker: never block it */
    struct fd_entry *e = eddy__fd_entry(fd, true);
    if (e == NULL)
        return -ENOMEM;
    if (self == NULL) { /* a plain thread blocks in poll(2), wakeable */
        pthread_mutex_lock(&e->lock);
        rc = make_nonblocking(e, fd); /* on first use, as every eddy I/O call */
        uint32_t gen0 = e->gen;
        pthread_mutex_unlock(&e->lock);
        if (rc < 0)
            return rc;
        int r = poll_now(fd, events); /* ready already: no slot needed */
        if (r != 0)
            return r;
        for (;;) {
            int ready = 0;
            rc = plain_wait(e, fd, events, gen0, deadline, &ready);
            if (rc < 0)
                return rc;
            if (ready != 0)
                return ready;
        }
    }
    for (;;) {
        /* level check first (a third-party fd may hold data already); the
           ticks taken before it tell whether an edge came in between */
        pthread_mutex_lock(&e->lock);
        rc = make_nonblocking(e, fd); /* on first use (a flag test after) */
        uint64_t t0 = e->tick[DIR_READ], t1 = e->tick[DIR_WRITE];
        uint32_t gen = e->gen;
        pthread_mutex_unlock(&e->lock);
        if (rc < 0)
            return rc;
        int r = poll_now(fd, events);
        if (r != 0)
            return r;
        pthread_mutex_lock(&e->lock);
        if (e->gen != gen) {
            pthread_mutex_unlock(&e->lock);
            return -EBADF;
        }
        for (int d = 0; d < 2; d++)
            if (events & dir_bit(d))
                clear_readiness(e, d, d == DIR_READ ? t0 : t1);
        rc = eddy__fd_ensure_registered(e, fd);
        if (rc < 0 || (e->ready & events)) {
            r = rc < 0 ? rc : e->ready & events;
            pthread_mutex_unlock(&e->lock);
            return r;
        }
        for (int d = 0; d < 2; d++) {
            if (!(events & dir_bit(d)))
                continue;
            if (slot_busy_for_task(e, d, self)) {
                pthread_mutex_unlock(&e->lock);
                return -EBUSY; /* one task per direction */
            }
        }
        for (int d = 0; d < 2; d++) {
            if (events & dir_bit(d)) {
                eddy__task_ref(self);
                e->waiter[d] = self;
            }
        }
        eddy__fd_note_interest(e);
        pthread_mutex_unlock(&e->lock);
        rc = eddy__wait_on(EDDY__WAIT_FD, NULL, (int64_t)fd | (int64_t)events << 32, deadline);
        pthread_mutex_lock(&e->lock);
        drop_waiter(e, self);
        bool closed = e->gen != gen;
        r = e->ready & events;
        pthread_mutex_unlock(&e->lock);
        if (closed)
            return -EBADF;
        if (r != 0)
            return r;
        if (rc < 0)
            return rc;
    }
}

ssize_t eddy_read_timeout(int fd, void *buf, size_t n, int64_t timeout_ms)
{
    if (buf == NULL && n > 0)
        return fd < 0 ? -EBADF : -EINVAL;
    struct fd_entry *e;
    uint64_t tick;
    uint32_t gen;
    int rc = begin(fd, DIR_READ, &e, &tick, &gen);
    if (rc < 0)
        return rc;
    uint64_t deadline = eddy__deadline_after_ms(timeout_ms);
    rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return r;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        rc = wait_dir(e, fd, DIR_READ, &tick, gen, deadline);
        if (rc < 0)
            return rc;
    }
}

ssize_t eddy_read(int fd, void *buf, size_t n)
{
    ssize_t r = eddy_read_timeout(fd, buf, n, -1);
    EDDY__KEEP_FRAME(); /* a dump names eddy_read, see sched.h */
    return r;
}

/* writev on a pipe (or another non-socket) without SIGPIPE: the signal a
   write to a pipe whose reader is gone raises is blocked for the call and
   consumed, unless one was pending already (somebody else's). The
   thread's mask is as before afterwards, so nothing leaks into threads or
   processes it starts. */
static ssize_t writev_nosigpipe(int fd, const struct iovec *iov, int cnt)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
        return writev(fd, iov, cnt);
    bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    ssize_t w = writev(fd, iov, cnt);
    int err = errno;
    if (w < 0 && err == EPIPE && !was_pending) {
        const struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return w;
}

/* One write attempt. A socket is written with sendmsg(MSG_NOSIGNAL), so a
   peer that is gone gives EPIPE rather than a SIGPIPE that kills the
   process; other fds (pipes) through writev_nosigpipe. */
static ssize_t write_once(struct fd_entry *e, int fd, struct iovec *iov, int cnt, bool *sock)
{
    if (*sock) {
        struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w >= 0 || errno != ENOTSOCK)
            return w;
        *sock = false;
        pthread_mutex_lock(&e->lock);
        e->not_socket = true; /* remembered until eddy_close */
        pthread_mutex_unlock(&e->lock);
    }
    return writev_nosigpipe(fd, iov, cnt);
}

ssize_t eddy_writev(int fd, const struct iovec *iov_in, int cnt)
{
    if (cnt < 0 || cnt > IOV_MAX || (cnt > 0 && iov_in == NULL))
        return -EINVAL;
    struct fd_entry *e;
    uint64_t tick;
    uint32_t gen;
    int rc = begin(fd, DIR_WRITE, &e, &tick, &gen);
    if (rc < 0)
        return rc;
    rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&e->lock);
    bool sock = !e->not_socket;
    pthread_mutex_unlock(&e->lock);
    /* a copy to advance through partial writes: on the stack for a few
       buffers (a task may have the smallest, 16 KiB stack, and IOV_MAX of
       them is 16 KiB), from the heap beyond (as libuv's uv__write does) */
    struct iovec small[IOV_ON_STACK];
    struct iovec *iov = small;
    if (cnt > IOV_ON_STACK) {
        iov = eddy__alloc((size_t)cnt * sizeof *iov);
        if (iov == NULL)
            return -ENOMEM;
    }
    size_t total = 0;
    for (int i = 0; i < cnt; i++) {
        iov[i] = iov_in[i];
        total += iov[i].iov_len;
    }
    ssize_t rv = (ssize_t)total;
    struct iovec *cur = iov;
    int left = cnt;
    while (left > 0 && cur->iov_len == 0) {
        cur++;
        left--;
    }
    while (left > 0) {
        ssize_t w = write_once(e, fd, cur, left, &sock);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                rv = -errno;
                break;
            }
            rc = wait_dir(e, fd, DIR_WRITE, &tick, gen, UINT64_MAX);
            if (rc < 0) {
                rv = rc;
                break;
            }
            continue;
        }
        size_t done = (size_t)w;
        while (left > 0 && done >= cur->iov_len) {
            done -= cur->iov_len;
            cur++;
            left--;
        }
        if (left > 0) {
            cur->iov_base = (char *)cur->iov_base + done;
            cur->iov_len -= done;
        }
    }
    if (iov != small)
        eddy__dealloc(iov, (size_t)cnt * sizeof *iov);
    return rv;
}

ssize_t eddy_write(int fd, const void *buf, size_t n)
{
    if (buf == NULL && n > 0)
        return fd < 0 ? -EBADF : -EINVAL;
    struct iovec v = { .iov_base = (void *)buf, .iov_len = n };
    return eddy_writev(fd, &v, 1);
}

/* Drops everything eddy knows of fd: its registration, readiness and
   watch; waiting tasks wake and see the new generation (-EBADF). Caller
   holds e->lock. */
void eddy__fd_forget_locked(struct fd_entry *e, int fd)
{
    e->gen++;
    e->ours = false; /* the number's next file may be anyone's */
    e->dev = e->ino = 0;
    e->ready = 0;
    e->nonblock = false;
    e->not_socket = false;
    if (e->drv != NULL && !atomic_load(&e->drv->dead)) {
        eddy__io_del(e->drv, fd, eddy__fd_event_data(fd, e->reg));
        atomic_fetch_sub_explicit(&e->drv->nregistered, 1, memory_order_relaxed);
    }
    e->drv = NULL;
    e->watch = NULL;
    e->arm_fn = NULL;
    /* the waiters leave their slots now, not when they next run: the
       number may be reused at once, and a task waiting on the new fd
       must not find the slot taken (-EBUSY) by one of the old */
    for (int d = 0; d < 2; d++) {
        struct eddy__task *w = e->waiter[d];
        if (w != NULL) {
            e->waiter[d] = NULL;
            eddy__wake(w);
            eddy__task_unref(w);
        }
    }
    eddy__fd_note_interest(e);
}

int eddy_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    struct fd_entry *e = eddy__fd_entry(fd, false);
    if (e == NULL)
        return close(fd) < 0 ? -errno : 0;
    pthread_mutex_lock(&e->lock);
    eddy__fd_forget_locked(e, fd);
    /* closed under the lock: the number cannot be reused (and a new entry
       state begun) before the waiters were told */
    int rc = close(fd) < 0 ? -errno : 0;
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int eddy_fd_release(int fd)
{
    if (fd < 0)
        return -EBADF;
    if (fcntl(fd, F_GETFD) < 0)
        return -errno;
    struct fd_entry *e = eddy__fd_entry(fd, false);
    if (e == NULL)
        return 0; /* eddy never kept anything of it */
    pthread_mutex_lock(&e->lock);
    eddy__fd_forget_locked(e, fd);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

/* ------------------------------------------------ for the socket files */

int eddy__io_begin(int fd, int write, struct eddy__io_op *op)
{
    op->fd = fd;
    op->dir = write ? DIR_WRITE : DIR_READ;
    return begin(fd, op->dir, (struct fd_entry **)&op->entry, &op->tick, &op->gen);
}

int eddy__io_wait(struct eddy__io_op *op, uint64_t deadline_ns)
{
    return wait_dir(op->entry, op->fd, op->dir, &op->tick, op->gen, deadline_ns);
}

/* ---------------------------------------------- for eddy_select (rt/) */

short eddy__fd_poll_events(int events)
{
    return poll_events(events);
}

int eddy__fd_poll_ready(short revents, int events)
{
    return (revents & POLLNVAL) ? -EBADF : ready_bits(revents, events);
}

int eddy__fd_wait_check(struct eddy__fd_wait *w, int fd, int events)
{
    struct fd_entry *e = eddy__fd_entry(fd, true);
    if (e == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&e->lock);
    int rc = make_nonblocking(e, fd);
    *w = (struct eddy__fd_wait){ .entry = e, .fd = fd, .events = events, .gen = e->gen,
                                 .tick = { e->tick[DIR_READ], e->tick[DIR_WRITE] } };
    pthread_mutex_unlock(&e->lock);
    return rc < 0 ? rc : poll_now(fd, events);
}

/* eddy_wait_fd's steps between its level check and its wait. */
int eddy__fd_wait_arm(struct eddy__fd_wait *w, struct eddy__task *self)
{
    struct fd_entry *e = w->entry;
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    if (e->gen != w->gen) {
        rc = -EBADF;
    } else if (eddy__waiter_is_thread(self)) {
        for (int d = 0; d < 2; d++) { /* as plain_wait: free slots only */
            if ((w->events & dir_bit(d)) && e->waiter[d] == NULL) {
                eddy__task_ref(self);
                e->waiter[d] = self;
            }
        }
    } else {
        for (int d = 0; d < 2; d++)
            if (w->events & dir_bit(d))
                clear_readiness(e, d, w->tick[d]);
        rc = eddy__fd_ensure_registered(e, w->fd);
        if (rc == 0)
            rc = e->ready & w->events;
        for (int d = 0; d < 2 && rc == 0; d++)
            if ((w->events & dir_bit(d)) && slot_busy_for_task(e, d, self))
                rc = -EBUSY; /* one task per direction */
        for (int d = 0; d < 2 && rc == 0; d++) {
            /* a slot held already: another case of the same select */
            if ((w->events & dir_bit(d)) && e->waiter[d] != self) {
                eddy__task_ref(self);
                e->waiter[d] = self;
            }
        }
    }
    eddy__fd_note_interest(e);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int eddy__fd_wait_disarm(struct eddy__fd_wait *w, struct eddy__task *self)
{
    struct fd_entry *e = w->entry;
    pthread_mutex_lock(&e->lock);
    drop_waiter(e, self);
    int r = e->gen != w->gen ? -EBADF : e->ready & w->events;
    pthread_mutex_unlock(&e->lock);
    return r;
}
