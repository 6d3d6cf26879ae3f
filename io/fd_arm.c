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

ssize_t eddy__fd_read_or_arm(int fd, void *buf, size_t n, eddy__arm_fn fn, void *arg)
{
    if (fd < 0)
        return -EBADF;
    if (fn == NULL || (buf == NULL && n > 0))
        return -EINVAL;
    if (eddy__worker_driver_current() == NULL)
        return -EPERM; /* only a worker has a reactor to wait in */
    struct fd_entry *e = eddy__fd_entry(fd, true);
    if (e == NULL)
        return -ENOMEM;
    for (;;) {
        pthread_mutex_lock(&e->lock);
        int rc = eddy__fd_make_nonblocking(e, fd);
        uint64_t tick = e->tick[DIR_READ];
        bool armed = e->arm_fn != NULL;
        pthread_mutex_unlock(&e->lock);
        if (rc < 0)
            return rc;
        if (armed)
            return -EEXIST;
        if (n > 0) {
            ssize_t r = read(fd, buf, n);
            if (r >= 0)
                return r;
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
        }
        pthread_mutex_lock(&e->lock);
        if (n > 0)
            eddy__fd_clear_readiness(e, DIR_READ, tick);
        rc = eddy__fd_ensure_registered(e, fd);
        if (rc < 0) {
            pthread_mutex_unlock(&e->lock);
            return rc;
        }
        if (e->ready & EDDY_READABLE) {
            /* an edge came since the read (or, n == 0, the fd is known
               readable): read again rather than wait for one already seen */
            pthread_mutex_unlock(&e->lock);
            if (n == 0)
                return 0;
            continue;
        }
        e->arm_fn = fn;
        e->arm_arg = arg;
        eddy__fd_note_interest(e);
        pthread_mutex_unlock(&e->lock);
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
