/*
 * sched/alloc.c: eddy's allocator wrappers (see alloc.h). The bottom of the
 * layer stack, so every layer may use it. jemalloc is called by its
 * non-standard API so that it is used even from inside libeddy.so.
 */
#include "sched/alloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#ifdef EDDY_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#define BACKEND_ALLOC(n) mallocx((n), 0)
#define BACKEND_FREE(p, n) sdallocx((p), (n), 0)
#else
#include <stdlib.h>
#define BACKEND_ALLOC(n) malloc(n)
#define BACKEND_FREE(p, n) ((void)(n), free(p))
#endif

#if defined(EDDY_ASAN) || defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CACHE_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define CACHE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define CACHE_POISON(p, n) ((void)(p), (void)(n))
#define CACHE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/*
 * A per-thread cache of small freed blocks, by size class. Every free here
 * says the block's size, so a freed block can go back to its class's list
 * and the next allocation of that class takes it in a few instructions:
 * jemalloc's mallocx/sdallocx, which a shared library must call by name,
 * cost about 100 and 60 instructions a call (callgrind), and a channel, a
 * waiter's buffer or a small string is made and dropped per operation in
 * the scheduler benchmarks. Blocks of a class are all allocated at the
 * class's size, so any of them fits any request of the class. Each list is
 * bounded; a thread's lists go back to the allocator when it exits.
 * Under AddressSanitizer a cached block stays poisoned, so a use after free
 * is still caught.
 */
#define CACHE_STEP 16
#define CACHE_MAX 256 /* largest size cached */
#define CACHE_CLASSES (CACHE_MAX / CACHE_STEP)
#define CACHE_DEPTH 32 /* blocks kept per class */

enum { CACHE_UNUSED, CACHE_LIVE, CACHE_GONE };

struct cache_block {
    struct cache_block *next;
};

struct thread_cache {
    struct cache_block *head[CACHE_CLASSES];
    uint8_t count[CACHE_CLASSES];
    uint8_t state; /* CACHE_*: registered for the flush at thread exit? */
};

static _Thread_local struct thread_cache tcache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_key_ok;

static void cache_flush(void *arg)
{
    struct thread_cache *c = arg;
    c->state = CACHE_GONE; /* frees after this (later destructors) bypass it */
    for (unsigned k = 0; k < CACHE_CLASSES; k++) {
        size_t sz = (size_t)(k + 1) * CACHE_STEP;
        struct cache_block *b = c->head[k];
        while (b != NULL) {
            CACHE_UNPOISON(b, sz);
            struct cache_block *nx = b->next;
            BACKEND_FREE(b, sz);
            b = nx;
        }
        c->head[k] = NULL;
        c->count[k] = 0;
    }
}

static void cache_key_make(void)
{
    cache_key_ok = pthread_key_create(&cache_key, cache_flush) == 0;
}

/* The thread's cache, registered for its flush at exit; NULL when it must
   not be used (the thread is exiting, or the key could not be made). */
static struct thread_cache *cache_get(void)
{
    struct thread_cache *c = &tcache;
    if (__builtin_expect(c->state == CACHE_LIVE, 1))
        return c;
    if (c->state == CACHE_GONE)
        return NULL;
    (void)pthread_once(&cache_once, cache_key_make);
    if (!cache_key_ok || pthread_setspecific(cache_key, c) != 0) {
        c->state = CACHE_GONE;
        return NULL;
    }
    c->state = CACHE_LIVE;
    return c;
}

static inline unsigned class_of(size_t n)
{
    return n == 0 ? 0 : (unsigned)((n - 1) / CACHE_STEP);
}

void *eddy__alloc(size_t n)
{
    if (n <= CACHE_MAX) {
        unsigned k = class_of(n);
        size_t sz = (size_t)(k + 1) * CACHE_STEP;
        struct thread_cache *c = cache_get();
        if (c != NULL && c->head[k] != NULL) {
            struct cache_block *b = c->head[k];
            CACHE_UNPOISON(b, sz);
            c->head[k] = b->next;
            c->count[k]--;
            return b;
        }
        return BACKEND_ALLOC(sz);
    }
    return BACKEND_ALLOC(n);
}

void *eddy__calloc(size_t n)
{
    if (n <= CACHE_MAX) {
        void *p = eddy__alloc(n);
        if (p != NULL)
            memset(p, 0, n ? n : 1);
        return p;
    }
#ifdef EDDY_USE_JEMALLOC
    return mallocx(n, MALLOCX_ZERO);
#else
    return calloc(1, n);
#endif
}

void eddy__dealloc(void *p, size_t n)
{
    if (p == NULL)
        return;
    if (n <= CACHE_MAX) {
        unsigned k = class_of(n);
        size_t sz = (size_t)(k + 1) * CACHE_STEP;
        struct thread_cache *c = cache_get();
        if (c != NULL && c->count[k] < CACHE_DEPTH) {
            struct cache_block *b = p;
            b->next = c->head[k];
            c->head[k] = b;
            c->count[k]++;
            CACHE_POISON(b, sz);
            return;
        }
        BACKEND_FREE(p, sz);
        return;
    }
    BACKEND_FREE(p, n);
}

void *eddy__realloc(void *p, size_t old_n, size_t n)
{
    if (p == NULL)
        return eddy__alloc(n);
    if (old_n <= CACHE_MAX || n <= CACHE_MAX) {
        /* a cached class's block has its class's size, not n: move it */
        void *np = eddy__alloc(n);
        if (np == NULL)
            return NULL;
        memcpy(np, p, old_n < n ? old_n : n);
        eddy__dealloc(p, old_n);
        return np;
    }
#ifdef EDDY_USE_JEMALLOC
    return rallocx(p, n, 0);
#else
    return realloc(p, n);
#endif
}

void *eddy__calloc_line(size_t n)
{
#ifdef EDDY_USE_JEMALLOC
    return mallocx(n ? n : 1, MALLOCX_ZERO | MALLOCX_ALIGN(64));
#else
    size_t rounded = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p != NULL)
        memset(p, 0, rounded ? rounded : 64);
    return p;
#endif
}

void eddy__dealloc_line(void *p, size_t n)
{
    if (p == NULL)
        return;
#ifdef EDDY_USE_JEMALLOC
    sdallocx(p, n ? n : 1, MALLOCX_ALIGN(64));
#else
    (void)n;
    free(p);
#endif
}

char *eddy__strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = eddy__alloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void eddy__strfree(char *s)
{
    if (s != NULL)
        eddy__dealloc(s, strlen(s) + 1);
}
