/*
 * sched/timer.c: the hierarchical timing wheel declared in sched/timer.h
 * (docs/design.md, "Timers"; the shape of Tokio's wheel). It owns where
 * an armed timer sits (level, slot, the occupied masks, the expired list),
 * cascading timers down as time advances, and disarming and firing them in
 * deadline order at 1 ms granularity. It does not own the clock (the caller
 * passes milliseconds), the lock (the caller holds it: the wheel is a plain
 * single-threaded structure), the timers' memory (intrusive, embedded in
 * their owner; the wheel never allocates), or cancellation from other
 * workers (the per-worker timer state above it).
 *
 * Placement. A timer with deadline D > elapsed E goes to the level of the
 * highest 6-bit group in which D and E differ (level 0 when they differ in
 * the low group only), into slot (D >> 6*level) & 63. A deadline 2^36 ms or
 * more away is clamped to the top level and keeps its slot index; when that
 * slot comes round it cascades and is placed again, until it is in range.
 *
 * Invariant (levels below the top): a timer at level L agrees with E on all
 * bits above group L and its slot is strictly after E's slot at L. So each
 * level's timers all come before any of the next level's, the slot under E
 * is always empty, and next-expiry is the first occupied slot after E's in
 * the lowest non-empty level. Only the top level may hold timers in, or
 * "behind", E's slot (far deadlines that wrapped); those are due one
 * rotation (2^36 ms) later. advance() preserves the invariant because it
 * only moves E to the start of the earliest occupied slot (and empties that
 * slot at once) or to a time before every occupied slot.
 *
 * Times must stay below 2^63 ms; a far deadline costs one cascade per 2^36 ms
 * (~2.2 years) of advance.
 */
#include "sched/timer.h"

#include <assert.h>

#define LEVEL_BITS 6
#define SLOT_MASK ((uint64_t)EDDY__WHEEL_SLOTS - 1)
#define TOP_LEVEL (EDDY__WHEEL_LEVELS - 1)
/* Span of the whole wheel, 64^6 ms = 2^36 ms (~2.2 years). */
#define WHEEL_RANGE ((uint64_t)1 << (LEVEL_BITS * EDDY__WHEEL_LEVELS))
/* t->level of a timer on w->expired. */
#define LEVEL_EXPIRED EDDY__WHEEL_LEVELS

_Static_assert(EDDY__WHEEL_SLOTS == 64, "occupied is a 64-bit mask of 6-bit slot numbers");
_Static_assert(LEVEL_EXPIRED <= UINT8_MAX, "level is a uint8_t");

/* Width of one slot at level l: 64^l ms. */
static uint64_t slot_range(unsigned l)
{
    return (uint64_t)1 << (LEVEL_BITS * l);
}

/* Width of one full rotation of level l: 64^(l+1) ms. */
static uint64_t level_range(unsigned l)
{
    return (uint64_t)1 << (LEVEL_BITS * (l + 1));
}

static uint64_t rotr64(uint64_t x, unsigned n)
{
    n &= 63;
    return n ? (x >> n) | (x << (64 - n)) : x;
}

static struct eddy__timer **list_of(struct eddy__wheel *w, const struct eddy__timer *t)
{
    if (t->level == LEVEL_EXPIRED)
        return &w->expired;
    return &w->levels[t->level].slots[t->slot];
}

static void list_push(struct eddy__timer **head, struct eddy__timer *t)
{
    t->prev = NULL;
    t->next = *head;
    if (*head != NULL)
        (*head)->prev = t;
    *head = t;
}

/*
 * Links t (already counted and marked armed) into the expired list or the
 * slot its deadline maps to relative to w->elapsed_ms.
 */
static void place(struct eddy__wheel *w, struct eddy__timer *t)
{
    uint64_t now = w->elapsed_ms, when = t->deadline_ms;

    if (when <= now) {
        t->level = LEVEL_EXPIRED;
        t->slot = 0;
        list_push(&w->expired, t);
        return;
    }
    /* | SLOT_MASK: differing only in group 0 (or not at all) means level 0. */
    uint64_t masked = (now ^ when) | SLOT_MASK;
    if (masked >= WHEEL_RANGE)
        masked = WHEEL_RANGE - 1; /* out of range: clamp to the top level */
    unsigned level = (unsigned)(63 - __builtin_clzll(masked)) / LEVEL_BITS;
    unsigned slot = (unsigned)((when >> (LEVEL_BITS * level)) & SLOT_MASK);

    assert(level < EDDY__WHEEL_LEVELS);
    t->level = (uint8_t)level;
    t->slot = (uint8_t)slot;
    list_push(&w->levels[level].slots[slot], t);
    w->levels[level].occupied |= (uint64_t)1 << slot;
}

/* Unlinks an armed t from its list, clearing the occupied bit if it empties. */
static void unlink_timer(struct eddy__wheel *w, struct eddy__timer *t)
{
    struct eddy__timer **head = list_of(w, t);

    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        *head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    if (*head == NULL && t->level != LEVEL_EXPIRED)
        w->levels[t->level].occupied &= ~((uint64_t)1 << t->slot);
    t->next = t->prev = NULL;
}

