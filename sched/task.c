/*
 * sched/task.c: task memory (a type-stable pool with per-thread caches),
 * the state-word transitions shared by every kind (wake, complete, join,
 * abort), join handles with generation tags, and the parker that stands in
 * for a task when a plain thread waits.
 *
 * What it does not own: running tasks and queues (worker.c), waiting with
 * timeouts (wait.c).
 */
#include "sched/task.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched/alloc.h"
#include "sched/sched.h"
#include "sched/sched_int.h"

/* ------------------------------------------------------------ task pool */
/* Blocks are never returned to the allocator: a stale join handle then
   still points at task memory whose gen tells it is stale.

   Free blocks travel in magazines (Bonwick's design): a chain through
   ->next, at most POOL_BATCH long. Each thread allocates from a loaded
   magazine and keeps one spare; whole magazines move between a thread and
   the depot behind a mutex, in O(1). Nothing walks a chain of free blocks:
   they are cold (a burst of 10,000 spawns leaves 3 MB of them), and the
   walk that cut a batch off the cache cost a tenth of a spawn. */

#define POOL_BATCH 64
#define POOL_CHUNK_BLOCKS 256

struct magazine {
    struct eddy__task *head; /* chained through ->next */
    unsigned n;
};

struct pool_cache {
    struct magazine loaded; /* alloc takes from here, free puts here */
    struct magazine spare;  /* full or empty */
    bool registered;
};

static struct {
    pthread_mutex_t lock;
    struct eddy__task *mags; /* guarded by: lock; magazines, see mag_push */
    void **chunks;           /* guarded by: lock; kept so memory stays reachable */
    size_t nchunks, cap;
} depot = { .lock = PTHREAD_MUTEX_INITIALIZER };

static _Thread_local struct pool_cache tcache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/* The depot chains magazines through their first block's owned_next and
   keeps the length in its deadline_ns: a free block's header is scratch
   (eddy__task_alloc rewrites it; stale handles read only state and gen).
   Caller holds depot.lock. */
static void mag_push(struct magazine m)
{
    m.head->owned_next = depot.mags;
    m.head->deadline_ns = m.n;
    depot.mags = m.head;
}

static struct magazine mag_pop(void)
{
    struct eddy__task *h = depot.mags;
    if (h == NULL)
        return (struct magazine){ NULL, 0 };
    depot.mags = h->owned_next;
    return (struct magazine){ h, (unsigned)h->deadline_ns };
}

static void cache_thread_exit(void *arg)
{
    (void)arg;
    struct pool_cache *c = &tcache;
    pthread_mutex_lock(&depot.lock);
    if (c->loaded.n != 0)
        mag_push(c->loaded);
    if (c->spare.n != 0)
        mag_push(c->spare);
    pthread_mutex_unlock(&depot.lock);
    c->loaded = c->spare = (struct magazine){ NULL, 0 };
    /* a later destructor (the thread's parker) may still free a block into
       this cache: registering again gets it flushed in the next round */
    c->registered = false;
}

static void cache_key_create(void)
{
    (void)pthread_key_create(&cache_key, cache_thread_exit);
}

static inline void cache_register(struct pool_cache *c)
{
    if (!c->registered) {
        pthread_once(&cache_once, cache_key_create);
        (void)pthread_setspecific(cache_key, c);
        c->registered = true;
    }
}

/* Maps a chunk of fresh blocks: the first POOL_BATCH load the cache, the
   rest go to the depot as full magazines. Caller holds depot.lock. */
static bool carve_chunk(struct pool_cache *c)
{
    char *chunk = eddy__alloc((size_t)EDDY__TASK_BLOCK * POOL_CHUNK_BLOCKS);
    if (chunk == NULL)
        return false;
    if (depot.nchunks == depot.cap) {
        size_t ncap = depot.cap ? depot.cap * 2 : 64;
        void **nc = eddy__realloc(depot.chunks, depot.cap * sizeof(void *), ncap * sizeof(void *));
        if (nc == NULL) {
            eddy__dealloc(chunk, (size_t)EDDY__TASK_BLOCK * POOL_CHUNK_BLOCKS);
            return false;
        }
        depot.chunks = nc;
        depot.cap = ncap;
    }
    depot.chunks[depot.nchunks++] = chunk;
    for (unsigned m = 0; m < POOL_CHUNK_BLOCKS / POOL_BATCH; m++) {
        struct magazine mag = { NULL, 0 };
        for (unsigned i = 0; i < POOL_BATCH; i++) {
            struct eddy__task *t =
                (struct eddy__task *)(chunk + (size_t)(m * POOL_BATCH + i) * EDDY__TASK_BLOCK);
            atomic_init(&t->state, 0);
            atomic_init(&t->gen, 0);
            t->next = mag.head;
            mag.head = t;
            mag.n++;
        }
        if (m == 0)
            c->loaded = mag;
        else
            mag_push(mag);
    }
    return true;
}

