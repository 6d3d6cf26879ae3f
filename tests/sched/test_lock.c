/*
 * tests/sched/test_lock.c: eddy's internal futex lock (sched/lock.h) and
 * the per-thread cache of small blocks behind eddy__alloc (sched/alloc.c).
 *
 * The lock: threads (more than CPUs, so holders get preempted and waiters
 * reach the futex sleep) update a two-word invariant under it; any overlap
 * of two holders breaks the invariant or loses an increment.
 * The cache: blocks of every small size move between threads (allocated on
 * one, freed on another), each filled with a pattern its owner checks, so a
 * block handed out twice or of the wrong size shows; threads exit with full
 * caches (flushed at exit: the sanitizer builds see a leak otherwise).
 */
/* ctest-labels: concurrency stress */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "sched/alloc.h"
#include "sched/lock.h"

/* ----------------------------------------------------------------- lock */

enum { LOCK_THREADS = 6, LOCK_ITERS = 20000 };

struct guarded {
    struct eddy__lock lock;
    uint64_t a, b;      /* guarded by: lock; b == 2 * a outside it */
    unsigned broken;    /* guarded by: lock */
};

static void *lock_worker(void *arg)
{
    struct guarded *g = arg;
    for (unsigned i = 0; i < LOCK_ITERS; i++) {
        eddy__lock_acquire(&g->lock);
        if (g->b != 2 * g->a)
            g->broken++;
        uint64_t a = g->a;
        g->a = a + 1;
        /* a longer section now and then, so waiters pile up and sleep */
        if (i % 256 == 0)
            for (volatile int k = 0; k < 2000; k++)
                ;
        g->b = 2 * (a + 1);
        eddy__lock_release(&g->lock);
    }
    return NULL;
}

static void lock_excludes_under_contention(void **state)
{
    (void)state;
    struct guarded g = { .lock = EDDY__LOCK_INIT };
    pthread_t th[LOCK_THREADS];
    for (int i = 0; i < LOCK_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, lock_worker, &g), 0);
    for (int i = 0; i < LOCK_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(g.broken, 0);
    assert_int_equal(g.a, (uint64_t)LOCK_THREADS * LOCK_ITERS);
    assert_int_equal(g.b, 2 * g.a);
    /* released for good: a last acquire does not block */
    eddy__lock_acquire(&g.lock);
    eddy__lock_release(&g.lock);
    assert_int_equal(atomic_load(&g.lock.v), 0);
}

/* ---------------------------------------------------------------- cache */

enum { CACHE_THREADS = 4, CACHE_ROUNDS = 3000, SLOTS = 64, MAX_SIZE = 300 };

/* A mailbox per thread: blocks another thread allocated, to free here. */
struct mailbox {
    struct eddy__lock lock;
    struct block *head; /* guarded by: lock */
};

struct block {
    struct block *next; /* in a mailbox */
    size_t size;
    unsigned char tag;
    unsigned char data[];
};

static struct mailbox boxes[CACHE_THREADS];
static atomic_uint bad_blocks;

static void check_and_free(struct block *b)
{
    for (size_t i = 0; i + sizeof *b < b->size; i++)
        if (b->data[i] != b->tag) {
            atomic_fetch_add(&bad_blocks, 1);
            break;
        }
    eddy__dealloc(b, b->size);
}

static void *cache_worker(void *arg)
{
    unsigned self = (unsigned)(uintptr_t)arg;
    uint32_t rng = self * 2654435761u + 1;
    struct block *mine[SLOTS] = { 0 };
    for (unsigned r = 0; r < CACHE_ROUNDS; r++) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        unsigned slot = rng % SLOTS;
        if (mine[slot] != NULL) {
            /* half of them to another thread's mailbox, half freed here */
            struct block *b = mine[slot];
            mine[slot] = NULL;
            if (rng & 1) {
                struct mailbox *mb = &boxes[(self + 1 + (rng >> 8) % (CACHE_THREADS - 1)) %
                                            CACHE_THREADS];
                eddy__lock_acquire(&mb->lock);
                b->next = mb->head;
                mb->head = b;
                eddy__lock_release(&mb->lock);
            } else {
                check_and_free(b);
            }
        }
        size_t size = sizeof(struct block) + (rng >> 4) % (MAX_SIZE - sizeof(struct block));
        struct block *b = (rng & 2) ? eddy__calloc(size) : eddy__alloc(size);
        assert_non_null(b);
        if (rng & 2)
            for (size_t i = 0; i < size; i++)
                if (((unsigned char *)b)[i] != 0) {
                    atomic_fetch_add(&bad_blocks, 1);
                    break;
                }
        b->size = size;
        b->tag = (unsigned char)(rng >> 24);
        memset(b->data, b->tag, size - sizeof *b);
        mine[slot] = b;
        if (r % 64 == 0) { /* empty this thread's mailbox */
            struct mailbox *mb = &boxes[self];
            eddy__lock_acquire(&mb->lock);
            struct block *in = mb->head;
            mb->head = NULL;
            eddy__lock_release(&mb->lock);
            while (in != NULL) {
                struct block *nx = in->next;
                check_and_free(in);
                in = nx;
            }
        }
    }
    for (unsigned i = 0; i < SLOTS; i++)
        if (mine[i] != NULL)
            check_and_free(mine[i]);
    return NULL; /* exits with a full cache: flushed by its destructor */
}

static void small_blocks_move_between_threads_intact(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) { /* the second on fresh threads */
        pthread_t th[CACHE_THREADS];
        for (unsigned i = 0; i < CACHE_THREADS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, cache_worker, (void *)(uintptr_t)i), 0);
        for (unsigned i = 0; i < CACHE_THREADS; i++)
            pthread_join(th[i], NULL);
        for (unsigned i = 0; i < CACHE_THREADS; i++) { /* what was mailed last */
            struct block *in = boxes[i].head;
            boxes[i].head = NULL;
            while (in != NULL) {
                struct block *nx = in->next;
                check_and_free(in);
                in = nx;
            }
        }
    }
    assert_int_equal(atomic_load(&bad_blocks), 0);
}

static void realloc_keeps_contents_across_the_cached_sizes(void **state)
{
    (void)state;
    size_t sizes[] = { 1, 8, 16, 17, 100, 256, 257, 4000, 200, 3 };
    size_t old = 5;
    unsigned char *p = eddy__alloc(old);
    assert_non_null(p);
    memset(p, 0xab, old);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        p = eddy__realloc(p, old, n);
        assert_non_null(p);
        size_t keep = old < n ? old : n;
        for (size_t k = 0; k < keep; k++)
            assert_int_equal(p[k], 0xab);
        memset(p, 0xab, n);
        old = n;
    }
    eddy__dealloc(p, old);
    char *s = eddy__strdup("a string of some length");
    assert_string_equal(s, "a string of some length");
    eddy__strfree(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(lock_excludes_under_contention),
    cmocka_unit_test(small_blocks_move_between_threads_intact),
    cmocka_unit_test(realloc_keeps_contents_across_the_cached_sizes),
};

EDDY_TEST_MAIN(tests, 120)
