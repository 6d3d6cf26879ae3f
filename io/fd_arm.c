/*
 * io/fd_arm.c: one-shot read-readiness callbacks (io/io_int.h). A
 * connection that waits for its next request this way holds no task and
 * no stack: only its fd entry remembers whom to call. The registration
 * stays the fd's usual edge-triggered one, so going idle and waking cost
 * no epoll_ctl; the event dispatch (io/fd.c) takes the arm and calls it.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include <eddy/io.h>

#include "io/fd_entry.h"
#include "io/io_int.h"
#include "sched/sched.h"

ssize_t eddy__fd_read_tick(int fd, void *buf, size_t n, uint64_t *tick)
{
    struct eddy__io_op op = { 0 }; /* the fd made non-blocking, its tick taken */
    int rc = eddy__io_begin(fd, 0, &op);
    *tick = op.tick;
    if (rc < 0)
        return rc;
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* Arms fn unless the fd is known readable. Caller holds e->lock. */
static int arm_locked(struct fd_entry *e, int fd, eddy__arm_fn fn, void *arg)
{
    if (e->arm_fn != NULL)
        return -EEXIST;
    /* registered once, where it first waited; not moved off a stuck
       reactor (its stand-in polls it), unlike a task's wait */
    if (e->drv == NULL || atomic_load(&e->drv->dead)) {
        int rc = eddy__fd_ensure_registered(e, fd);
        if (rc < 0)
            return rc;
    }
    if (e->ready & EDDY_READABLE)
        return 1; /* an edge came since the read: read again */
    e->arm_fn = fn;
    e->arm_arg = arg;
    eddy__fd_note_interest(e);
    return 0;
}

int eddy__fd_arm_after(int fd, uint64_t tick, eddy__arm_fn fn, void *arg)
{
    if (fd < 0)
        return -EBADF;
    if (fn == NULL)
        return -EINVAL;
    if (eddy__worker_driver_current() == NULL)
        return -EPERM; /* only a worker has a reactor to wait in */
    struct fd_entry *e = eddy__fd_entry(fd, true);
    if (e == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&e->lock);
    eddy__fd_clear_readiness(e, DIR_READ, tick);
    int rc = arm_locked(e, fd, fn, arg);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

ssize_t eddy__fd_read_or_arm(int fd, void *buf, size_t n, eddy__arm_fn fn, void *arg)
{
    if (fd < 0)
        return -EBADF;
    if (fn == NULL || (buf == NULL && n > 0))
        return -EINVAL;
    if (eddy__worker_driver_current() == NULL)
        return -EPERM;
    if (n == 0) { /* arm only */
        struct fd_entry *e = eddy__fd_entry(fd, true);
        if (e == NULL)
            return -ENOMEM;
        pthread_mutex_lock(&e->lock);
        int rc = eddy__fd_make_nonblocking(e, fd);
        if (rc == 0)
            rc = arm_locked(e, fd, fn, arg);
        pthread_mutex_unlock(&e->lock);
        return rc == 1 ? 0 : rc == 0 ? -EINPROGRESS : rc;
    }
    for (;;) {
        uint64_t tick;
        ssize_t r = eddy__fd_read_tick(fd, buf, n, &tick);
        if (r != -EAGAIN)
            return r;
        int rc = eddy__fd_arm_after(fd, tick, fn, arg);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return -EINPROGRESS;
    }
}

bool eddy__fd_disarm(int fd)
{
    struct fd_entry *e = eddy__fd_entry(fd, false);
    if (e == NULL)
        return false;
    pthread_mutex_lock(&e->lock);
    bool was = e->arm_fn != NULL;
    e->arm_fn = NULL;
    eddy__fd_note_interest(e);
    pthread_mutex_unlock(&e->lock);
    return was;
}
