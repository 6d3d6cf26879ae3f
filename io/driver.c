/*
 * io/driver.c: the per-worker driver a worker parks in: an epoll instance
 * holding an eventfd. park waits in epoll_pwait2 (nanosecond timeout) and
 * drains the eventfd when an unpark wrote it; unpark writes the eventfd.
 * Readiness of registered fds (io/fd.c) is dispatched from here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "io/io_int.h"
#include "sched/alloc.h"

#define EVENTS_PER_PARK 256


int eddy__io_driver_new(struct eddy__io_driver **out)
{
    struct eddy__io_driver *d = eddy__calloc(sizeof *d);
    if (d == NULL)
        return -ENOMEM;
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0) {
        int e = errno;
        eddy__dealloc(d, sizeof *d);
        return -e;
    }
    d->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->evfd < 0) {
        int e = errno;
        close(d->epfd);
        eddy__dealloc(d, sizeof *d);
        return -e;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->evfd, &ev) < 0) {
        int e = errno;
        close(d->evfd);
        close(d->epfd);
        eddy__dealloc(d, sizeof *d);
        return -e;
    }
    *out = d;
    return 0;
}

/* Freed drivers are kept (a few bytes each): an fd entry registered with
   one may outlive its runtime and must find it marked dead, not reused. */
static pthread_mutex_t dead_lock = PTHREAD_MUTEX_INITIALIZER;
static struct eddy__io_driver *dead_list; /* guarded by: dead_lock */

void eddy__io_driver_free(struct eddy__io_driver *d)
{
    if (d == NULL)
        return;
    close(d->evfd);
    close(d->epfd);
    atomic_store(&d->dead, true);
    pthread_mutex_lock(&dead_lock);
    d->next_dead = dead_list;
    dead_list = d;
    pthread_mutex_unlock(&dead_lock);
}

static int drv_park(void *arg, int64_t timeout_ns)
{
    struct eddy__io_driver *d = arg;
    struct epoll_event evs[EVENTS_PER_PARK];
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    if (atomic_load_explicit(&d->stuck, memory_order_relaxed))
        atomic_store_explicit(&d->stuck, false, memory_order_relaxed);
    int n = epoll_pwait2(d->epfd, evs, EVENTS_PER_PARK, tsp, NULL);
    if (n < 0 && errno == ENOSYS) {
        int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(d->epfd, evs, EVENTS_PER_PARK, ms);
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int io = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == 0) {
            uint64_t v;
            ssize_t r = read(d->evfd, &v, sizeof v);
            (void)r; /* EAGAIN: another park drained it already */
        } else {
            eddy__fd_event(evs[i].data.u64, evs[i].events);
            io++;
        }
    }
    return io;
}

/* Another worker polls this reactor for its stuck owner. epoll_wait is
   thread-safe, and an edge goes to one caller only; the eventfd is
   level-triggered and left unread, so the owner still sees its unpark. */
static int drv_poll_foreign(void *arg)
{
    struct eddy__io_driver *d = arg;
    struct epoll_event evs[64];
    if (atomic_load_explicit(&d->dead, memory_order_relaxed))
        return 0;
    atomic_store_explicit(&d->stuck, true, memory_order_relaxed);
    int n = epoll_wait(d->epfd, evs, 64, 0);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int io = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 != 0) {
            eddy__fd_event(evs[i].data.u64, evs[i].events);
            io++;
        }
    }
    return io;
}

static void drv_unpark(void *arg)
{
    struct eddy__io_driver *d = arg;
    uint64_t one = 1;
    ssize_t r = write(d->evfd, &one, sizeof one);
    (void)r; /* EAGAIN only when the counter is saturated: still readable */
}

static int drv_has_io(void *arg)
{
    struct eddy__io_driver *d = arg;
    return atomic_load_explicit(&d->nregistered, memory_order_relaxed) > 0;
}

const struct eddy__driver_ops eddy__io_driver_ops = {
    .park = drv_park,
    .unpark = drv_unpark,
    .has_io = drv_has_io,
    .poll_foreign = drv_poll_foreign,
};
