/*
 * rt/scope.c: scopes (eddy/scope.h).
 *
 * A child tells its scope it ended through its task kind's ended hook,
 * which runs once the child is COMPLETE, so whoever it wakes can join the
 * child without waiting. The end of a child takes no lock: with the lock,
 * two workers (one spawning, one ending children) spent half their time
 * on it, 230 ns a child against 50 for spawn + join. Instead:
 *
 *  - Live children sit in slots of chunks the scope owns (never moved
 *    before close). The spawner takes a free slot under the lock; an
 *    ending child clears its own slot with an atomic store. Cancel and
 *    deadline scan the slots under the lock with `scanning` raised; a child
 *    that cleared its slot and sees `scanning` waits for the scan (takes
 *    the lock once) before it can go away, so a scan never touches a task
 *    that ended and was reused (Dekker: both sides store, then load).
 *  - Ended children whose handle the scope keeps are pushed on a lock-free
 *    stack; next (under the lock) moves them to a FIFO. A next that has to
 *    wait announces itself in `nexters_waiting` before its last look at the
 *    stack; a child pushes, then looks at the count (Dekker again).
 *  - nlive counts live children; the decrement is an ending child's last
 *    touch of the scope, unless it brings nlive to 0: then it takes the
 *    lock, counts a fall and wakes the closers. Each raise of nlive from 0
 *    counts a rise, so close knows every child is done with the scope (and
 *    may free it) when nlive is 0 and falls == rises. Until close, spawns
 *    add to nlive 64 at a time and keep the surplus as credits (the
 *    counter's line then stays with the ending children's workers instead
 *    of moving to the spawner and back for every child); close gives the
 *    credits back, and spawns during close add one at a time.
 */
#include <errno.h>
#include <stdint.h>

#include <eddy/scope.h>

#include "rt/rt_int.h"
#include "rt/waitq.h"
#include "sched/alloc.h"
#include "sched/lock.h"

#define CHUNK_SLOTS 64

struct slot_chunk {
    struct slot_chunk *next;
    struct eddy__task *_Atomic slot[CHUNK_SLOTS]; /* NULL: free */
};

struct eddy_scope {
    /* the spawner's and the consumers' line(s), under the lock */
    struct eddy__lock lock;
    struct slot_chunk *chunks;          /* guarded by: lock (the list) */
    struct slot_chunk *cur;             /* guarded by: lock; where a spawn looks */
    uint32_t cur_i;                     /* guarded by: lock */
    size_t nslots;                      /* guarded by: lock */
    struct eddy__scope_link *ended_head, *ended_tail; /* guarded by: lock; FIFO */
    size_t nkept;                       /* guarded by: lock; kept children not
                                           yet taken by next (live or ended) */
    uint64_t rises, falls;              /* guarded by: lock; see the top */
    size_t credits;                     /* guarded by: lock; in nlive, no child's */
    bool closing;                       /* guarded by: lock */
    int err;                            /* guarded by: lock; first failure or cause */
    bool cancelled;                     /* guarded by: lock; children aborted */
    struct eddy__waitq nexters;         /* guarded by: lock; in eddy_scope_next */
    struct eddy__waitq closers;         /* guarded by: lock; in eddy_scope_close */
    /* read by every ending child, seldom written: a line of their own, so
       that it stays in every core's cache while the spawner works */
    _Alignas(64) eddy_rt *rt;           /* immutable after new */
    _Atomic int scanning;               /* a cancel or deadline reads the slots */
    _Atomic unsigned nexters_waiting;
    _Atomic uint64_t deadline_ns;       /* written under lock; UINT64_MAX none */
    /* written by ending children */
    _Alignas(64) struct eddy__scope_link *_Atomic ended_stack; /* kept ones */
    _Atomic uint64_t last_end_ns;       /* latest end, while a deadline is set */
    /* spawns add (under the lock), ends subtract */
    _Alignas(64) _Atomic size_t nlive;
    /* the first slots: most scopes need no other allocation (a chunk of
       its own cost a scope of one child a third more) */
    _Alignas(64) struct slot_chunk first;
};