/* The loaded magazine is empty: the spare if it is full, else one from
   the depot, else a fresh chunk. */
static bool cache_reload(struct pool_cache *c)
{
    if (c->spare.n != 0) {
        c->loaded = c->spare;
        c->spare = (struct magazine){ NULL, 0 };
        return true;
    }
    pthread_mutex_lock(&depot.lock);
    c->loaded = mag_pop();
    bool ok = c->loaded.n != 0 || carve_chunk(c);
    pthread_mutex_unlock(&depot.lock);
    return ok;
}

struct eddy__task *eddy__task_alloc(void)
{
    struct pool_cache *c = &tcache;
    cache_register(c);
    if (c->loaded.n == 0 && !cache_reload(c))
        return NULL;
    struct eddy__task *t = c->loaded.head;
    c->loaded.head = t->next;
    c->loaded.n--;
    /* the next spawn's block is most likely cold (freed on another worker,
       or long ago): start fetching it now, for writing */
    if (c->loaded.head != NULL)
        __builtin_prefetch(c->loaded.head, 1, 3);
    return t;
}

void eddy__task_pool_release(struct eddy__task *t)
{
    /* one writer (the thread freeing it): no RMW needed */
    atomic_store_explicit(&t->gen, (uint16_t)(atomic_load_explicit(&t->gen, memory_order_relaxed) + 1),
                          memory_order_relaxed);
    atomic_store_explicit(&t->state, 0, memory_order_relaxed);
    struct pool_cache *c = &tcache;
    cache_register(c);
    if (c->loaded.n == POOL_BATCH) {
        if (c->spare.n != 0) {
            pthread_mutex_lock(&depot.lock);
            mag_push(c->spare);
            pthread_mutex_unlock(&depot.lock);
        }
        c->spare = c->loaded;
        c->loaded = (struct magazine){ NULL, 0 };
    }
    t->next = c->loaded.head;
    c->loaded.head = t;
    c->loaded.n++;
}

/* ------------------------------------------------------------ lifecycle */

void eddy__task_init(struct eddy__task *t, const struct eddy__task_vtable *vt,
                     struct eddy__sched *s, unsigned refs, bool joinable)
{
    /* every header field but state and gen (a stale handle may read them
       concurrently), field by field: a memset of this size became
       `rep stos`, whose start-up cost was half of a spawn's allocation */
    t->home = -1;
    t->started = 0;
    t->yielded = 0;
    t->vt = vt;
    t->next = NULL;
    t->sched = s;
    atomic_store_explicit(&t->join_waiter, NULL, memory_order_relaxed);
    t->result = NULL;
    t->owned_prev = t->owned_next = NULL;
    t->owned_list = NULL;
    t->deadline_ns = UINT64_MAX;
    t->timer = (struct eddy__timer){ 0 };
    atomic_store_explicit(&t->thread_waiter, NULL, memory_order_relaxed);
    atomic_store_explicit(&t->ext_deadline_ns, UINT64_MAX, memory_order_relaxed);
    atomic_store_explicit(&t->wait_obj, NULL, memory_order_relaxed);
    atomic_store_explicit(&t->wait_arg, 0, memory_order_relaxed);
    atomic_store_explicit(&t->wait_since_ms, 0, memory_order_relaxed);
    atomic_store_explicit(&t->wait_kind, 0, memory_order_relaxed);
    uint64_t st = EDDY__T_NOTIFIED | (uint64_t)refs * EDDY__T_REF_ONE;
    if (joinable)
        st |= EDDY__T_JOIN_INTEREST;
    /* release: pairs with the acquire loads of whoever receives the task */
    atomic_store_explicit(&t->state, st, memory_order_release);
}
/* LP64 layout; fails when the header changes: set a new field above */
_Static_assert(sizeof(void *) != 8 || sizeof(struct eddy__task) == 184,
               "eddy__task_init sets every header field");

