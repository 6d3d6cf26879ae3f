/*
 * sched/timer.h: a hierarchical timing wheel (Varghese & Lauck; the shape of
 * Tokio's: 6 levels x 64 slots, 1 ms at level 0, ~2^36 ms of range).
 * Insert and cancel are O(1): each level keeps 64 intrusive lists and a
 * 64-bit occupied mask; later levels cascade down as time advances.
 *
 * The wheel is a plain single-threaded structure: its user (each worker's
 * timer state in sched/) holds the lock. Timer entries are intrusive: they
 * live inside their owner (a task, a request) and the wheel never allocates.
 * Time is in milliseconds on the caller's monotonic clock.
 */
#ifndef EDDY_SCHED_TIMER_H
#define EDDY_SCHED_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDDY__WHEEL_LEVELS 6
#define EDDY__WHEEL_SLOTS 64

struct eddy__timer;
typedef void (*eddy__timer_fn)(struct eddy__timer *t);

struct eddy__timer {
    struct eddy__timer *next, *prev; /* guarded by: the wheel's lock */
    uint64_t deadline_ms;            /* absolute, on the wheel's clock */
    eddy__timer_fn fire;             /* set by the owner before insert */
    void *armed_in;                  /* the wheel it is in; NULL when not armed */
    void *owner;                     /* user of the wheel (sched/ stores the
                                        worker that last armed it); the wheel
                                        never reads or writes it */
    uint8_t level, slot;             /* position while armed */
};

struct eddy__wheel_level {
    uint64_t occupied;                                /* bit s: slots[s] not empty */
    struct eddy__timer *slots[EDDY__WHEEL_SLOTS];     /* doubly linked, NULL-terminated */
};

struct eddy__wheel {
    uint64_t elapsed_ms;  /* the wheel's "now": every deadline <= it has fired */
    size_t count;         /* armed timers */
    struct eddy__timer *expired; /* inserted with a deadline already past */
    struct eddy__wheel_level levels[EDDY__WHEEL_LEVELS];
};

/** Sets up an empty wheel whose time starts at now_ms. */
void eddy__wheel_init(struct eddy__wheel *w, uint64_t now_ms);

/**
 * Arms t (which must not be armed) to fire at deadline_ms. A deadline at or
 * before the wheel's time fires at the next advance. t->fire must be set.
 */
void eddy__wheel_insert(struct eddy__wheel *w, struct eddy__timer *t, uint64_t deadline_ms);

/** Disarms t. Returns true if it was armed in w (then it will not fire). */
bool eddy__wheel_cancel(struct eddy__wheel *w, struct eddy__timer *t);

/**
 * Earliest time at which advance may fire something: UINT64_MAX when the
 * wheel is empty, <= elapsed when something is due now. May be earlier than
 * the real earliest deadline (a higher-level slot's start), never later.
 */
uint64_t eddy__wheel_next_expiry(const struct eddy__wheel *w);

/**
 * Moves the wheel's time to now_ms (never backwards), cascading as needed,
 * and calls t->fire(t) for each timer whose deadline is <= now_ms, after
 * disarming it (armed_in is NULL during the call). fire must not touch the
 * wheel. Returns the number fired.
 */
size_t eddy__wheel_advance(struct eddy__wheel *w, uint64_t now_ms);

#endif
