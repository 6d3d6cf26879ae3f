/*
 * io/driver.c: the per-worker driver a worker parks in: an epoll instance
 * holding an eventfd (or an io_uring, io/uring.c). park waits in
 * epoll_pwait2 (nanosecond timeout) and drains the eventfd when an unpark
 * wrote it; unpark writes the eventfd. Readiness of registered fds
 * (io/fd.c) is dispatched from here, and registrations go through here to
 * the backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "io/io_int.h"
#include "sched/alloc.h"

#include <eddy/common.h>

#define EVENTS_PER_PARK 256


static int epoll_new(struct eddy__io_driver *d)
{
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0)
        return -errno;
    /* level-triggered: a worker polling for a stuck owner leaves it set */
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->evfd, &ev) < 0) {
        int e = errno;
        close(d->epfd);
        return -e;
    }
    return 0;
}

/* The backend asked for: the config's, or for EDDY_IO_AUTO the
   environment's EDDY_IO_BACKEND (epoll | uring), else epoll. */
static int chosen_backend(int backend)
{
    if (backend == EDDY_IO_EPOLL || backend == EDDY_IO_URING)
        return backend;
    const char *env = getenv("EDDY_IO_BACKEND");
    if (env != NULL && strcmp(env, "uring") == 0)
        return EDDY_IO_URING;
    if (env != NULL && env[0] != '\0' && strcmp(env, "epoll") != 0) {
        /* a typo must not pass for a choice: say so, once per process */
        static atomic_bool said;
        if (!atomic_exchange(&said, true))
            fprintf(stderr, "eddy: EDDY_IO_BACKEND=%s is neither \"epoll\" nor \"uring\"; "
                            "using epoll\n", env);
    }
    return EDDY_IO_EPOLL;
}

int eddy__io_driver_new(struct eddy__io_driver **out, int backend)
{
    struct eddy__io_driver *d = eddy__calloc(sizeof *d);
    if (d == NULL)
        return -ENOMEM;
    d->epfd = -1;
    d->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->evfd < 0) {
        int e = errno;
        eddy__dealloc(d, sizeof *d);
        return -e;
    }
    int rc;
    if (chosen_backend(backend) == EDDY_IO_URING) {
#ifdef EDDY_HAVE_URING
        rc = eddy__uring_new(d);
#else
        rc = -ENOSYS;
#endif
        if (rc == 0) {
            d->backend = EDDY__BACKEND_URING;
            *out = d;
            return 0;
        }
        static atomic_bool said;
        if (!atomic_exchange(&said, true))
            fprintf(stderr, "eddy: io_uring unavailable (%s); using epoll\n",
                    rc == -ENOSYS ? "not built in, or refused by the kernel" : strerror(-rc));
    }
    rc = epoll_new(d);
    if (rc < 0) {
        close(d->evfd);
        eddy__dealloc(d, sizeof *d);
        return rc;
    }
    d->backend = EDDY__BACKEND_EPOLL;
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
    atomic_store(&d->dead, true);
#ifdef EDDY_HAVE_URING
    eddy__uring_free(d);
#endif
    if (d->epfd >= 0)
        close(d->epfd);
    close(d->evfd);
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
    if (atomic_load_explicit(&d->stuck, memory_order_relaxed))
        atomic_store_explicit(&d->stuck, false, memory_order_relaxed);
#ifdef EDDY_HAVE_URING
    if (d->backend == EDDY__BACKEND_URING)
        return eddy__uring_park(d, timeout_ns);
#endif
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
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
#ifdef EDDY_HAVE_URING
    if (d->backend == EDDY__BACKEND_URING)
        return eddy__uring_poll_foreign(d);
#endif
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

static int drv_stranded(void *arg)
{
#ifdef EDDY_HAVE_URING
    struct eddy__io_driver *d = arg;
    if (d->backend == EDDY__BACKEND_URING && !atomic_load_explicit(&d->dead, memory_order_relaxed))
        return eddy__uring_stranded(d);
#else
    (void)arg;
#endif
    return 0; /* epoll: readiness sits in the set, any thread can take it */
}

/* ------------------------------------------------------ registration */

int eddy__io_add(struct eddy__io_driver *d, int fd, uint32_t events, uint64_t data)
{
#ifdef EDDY_HAVE_URING
    if (d->backend == EDDY__BACKEND_URING)
        return eddy__uring_add(d, fd, events, data);
#endif
    struct epoll_event ev = { .events = events, .data.u64 = data };
    return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int eddy__io_mod(struct eddy__io_driver *d, int fd, uint32_t events, uint64_t old_data,
                 uint64_t data)
{
#ifdef EDDY_HAVE_URING
    if (d->backend == EDDY__BACKEND_URING)
        return eddy__uring_mod(d, fd, events, old_data, data);
#endif
    (void)old_data;
    struct epoll_event ev = { .events = events, .data.u64 = data };
    return epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void eddy__io_del(struct eddy__io_driver *d, int fd, uint64_t data)
{
#ifdef EDDY_HAVE_URING
    if (d->backend == EDDY__BACKEND_URING) {
        eddy__uring_del(d, data);
        return;
    }
#endif
    (void)data;
    /* EBADF/ENOENT: closed with close(2) already, so out of the set */
    (void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
}

const struct eddy__driver_ops eddy__io_driver_ops = {
    .park = drv_park,
    .unpark = drv_unpark,
    .has_io = drv_has_io,
    .poll_foreign = drv_poll_foreign,
    .stranded = drv_stranded,
};