void eddy__task_unref(struct eddy__task *t)
{
    /* acq_rel: the last reference must see every write of the others */
    uint64_t prev = atomic_fetch_sub_explicit(&t->state, EDDY__T_REF_ONE, memory_order_acq_rel);
    if ((prev >> EDDY__T_REF_SHIFT) == 1) {
        if (t->vt->release != NULL)
            t->vt->release(t);
        eddy__task_pool_release(t);
    }
}

void eddy__wake(struct eddy__task *t)
{
    if (t->vt->wake != NULL) {
        t->vt->wake(t);
        return;
    }
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (s & (EDDY__T_COMPLETE | EDDY__T_NOTIFIED))
            return;
        uint64_t n = s | EDDY__T_NOTIFIED;
        if (!(s & EDDY__T_RUNNING))
            n += EDDY__T_REF_ONE; /* the queue's reference */
        /* acq_rel: release publishes the waker's writes to the task that
           will run; pairs with the acquire in the worker's run transition */
        if (atomic_compare_exchange_weak_explicit(&t->state, &s, n, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    if (!(s & EDDY__T_RUNNING))
        eddy__schedule(t);
}

/* --------------------------------------------------------------- handles */

#define HANDLE_PTR_MASK (((uintptr_t)1 << 48) - 1)

struct eddy_task *eddy__task_handle(struct eddy__task *t)
{
    uintptr_t g = atomic_load_explicit(&t->gen, memory_order_relaxed);
    return (struct eddy_task *)((uintptr_t)t | (g << 48));
}

struct eddy__task *eddy__task_from_handle(struct eddy_task *h)
{
    if (h == NULL)
        return NULL;
    uintptr_t v = (uintptr_t)h;
    struct eddy__task *t = (struct eddy__task *)(v & HANDLE_PTR_MASK);
    if (t == NULL || ((uintptr_t)t & (_Alignof(struct eddy__task) - 1)) != 0)
        return NULL;
    uint16_t g = (uint16_t)(v >> 48);
    if (atomic_load_explicit(&t->gen, memory_order_relaxed) != g)
        return NULL;
    if (!(atomic_load_explicit(&t->state, memory_order_acquire) & EDDY__T_JOIN_INTEREST))
        return NULL;
    /* the block may have been freed and reused between the two loads: the
       generation, read again after the state (acquire orders it after),
       tells */
    if (atomic_load_explicit(&t->gen, memory_order_acquire) != g)
        return NULL;
    return t;
}

/* --------------------------------------------------------- thread parker */
/* A plain thread that waits registers a parker: a task-shaped object whose
   wake sets a futex word instead of queueing. One per thread, refcounted
   like a task (the thread holds one reference until it exits). */

struct parker {
    struct eddy__task base;
    _Atomic uint32_t word; /* 1: notified */
    /* eddy__parker_poll: an eventfd a wake writes while the thread sits in
       poll(2) on an fd (made at its first fd wait, closed on release) */
    _Atomic int evfd;
    atomic_bool in_poll;
};
_Static_assert(sizeof(struct parker) <= EDDY__TASK_BLOCK, "parker fits a task block");

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)uaddr, op, val, ts, NULL, 0);
}

static void parker_wake(struct eddy__task *t)
{
    struct parker *p = (struct parker *)t;
    /* seq_cst: with the poller's store of in_poll and exchange of word, a
       wake either is seen before poll(2) or writes the eventfd */
    if (atomic_exchange_explicit(&p->word, 1, memory_order_seq_cst) == 0)
        futex(&p->word, FUTEX_WAKE_PRIVATE, 1, NULL);
    if (atomic_load_explicit(&p->in_poll, memory_order_seq_cst)) {
        uint64_t one = 1;
        ssize_t r = write(atomic_load_explicit(&p->evfd, memory_order_relaxed), &one, sizeof one);
        (void)r; /* EAGAIN: the counter is saturated, still readable */
    }
}

