/*
 * io/fd_watch.c: level-triggered interest for foreign fds whose owner
 * cannot work with edges (libcurl: docs/design.md, "Readiness for libcurl"). The registration of
 * a watched fd asks for its interest level-triggered; io/fd.c's event
 * dispatch calls the callback under the entry's lock. See io/io_int.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include <eddy/io.h>

#include "io/fd_entry.h"
#include "io/io_int.h"
#include "sched/sched.h"

int eddy__fd_watch(int fd, int events, eddy__watch_fn fn, void *arg)
{
    if (fd < 0)
        return -EBADF;
    if (fn == NULL || (events & ~(EDDY_READABLE | EDDY_WRITABLE)) != 0)
        return -EINVAL;
    struct fd_entry *e = eddy__fd_entry(fd, true);
    if (e == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    bool was_level = e->watch != NULL;
    e->watch = fn;
    e->watch_arg = arg;
    e->watch_events = (uint8_t)events;
    if (e->drv != NULL && !atomic_load(&e->drv->dead)) {
        uint64_t old = eddy__fd_event_data(fd, e->reg);
        e->reg++;
        rc = eddy__io_mod(e->drv, fd, eddy__fd_reg_events(e), old, eddy__fd_event_data(fd, e->reg));
        if (rc < 0) {
            /* the registration is gone either way: ENOENT, the number was
               closed with close(2) and reused and the old registration went
               with it (libtorrent #622), then register anew below; another
               error, a later wait registers anew rather than trust it */
            if (rc != -ENOENT)
                eddy__io_del(e->drv, fd, old);
            atomic_fetch_sub_explicit(&e->drv->nregistered, 1, memory_order_relaxed);
            e->drv = NULL;
            if (rc == -ENOENT)
                rc = 0;
        }
    } else {
        e->drv = NULL;
    }
    if (rc == 0 && e->drv == NULL) {
        if (eddy__worker_driver_current() == NULL)
            rc = -EPERM; /* only a worker has a reactor */
        else
            rc = eddy__fd_ensure_registered(e, fd);
    }
    if (rc < 0 && !was_level)
        e->watch = NULL;
    eddy__fd_note_interest(e);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int eddy__fd_unwatch(int fd)
{
    struct fd_entry *e = eddy__fd_entry(fd, false);
    if (e == NULL)
        return 0; /* never watched: a no-op (curl #17949) */
    pthread_mutex_lock(&e->lock);
    if (e->watch != NULL) {
        e->watch = NULL;
        if (e->drv != NULL && !atomic_load(&e->drv->dead)) {
            eddy__io_del(e->drv, fd, eddy__fd_event_data(fd, e->reg));
            atomic_fetch_sub_explicit(&e->drv->nregistered, 1, memory_order_relaxed);
        }
        e->drv = NULL;
        e->ready = 0; /* a task's next wait registers anew and re-checks */
        eddy__fd_note_interest(e);
    }
    pthread_mutex_unlock(&e->lock);
    return 0;
}