/*
 * Finds the earliest occupied slot of the wheel proper (not the expired
 * list): its level, slot and start time, which is <= the deadline of every
 * timer in it and > elapsed_ms. Returns false when every level is empty.
 */
static bool next_slot(const struct eddy__wheel *w, unsigned *level_out, unsigned *slot_out,
                      uint64_t *when_out)
{
    uint64_t now = w->elapsed_ms;

    for (unsigned l = 0; l < EDDY__WHEEL_LEVELS; l++) {
        uint64_t occupied = w->levels[l].occupied;
        if (occupied == 0)
            continue;
        unsigned cur = (unsigned)((now >> (LEVEL_BITS * l)) & SLOT_MASK);
        /* bit i of ahead: slot cur + i (mod 64); the slot under now (i = 0)
           only ever holds wrapped top-level timers, due a rotation later. */
        uint64_t ahead = rotr64(occupied, cur) & ~(uint64_t)1;
        unsigned dist = ahead != 0 ? (unsigned)__builtin_ctzll(ahead) : EDDY__WHEEL_SLOTS;
        assert(ahead != 0 || l == TOP_LEVEL);
        /* dist <= 64 and cur <= 63: no mod, a wrap lands in the next rotation
           (top level only, by the invariant above). */
        uint64_t start = now & ~(level_range(l) - 1);
        uint64_t off = (uint64_t)(cur + dist) * slot_range(l);
        *level_out = l;
        *slot_out = (cur + dist) & (unsigned)SLOT_MASK;
        *when_out = start > UINT64_MAX - 1 - off ? UINT64_MAX - 1 : start + off;
        return true;
    }
    return false;
}

/*
 * Walks a list detached from the wheel: fires each timer whose deadline is
 * <= elapsed_ms (disarmed first), places the others again relative to
 * elapsed_ms (lower levels, as a slot's timers cascade down). Returns the
 * number fired.
 */
static size_t drain(struct eddy__wheel *w, struct eddy__timer *t)
{
    size_t fired = 0;

    while (t != NULL) {
        struct eddy__timer *next = t->next; /* fire may reuse t's memory */
        if (t->deadline_ms <= w->elapsed_ms) {
            t->next = t->prev = NULL;
            t->armed_in = NULL;
            w->count--;
            fired++;
            t->fire(t);
        } else {
            place(w, t);
        }
        t = next;
    }
    return fired;
}

void eddy__wheel_init(struct eddy__wheel *w, uint64_t now_ms)
{
    w->elapsed_ms = now_ms;
    w->count = 0;
    w->expired = NULL;
    for (unsigned l = 0; l < EDDY__WHEEL_LEVELS; l++) {
        w->levels[l].occupied = 0;
        for (unsigned s = 0; s < EDDY__WHEEL_SLOTS; s++)
            w->levels[l].slots[s] = NULL;
    }
}

void eddy__wheel_insert(struct eddy__wheel *w, struct eddy__timer *t, uint64_t deadline_ms)
{
    assert(t->armed_in == NULL);
    assert(t->fire != NULL);
    t->deadline_ms = deadline_ms;
    t->armed_in = w;
    w->count++;
    place(w, t);
}

bool eddy__wheel_cancel(struct eddy__wheel *w, struct eddy__timer *t)
{
    if (t->armed_in != w)
        return false;
    unlink_timer(w, t);
    t->armed_in = NULL;
    assert(w->count > 0);
    w->count--;
    return true;
}

uint64_t eddy__wheel_next_expiry(const struct eddy__wheel *w)
{
    unsigned level, slot;
    uint64_t when;

    if (w->expired != NULL)
        return w->elapsed_ms;
    if (!next_slot(w, &level, &slot, &when))
        return UINT64_MAX;
    return when;
}

/*
 * Fires the expired list, then jumps from one occupied slot to the next
 * (never through empty time): each slot that comes due at or before now_ms
 * is emptied, its timers fired if due (always so at level 0) or cascaded to
 * a lower level. Slots come due in time order, and a slot's timers are due
 * no earlier than its start, hence fires are in deadline order to the ms.
 * fire must not touch the wheel (no insert, cancel or advance, not even for
 * its own timer): drain() walks a detached slot while placing its timers
 * back, so a call from fire would see a half-drained wheel, and a timer it
 * inserted could fire out of order or not until the next advance.
 */
size_t eddy__wheel_advance(struct eddy__wheel *w, uint64_t now_ms)
{
    size_t fired = 0;
    unsigned level, slot;
    uint64_t when;

    if (w->expired != NULL) {
        struct eddy__timer *list = w->expired;
        w->expired = NULL;
        fired += drain(w, list);
    }
    while (next_slot(w, &level, &slot, &when) && when <= now_ms) {
        assert(when > w->elapsed_ms);
        w->elapsed_ms = when;
        struct eddy__wheel_level *lv = &w->levels[level];
        struct eddy__timer *list = lv->slots[slot];
        lv->slots[slot] = NULL;
        lv->occupied &= ~((uint64_t)1 << slot);
        fired += drain(w, list);
    }
    if (now_ms > w->elapsed_ms)
        w->elapsed_ms = now_ms;
    return fired;
}
