/*
 * benches/wake_latency.c: eddy_wake_latency, how long a task on one worker
 * takes to run after a task on another worker wakes it. Two workers,
 * stealing off (each task stays on its worker). The waker, on worker 0,
 * stamps the time and sends one message on a channel; the waiter, on
 * worker 1, takes the time as soon as its receive returns.
 *
 *   eddy_wake_latency [samples=2000] [gap_us=2000] [floor]
 *
 * gap_us is the waker's pause between wakes: longer than the workers' idle
 * spin (30 us), worker 1 is parked in its reactor when woken (the cold
 * case: an unpark through its eventfd and the kernel's wake-up); 0 keeps
 * it spinning (the hot case). "floor" measures the same without eddy: a
 * thread blocked in epoll_wait on an eventfd that another thread writes
 * (what eddy's unpark of a parked worker comes down to), runtime=floor.
 * PIN=1 in the environment pins the workers (worker i on CPU i), so every
 * wake crosses to the other CPU. Prints one key=value line: the p50, p90,
 * p99 and max latency in ns, and the samples.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <eddy.h>

struct wake {
    eddy_chan *ch;
    long samples;
    long gap_us;
    uint64_t *lat; /* [samples], written by the waiter */
    int err;
};

static void *waiter(void *arg)
{
    struct wake *w = arg;
    for (long i = 0; i < w->samples; i++) {
        uint64_t sent;
        int rc = eddy_chan_recv(w->ch, &sent);
        uint64_t now = eddy_now_ns();
        if (rc < 0) {
            w->err = rc;
            return NULL;
        }
        w->lat[i] = now - sent;
    }
    return NULL;
}

static void *waker(void *arg)
{
    struct wake *w = arg;
    for (long i = 0; i < w->samples && w->err == 0; i++) {
        if (w->gap_us > 0) {
            uint64_t until = eddy_now_ns() + (uint64_t)w->gap_us * 1000u;
            /* sleep most of the gap, then spin to its end: the sleep's 1 ms
               ticks would otherwise set the rhythm */
            if (w->gap_us >= 2000)
                (void)eddy_sleep_ms(w->gap_us / 1000 - 1);
            while (eddy_now_ns() < until)
                ;
        } else {
            eddy_yield();
        }
        uint64_t now = eddy_now_ns();
        int rc = eddy_chan_send(w->ch, &now);
        if (rc < 0) {
            w->err = rc;
            break;
        }
    }
    return NULL;
}

static void *root(void *arg)
{
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    eddy_task *a, *b;
    o.worker = 1;
    int rc = eddy_spawn_ex(&b, waiter, arg, &o);
    if (rc < 0)
        return (void *)(intptr_t)rc;
    o.worker = 0;
    rc = eddy_spawn_ex(&a, waker, arg, &o);
    if (rc < 0) {
        eddy_chan_close(((struct wake *)arg)->ch);
        eddy_join(b, NULL);
        return (void *)(intptr_t)rc;
    }
    eddy_join(a, NULL);
    eddy_chan_close(((struct wake *)arg)->ch); /* a waker that failed ends the waiter */
    eddy_join(b, NULL);
    return NULL;
}

/* The floor: two plain threads, an eventfd, epoll_wait. */
struct floor {
    int efd, ep;
    struct wake *w;
    _Atomic uint64_t sent;
    _Atomic long done; /* wakes the waiter has timed */
};

static void *floor_waiter(void *arg)
{
    struct floor *f = arg;
    for (long i = 0; i < f->w->samples; i++) {
        struct epoll_event ev;
        while (epoll_wait(f->ep, &ev, 1, -1) != 1)
            ;
        uint64_t now = eddy_now_ns(), v;
        if (read(f->efd, &v, sizeof v) != sizeof v)
            return NULL;
        f->w->lat[i] = now - atomic_load(&f->sent);
        atomic_store(&f->done, i + 1);
    }
    return NULL;
}

