/*
 * io/uring.c: the io_uring backend of the per-worker reactor. It keeps the
 * readiness model of the epoll backend, so io/fd.c works unchanged on it:
 * an edge-triggered registration is a multishot POLL_ADD (a completion per
 * wake-up of the fd), a level-triggered one (eddy__fd_watch) a one-shot
 * POLL_ADD that io/fd_uring.c re-arms after each completion (arming
 * reports a ready fd at once, so that is level-triggered), and the unpark
 * eventfd has a multishot poll of its own.
 *
 * Threads: any thread registers and deregisters (eddy_close), so the
 * submission queue is under sq_lock. The owner reaps the completion queue
 * under cq_lock, held through its wait (io_uring_enter does not touch the
 * SQ here); a worker standing in for a stuck owner only try-locks it. No
 * SINGLE_ISSUER (other threads submit), hence no DEFER_TASKRUN; see
 * eddy__uring_new for COOP_TASKRUN.
 */
#include "io/io_int.h"

#ifdef EDDY_HAVE_URING

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sched/alloc.h"

#define SQ_ENTRIES 256
#define CQ_ENTRIES 4096
#define CQES_PER_REAP 256
#define TAG_IGNORE UINT64_MAX /* user_data of removals (their failures only) */

struct eddy__uring {
    struct io_uring ring;
    pthread_mutex_t sq_lock;
    pthread_mutex_t cq_lock;
    _Atomic bool kick; /* a stand-in reaped the owner's unpark */
    /* The unpark poll is armed by the owner itself (at its first park and
       whenever it ended): a poll's completion is posted by the thread that
       submitted it, and the thread that creates the runtime may be asleep
       in something else. */
    _Atomic bool unpark_armed;
    bool taskrun_flag; /* the kernel flags pending task work (5.19+) */
};

struct reaped {
    uint64_t data;
    int32_t res;
    uint32_t flags;
};

