/*
 * sched/deque.c: each worker's bounded run queue (see deque.h), the ring of
 * Tokio's and Go's local queues (docs/design.md, "Run queues"). It owns the
 * cursor protocol only: who may move head and tail, in what order, and
 * which slots each side may touch. It does not own the tasks (it never
 * dereferences them), the global queue that overflow batches go to, the
 * LIFO slot, or the choice of victim; those live in worker.c and inject.c.
 *
 * The cursors, all u32 and wrapping (a slot is cursor & MASK):
 *
 *     steal <= real <= tail (in wrapping order),   tail - steal <= CAP
 *
 *   [steal, real)  being copied out by a thief; nobody else touches them
 *   [real, tail)   queued; the owner pops from real, thieves claim from real
 *   [tail, steal + CAP)  free; only the owner writes them
 *
 * steal == real when no steal is in progress. A thief moves real first (one
 * CAS that both claims its batch and shuts out other thieves), copies, then
 * moves steal up to real (a second CAS). The owner checks room against
 * steal, not real, so it never overwrites a slot a thief is still reading
 * (tokio#2387), and it tells full (tail - steal == CAP) from empty
 * (tail == real) by the difference of the u32 cursors, never by the masked
 * indices, which are equal in both cases.
 *
 * Memory order: slots are relaxed atomics; the ordering comes from head and
 * tail. The owner's release store of tail publishes the slots below it to
 * thieves (acquire load of tail). A thief's release CAS of steal tells the
 * owner (acquire load of head before it writes a slot) that its reads of
 * the batch are done. Every CAS that moves real is a release, so a thread
 * that acquires a head also sees a tail at least as new as its real.
 */
#include "sched/deque.h"
#include "sched/lock.h"

#include <assert.h>
#include <stddef.h>

#define CAP ((uint32_t)EDDY_DEQUE_CAP)
#define MASK (CAP - 1)
#define HALF (CAP / 2)

_Static_assert(EDDY_DEQUE_CAP >= 2 && EDDY_DEQUE_CAP <= (1 << 15),
               "EDDY_DEQUE_CAP must be in [2, 2^15]");
_Static_assert((EDDY_DEQUE_CAP & (EDDY_DEQUE_CAP - 1)) == 0,
               "EDDY_DEQUE_CAP must be a power of two");

static inline uint64_t pack(uint32_t steal, uint32_t real)
{
    return (uint64_t)steal << 32 | real;
}

static inline uint32_t steal_of(uint64_t head)
{
    return (uint32_t)(head >> 32);
}

static inline uint32_t real_of(uint64_t head)
{
    return (uint32_t)head;
}

void eddy__deque_init(struct eddy__deque *q)
{
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    for (uint32_t i = 0; i < CAP; i++)
        atomic_init(&q->slots[i], NULL);
}

/* Owner: the slot write and tail publish shared by both push calls. */
static inline void put(struct eddy__deque *q, uint32_t tail, struct eddy__task *t)
{
    atomic_store_explicit(&q->slots[tail & MASK], t, memory_order_relaxed);
    /* release: pairs with the acquire load of tail in eddy__deque_steal_into()
       (a thief that sees tail + 1 sees the slot written above) */
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
}

bool eddy__deque_try_push(struct eddy__deque *q, struct eddy__task *t)
{
    assert(t != NULL);
    /* acquire: pairs with the release CAS that sets steal = real in
       eddy__deque_steal_into(): the thief's reads of the slots below steal
       happen before the write into one of them in put() */
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    /* relaxed: only this thread (the owner) writes tail */
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t used = tail - steal_of(head);
    assert(used <= CAP);
    if (used >= CAP)
        return false;
    put(q, tail, t);
    return true;
}

