/*
 * rt/select.c: eddy_select, Go's select for eddy's channels, notifies, fds
 * and task ends.
 *
 * The guarantee to keep is "exactly one case completes": an element is
 * never lost or taken twice, even when two cases become ready at once on
 * two threads. The consuming cases (RECV, SEND, NOTIFY) are claimed
 * through one word on the selector's stack (struct eddy__sel, Go's
 * selectDone): each of them queues a node on its object that points at the
 * word, and whoever hands such a node something first swings the word
 * from open to the node's case index, under that object's lock
 * (eddy__waitq_pop, rt/waitq.h); a node whose word is taken is stale and
 * is skipped. The non-consuming cases (FD, JOIN) are level-triggered: they
 * only wake the selector, which looks again and completes one itself after
 * closing the word, so a waker can no longer claim anything.
 *
 * One round:
 *   1. try each case once, in a random order (a lazily drawn permutation,
 *      so the first ready one is uniform among the ready ones), each under
 *      its own lock; the first that succeeds wins. No node is queued yet,
 *      so completing a case takes only the claim of the peer it meets.
 *   2. nothing: take the locks of every consuming object at once (address
 *      order, each once), try those again, and queue the nodes. Both under
 *      all the locks, as Go does: a hand-over found here never needs our
 *      own word too (our nodes are not visible yet), which per-object
 *      locking could not promise without a rollback of the word.
 *   3. arm the fd cases (the fd's waiter slot, as eddy_wait_fd) and the
 *      join cases (the task's joiner), then wait.
 *   4. leave: close the word (open -> closed); if that fails, a waker won
 *      a case and completed it under its lock: that is the answer. Then
 *      unlink every node under its object's lock (a waker still holding a
 *      node is done with it once we hold that lock) and disarm the rest.
 *      An fd or join found ready is completed now; a wake with nothing
 *      ready starts a new round (the word reopens: no node refers to it).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>

#include <eddy/io.h>
#include <eddy/select.h>

#include "io/io_int.h"
#include "rt/rt_int.h"
#include "rt/sync_int.h"
#include "rt/waitq.h"
#include "sched/alloc.h"
#include "sched/lock.h"
#include "sched/sched.h"

#define ON_STACK 8 /* cases whose bookkeeping lives on the stack */

/* What a select keeps per case. */
struct slot {
    union {
        struct eddy__waiter w;   /* RECV, SEND, NOTIFY: queued in step 2 */
        struct eddy__fd_wait fw; /* FD */
    } u;
    struct eddy__task *t;        /* JOIN: the task */
    int ready;                   /* FD, JOIN: 0, ready (FD: the bits;
                                    JOIN: 1), or an error for the result */
    bool armed;                  /* queued / armed in this round */
};

/* The bookkeeping of one call: on the stack up to ON_STACK cases. */
struct frame {
    struct slot *slots;
    unsigned *order;
    struct eddy__lock **locks;
    struct pollfd *pf; /* plain threads' poll: nfd + 1 */
    void *heap;
    size_t heap_size;
};

/* ------------------------------------------------------------- random */

static _Thread_local uint64_t rng_state;

/* xorshift64. Not inlined: a task may resume on another thread, and the
   thread-local's address must be computed on the thread that runs it. */
__attribute__((noinline)) static uint32_t sel_rand(void)
{
    uint64_t s = rng_state;
    if (s == 0) /* first use on this thread */
        s = ((uintptr_t)&rng_state * 0x9E3779B97F4A7C15ull) ^ eddy__now_ns() ^ 1;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    rng_state = s;
    return (uint32_t)(s >> 32);
}

/* Uniform in [0, k). */
static inline unsigned below(unsigned k)
{
    return (unsigned)(((uint64_t)sel_rand() * k) >> 32);
}

/* ------------------------------------------------------------- cases */

static inline bool consuming(int kind)
{
    return kind == EDDY_SEL_RECV || kind == EDDY_SEL_SEND || kind == EDDY_SEL_NOTIFY;
}