int eddy_scope_new(eddy_scope **out)
{
    if (out == NULL)
        return -EINVAL;
    eddy_rt *rt = eddy__rt_current();
    if (rt == NULL)
        return -EPERM;
    eddy_scope *s = eddy__calloc_line(sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->rt = rt; /* the rest is zero: unlocked, empty, slots free */
    s->chunks = s->cur = &s->first;
    s->nslots = CHUNK_SLOTS;
    /* the creator's deadline reaches its children, as a Go context's does */
    struct eddy__task *t = eddy__task_current();
    atomic_init(&s->deadline_ns, t != NULL ? eddy__task_deadline(t) : UINT64_MAX);
    *out = s;
    return 0;
}

/* ----------------------------------------------------------------- slots */

/* A free slot for a new child, the array grown so that at least a quarter
   of the slots is free (the scan from the cursor stays short). NULL when
   out of memory. Caller holds the lock. */
static struct eddy__task *_Atomic *slot_take(eddy_scope *s)
{
    /* nlive bounds the taken slots from above: an end clears its slot
       before it counts itself out */
    size_t live = atomic_load_explicit(&s->nlive, memory_order_relaxed);
    if ((live + 1) * 4 > s->nslots * 3) {
        struct slot_chunk *c = eddy__alloc(sizeof *c);
        if (c == NULL)
            return NULL;
        c->next = s->chunks;
        for (unsigned i = 0; i < CHUNK_SLOTS; i++)
            atomic_init(&c->slot[i], NULL);
        s->chunks = c;
        s->nslots += CHUNK_SLOTS;
        s->cur = c;
        s->cur_i = 0;
    }
    for (;;) {
        for (; s->cur_i < CHUNK_SLOTS; s->cur_i++)
            if (atomic_load_explicit(&s->cur->slot[s->cur_i], memory_order_relaxed) == NULL)
                return &s->cur->slot[s->cur_i++];
        s->cur = s->cur->next != NULL ? s->cur->next : s->chunks;
        s->cur_i = 0;
    }
}

/* Runs fn on every live child. Caller holds the lock; the children whose
   slot it reads cannot go away meanwhile (see the top). */
static void scan_live(eddy_scope *s, void (*fn)(struct eddy__task *t, uint64_t v), uint64_t v)
{
    atomic_store_explicit(&s->scanning, 1, memory_order_seq_cst);
    for (struct slot_chunk *c = s->chunks; c != NULL; c = c->next)
        for (unsigned i = 0; i < CHUNK_SLOTS; i++) {
            struct eddy__task *t = atomic_load_explicit(&c->slot[i], memory_order_seq_cst);
            if (t != NULL)
                fn(t, v);
        }
    atomic_store_explicit(&s->scanning, 0, memory_order_release);
}

static void abort_child(struct eddy__task *t, uint64_t v)
{
    (void)v;
    (void)eddy__task_abort(t); /* only flags and queues: takes no scope lock */
}

/* Aborts every live child; s takes no new ones. Caller holds the lock. */
static void cancel_locked(eddy_scope *s)
{
    s->cancelled = true;
    scan_live(s, abort_child, 0);
}

/* A close may be waiting for the count to reach 0 (the lock is held). */
static void count_fall_locked(eddy_scope *s)
{
    s->falls++;
    eddy__waitq_signal_all(&s->closers, EDDY__W_SIGNALLED);
}

#define CREDIT_BATCH 64

/* Counts a new child in nlive (see the top). Caller holds the lock. */
static void add_live_locked(eddy_scope *s)
{
    if (s->credits == 0) {
        size_t n = s->closing ? 1 : CREDIT_BATCH;
        if (atomic_fetch_add_explicit(&s->nlive, n, memory_order_relaxed) == 0)
            s->rises++;
        s->credits = n;
    }
    s->credits--;
}

/* Takes back the count of a child that never started, or (n: all) the
   credits at the start of close. Caller holds the lock. */
static void sub_live_locked(eddy_scope *s, size_t n)
{
    if (n != 0 && atomic_fetch_sub_explicit(&s->nlive, n, memory_order_acq_rel) == n)
        count_fall_locked(s);
}

/* ----------------------------------------------------------------- spawn */

int eddy_scope_spawn(eddy_scope *s, eddy_task **out, eddy_fn fn, void *arg)
{
    return eddy_scope_spawn_ex(s, out, fn, arg, NULL);
}

int eddy_scope_spawn_ex(eddy_scope *s, eddy_task **out, eddy_fn fn, void *arg,
                        const eddy_spawn_opts *o)
{
    if (s == NULL || fn == NULL)
        return -EINVAL;
    int worker;
    int rc = eddy__spawn_opts_check(s->rt, o, &worker);
    if (rc < 0)
        return rc;
    struct eddy__task *t = eddy__scope_task_new(s->rt, fn, arg, out != NULL);
    if (t == NULL)
        return -ENOMEM;
    eddy__fiber_task_apply_opts(t, o);
    struct eddy__scope_link *l = eddy__scope_link_of(t);
    l->scope = s;
    eddy__lock_acquire(&s->lock);
    if (s->cancelled) {
        eddy__lock_release(&s->lock);
        eddy__scope_task_discard(t);
        return -ECANCELED;
    }
    /* in its slot before it is queued: it may end on another worker at once */
    struct eddy__task *_Atomic *slot = slot_take(s);
    if (slot == NULL) {
        eddy__lock_release(&s->lock);
        eddy__scope_task_discard(t);
        return -ENOMEM;
    }
    atomic_store_explicit(slot, t, memory_order_relaxed);
    l->slot = slot;
    add_live_locked(s);
    if (l->kept)
        s->nkept++;
    atomic_store_explicit(&t->ext_deadline_ns,
                          atomic_load_explicit(&s->deadline_ns, memory_order_relaxed),
                          memory_order_relaxed);
    eddy__lock_release(&s->lock);
    eddy_task *h = out != NULL ? eddy__task_handle(t) : NULL;
    rc = eddy__sched_spawn(s->rt->sched, t, worker);
    if (rc < 0) {
        /* never queued: only a scan (under the lock) may have seen it */
        eddy__lock_acquire(&s->lock);
        atomic_store_explicit(slot, NULL, memory_order_relaxed);
        if (l->kept && --s->nkept == 0)
            eddy__waitq_signal_all(&s->nexters, EDDY__W_SIGNALLED); /* -ENOENT now */
        if (s->closing)
            sub_live_locked(s, 1);
        else
            s->credits++;
        eddy__lock_release(&s->lock);
        eddy__scope_task_discard(t);
        return rc;
    }
    if (out != NULL)
        *out = h;
    return 0;
}

/* ------------------------------------------------------------ a child ends */

static void note_end_time(eddy_scope *s)
{
    if (atomic_load_explicit(&s->deadline_ns, memory_order_relaxed) == UINT64_MAX)
        return;
    uint64_t now = eddy__now_ns();
    uint64_t seen = atomic_load_explicit(&s->last_end_ns, memory_order_relaxed);
    while (seen < now && !atomic_compare_exchange_weak_explicit(&s->last_end_ns, &seen, now,
                                                                memory_order_relaxed,
                                                                memory_order_relaxed))
        ;
}

void eddy__scope_child_ended(struct eddy__task *t)
{
    struct eddy__scope_link *l = eddy__scope_link_of(t);
    eddy_scope *s = l->scope;
    bool kept = l->kept;
    atomic_store_explicit(l->slot, NULL, memory_order_seq_cst);
    if (atomic_load_explicit(&s->scanning, memory_order_seq_cst)) {
        /* a scan may hold our pointer: let it finish before we go */
        eddy__lock_acquire(&s->lock);
        eddy__lock_release(&s->lock);
    }
    note_end_time(s);
    if (kept) { /* the scope's reference is the handle: next or close joins it */
        struct eddy__scope_link *head =
            atomic_load_explicit(&s->ended_stack, memory_order_relaxed);
        do
            l->next = head;
        while (!atomic_compare_exchange_weak_explicit(&s->ended_stack, &head, l,
                                                      memory_order_seq_cst,
                                                      memory_order_relaxed));
        if (atomic_load_explicit(&s->nexters_waiting, memory_order_seq_cst) != 0) {
            eddy__lock_acquire(&s->lock);
            struct eddy__waiter *w = eddy__waitq_pop(&s->nexters);
            if (w != NULL)
                eddy__waiter_signal(w, EDDY__W_SIGNALLED);
            eddy__lock_release(&s->lock);
        }
    }
    /* the last touch of s, unless it was the last child */
    if (atomic_fetch_sub_explicit(&s->nlive, 1, memory_order_acq_rel) == 1) {
        eddy__lock_acquire(&s->lock);
        count_fall_locked(s);
        eddy__lock_release(&s->lock);
    }
    if (!kept)
        eddy__task_unref(t);
}

/* -------------------------------------------------------------- deadline */

static void give_deadline(struct eddy__task *t, uint64_t d)
{
    atomic_store_explicit(&t->ext_deadline_ns, d, memory_order_relaxed);
    /* a wait in progress armed its timer for the old deadline: a wake
       makes it look again (waits loop on their own condition) */
    eddy__wake(t);
}

int eddy_scope_deadline(eddy_scope *s, int64_t timeout_ms)
{
    if (s == NULL)
        return -EINVAL;
    uint64_t d = eddy__deadline_after_ms(timeout_ms);
    eddy__lock_acquire(&s->lock);
    if (d < atomic_load_explicit(&s->deadline_ns, memory_order_relaxed)) {
        atomic_store_explicit(&s->deadline_ns, d, memory_order_relaxed);
        scan_live(s, give_deadline, d);
    }
    eddy__lock_release(&s->lock);
    return 0;
}

/* ------------------------------------------------------------------ next */

/* Moves what ended since into the FIFO, oldest first (the stack holds the
   newest on top). Caller holds the lock. */
static void take_ended_locked(eddy_scope *s)
{
    struct eddy__scope_link *l =
        atomic_exchange_explicit(&s->ended_stack, NULL, memory_order_acquire);
    if (l == NULL)
        return;
    struct eddy__scope_link *rev = NULL, *tail = l; /* the oldest is last */
    while (l != NULL) {
        struct eddy__scope_link *next = l->next;
        l->next = rev;
        rev = l;
        l = next;
    }
    if (s->ended_tail != NULL)
        s->ended_tail->next = rev;
    else
        s->ended_head = rev;
    s->ended_tail = tail;
}

/* The oldest ended child the scope kept; caller holds the lock. */
static struct eddy__task *ended_pop(eddy_scope *s)
{
    if (s->ended_head == NULL)
        take_ended_locked(s);
    struct eddy__scope_link *l = s->ended_head;
    if (l == NULL)
        return NULL;
    s->ended_head = l->next;
    if (s->ended_head == NULL)
        s->ended_tail = NULL;
    l->next = NULL;
    s->nkept--;
    return eddy__scope_link_task(l);
}

int eddy_scope_next(eddy_scope *s, void **result, int64_t timeout_ms)
{
    if (s == NULL)
        return -EINVAL;
    int rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    uint64_t deadline = eddy__deadline_after_ms(timeout_ms);
    eddy__lock_acquire(&s->lock);
    for (;;) {
        struct eddy__task *t = ended_pop(s);
        if (t != NULL) {
            eddy__lock_release(&s->lock);
            /* complete already: the join returns at once and consumes the
               handle (the scope's reference) */
            return eddy__task_join(t, result, UINT64_MAX);
        }
        if (s->nkept == 0) {
            eddy__lock_release(&s->lock);
            return -ENOENT;
        }
        struct eddy__waiter w;
        rc = eddy__waiter_init(&w, NULL);
        if (rc < 0)
            break;
        eddy__waitq_push(&s->nexters, &w);
        atomic_fetch_add_explicit(&s->nexters_waiting, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&s->ended_stack, memory_order_seq_cst) != NULL) {
            /* one ended before we were counted: it may not wake us */
            eddy__waitq_remove(&s->nexters, &w);
            atomic_fetch_sub_explicit(&s->nexters_waiting, 1, memory_order_relaxed);
            continue;
        }
        rc = eddy__waitq_wait(&s->lock, &s->nexters, &w, deadline, EDDY__WAIT_SCOPE, s);
        atomic_fetch_sub_explicit(&s->nexters_waiting, 1, memory_order_relaxed);
        if (rc < 0)
            break;
    }
    eddy__lock_release(&s->lock);
    return rc;
}