unsigned eddy__deque_push_or_overflow(struct eddy__deque *q, struct eddy__task *t,
                                      struct eddy__task **batch)
{
    assert(t != NULL && batch != NULL);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        /* acquire: pairs with the thief's release CAS of steal, as in
           eddy__deque_try_push() */
        uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t steal = steal_of(head), real = real_of(head);
        assert(tail - steal <= CAP);
        if (tail - steal < CAP) {
            put(q, tail, t);
            return 0;
        }
        if (steal != real) {
            /* Full only because a thief is still copying [steal, real): it
               moves steal after a few loads (or, if it was preempted
               mid-copy, once it runs again: the one wait in this ring), and
               then there is room. Claiming [real, tail) instead would not
               free the slot at tail, which is one the thief is reading.
               Tokio hands t alone to the global queue here; waiting
               keeps every overflow a full half, oldest first. */
            eddy__cpu_relax();
            continue;
        }
        /* Full with no steal in progress: claim the oldest half. A thief
           that moves head first makes this fail; then retry, since its
           steal may have made room. */
        uint64_t next = pack(real + HALF, real + HALF);
        /* release: pairs with the acquire load of head in
           eddy__deque_steal_into() (a thief that sees the new real sees a
           tail above it). relaxed on failure: the loop reloads head. */
        if (!atomic_compare_exchange_weak_explicit(&q->head, &head, next,
                                                   memory_order_release,
                                                   memory_order_relaxed))
            continue;
        /* [real, real + HALF) is ours now: thieves start at the new real,
           and only this thread writes slots. */
        for (uint32_t i = 0; i < HALF; i++)
            batch[i] = atomic_load_explicit(&q->slots[(real + i) & MASK],
                                            memory_order_relaxed);
        batch[HALF] = t;
        return HALF + 1;
    }
}

/* Starts loading the header of the task that runs after the one being
   popped: it was queued long ago or by another worker, and its first read
   (the state word, when it starts running) was a cache miss in a third of
   the samples of a burst of spawns on two workers. A stale slot (stolen
   meanwhile) only wastes the prefetch. Not for a solo worker: its tasks
   are still in its own caches, and there it measured slower. */
static inline void prefetch_next(struct eddy__deque *q, uint32_t next, uint32_t tail)
{
    if (next != tail)
        __builtin_prefetch(atomic_load_explicit(&q->slots[next & MASK], memory_order_relaxed), 1, 3);
}

struct eddy__task *eddy__deque_pop(struct eddy__deque *q)
{
    /* relaxed: the owner reads no slot a thief wrote, so it needs nothing
       from the thieves' CASes; the CAS below rejects a stale value */
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t real;
    for (;;) {
        uint32_t steal = steal_of(head);
        real = real_of(head);
        assert(tail - real <= CAP);
        if (real == tail)
            return NULL; /* empty; tail - real, not a signed compare */
        /* With a steal in progress only real moves: steal stays on the
           thief's batch until the thief itself moves it. */
        uint64_t next = steal == real ? pack(real + 1, real + 1) : pack(steal, real + 1);
        /* release: pairs with the acquire load of head in
           eddy__deque_steal_into(), as in push_or_overflow. */
        if (atomic_compare_exchange_weak_explicit(&q->head, &head, next,
                                                  memory_order_release,
                                                  memory_order_relaxed))
            break;
    }
    /* The slot at real is ours after the CAS, and only this thread writes
       slots, so it cannot change under us. */
    prefetch_next(q, real + 1, tail);
    return atomic_load_explicit(&q->slots[real & MASK], memory_order_relaxed);
}

struct eddy__task *eddy__deque_pop_solo(struct eddy__deque *q)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t real = real_of(head);
    assert(steal_of(head) == real && tail - real <= CAP);
    if (real == tail)
        return NULL;
    atomic_store_explicit(&q->head, pack(real + 1, real + 1), memory_order_relaxed);
    return atomic_load_explicit(&q->slots[real & MASK], memory_order_relaxed);
}