static inline struct eddy__lock *case_lock(const eddy_select_case *c)
{
    if (c->kind == EDDY_SEL_NOTIFY)
        return &((eddy_notify *)c->obj)->lock;
    return &((eddy_chan *)c->obj)->lock;
}

static inline struct eddy__waitq *case_queue(const eddy_select_case *c)
{
    if (c->kind == EDDY_SEL_NOTIFY)
        return &((eddy_notify *)c->obj)->waiters;
    eddy_chan *ch = c->obj;
    return c->kind == EDDY_SEL_RECV ? &ch->receivers : &ch->senders;
}

/* Completes consuming case c if it can without waiting: its result (0,
   -EPIPE), or -EAGAIN. Caller holds its lock. */
static inline int try_locked(eddy_select_case *c)
{
    switch (c->kind) {
    case EDDY_SEL_RECV:
        return eddy__chan_recv_locked(c->obj, c->elem);
    case EDDY_SEL_SEND:
        return eddy__chan_send_locked(c->obj, c->elem);
    default: { /* NOTIFY: a stored permit */
        eddy_notify *nt = c->obj;
        if (!nt->permit)
            return -EAGAIN;
        nt->permit = false;
        return 0;
    }
    }
}

/* validate for the kinds other than RECV and SEND: 0 or -EINVAL. */
static int validate_other(const eddy_select_case *c, unsigned *nfd)
{
    switch (c->kind) {
    case EDDY_SEL_NOTIFY:
        return c->obj != NULL ? 0 : -EINVAL;
    case EDDY_SEL_FD:
        if (c->fd < 0 || (c->events & (EDDY_READABLE | EDDY_WRITABLE)) == 0)
            return -EINVAL;
        (*nfd)++;
        return 0;
    case EDDY_SEL_JOIN: /* NULL or spent */
        return eddy__task_from_handle(c->obj) != NULL ? 0 : -EINVAL;
    default:
        return -EINVAL;
    }
}

/* -EINVAL for anything eddy_select refuses before it starts; *nfd gets the
   number of FD cases. */
static inline int validate(const eddy_select_case *cases, size_t n, unsigned *nfd)
{
    if (cases == NULL || n == 0 || n > INT_MAX)
        return -EINVAL;
    *nfd = 0;
    for (size_t i = 0; i < n; i++) {
        const eddy_select_case *c = &cases[i];
        if ((unsigned)(c->kind - EDDY_SEL_RECV) <= EDDY_SEL_SEND - EDDY_SEL_RECV) {
            if (c->obj == NULL || c->elem == NULL)
                return -EINVAL;
        } else if (validate_other(c, nfd) < 0) {
            return -EINVAL;
        }
    }
    return 0;
}

/* ----------------------------------------------------- step 1: try once */

/* Tries case c alone: its result when it completes (or fails at once),
   -EAGAIN when it is not ready. An fd case notes in fw what arming needs. */
__attribute__((always_inline)) static inline int try_case(eddy_select_case *c,
                                                          struct eddy__fd_wait *fw)
{
    struct eddy__lock *l;
    int r;
    switch (c->kind) {
    case EDDY_SEL_RECV:
        l = &((eddy_chan *)c->obj)->lock;
        eddy__lock_acquire(l);
        r = eddy__chan_recv_locked(c->obj, c->elem);
        eddy__lock_release(l);
        return r;
    case EDDY_SEL_SEND:
        l = &((eddy_chan *)c->obj)->lock;
        eddy__lock_acquire(l);
        r = eddy__chan_send_locked(c->obj, c->elem);
        eddy__lock_release(l);
        return r;
    case EDDY_SEL_NOTIFY:
        l = &((eddy_notify *)c->obj)->lock;
        eddy__lock_acquire(l);
        r = try_locked(c);
        eddy__lock_release(l);
        return r;
    case EDDY_SEL_FD:
        r = eddy__fd_wait_check(fw, c->fd, c->events & (EDDY_READABLE | EDDY_WRITABLE));
        return r != 0 ? r : -EAGAIN;
    default: { /* JOIN */
        struct eddy__task *t = eddy__task_from_handle(c->obj);
        if (t == NULL)
            return -EINVAL; /* consumed since the call began: not ours to join */
        if (t == eddy__task_current())
            return -EPERM;
        if (!(eddy__task_flags(t) & EDDY__T_COMPLETE))
            return -EAGAIN;
        return eddy__task_join_take(t, c->elem);
    }
    }
}