/* The last reference: whoever woke the parker held one, so no wake can
   write the eventfd after it is closed here. */
static void parker_release(struct eddy__task *t)
{
    struct parker *p = (struct parker *)t;
    int fd = atomic_load_explicit(&p->evfd, memory_order_relaxed);
    if (fd >= 0)
        close(fd);
}

static const struct eddy__task_vtable parker_vt = {
    .wake = parker_wake,
    .release = parker_release,
    .kind = "thread",
};

static _Thread_local struct parker *tls_parker;
static pthread_key_t parker_key;
static pthread_once_t parker_once = PTHREAD_ONCE_INIT;

static void parker_thread_exit(void *arg)
{
    struct parker *p = arg;
    tls_parker = NULL;
    eddy__task_unref(&p->base);
}

static void parker_key_create(void)
{
    (void)pthread_key_create(&parker_key, parker_thread_exit);
}

struct eddy__task *eddy__parker_current(void)
{
    if (tls_parker != NULL)
        return &tls_parker->base;
    pthread_once(&parker_once, parker_key_create);
    struct eddy__task *t = eddy__task_alloc();
    if (t == NULL)
        return NULL;
    eddy__task_init(t, &parker_vt, NULL, 1, false);
    struct parker *p = (struct parker *)t;
    /* a parker is never queued: one reference (the thread's), no flags */
    atomic_store_explicit(&t->state, EDDY__T_REF_ONE, memory_order_relaxed);
    atomic_init(&p->word, 0);
    atomic_init(&p->evfd, -1);
    atomic_init(&p->in_poll, false);
    (void)pthread_setspecific(parker_key, p);
    tls_parker = p;
    return t;
}

int eddy__parker_wait(struct eddy__task *t, uint64_t deadline_ns)
{
    struct parker *p = (struct parker *)t;
    for (;;) {
        /* acquire: pairs with the release exchange in parker_wake */
        if (atomic_exchange_explicit(&p->word, 0, memory_order_acquire) == 1)
            return 0;
        if (deadline_ns == UINT64_MAX) {
            futex(&p->word, FUTEX_WAIT_PRIVATE, 0, NULL);
            continue;
        }
        uint64_t now = eddy__now_ns();
        if (now >= deadline_ns)
            return -ETIMEDOUT;
        uint64_t d = deadline_ns - now;
        struct timespec ts = { .tv_sec = (time_t)(d / 1000000000u),
                               .tv_nsec = (long)(d % 1000000000u) };
        futex(&p->word, FUTEX_WAIT_PRIVATE, 0, &ts);
    }
}

bool eddy__waiter_is_thread(const struct eddy__task *t)
{
    return t->vt == &parker_vt;
}

int eddy__parker_poll(struct eddy__task *t, int fd, short events, uint64_t deadline_ns,
                      short *revents)
{
    struct pollfd pf[2] = { { .fd = fd, .events = events } };
    int rc = eddy__parker_poll_fds(t, pf, 1, deadline_ns);
    *revents = rc == 0 ? pf[0].revents : 0;
    return rc;
}

int eddy__parker_poll_fds(struct eddy__task *t, struct pollfd *pf, unsigned n,
                          uint64_t deadline_ns)
{
    struct parker *p = (struct parker *)t;
    for (unsigned i = 0; i < n; i++)
        pf[i].revents = 0;
    int evfd = atomic_load_explicit(&p->evfd, memory_order_relaxed);
    if (evfd < 0) {
        /* out of descriptors: poll the fds alone (readiness and timeouts
           still work; a wake then waits for one of them) and retry next time */
        evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (evfd >= 0)
            atomic_store_explicit(&p->evfd, evfd, memory_order_relaxed);
    }
    for (;;) {
        atomic_store_explicit(&p->in_poll, true, memory_order_seq_cst);
        if (atomic_exchange_explicit(&p->word, 0, memory_order_seq_cst) == 1) {
            atomic_store_explicit(&p->in_poll, false, memory_order_relaxed);
            return 0; /* woken */
        }
        int ms = -1;
        if (deadline_ns != UINT64_MAX) {
            uint64_t now = eddy__now_ns();
            if (now >= deadline_ns) {
                atomic_store_explicit(&p->in_poll, false, memory_order_relaxed);
                return -ETIMEDOUT;
            }
            uint64_t left = (deadline_ns - now + 999999) / 1000000;
            ms = left > INT_MAX ? INT_MAX : (int)left;
        }
        pf[n] = (struct pollfd){ .fd = evfd, .events = POLLIN };
        int got = poll(pf, evfd >= 0 ? n + 1 : n, ms);
        atomic_store_explicit(&p->in_poll, false, memory_order_relaxed);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (evfd >= 0 && pf[n].revents != 0) {
            uint64_t v;
            ssize_t r = read(evfd, &v, sizeof v);
            (void)r;
        }
        for (unsigned i = 0; i < n; i++)
            if (pf[i].revents != 0)
                return 0;
        /* the eventfd (a wake: the loop takes it) or the timeout */
    }
}