struct eddy__task *eddy__deque_steal_into(struct eddy__deque *src, struct eddy__deque *dst,
                                          unsigned *n)
{
    assert(src != dst);
    /* dst: the caller owns it, so its tail is ours to read plainly; its
       steal may be behind because somebody is stealing from dst. */
    uint32_t dst_tail = atomic_load_explicit(&dst->tail, memory_order_relaxed);
    /* acquire: pairs with the release CAS of steal by a thief of dst, so
       its reads are done before the slot writes below (as in try_push) */
    uint64_t dst_head = atomic_load_explicit(&dst->head, memory_order_acquire);
    if (dst_tail - steal_of(dst_head) > HALF)
        return NULL;

    uint32_t real, count;
    /* acquire: pairs with the release CASes on head (pop, overflow and
       both of a thief's), so the tail loaded next is at least this real */
    uint64_t head = atomic_load_explicit(&src->head, memory_order_acquire);
    for (;;) {
        uint32_t steal = steal_of(head);
        real = real_of(head);
        if (steal != real)
            return NULL; /* another thief is copying; let it finish */
        /* acquire: pairs with the release store of tail in put() (the
           slots below tail are written) */
        uint32_t tail = atomic_load_explicit(&src->tail, memory_order_acquire);
        uint32_t len = tail - real;
        if (len == 0)
            return NULL;
        if (len > CAP) {
            /* head went stale while we loaded tail (the owner popped and
               pushed past it). The CAS would fail anyway, barring ABA, but
               do not size a batch from a snapshot that is not a queue (the
               guard in Go's runqgrab). */
            head = atomic_load_explicit(&src->head, memory_order_acquire);
            continue;
        }
        count = len - len / 2;
        /* Claim [real, real + count) by moving real only; steal stays,
           which marks the steal in progress. release: like every CAS that
           moves real, pairs with the acquire loads of head in
           eddy__deque_len() and here (who sees our real sees the tail we
           saw). acquire on failure: pairs with those same release CASes,
           since the head we retry with goes with a fresh tail load. */
        if (atomic_compare_exchange_weak_explicit(&src->head, &head,
                                                  pack(steal, real + count),
                                                  memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    assert(count >= 1 && count <= HALF);

    /* Copy the first count - 1 into dst; the last is for the caller. dst has
       room: dst_tail - dst steal <= HALF and count - 1 < HALF. */
    for (uint32_t i = 0; i + 1 < count; i++) {
        struct eddy__task *t = atomic_load_explicit(&src->slots[(real + i) & MASK],
                                                    memory_order_relaxed);
        atomic_store_explicit(&dst->slots[(dst_tail + i) & MASK], t, memory_order_relaxed);
    }
    struct eddy__task *ret = atomic_load_explicit(&src->slots[(real + count - 1) & MASK],
                                                  memory_order_relaxed);

    /* Done reading src: move steal up to real. The owner may have popped
       (moved real) meanwhile; nobody else can move head while steal lags. */
    head = pack(real, real + count);
    for (;;) {
        uint32_t now = real_of(head);
        assert(steal_of(head) == real);
        /* release: pairs with the acquire load of head in try_push,
           push_or_overflow and the dst check above: our slot reads happen
           before the owner reuses these slots. relaxed on failure: only
           real changed, and we recompute from it. */
        if (atomic_compare_exchange_weak_explicit(&src->head, &head, pack(now, now),
                                                  memory_order_release,
                                                  memory_order_relaxed))
            break;
    }

    if (count > 1)
        /* release: pairs with the acquire load of tail in a thief of dst */
        atomic_store_explicit(&dst->tail, dst_tail + count - 1, memory_order_release);
    if (n != NULL)
        *n = count;
    return ret;
}

unsigned eddy__deque_len(const struct eddy__deque *q)
{
    /* acquire: pairs with the release CASes on head, so tail >= real */
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    /* relaxed: a count, not a claim on any slot; the acquire above is what
       keeps tail >= real */
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t len = tail - real_of(head);
    return len > CAP ? CAP : len; /* others may see a stale head */
}

unsigned eddy__deque_room(const struct eddy__deque *q)
{
    /* acquire: pairs with the thief's release CAS of steal, as in try_push,
       so the room reported may be filled at once */
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t used = tail - steal_of(head);
    assert(used <= CAP);
    return CAP - used;
}
