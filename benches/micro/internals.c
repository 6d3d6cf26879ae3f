/*
 * benches/micro/internals.c: microbenchmarks of eddy's internal pieces,
 * reached through the static library and the internal headers, one thread,
 * no runtime:
 *
 *  - fiber switch: two fibers switching to each other (rt/fiber.h);
 *  - run queue: owner push+pop pairs, and steals between two rings
 *    (sched/deque.h); tasks are fake non-NULL pointers, never dereferenced,
 *    as in tests/sched/test_deque.c;
 *  - timer wheel: insert+cancel pairs on a wheel that already holds armed
 *    timers spread over its levels (sched/timer.h);
 *  - channel: try_send+try_recv pairs, uncontended, from a plain thread
 *    (the try calls never suspend).
 *
 * Each run function does a batch of operations, so the harness's per
 * iteration overhead is spread over many of them.
 */
#include "benches/micro/workloads.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <eddy/sync.h>

#include "rt/fiber.h"
#include "sched/deque.h"
#include "sched/timer.h"

/* ----------------------------------------------------------------- fibers */

#define FIBER_STACK (64u * 1024u)

struct eb_fibers {
    struct eddy__fiber main, a, b;
    void *stack_a, *stack_b;
    uint32_t left; /* round trips a -> b -> a still to do in this batch */
};

static void fiber_a(void *arg)
{
    struct eb_fibers *f = arg;
    for (;;) {
        while (f->left > 0) {
            f->left--;
            eddy__fiber_switch(&f->a, &f->b);
        }
        eddy__fiber_switch(&f->a, &f->main);
    }
}

static void fiber_b(void *arg)
{
    struct eb_fibers *f = arg;
    for (;;)
        eddy__fiber_switch(&f->b, &f->a);
}

