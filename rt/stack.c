/*
 * rt/stack.c: fiber stacks and the pool that hands them out (stack.h). It
 * owns the mappings, the guard below each stack, the canary at its bottom,
 * the lock-free per-worker caches and the locked depot behind them. It does
 * not switch stacks (fiber.c) nor decide when to check the canary (the
 * scheduler calls eddy__stack_canary_ok when a fiber switches out).
 *
 * Layout. A chunk is one mmap(MAP_NORESERVE): a header page, then up to
 * CHUNK_STACKS slots carved lazily, a few at a time, as the pool runs dry.
 * A slot is
 *
 *     [ guard page | lo: canary ... usable stack ... | struct eddy__stack ]
 *
 * with the descriptor in the last DESC_SPACE bytes, so the stack top page
 * holds both the descriptor and the fiber's first frames: a fresh guarded
 * stack costs one page of RSS. Only stacks without a guard carry the canary
 * (its page would double that). Adjacent
 * anonymous mappings merge, so with MADV_GUARD_INSTALL a million stacks
 * take a handful of VMAs; with mprotect guards each one costs two (split),
 * hence the budget.
 *
 * Default-size stacks cycle through the caches and the depot in batches;
 * other sizes get a chunk each and a short list of their own.
 */
#include "rt/stack.h"

#include "sched/alloc.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(EDDY_ASAN) || defined(__SANITIZE_ADDRESS__)
#define STACK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STACK_ASAN 1
#endif
#endif
#ifdef STACK_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Linux 6.13 (include/uapi/asm-generic/mman-common.h); Debian 12's headers
   predate it. Older kernels answer EINVAL, which the probe turns into
   "use mprotect". */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define STACK_DEFAULT_SIZE (64u * 1024) /* RUNTIME-NOTES 6.1.5 */
#define DESC_SPACE 192                  /* descriptor bytes at the top */
#define CHUNK_STACKS 64                 /* slots per chunk of default stacks */
#define CHUNK_MAX_BYTES ((size_t)256 << 20) /* fewer slots for huge stacks */
#define BATCH 32                        /* stacks moved per depot visit */
#define FRESH_MAX 8                     /* new slots carved per refill */
#define CACHE_MAX (2 * BATCH)           /* a cache above this drains BATCH */
#define DEPOT_HWM 64                    /* same, for puts straight to the depot */
#define ODD_MAX 16                      /* free odd stacks kept; more are unmapped */
/* mprotect guards: each splits a VMA into three, +2 mappings. 24000 of them
   leave ~17k of vm.max_map_count's 65530 to everything else. */
#define GUARD_BUDGET 24000u

_Static_assert(sizeof(struct eddy__stack) <= DESC_SPACE, "descriptor outgrew its space");

struct chunk {
    struct chunk *prev, *next; /* the pool's chunks; guarded by: pool lock */
    size_t len;                /* bytes mapped, header page included */
    size_t span;               /* bytes per slot, guard page included */
    unsigned nslots;           /* immutable after map_chunk */
    unsigned carved;           /* slots handed to the pool; guarded by: pool lock */
};

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static size_t page_size;  /* immutable after probe() */
static bool madv_guard;   /* immutable after probe() */

static void probe(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    page_size = pg > 0 ? (size_t)pg : 4096;
    void *m = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return;
    madv_guard = madvise(m, page_size, MADV_GUARD_INSTALL) == 0;
    munmap(m, 2 * page_size);
}