static struct io_uring_sqe *get_sqe(struct eddy__uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (sqe == NULL) {
        (void)io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static void prep_poll(struct io_uring_sqe *sqe, int fd, uint32_t events, uint64_t data)
{
    unsigned mask = events & (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI);
    if (events & EPOLLET) {
        io_uring_prep_poll_multishot(sqe, fd, mask);
    } else {
        /* one-shot: arming checks the current state and completes at once
           when ready, so re-arming after each completion is level-triggered
           (POLL_ADD refuses IORING_POLL_ADD_LEVEL) */
        io_uring_prep_poll_add(sqe, fd, mask);
    }
    io_uring_sqe_set_data64(sqe, data);
}

/* Ends the poll registered with data. An ASYNC_CANCEL, not a POLL_REMOVE:
   a poll that was woken and whose wake-up still waits as task work of the
   thread that armed it (with COOP_TASKRUN until that thread next enters
   the kernel) is owned by that work, and POLL_REMOVE then fails with
   -EALREADY and leaves the multishot poll armed, holding its reference to
   the file, so a socket closed after it stayed open with its peer never
   seeing EOF. A cancel marks the poll cancelled whoever owns it; the
   queued work then ends it, letting the file go (its -ECANCELED
   completion finds the registration replaced or dropped and is let go). */
static void prep_remove(struct io_uring_sqe *sqe, uint64_t data)
{
    io_uring_prep_cancel64(sqe, data, 0);
    io_uring_sqe_set_data64(sqe, TAG_IGNORE);
    io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
}

/* Submits what is queued, retrying while the kernel is short (-EAGAIN,
   -EBUSY, -EINTR) for a while. Caller holds sq_lock. */
static int submit_queued(struct eddy__uring *u)
{
    int rc = 0;
    for (int tries = 0; tries < 100; tries++) {
        rc = io_uring_submit(&u->ring);
        if (rc >= 0 || (rc != -EAGAIN && rc != -EBUSY && rc != -EINTR))
            return rc;
        sched_yield();
    }
    return rc;
}

/* A poll that could not be submitted must not be armed by some later
   submission with data nobody expects (its registration was given up):
   the kernel has not read it yet, so it becomes a no-op. */
static void neuter(struct io_uring_sqe *sqe)
{
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, TAG_IGNORE);
    io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
}

int eddy__uring_add(struct eddy__io_driver *d, int fd, uint32_t events, uint64_t data)
{
    struct eddy__uring *u = d->ring;
    pthread_mutex_lock(&u->sq_lock);
    struct io_uring_sqe *sqe = get_sqe(u);
    int rc = -EBUSY;
    if (sqe != NULL) {
        prep_poll(sqe, fd, events, data);
        rc = submit_queued(u);
        if (rc < 0)
            neuter(sqe);
    }
    pthread_mutex_unlock(&u->sq_lock);
    return rc < 0 ? rc : 0;
}

int eddy__uring_mod(struct eddy__io_driver *d, int fd, uint32_t events, uint64_t old_data,
                    uint64_t data)
{
    struct eddy__uring *u = d->ring;
    pthread_mutex_lock(&u->sq_lock);
    int rc = -EBUSY;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (sqe != NULL) {
        prep_remove(sqe, old_data); /* goes in any case: the old poll ends */
        sqe = get_sqe(u); /* may submit the removal first: still in order */
        if (sqe != NULL) {
            prep_poll(sqe, fd, events, data);
            rc = submit_queued(u);
            if (rc < 0)
                neuter(sqe);
        }
    }
    pthread_mutex_unlock(&u->sq_lock);
    return rc < 0 ? rc : 0;
}

void eddy__uring_del(struct eddy__io_driver *d, uint64_t data)
{
    struct eddy__uring *u = d->ring;
    pthread_mutex_lock(&u->sq_lock);
    /* submitted before the caller closes the fd: a pending poll holds a
       reference to the file, and a removal left in the queue would keep a
       closed socket open until the next submission. The poll lets the
       file go when the thread that armed it next runs its task work: at
       once when it waits in the kernel, else at its next system call or
       timer tick. */
    bool queued = false;
    for (int tries = 0; tries < 100 && !queued; tries++) {
        struct io_uring_sqe *sqe = get_sqe(u);
        if (sqe != NULL) {
            prep_remove(sqe, data);
            queued = true;
        } else {
            sched_yield(); /* the queue is full and would not submit */
        }
    }
    if (queued)
        (void)submit_queued(u);
    pthread_mutex_unlock(&u->sq_lock);
}

static int arm_unpark(struct eddy__io_driver *d)
{
    return eddy__uring_add(d, d->evfd, EPOLLIN | EPOLLET, 0);
}

/* Takes up to max completions off the queue, keeping the readiness ones.
   The unpark's own are handled here, under cq_lock: the owner drains the
   eventfd; a stand-in leaves the counter to the owner and sets kick, which
   the owner reads under the same lock before it waits (set after it let
   go of the lock, the owner could check first and sleep through the
   unpark). *unparked (may be NULL) is set when an unpark was among them:
   the owner must not go on to wait after draining it. Caller holds
   cq_lock. */
static unsigned reap(struct eddy__io_driver *d, struct reaped *out, unsigned max, bool owner,
                     bool *unparked)
{
    struct eddy__uring *u = d->ring;
    struct io_uring_cqe *cqes[CQES_PER_REAP];
    unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes, max < CQES_PER_REAP ? max : CQES_PER_REAP);
    unsigned kept = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t data = io_uring_cqe_get_data64(cqes[i]);
        if (data == TAG_IGNORE)
            continue; /* a cancel that found nothing: the poll had ended */
        if (data == 0) {
            if (unparked != NULL)
                *unparked = true;
            if (owner) {
                uint64_t v;
                ssize_t r = read(d->evfd, &v, sizeof v);
                (void)r; /* EAGAIN: drained already */
            } else {
                atomic_store_explicit(&u->kick, true, memory_order_relaxed);
            }
            if (!(cqes[i]->flags & IORING_CQE_F_MORE))
                atomic_store_explicit(&u->unpark_armed, false, memory_order_relaxed);
            continue;
        }
        out[kept].data = data;
        out[kept].res = cqes[i]->res;
        out[kept].flags = cqes[i]->flags;
        kept++;
    }
    io_uring_cq_advance(&u->ring, n);
    return kept;
}

/* Dispatches reaped readiness: each event to its fd, and each poll that
   ended (a one-shot level poll, or a multishot the kernel stopped) to
   io/fd_uring.c, which arms it again if it still is the fd's registration
   (a poll we cancelled no longer is: its -ECANCELED is let go there). */
static int dispatch(struct eddy__io_driver *d, const struct reaped *c, unsigned n)
{
    int io = 0;
    for (unsigned i = 0; i < n; i++) {
        if (c[i].res >= 0) {
            eddy__fd_event(c[i].data, (uint32_t)c[i].res);
            io++;
        }
        if (!(c[i].flags & IORING_CQE_F_MORE))
            eddy__fd_poll_ended(d, c[i].data, c[i].res);
    }
    return io;
}