/* ------------------------------------------------------- join and abort */

void eddy__task_complete(struct eddy__task *t)
{
    struct eddy__sched *sched = t->sched;
    const struct eddy__task_vtable *vt = t->vt; /* t may be gone after the CAS */
    if (t->owned_list != NULL)
        eddy__owned_remove(t); /* drops the owned list's reference; ours holds */
    if (sched != NULL)
        eddy__sched_task_done(sched);
    /* One CAS marks it complete and drops the run's reference. The joiner
       to wake is read before it: once our reference is gone, t may be freed
       by the joiner. join_waiter cannot change while JOIN_WAKER is set. */
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    uint64_t n;
    struct eddy__task *j;
    do {
        j = (s & EDDY__T_JOIN_WAKER)
                ? atomic_load_explicit(&t->join_waiter, memory_order_relaxed)
                : NULL;
        n = ((s & ~(uint64_t)(EDDY__T_RUNNING | EDDY__T_NOTIFIED)) | EDDY__T_COMPLETE) -
            EDDY__T_REF_ONE;
        /* acq_rel: release publishes result to the joiner (acquire load of
           COMPLETE in eddy__task_join); acquire sees join_waiter's write */
    } while (!atomic_compare_exchange_weak_explicit(&t->state, &s, n, memory_order_acq_rel,
                                                    memory_order_acquire));
    if (j != NULL) {
        eddy__wake(j);
        eddy__task_unref(j);
    }
    if (vt->ended != NULL)
        vt->ended(t); /* the kind's own reference keeps t */
    if ((n >> EDDY__T_REF_SHIFT) == 0) {
        if (t->vt->release != NULL)
            t->vt->release(t);
        eddy__task_pool_release(t);
    }
}

/* Clears JOIN_WAKER when still set and not complete; true if it did (the
   caller then owns join_waiter's reference again). */
static bool join_unregister(struct eddy__task *t)
{
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    while ((s & EDDY__T_JOIN_WAKER) && !(s & EDDY__T_COMPLETE)) {
        if (atomic_compare_exchange_weak_explicit(&t->state, &s, s & ~(uint64_t)EDDY__T_JOIN_WAKER,
                                                  memory_order_acq_rel, memory_order_acquire))
            return true;
    }
    return false;
}

int eddy__task_join(struct eddy__task *t, void **result, uint64_t deadline_ns)
{
    struct eddy__task *self = eddy__waiter_current();
    if (self == NULL)
        return -ENOMEM;
    if (self == t)
        return -EPERM;
    for (;;) {
        uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
        if (s & EDDY__T_COMPLETE) {
            if (result != NULL)
                *result = t->result;
            int rc = (s & EDDY__T_CANCELLED) ? -ECANCELED : 0;
            /* consume the handle: clear JOIN_INTEREST (set: only the
               handle's owner clears it) and drop its reference at once */
            uint64_t prev = atomic_fetch_sub_explicit(
                &t->state, EDDY__T_JOIN_INTEREST + EDDY__T_REF_ONE, memory_order_acq_rel);
            if ((prev >> EDDY__T_REF_SHIFT) == 1) {
                if (t->vt->release != NULL)
                    t->vt->release(t);
                eddy__task_pool_release(t);
            }
            return rc;
        }
        if (!(s & EDDY__T_JOIN_WAKER)) {
            eddy__task_ref(self);
            atomic_store_explicit(&t->join_waiter, self, memory_order_relaxed);
            /* release: publishes join_waiter to the completer's acquire */
            if (!atomic_compare_exchange_strong_explicit(&t->state, &s, s | EDDY__T_JOIN_WAKER,
                                                         memory_order_acq_rel,
                                                         memory_order_acquire)) {
                atomic_store_explicit(&t->join_waiter, NULL, memory_order_relaxed);
                eddy__task_unref(self);
                continue; /* completed or changed meanwhile: look again */
            }
        }
        int rc = eddy__wait_on(EDDY__WAIT_JOIN, t, 0, deadline_ns);
        if (rc < 0) {
            if (join_unregister(t)) {
                eddy__task_unref(self);
                return rc;
            }
            /* it completed meanwhile: take the result instead */
            if (atomic_load_explicit(&t->state, memory_order_acquire) & EDDY__T_COMPLETE)
                continue;
            return rc;
        }
    }
}