bool eddy__stack_have_madv_guard(void)
{
    pthread_once(&probe_once, probe);
    return madv_guard;
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* Slot bytes (guard page included) for at least usable bytes of stack;
   0 on overflow. */
static size_t span_for(size_t usable)
{
    if (usable > SIZE_MAX / 2)
        return 0;
    return page_size + round_up(usable + DESC_SPACE, page_size);
}

static uint64_t canary_for(const struct eddy__stack *s)
{
    /* Mixed with the address so a stray copy of another stack's bottom
       does not pass. */
    return 0xeddca9a5eedf1beaULL ^ (uint64_t)(uintptr_t)s->lo;
}

bool eddy__stack_canary_ok(const struct eddy__stack *s)
{
    if (s->guard != EDDY__GUARD_NONE)
        return true; /* the guard page catches an overflow by itself */
    uint64_t v;
    memcpy(&v, s->lo, sizeof v);
    return v == canary_for(s);
}

/* Only unguarded stacks carry a canary: writing it touches the bottom page,
   which would double the memory of a stack that uses only its top page (a
   million sleeping tasks). */
static void write_canary(struct eddy__stack *s)
{
    if (s->guard != EDDY__GUARD_NONE)
        return;
    uint64_t v = canary_for(s);
    memcpy(s->lo, &v, sizeof v);
}

/* ------------------------------------------------------------- mappings */

static struct chunk *map_chunk(size_t span, unsigned nslots)
{
    size_t len = page_size + span * nslots;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    struct chunk *c = m;
    c->prev = c->next = NULL;
    c->len = len;
    c->span = span;
    c->nslots = nslots;
    c->carved = 0;
    return c;
}

static void unmap_chunk(struct chunk *c)
{
    for (unsigned i = 0; i < c->carved; i++) {
        char *slot = (char *)c + page_size + (size_t)i * c->span;
        struct eddy__stack *s = (struct eddy__stack *)(slot + c->span - DESC_SPACE);
        if (s->fiber_live)
            eddy__fiber_destroy(&s->fiber);
    }
#ifdef STACK_ASAN
    /* Frames that never returned leave poisoned shadow behind; a later
       mapping at the same address must not inherit it. */
    __asan_unpoison_memory_region(c, c->len);
#endif
    munmap(c, c->len);
}

/* Caller holds p->lock. */
static void link_chunk(struct eddy__stack_pool *p, struct chunk *c)
{
    c->prev = NULL;
    c->next = p->chunks;
    if (c->next != NULL)
        c->next->prev = c;
    p->chunks = c;
}

/* Caller holds p->lock. */
static void unlink_chunk(struct eddy__stack_pool *p, struct chunk *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        p->chunks = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

/* Guard for the page at g. Caller holds p->lock (the mprotect budget). */
static uint8_t install_guard(struct eddy__stack_pool *p, void *g)
{
    if (p->guard_kind == EDDY__GUARD_MADVISE && madvise(g, page_size, MADV_GUARD_INSTALL) == 0)
        return EDDY__GUARD_MADVISE;
    if (p->guard_kind != EDDY__GUARD_NONE && p->guards_mprotect < p->guard_budget) {
        if (mprotect(g, page_size, PROT_NONE) == 0) {
            p->guards_mprotect++;
            return EDDY__GUARD_MPROTECT;
        }
        /* ENOMEM: vm.max_map_count is reached. Stop splitting VMAs. */
        p->guard_budget = p->guards_mprotect;
    }
    return EDDY__GUARD_NONE;
}

/* Turns the next slot of c into a stack. Caller holds p->lock. */
static struct eddy__stack *carve(struct eddy__stack_pool *p, struct chunk *c)
{
    assert(c->carved < c->nslots);
    char *slot = (char *)c + page_size + (size_t)c->carved++ * c->span;
    struct eddy__stack *s = (struct eddy__stack *)(slot + c->span - DESC_SPACE);
    s->next = NULL;
    s->lo = slot + page_size;
    s->size = c->span - page_size - DESC_SPACE;
    s->guard = install_guard(p, slot);
    s->released = 0;
    s->fiber_live = 0;
    s->user = NULL;
    memset(&s->fiber, 0, sizeof s->fiber);
    write_canary(s);
    return s;
}

static struct chunk *chunk_of_odd(struct eddy__stack *s)
{
    /* An odd chunk holds one slot: header page, guard page, then lo. */
    return (struct chunk *)((char *)s->lo - 2 * page_size);
}

/* Gives the pages of a free stack back to the kernel, all but the top one
   (it holds the descriptor). The canary goes with them: get rewrites it. */
static void release_pages(struct eddy__stack *s)
{
    char *lo = s->lo;
    char *top_page = (char *)((uintptr_t)s & ~(uintptr_t)(page_size - 1));
    if (top_page > lo && madvise(lo, (size_t)(top_page - lo), MADV_DONTNEED) == 0)
        s->released = 1;
}

/* ------------------------------------------------------------- the pool */

int eddy__stack_pool_init(struct eddy__stack_pool *p, size_t default_size, unsigned ncaches)
{
    pthread_once(&probe_once, probe);
    if (default_size == 0)
        default_size = STACK_DEFAULT_SIZE;
    size_t span = span_for(default_size);
    if (span == 0)
        return -ENOMEM;
    memset(p, 0, sizeof *p);
    p->default_size = span - page_size - DESC_SPACE;
    p->ncaches = ncaches;
    if (ncaches > 0) {
        p->caches = eddy__calloc(sizeof *p->caches * ncaches);
        if (p->caches == NULL)
            return -ENOMEM;
    }
    int rc = pthread_mutex_init(&p->lock, NULL);
    if (rc != 0) {
        eddy__dealloc(p->caches, sizeof *p->caches * ncaches);
        p->caches = NULL;
        return -rc;
    }
    p->guard_kind = madv_guard ? EDDY__GUARD_MADVISE : EDDY__GUARD_MPROTECT;
    p->guard_budget = GUARD_BUDGET;
    return 0;
}

/* One default-size stack from the depot or a fresh slot. Caller holds
   p->lock. NULL when mmap fails. */
static struct eddy__stack *take_default_locked(struct eddy__stack_pool *p)
{
    struct eddy__stack *s = p->depot;
    if (s != NULL) {
        p->depot = s->next;
        p->depot_count--;
        return s;
    }
    struct chunk *c = p->carving;
    if (c == NULL || c->carved == c->nslots) {
        size_t span = p->default_size + DESC_SPACE + page_size;
        size_t n = CHUNK_MAX_BYTES / span;
        if (n > CHUNK_STACKS)
            n = CHUNK_STACKS;
        if (n == 0)
            n = 1;
        c = map_chunk(span, (unsigned)n);
        if (c == NULL)
            return NULL;
        link_chunk(p, c);
        p->carving = c;
    }
    return carve(p, c);
}

/* Fills an empty cache with up to BATCH stacks; returns how many. */
static unsigned refill(struct eddy__stack_pool *p, struct eddy__stack_cache *c)
{
    unsigned n = 0;
    pthread_mutex_lock(&p->lock);
    while (n < BATCH) {
        /* Fresh slots cost a syscall and two pages each: carve a few at a
           time rather than a whole batch that may never run. */
        if (p->depot == NULL && n >= FRESH_MAX)
            break;
        struct eddy__stack *s = take_default_locked(p);
        if (s == NULL)
            break;
        s->next = c->free;
        c->free = s;
        n++;
    }
    pthread_mutex_unlock(&p->lock);
    c->count += n;
    return n;
}

/* Moves the BATCH coldest stacks (the list's tail: puts and gets work at
   its head) of a full cache to the depot, giving their pages back first: a
   cache overflows only after a burst, and those stacks are the least likely
   to be reused soon. */
static void drain(struct eddy__stack_pool *p, struct eddy__stack_cache *c)
{
    struct eddy__stack *keep_last = c->free;
    for (unsigned i = 1; i < c->count - BATCH; i++)
        keep_last = keep_last->next;
    struct eddy__stack *first = keep_last->next, *last = first;
    keep_last->next = NULL;
    c->count -= BATCH;
    release_pages(first);
    for (unsigned i = 1; i < BATCH; i++) {
        last = last->next;
        release_pages(last);
    }
    pthread_mutex_lock(&p->lock);
    last->next = p->depot;
    p->depot = first;
    p->depot_count += BATCH;
    pthread_mutex_unlock(&p->lock);
}

static struct eddy__stack *get_odd(struct eddy__stack_pool *p, size_t size)
{
    size_t span = span_for(size);
    if (span == 0)
        return NULL;
    size_t usable = span - page_size - DESC_SPACE;

    pthread_mutex_lock(&p->lock);
    /* First fit, but never more than twice the need: a huge stack is not
       worth pinning for a small request. */
    for (struct eddy__stack **pp = &p->odd; *pp != NULL; pp = &(*pp)->next) {
        struct eddy__stack *s = *pp;
        if (s->size >= usable && s->size / 2 <= usable) {
            *pp = s->next;
            p->odd_count--;
            p->live++;
            pthread_mutex_unlock(&p->lock);
            return s;
        }
    }
    pthread_mutex_unlock(&p->lock);

    struct chunk *c = map_chunk(span, 1);
    if (c == NULL)
        return NULL;
    pthread_mutex_lock(&p->lock);
    link_chunk(p, c);
    struct eddy__stack *s = carve(p, c);
    p->live++;
    pthread_mutex_unlock(&p->lock);
    return s;
}

static void put_odd(struct eddy__stack_pool *p, struct eddy__stack *s)
{
    release_pages(s);
    pthread_mutex_lock(&p->lock);
    p->live--;
    if (p->odd_count < ODD_MAX) {
        s->next = p->odd;
        p->odd = s;
        p->odd_count++;
        pthread_mutex_unlock(&p->lock);
        return;
    }
    struct chunk *c = chunk_of_odd(s);
    unlink_chunk(p, c);
    if (s->guard == EDDY__GUARD_MPROTECT)
        p->guards_mprotect--;
    pthread_mutex_unlock(&p->lock);
    unmap_chunk(c);
}

struct eddy__stack *eddy__stack_get(struct eddy__stack_pool *p, int cache, size_t size)
{
    struct eddy__stack *s;
    assert(cache < (int)p->ncaches);
    if (size > p->default_size) {
        s = get_odd(p, size);
    } else if (cache >= 0) {
        struct eddy__stack_cache *c = &p->caches[cache];
        if (c->free == NULL && refill(p, c) == 0)
            return NULL;
        s = c->free;
        c->free = s->next;
        c->count--;
        c->out++;
    } else {
        pthread_mutex_lock(&p->lock);
        s = take_default_locked(p);
        if (s != NULL)
            p->live++;
        pthread_mutex_unlock(&p->lock);
    }
    if (s == NULL)
        return NULL;
    s->next = NULL;
    if (s->released) {
        write_canary(s);
        s->released = 0;
    }
    return s;
}

void eddy__stack_put(struct eddy__stack_pool *p, int cache, struct eddy__stack *s)
{
    assert(cache < (int)p->ncaches);
#ifdef STACK_ASAN
    /* The last fiber may have left poisoned redzones of frames that never
       returned; the next one must start from clean shadow. */
    __asan_unpoison_memory_region(s->lo, s->size);
#endif
    if (s->size != p->default_size) {
        put_odd(p, s);
    } else if (cache >= 0) {
        struct eddy__stack_cache *c = &p->caches[cache];
        s->next = c->free; /* hot: the next get takes it again */
        c->free = s;
        c->count++;
        c->out--;
        if (c->count > CACHE_MAX)
            drain(p, c);
    } else {
        pthread_mutex_lock(&p->lock);
        /* Released under the lock: once in the depot another thread may
           take it. A rare path (threads that own no cache). */
        if (p->depot_count >= DEPOT_HWM)
            release_pages(s);
        s->next = p->depot;
        p->depot = s;
        p->depot_count++;
        p->live--;
        pthread_mutex_unlock(&p->lock);
    }
}

void eddy__stack_pool_destroy(struct eddy__stack_pool *p)
{
    struct chunk *c = p->chunks;
    while (c != NULL) {
        struct chunk *next = c->next;
        unmap_chunk(c);
        c = next;
    }
    pthread_mutex_destroy(&p->lock);
    eddy__dealloc(p->caches, sizeof *p->caches * p->ncaches);
    memset(p, 0, sizeof *p);
}