/* --------------------------------------------------------- fail, cancel */

int eddy_scope_fail(eddy_scope *s, int err)
{
    if (s == NULL || err >= 0)
        return -EINVAL;
    eddy__lock_acquire(&s->lock);
    if (s->err == 0)
        s->err = err;
    cancel_locked(s);
    eddy__lock_release(&s->lock);
    return 0;
}

void eddy_scope_cancel(eddy_scope *s)
{
    if (s == NULL)
        return;
    eddy__lock_acquire(&s->lock);
    if (s->err == 0)
        s->err = -ECANCELED;
    cancel_locked(s);
    eddy__lock_release(&s->lock);
}

/* ----------------------------------------------------------------- close */

/* Every child ended and none touches s any more. Caller holds the lock. */
static bool all_gone(eddy_scope *s)
{
    return atomic_load_explicit(&s->nlive, memory_order_acquire) == 0 && s->falls == s->rises;
}

/* Waits, lock held, until the last child went or (cancellable) the
   caller's own abort or deadline ends the wait: its error. */
static int close_wait(eddy_scope *s, bool cancellable)
{
    struct eddy__waiter w;
    int rc = eddy__waiter_init(&w, NULL);
    if (rc < 0)
        return rc;
    eddy__waitq_push(&s->closers, &w);
    if (cancellable) {
        rc = eddy__waitq_wait(&s->lock, &s->closers, &w, UINT64_MAX, EDDY__WAIT_SCOPE, s);
        return rc < 0 ? rc : 0;
    }
    /* the children are aborted and the caller's abort or deadline would
       end every wait at once: wait regardless of them */
    while (w.state == EDDY__W_WAITING) {
        eddy__lock_release(&s->lock);
        eddy__wait_uncancellable_on(EDDY__WAIT_SCOPE, s, 0);
        eddy__lock_acquire(&s->lock);
    }
    return 0;
}