/* The non-blocking halves of a join, for eddy_select: arm registers self
   as the joiner to wake (the JOIN_WAKER handshake above), disarm takes it
   back, take consumes the handle of a task that completed. */
int eddy__task_join_arm(struct eddy__task *t, struct eddy__task *self)
{
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (s & EDDY__T_COMPLETE)
            return 1;
        if (s & EDDY__T_JOIN_WAKER) /* a joiner waits already (one per handle) */
            return atomic_load_explicit(&t->join_waiter, memory_order_relaxed) == self ? 0
                                                                                     : -EBUSY;
        eddy__task_ref(self);
        atomic_store_explicit(&t->join_waiter, self, memory_order_relaxed);
        /* release: publishes join_waiter to the completer's acquire */
        if (atomic_compare_exchange_strong_explicit(&t->state, &s, s | EDDY__T_JOIN_WAKER,
                                                    memory_order_acq_rel, memory_order_acquire))
            return 0;
        atomic_store_explicit(&t->join_waiter, NULL, memory_order_relaxed);
        eddy__task_unref(self); /* s holds the new state: look again */
    }
}

void eddy__task_join_disarm(struct eddy__task *t, struct eddy__task *self)
{
    /* not taken back: t completed, and its completer woke self and dropped
       join_waiter's reference */
    if (join_unregister(t))
        eddy__task_unref(self);
}

int eddy__task_join_take(struct eddy__task *t, void **result)
{
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    if (!(s & EDDY__T_COMPLETE))
        return -EAGAIN;
    if (result != NULL)
        *result = t->result;
    int rc = (s & EDDY__T_CANCELLED) ? -ECANCELED : 0;
    /* as eddy__task_join: JOIN_INTEREST and the handle's reference at once */
    uint64_t prev = atomic_fetch_sub_explicit(&t->state, EDDY__T_JOIN_INTEREST + EDDY__T_REF_ONE,
                                              memory_order_acq_rel);
    if ((prev >> EDDY__T_REF_SHIFT) == 1) {
        if (t->vt->release != NULL)
            t->vt->release(t);
        eddy__task_pool_release(t);
    }
    return rc;
}

void eddy__task_detach(struct eddy__task *t)
{
    uint64_t s = atomic_fetch_and_explicit(&t->state, ~(uint64_t)EDDY__T_JOIN_INTEREST,
                                           memory_order_acq_rel);
    if (s & EDDY__T_JOIN_INTEREST)
        eddy__task_unref(t);
}

int eddy__task_abort(struct eddy__task *t)
{
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (s & (EDDY__T_COMPLETE | EDDY__T_CANCELLED))
            return 0;
        if (atomic_compare_exchange_weak_explicit(&t->state, &s, s | EDDY__T_CANCELLED,
                                                  memory_order_acq_rel, memory_order_acquire))
            break;
    }
    eddy__wake(t);
    /* a blocking task running on a pool thread: wake that thread if it
       waits in an eddy call (exactly one of abort and the run's end takes
       the parker reference) */
    struct eddy__task *p = atomic_exchange_explicit(&t->thread_waiter, NULL, memory_order_acq_rel);
    if (p != NULL) {
        eddy__wake(p);
        eddy__task_unref(p);
    }
    return 0;
}
