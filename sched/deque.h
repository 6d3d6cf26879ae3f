/*
 * sched/deque.h: each worker's bounded run queue, a fixed ring in the manner
 * of Tokio's and Go's local queues (docs/design.md, "Run queues").
 *
 * One owner thread pushes at the tail and pops FIFO at the head; any number
 * of thieves steal half of it into their own ring. It never grows: when full
 * the owner moves half of it out (eddy__deque_push_or_overflow) for the
 * caller to put on the global queue. The ring stores task pointers only and
 * never dereferences them, so it knows nothing of the task layout.
 *
 * head packs two u32 cursors, (steal << 32) | real: real is the true head,
 * steal lags behind it while a thief is still copying its batch, which keeps
 * other thieves out and keeps the owner from overwriting those slots.
 * Cursors are u32 and wrap; capacity must be a power of two <= 2^15.
 */
#ifndef EDDY_SCHED_DEQUE_H
#define EDDY_SCHED_DEQUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef EDDY_DEQUE_CAP
#define EDDY_DEQUE_CAP 256 /* Tokio's and Go's size; stress builds use 4 */
#endif

struct eddy__task;

struct eddy__deque {
    _Alignas(64) _Atomic uint64_t head; /* any thread (atomic): (steal<<32)|real */
    _Alignas(64) _Atomic uint32_t tail; /* owner: worker writes; thieves read */
    _Alignas(64) struct eddy__task *_Atomic slots[EDDY_DEQUE_CAP];
};

/** Empties q. Owner, before the queue is shared. */
void eddy__deque_init(struct eddy__deque *q);

/**
 * Owner: appends t. When the ring is full, moves the older half of it plus t
 * into batch[] (which must hold EDDY_DEQUE_CAP / 2 + 1 pointers), oldest
 * first, and returns how many it put there (the caller owns them now: they
 * go to the global queue). Returns 0 when t went into the ring.
 */
unsigned eddy__deque_push_or_overflow(struct eddy__deque *q, struct eddy__task *t,
                                      struct eddy__task **batch);

/** Owner: appends t if there is room; false when full (t not taken). */
bool eddy__deque_try_push(struct eddy__deque *q, struct eddy__task *t);

/** Owner: removes the oldest task, NULL when empty. */
struct eddy__task *eddy__deque_pop(struct eddy__deque *q);

/** Owner of a ring no thief ever touches: eddy__deque_pop without the
    compare-and-swap. */
struct eddy__task *eddy__deque_pop_solo(struct eddy__deque *q);

/**
 * Thief (any thread but dst's owner is the caller): steals half of src
 * (rounded up) into dst, which the caller owns. Returns one of the stolen
 * tasks for the caller to run now (the rest are in dst), or NULL when src
 * was empty, dst is more than half full, or another thief got there first.
 * *n (may be NULL) receives the number of tasks stolen, the returned one
 * included.
 */
struct eddy__task *eddy__deque_steal_into(struct eddy__deque *src, struct eddy__deque *dst,
                                          unsigned *n);

/** Number of tasks in q (exact for the owner, an estimate for others). */
unsigned eddy__deque_len(const struct eddy__deque *q);

/** Room left in q, for the owner (pulling a batch from the global queue). */
unsigned eddy__deque_room(const struct eddy__deque *q);

#endif