int eddy_scope_close(eddy_scope *s)
{
    if (s == NULL)
        return -EINVAL;
    eddy__lock_acquire(&s->lock);
    s->closing = true;
    sub_live_locked(s, s->credits);
    s->credits = 0;
    while (!all_gone(s)) {
        int rc = close_wait(s, !s->cancelled);
        if (rc == -ENOMEM) {
            /* a plain thread without a waiter: poll, children end anyway */
            eddy__lock_release(&s->lock);
            eddy_sleep_ms(1);
            eddy__lock_acquire(&s->lock);
        } else if (rc < 0) { /* the caller was aborted or its deadline passed */
            if (s->err == 0)
                s->err = rc;
            cancel_locked(s);
        }
    }
    int rc = s->err;
    uint64_t dl = atomic_load_explicit(&s->deadline_ns, memory_order_relaxed);
    if (rc == 0 && dl != UINT64_MAX &&
        atomic_load_explicit(&s->last_end_ns, memory_order_relaxed) >= dl)
        rc = -ETIMEDOUT;
    /* the handles nobody took: all children are complete, so giving the
       handle up is all a join would do */
    take_ended_locked(s);
    struct eddy__scope_link *l = s->ended_head;
    s->ended_head = s->ended_tail = NULL;
    s->nkept = 0;
    eddy__lock_release(&s->lock);
    while (l != NULL) {
        struct eddy__scope_link *next = l->next;
        eddy__task_detach(eddy__scope_link_task(l));
        l = next;
    }
    for (struct slot_chunk *c = s->chunks, *next; c != NULL; c = next) {
        next = c->next;
        if (c != &s->first)
            eddy__dealloc(c, sizeof *c);
    }
    eddy__dealloc_line(s, sizeof *s);
    return rc;
}