int eddy__uring_park(struct eddy__io_driver *d, int64_t timeout_ns)
{
    struct eddy__uring *u = d->ring;
    struct reaped c[CQES_PER_REAP];
    pthread_mutex_lock(&u->cq_lock);
    /* under cq_lock: a stand-in reaps (and so sets kick or ends the unpark
       poll) only while holding it */
    if (!atomic_load_explicit(&u->unpark_armed, memory_order_relaxed)) {
        if (arm_unpark(d) == 0)
            atomic_store_explicit(&u->unpark_armed, true, memory_order_relaxed);
        timeout_ns = 0; /* an unpark may have come before the poll */
    }
    if (atomic_exchange_explicit(&u->kick, false, memory_order_relaxed)) {
        uint64_t v;
        ssize_t r = read(d->evfd, &v, sizeof v);
        (void)r;
        timeout_ns = 0;
    }
    bool unparked = false;
    unsigned n = reap(d, c, CQES_PER_REAP, true, &unparked);
    if (n == 0 && !unparked && timeout_ns != 0) {
        struct __kernel_timespec ts;
        struct io_uring_getevents_arg arg = { .ts = 0 };
        if (timeout_ns > 0) {
            ts.tv_sec = timeout_ns / 1000000000;
            ts.tv_nsec = timeout_ns % 1000000000;
            arg.ts = (uint64_t)(uintptr_t)&ts;
        }
        int rc = io_uring_enter2((unsigned)u->ring.ring_fd, 0, 1,
                                 IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                                 (sigset_t *)&arg, sizeof arg);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            pthread_mutex_unlock(&u->cq_lock);
            return rc;
        }
        n = reap(d, c, CQES_PER_REAP, true, NULL);
    }
    pthread_mutex_unlock(&u->cq_lock);
    return dispatch(d, c, n);
}

/* Completions wait for the owner's task work (kernels without the flag:
   never known, so never). */
int eddy__uring_stranded(struct eddy__io_driver *d)
{
    struct eddy__uring *u = d->ring;
    return u->taskrun_flag && (IO_URING_READ_ONCE(*u->ring.sq.kflags) & IORING_SQ_TASKRUN) != 0;
}

int eddy__uring_poll_foreign(struct eddy__io_driver *d)
{
    struct eddy__uring *u = d->ring;
    struct reaped c[64];
    int io = 0;
    /* the owner holds cq_lock while it waits in io_uring_enter: a parked
       owner woken but not given a CPU; its completions are not posted yet
       either, so the fd scan below is what stands in for it */
    if (pthread_mutex_trylock(&u->cq_lock) == 0) {
        unsigned n = reap(d, c, 64, false, NULL);
        pthread_mutex_unlock(&u->cq_lock);
        io = dispatch(d, c, n);
    } else if (!u->taskrun_flag) {
        return 0; /* nothing tells whether it holds completions back */
    }
    /* completions still to be posted by the owner's task work (it was
       preempted, or spins in a task): take the readiness from the fds */
    if (!u->taskrun_flag || eddy__uring_stranded(d))
        io += eddy__fd_poll_stranded(d);
    return io;
}

int eddy__uring_new(struct eddy__io_driver *d)
{
    struct eddy__uring *u = eddy__calloc(sizeof *u);
    if (u == NULL)
        return -ENOMEM;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* COOP_TASKRUN: a readiness completion is posted at the owner's next
       kernel entry rather than by interrupting it (an IPI per event cost
       2.3x the CPU per echo); a worker spinning in a task still posts
       them at its next timer tick, which is what a stand-in reaps */
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
              IORING_SETUP_TASKRUN_FLAG;
    p.cq_entries = CQ_ENTRIES;
    int rc = io_uring_queue_init_params(SQ_ENTRIES, &u->ring, &p);
    if (rc == -EINVAL) { /* before 5.19: without the task-run flags */
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        rc = io_uring_queue_init_params(SQ_ENTRIES, &u->ring, &p);
    }
    if (rc < 0) {
        eddy__dealloc(u, sizeof *u);
        return rc;
    }
    /* what the code relies on: multishot poll (5.13; no flag of its own,
       implied by CQE_SKIP), IOSQE_CQE_SKIP_SUCCESS on cancels (5.17: on an
       older kernel every cancel fails with -EINVAL and closed sockets stay
       open), waits with a timeout argument (EXT_ARG, 5.11), no completion
       dropped when the CQ ring is full (NODROP: one lost edge is a hung
       task). FAST_POLL (5.7) is implied by the others; kept as the
       baseline the stand-in's reasoning assumes (polls, not io-wq). */
    const unsigned need = IORING_FEAT_CQE_SKIP | IORING_FEAT_EXT_ARG | IORING_FEAT_FAST_POLL |
                          IORING_FEAT_NODROP;
    if ((p.features & need) != need) {
        io_uring_queue_exit(&u->ring);
        eddy__dealloc(u, sizeof *u);
        return -EOPNOTSUPP; /* kernel older than 5.17 */
    }
    u->taskrun_flag = (p.flags & IORING_SETUP_TASKRUN_FLAG) != 0;
    pthread_mutex_init(&u->sq_lock, NULL);
    pthread_mutex_init(&u->cq_lock, NULL);
    d->ring = u;
    return 0;
}

void eddy__uring_free(struct eddy__io_driver *d)
{
    struct eddy__uring *u = d->ring;
    if (u == NULL)
        return;
    io_uring_queue_exit(&u->ring);
    pthread_mutex_destroy(&u->sq_lock);
    pthread_mutex_destroy(&u->cq_lock);
    eddy__dealloc(u, sizeof *u);
    d->ring = NULL;
}

#endif /* EDDY_HAVE_URING */