static void *map_stack(void)
{
    void *m = mmap(NULL, FIBER_STACK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

int eb_fibers_new(struct eb_fibers **out)
{
    struct eb_fibers *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -ENOMEM;
    f->stack_a = map_stack();
    f->stack_b = map_stack();
    if (f->stack_a == NULL || f->stack_b == NULL) {
        eb_fibers_free(f);
        return -ENOMEM;
    }
    eddy__fiber_init(&f->a, f->stack_a, FIBER_STACK, fiber_a, f);
    eddy__fiber_init(&f->b, f->stack_b, FIBER_STACK, fiber_b, f);
    *out = f;
    return 0;
}

int64_t eb_fibers_run(struct eb_fibers *f, uint32_t switches)
{
    /* The calling thread's context, taken afresh on every batch: the
       harness may run benchmarks on different threads. */
    eddy__fiber_init_thread(&f->main);
    f->left = switches / 2;
    eddy__fiber_switch(&f->main, &f->a);
    return (int64_t)(switches / 2) * 2;
}

void eb_fibers_free(struct eb_fibers *f)
{
    if (f == NULL)
        return;
    if (f->stack_a != NULL) {
        eddy__fiber_destroy(&f->a);
        munmap(f->stack_a, FIBER_STACK);
    }
    if (f->stack_b != NULL) {
        eddy__fiber_destroy(&f->b);
        munmap(f->stack_b, FIBER_STACK);
    }
    free(f);
}

/* ------------------------------------------------------------- run queue */

struct eb_deques {
    struct eddy__deque owner, thief; /* _Alignas(64) inside: aligned_alloc */
};

static struct eddy__task *fake_task(uintptr_t i)
{
    return (struct eddy__task *)(i + 1);
}

int eb_deques_new(struct eb_deques **out)
{
    size_t sz = (sizeof(struct eb_deques) + 63) / 64 * 64;
    struct eb_deques *d = aligned_alloc(64, sz);
    if (d == NULL)
        return -ENOMEM;
    eddy__deque_init(&d->owner);
    eddy__deque_init(&d->thief);
    *out = d;
    return 0;
}

int64_t eb_deque_push_pop(struct eb_deques *d, uint32_t pairs)
{
    for (uint32_t i = 0; i < pairs; i++) {
        if (!eddy__deque_try_push(&d->owner, fake_task(i)))
            return -ENOSPC;
        if (eddy__deque_pop(&d->owner) != fake_task(i))
            return -EPROTO;
    }
    return pairs;
}

/* One round: the owner fills half its ring, then the thief steals half of
   what is left, again and again, until the owner's ring is empty; the thief
   runs (pops) everything it took, so its ring stays below half full. */
int64_t eb_deque_steal(struct eb_deques *d)
{
    const unsigned fill = EDDY_DEQUE_CAP / 2;
    for (unsigned i = 0; i < fill; i++)
        if (!eddy__deque_try_push(&d->owner, fake_task(i)))
            return -ENOSPC;
    int64_t moved = 0;
    unsigned n;
    while (eddy__deque_steal_into(&d->owner, &d->thief, &n) != NULL) {
        moved += n;
        while (eddy__deque_pop(&d->thief) != NULL)
            ;
    }
    if (moved != fill || eddy__deque_len(&d->owner) != 0)
        return -EPROTO;
    return moved;
}

void eb_deques_free(struct eb_deques *d)
{
    free(d);
}

/* ----------------------------------------------------------- timer wheel */

#define WHEEL_DISTANCES 1024u /* deadlines cycled through by the pairs */

struct eb_wheel {
    struct eddy__wheel w;
    uint32_t narmed;
    struct eddy__timer *armed; /* [narmed], in the wheel for good */
    struct eddy__timer probe;  /* inserted and cancelled by each pair */
    uint64_t dist[WHEEL_DISTANCES];
    uint64_t now;
};

static void no_fire(struct eddy__timer *t)
{
    (void)t;
}

/* xorshift64: deterministic spread of deadlines. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* A distance in ms whose magnitude is spread over the first four levels
   (1 ms .. ~16 s, 64 ms .. ~17 min, ...): 1 + rand % 64^(1 + rand % 4). */
static uint64_t rand_distance(uint64_t *s)
{
    unsigned level = (unsigned)(next_rand(s) % 4);
    uint64_t span = (uint64_t)1 << (6 * (level + 1));
    return 1 + next_rand(s) % span;
}

int eb_wheel_new(struct eb_wheel **out, uint32_t armed)
{
    struct eb_wheel *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->armed = calloc(armed ? armed : 1, sizeof *w->armed);
    if (w->armed == NULL) {
        free(w);
        return -ENOMEM;
    }
    w->narmed = armed;
    w->now = 1000;
    eddy__wheel_init(&w->w, w->now);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (uint32_t i = 0; i < armed; i++) {
        w->armed[i].fire = no_fire;
        eddy__wheel_insert(&w->w, &w->armed[i], w->now + rand_distance(&seed));
    }
    for (unsigned i = 0; i < WHEEL_DISTANCES; i++)
        w->dist[i] = rand_distance(&seed);
    w->probe.fire = no_fire;
    *out = w;
    return 0;
}

int64_t eb_wheel_insert_cancel(struct eb_wheel *w, uint32_t pairs)
{
    for (uint32_t i = 0; i < pairs; i++) {
        eddy__wheel_insert(&w->w, &w->probe, w->now + w->dist[i % WHEEL_DISTANCES]);
        if (!eddy__wheel_cancel(&w->w, &w->probe))
            return -EPROTO;
    }
    return pairs;
}

void eb_wheel_free(struct eb_wheel *w)
{
    if (w == NULL)
        return;
    for (uint32_t i = 0; i < w->narmed; i++)
        eddy__wheel_cancel(&w->w, &w->armed[i]);
    free(w->armed);
    free(w);
}

/* --------------------------------------------------------------- channel */

struct eb_chan_try {
    eddy_chan *ch;
    uint64_t next;
};

int eb_chan_try_new(struct eb_chan_try **out, uint32_t capacity)
{
    struct eb_chan_try *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    int rc = eddy_chan_new(&c->ch, capacity, sizeof(uint64_t));
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int64_t eb_chan_try_run(struct eb_chan_try *c, uint32_t pairs)
{
    for (uint32_t i = 0; i < pairs; i++) {
        uint64_t v = c->next++, got;
        int rc = eddy_chan_try_send(c->ch, &v);
        if (rc < 0)
            return rc;
        rc = eddy_chan_try_recv(c->ch, &got);
        if (rc < 0)
            return rc;
        if (got != v)
            return -EPROTO;
    }
    return pairs;
}

void eb_chan_try_free(struct eb_chan_try *c)
{
    if (c == NULL)
        return;
    eddy_chan_free(c->ch);
    free(c);
}