/* Step 1: every case once, in a uniformly random order (Fisher-Yates,
   drawn as it goes: when the first case tried is ready, that took one
   random number and no shuffle). The index completed, or -1. */
__attribute__((always_inline)) static inline int try_all(eddy_select_case *cases, unsigned n,
                                                         unsigned *order, struct slot *slots)
{
    unsigned i = n > 1 ? below(n) : 0;
    int r = try_case(&cases[i], &slots[i].u.fw);
    if (r == -EAGAIN) {
        for (unsigned k = 0; k < n; k++)
            order[k] = k;
        order[i] = 0; /* order[0] (i) is tried: the rest in random order */
        for (unsigned k = 1; k < n && r == -EAGAIN; k++) {
            unsigned j = k + (n - k > 1 ? below(n - k) : 0);
            i = order[j];
            order[j] = order[k];
            r = try_case(&cases[i], &slots[i].u.fw);
        }
        if (r == -EAGAIN)
            return -1;
    }
    cases[i].result = r;
    return (int)i;
}

/* ---------------------------------------------- step 2: try and queue */

/* Collects the consuming cases' locks in address order, each once. */
static unsigned sort_locks(eddy_select_case *cases, unsigned n, struct eddy__lock **locks)
{
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!consuming(cases[i].kind))
            continue;
        struct eddy__lock *l = case_lock(&cases[i]);
        unsigned k = m;
        while (k > 0 && (uintptr_t)locks[k - 1] > (uintptr_t)l)
            k--;
        if (k > 0 && locks[k - 1] == l)
            continue; /* the same object twice */
        for (unsigned q = m; q > k; q--)
            locks[q] = locks[q - 1];
        locks[k] = l;
        m++;
    }
    return m;
}

/* Step 2, under every consuming object's lock: the consuming cases once
   more in a random order (something may have come since step 1), then,
   when none completes, a node on each. The index completed, or -1 with
   the nodes queued. */
static int try_and_queue(eddy_select_case *cases, unsigned n, struct frame *f,
                         struct eddy__sel *sel, struct eddy__task *self)
{
    unsigned m = sort_locks(cases, n, f->locks);
    if (m == 0)
        return -1;
    for (unsigned k = 0; k < m; k++)
        eddy__lock_acquire(f->locks[k]);
    int won = -1;
    unsigned *order = f->order;
    for (unsigned k = 0; k < n; k++)
        order[k] = k;
    for (unsigned k = 0; k < n && won < 0; k++) {
        unsigned j = k + (n - k > 1 ? below(n - k) : 0);
        unsigned i = order[j];
        order[j] = order[k];
        if (!consuming(cases[i].kind))
            continue;
        int r = try_locked(&cases[i]);
        if (r != -EAGAIN) {
            cases[i].result = r;
            won = (int)i;
        }
    }
    for (unsigned i = 0; i < n && won < 0; i++) {
        if (!consuming(cases[i].kind))
            continue;
        struct eddy__waiter *w = &f->slots[i].u.w;
        w->next = w->prev = NULL;
        w->task = self;
        w->data = cases[i].kind == EDDY_SEL_NOTIFY ? NULL : cases[i].elem;
        w->state = EDDY__W_WAITING;
        w->sel = sel;
        w->sel_index = (int)i;
        eddy__waitq_push(case_queue(&cases[i]), w);
        f->slots[i].armed = true;
    }
    for (unsigned k = m; k-- > 0;)
        eddy__lock_release(f->locks[k]);
    return won;
}

/* --------------------------------------------------- step 3: arm, wait */

/* Arms the fd and join cases; true when one is ready already (or failed
   at once), so that waiting is pointless. */