static int run_floor(struct wake *w)
{
    struct floor f = { .w = w };
    f.efd = eventfd(0, EFD_CLOEXEC);
    f.ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    if (f.efd < 0 || f.ep < 0 || epoll_ctl(f.ep, EPOLL_CTL_ADD, f.efd, &ev) != 0)
        return -errno;
    pthread_t th;
    if (pthread_create(&th, NULL, floor_waiter, &f) != 0)
        return -EAGAIN;
    for (long i = 0; i < w->samples; i++) {
        uint64_t until = eddy_now_ns() + (uint64_t)w->gap_us * 1000u;
        if (w->gap_us >= 2000) { /* as the waker does */
            struct timespec ts = { 0, (w->gap_us / 1000 - 1) * 1000000L };
            while (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            nanosleep(&ts, NULL);
        }
        while (eddy_now_ns() < until)
            ;
        atomic_store(&f.sent, eddy_now_ns());
        uint64_t one = 1;
        if (write(f.efd, &one, sizeof one) != sizeof one)
            return -errno;
        /* the next stamp must not overtake this wake's read */
        while (atomic_load(&f.done) != i + 1)
            ;
    }
    pthread_join(th, NULL);
    close(f.efd);
    close(f.ep);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static long arg_or(int argc, char **argv, int i, long def, long min, long max)
{
    if (argc <= i)
        return def;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end != '\0' || v < min || v > max) {
        fprintf(stderr, "eddy_wake_latency: argument %d (%s) must be a number in [%ld, %ld]\n", i,
                argv[i], min, max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    struct wake w = { 0 };
    w.samples = arg_or(argc, argv, 1, 2000, 1, 10000000);
    w.gap_us = arg_or(argc, argv, 2, 2000, 0, 10000000);
    w.lat = calloc((size_t)w.samples, sizeof *w.lat);
    const char *who = "eddy";
    if (argc > 3) {
        if (strcmp(argv[3], "floor") != 0) {
            fprintf(stderr, "eddy_wake_latency: argument 3 (%s) must be \"floor\" or absent\n",
                    argv[3]);
            return 2;
        }
        who = "floor";
        int frc = w.lat == NULL ? -ENOMEM : run_floor(&w);
        if (frc < 0) {
            fprintf(stderr, "eddy_wake_latency: floor: %s\n", strerror(-frc));
            return 1;
        }
        goto report;
    }
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    cfg.work_stealing = false;
    cfg.pin_workers = getenv("PIN") != NULL;
    eddy_rt *rt = NULL;
    int rc = w.lat == NULL ? -ENOMEM : eddy_rt_new(&rt, &cfg);
    if (rc == 0)
        rc = eddy_chan_new(&w.ch, 1, sizeof(uint64_t));
    void *res = NULL;
    if (rc == 0)
        rc = eddy_rt_block_on(rt, root, &w, &res);
    if (rc == 0)
        rc = res != NULL ? (int)(intptr_t)res : w.err;
    if (rc < 0) {
        fprintf(stderr, "eddy_wake_latency: %s\n", eddy_strerror(rc));
        return 1;
    }
    eddy_chan_free(w.ch);
    eddy_rt_free(rt);
report:
    qsort(w.lat, (size_t)w.samples, sizeof *w.lat, cmp_u64);
    long n = w.samples;
    printf("workload=wake_latency workers=2 gap_us=%ld pinned=%d samples=%ld p50_ns=%llu "
           "p90_ns=%llu p99_ns=%llu max_ns=%llu runtime=%s\n",
           w.gap_us, getenv("PIN") != NULL, n, (unsigned long long)w.lat[n / 2], (unsigned long long)w.lat[n * 9 / 10],
           (unsigned long long)w.lat[n * 99 / 100], (unsigned long long)w.lat[n - 1], who);
    free(w.lat);
    return 0;
}