static bool arm_others(eddy_select_case *cases, unsigned n, struct frame *f,
                       struct eddy__task *self)
{
    bool any = false;
    for (unsigned i = 0; i < n; i++) {
        struct slot *s = &f->slots[i];
        int r;
        if (cases[i].kind == EDDY_SEL_FD)
            r = eddy__fd_wait_arm(&s->u.fw, self);
        else if (cases[i].kind == EDDY_SEL_JOIN)
            r = s->t != NULL ? eddy__task_join_arm(s->t, self) : -EINVAL; /* joined elsewhere */
        else
            continue;
        s->armed = r == 0 || cases[i].kind == EDDY_SEL_FD; /* fd: disarm is harmless */
        s->ready = r;
        any |= r != 0;
    }
    return any;
}

/* A plain thread with fd cases waits in poll(2) on them and its parker's
   eventfd; their readiness lands in the slots. */
static int plain_poll(eddy_select_case *cases, unsigned n, struct frame *f,
                      struct eddy__task *self, uint64_t deadline_ns)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++)
        if (cases[i].kind == EDDY_SEL_FD)
            f->pf[k++] = (struct pollfd){ .fd = cases[i].fd,
                                          .events = eddy__fd_poll_events(cases[i].events) };
    int rc = eddy__parker_poll_fds(self, f->pf, k, deadline_ns);
    k = 0;
    for (unsigned i = 0; i < n; i++)
        if (cases[i].kind == EDDY_SEL_FD)
            f->slots[i].ready = eddy__fd_poll_ready(f->pf[k++].revents, cases[i].events);
    if (rc == 0)
        rc = eddy__wait_check(); /* an abort of the thread's blocking task */
    return rc;
}

/* ------------------------------------------------------ step 4: leave */

/* Closes the select and takes everything back. Returns the index of the
   consuming case a waker completed (its result set), else -1; the fd and
   join slots then say what is ready. */
static int leave(eddy_select_case *cases, unsigned n, struct frame *f, struct eddy__sel *sel,
                 struct eddy__task *self, bool plain)
{
    int won = EDDY__SEL_OPEN;
    /* acq_rel: a failure reads the index a waker wrote under its lock,
       whose acquire below orders what it handed over */
    (void)atomic_compare_exchange_strong_explicit(&sel->winner, &won, EDDY__SEL_CLOSED,
                                                  memory_order_acq_rel, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        struct slot *s = &f->slots[i];
        if (!s->armed)
            continue;
        s->armed = false;
        eddy_select_case *c = &cases[i];
        if (consuming(c->kind)) {
            /* a waker that holds the node holds this lock: once we have
               it, nobody touches the node or the word through it */
            struct eddy__lock *l = case_lock(c);
            struct eddy__waitq *q = case_queue(c);
            eddy__lock_acquire(l);
            if (eddy__waitq_linked(q, &s->u.w))
                eddy__waitq_remove(q, &s->u.w);
            int st = s->u.w.state;
            eddy__lock_release(l);
            if ((int)i == won)
                c->result = st == EDDY__W_CLOSED ? -EPIPE : 0;
        } else if (c->kind == EDDY_SEL_FD) {
            int r = eddy__fd_wait_disarm(&s->u.fw, self);
            if (r < 0 || (!plain && s->ready == 0))
                s->ready = r; /* closed meanwhile; or what the reactor saw */
        } else { /* JOIN */
            eddy__task_join_disarm(s->t, self);
            if (s->ready == 0 && (eddy__task_flags(s->t) & EDDY__T_COMPLETE))
                s->ready = 1;
        }
    }
    return won;
}

/* Among the fd and join cases found ready, one uniformly at random,
   completed: its index, or -1. */
static int complete_other(eddy_select_case *cases, unsigned n, struct frame *f)
{
    int pick = -1;
    unsigned seen = 0;
    for (unsigned i = 0; i < n; i++) {
        if (consuming(cases[i].kind) || f->slots[i].ready == 0)
            continue;
        if (++seen == 1 || below(seen) == 0)
            pick = (int)i;
    }
    if (pick < 0)
        return -1;
    struct slot *s = &f->slots[pick];
    eddy_select_case *c = &cases[pick];
    if (c->kind == EDDY_SEL_JOIN && s->ready == 1)
        c->result = eddy__task_join_take(s->t, c->elem);
    else
        c->result = s->ready;
    return pick;
}

/* -------------------------------------------------------------- entry */

static int frame_init(struct frame *f, unsigned n, unsigned nfd)
{
    size_t sz = n * sizeof(struct slot) + n * sizeof(unsigned) +
                n * sizeof(struct eddy__lock *) + (nfd + 1) * sizeof(struct pollfd);
    char *p = eddy__alloc(sz);
    if (p == NULL)
        return -ENOMEM;
    f->heap = p;
    f->heap_size = sz;
    f->slots = (struct slot *)p;
    p += n * sizeof(struct slot);
    f->pf = (struct pollfd *)p;
    p += (nfd + 1) * sizeof(struct pollfd);
    f->locks = (struct eddy__lock **)p;
    p += n * sizeof(struct eddy__lock *);
    f->order = (unsigned *)p;
    return 0;
}

/* Steps 2 to 4, round after round, once step 1 found nothing. */
static int wait_rounds(eddy_select_case *cases, unsigned n, unsigned nfd, uint64_t deadline,
                       struct frame *f)
{
    struct eddy__sel sel;
    atomic_init(&sel.winner, EDDY__SEL_OPEN);
    if (eddy__on_worker_outside_task())
        return -EPERM; /* a signal handler on a worker: never block it */
    struct eddy__task *self = eddy__waiter_current();
    if (self == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        f->slots[i].armed = false;
        f->slots[i].ready = 0;
        if (cases[i].kind == EDDY_SEL_JOIN)
            f->slots[i].t = eddy__task_from_handle(cases[i].obj);
    }
    for (;;) {
        bool plain = eddy__task_current() == NULL;
        int won = try_and_queue(cases, n, f, &sel, self);
        if (won >= 0)
            return won;
        int rc = 0;
        if (!arm_others(cases, n, f, self)) {
            if (plain && nfd > 0) {
                rc = plain_poll(cases, n, f, self, deadline);
            } else {
                rc = eddy__wait_on(EDDY__WAIT_SELECT, cases, (int64_t)n, deadline);
            }
        }
        won = leave(cases, n, f, &sel, self, plain);
        if (won >= 0)
            return won;
        won = complete_other(cases, n, f);
        if (won >= 0)
            return won;
        if (rc < 0)
            return rc;
        /* woken with nothing to show (a wake of another kind, an edge of
           the other direction): no node refers to the word any more; look
           at everything once more, then queue again */
        atomic_store_explicit(&sel.winner, EDDY__SEL_OPEN, memory_order_relaxed);
        for (unsigned i = 0; i < n; i++)
            f->slots[i].ready = 0;
        won = try_all(cases, n, f->order, f->slots);
        if (won >= 0)
            return won;
    }
}

int eddy_select(eddy_select_case *cases, size_t n, int64_t timeout_ms)
{
    unsigned nfd;
    int rc = validate(cases, n, &nfd);
    if (rc < 0)
        return rc;
    rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    uint64_t deadline = eddy__deadline_after_ms(timeout_ms);
    struct slot slots[ON_STACK];
    unsigned order[ON_STACK];
    struct eddy__lock *locks[ON_STACK];
    struct pollfd pf[ON_STACK + 1];
    struct frame f = { slots, order, locks, pf, NULL, 0 };
    if (n > ON_STACK && (rc = frame_init(&f, (unsigned)n, nfd)) < 0)
        return rc;
    rc = try_all(cases, (unsigned)n, f.order, f.slots);
    if (rc < 0)
        rc = timeout_ms == 0 ? -ETIMEDOUT : wait_rounds(cases, (unsigned)n, nfd, deadline, &f);
    if (f.heap != NULL)
        eddy__dealloc(f.heap, f.heap_size);
    return rc;
}
