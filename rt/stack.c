/*
 * rt/stack.c: fiber stacks and the pool that hands them out (stack.h). It
 * owns the mappings, the guard below each stack, the canary at its bottom,
 * the lock-free per-worker caches and the locked depot behind them. It does
 * not switch stacks (fiber.c) nor decide when to check the canary (the
 * scheduler calls eddy__stack_canary_ok when a fiber switches out).
 *
 * Layout. A chunk is one mmap(MAP_NORESERVE): a header page, then up to
 * CHUNK_STACKS slots carved lazily, a batch at a time, as the pool runs dry.
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
 *
 * A fresh stack costs a guard and a fault on its top page (a million parked
 * tasks hold a million stacks). Slots are reserved under the lock but
 * carved outside it, a batch at a time: one process_madvise installs the
 * batch's guards and one more faults in its top pages (MADV_POPULATE_WRITE),
 * where the kernel lets a process advise itself by PIDFD_SELF (6.15+); else
 * one madvise per guard and a page fault per stack. Draining a cache
 * releases its batch's pages in one call too: a MADV_DONTNEED that overlaps
 * another thread's flushes the TLB of every CPU, even if it freed nothing.
 */
#include "rt/stack.h"

#include "sched/alloc.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
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
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440 /* the same on every architecture */
#endif
/* Linux 6.15 (linux/pidfd.h): this process, without an fd (a fork child
   holding a pidfd would advise its parent). */
#define PIDFD_SELF_PROCESS (-10001)

#define STACK_DEFAULT_SIZE (64u * 1024) /* docs/design.md, "Stacks" */
#define DESC_SPACE 192                  /* descriptor bytes at the top */
#define CHUNK_STACKS 256                /* slots per chunk, which costs a header page */
#define CHUNK_MAX_BYTES ((size_t)256 << 20) /* fewer slots for huge stacks */
#define BATCH 32                        /* stacks moved per depot visit */
#define FRESH_MIN 8                     /* first fresh carve; doubles up to BATCH */
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
static bool self_advise;  /* process_madvise(PIDFD_SELF_PROCESS) takes any advice;
                             immutable after probe() */

static void probe(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    page_size = pg > 0 ? (size_t)pg : 4096;
    void *m = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return;
    madv_guard = madvise(m, page_size, MADV_GUARD_INSTALL) == 0;
    struct iovec iov = { (char *)m + page_size, page_size };
    self_advise = syscall(SYS_process_madvise, PIDFD_SELF_PROCESS, &iov, 1,
                          MADV_POPULATE_WRITE, 0) == (long)page_size;
    munmap(m, 2 * page_size);
}

/* Gives advice to n ranges in one system call. False when the kernel
   cannot or some range did not take it: the callers' advice is idempotent,
   so they redo the batch range by range. */
static bool advise_ranges(const struct iovec *iov, unsigned n, int advice)
{
    if (n == 0)
        return true;
    if (!self_advise)
        return false;
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += iov[i].iov_len;
    return syscall(SYS_process_madvise, PIDFD_SELF_PROCESS, iov, (size_t)n, advice, 0) ==
           (long)total;
}

bool eddy__stack_guard_holds(const struct eddy__stack *s, const void *addr)
{
    /* page_size is set before the first stack exists */
    const char *lo = s->lo, *a = addr;
    return s->guard != EDDY__GUARD_NONE && a < lo && a >= lo - page_size;
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

/* mprotect guard for the page at g, while the budget lasts. Caller holds
   p->lock. */
static uint8_t mprotect_guard_locked(struct eddy__stack_pool *p, void *g)
{
    if (p->guards_mprotect < p->guard_budget) {
        if (mprotect(g, page_size, PROT_NONE) == 0) {
            p->guards_mprotect++;
            return EDDY__GUARD_MPROTECT;
        }
        /* ENOMEM: vm.max_map_count is reached. Stop splitting VMAs. */
        p->guard_budget = p->guards_mprotect;
    }
    return EDDY__GUARD_NONE;
}

static char *slot_of(const struct chunk *c, unsigned i)
{
    return (char *)c + page_size + (size_t)i * c->span;
}

/* Turns slots [first, first + n) of c, reserved under the lock, into
   stacks linked onto *list (the lowest slot first). Called without the
   lock: only mprotect guards take it, for their budget. */
static void carve(struct eddy__stack_pool *p, struct chunk *c, unsigned first, unsigned n,
                  struct eddy__stack **list)
{
    struct iovec iov[BATCH] = { { NULL, 0 } };
    uint8_t guard[BATCH];
    assert(n >= 1 && n <= BATCH && first + n <= c->nslots);
    bool batched = false, unguarded = false;
    if (p->guard_kind == EDDY__GUARD_MADVISE) {
        for (unsigned i = 0; i < n; i++)
            iov[i] = (struct iovec){ slot_of(c, first + i), page_size };
        batched = advise_ranges(iov, n, MADV_GUARD_INSTALL);
    }
    for (unsigned i = 0; i < n; i++) {
        guard[i] = EDDY__GUARD_NONE;
        if (batched || (p->guard_kind == EDDY__GUARD_MADVISE &&
                        madvise(slot_of(c, first + i), page_size, MADV_GUARD_INSTALL) == 0))
            guard[i] = EDDY__GUARD_MADVISE;
        unguarded |= guard[i] == EDDY__GUARD_NONE;
    }
    if (unguarded && p->guard_kind != EDDY__GUARD_NONE) {
        pthread_mutex_lock(&p->lock);
        for (unsigned i = 0; i < n; i++)
            if (guard[i] == EDDY__GUARD_NONE)
                guard[i] = mprotect_guard_locked(p, slot_of(c, first + i));
        pthread_mutex_unlock(&p->lock);
    }
    /* The top page is the one page a guarded stack costs: faulting the
       batch's in at once saves a trap per stack. If this fails, the
       descriptor's write below faults them in one by one. */
    if (n > 1) {
        for (unsigned i = 0; i < n; i++)
            iov[i] = (struct iovec){ slot_of(c, first + i) + c->span - page_size, page_size };
        advise_ranges(iov, n, MADV_POPULATE_WRITE);
    }
    for (unsigned i = n; i-- > 0;) {
        char *slot = slot_of(c, first + i);
        struct eddy__stack *s = (struct eddy__stack *)(slot + c->span - DESC_SPACE);
        s->lo = slot + page_size;
        s->size = c->span - page_size - DESC_SPACE;
        s->guard = guard[i];
        s->released = 0;
        s->fiber_live = 0;
        s->user = NULL;
        memset(&s->fiber, 0, sizeof s->fiber);
        write_canary(s);
        s->next = *list;
        *list = s;
    }
}

static struct chunk *chunk_of_odd(struct eddy__stack *s)
{
    /* An odd chunk holds one slot: header page, guard page, then lo. */
    return (struct chunk *)((char *)s->lo - 2 * page_size);
}

/* The pages of a free stack that may be given back: all but the top one
   (it holds the descriptor). Empty for a one-page stack. */
static struct iovec releasable(const struct eddy__stack *s)
{
    char *lo = s->lo;
    char *top_page = (char *)((uintptr_t)s & ~(uintptr_t)(page_size - 1));
    return (struct iovec){ lo, top_page > lo ? (size_t)(top_page - lo) : 0 };
}

/* Gives those pages back to the kernel. The canary goes with them: get
   rewrites it. */
static void release_pages(struct eddy__stack *s)
{
    struct iovec r = releasable(s);
    if (r.iov_len > 0 && madvise(r.iov_base, r.iov_len, MADV_DONTNEED) == 0)
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
        p->caches = eddy__calloc_line(sizeof *p->caches * ncaches);
        if (p->caches == NULL)
            return -ENOMEM;
    }
    int rc = pthread_mutex_init(&p->lock, NULL);
    if (rc != 0) {
        eddy__dealloc_line(p->caches, sizeof *p->caches * ncaches);
        p->caches = NULL;
        return -rc;
    }
    p->guard_kind = madv_guard ? EDDY__GUARD_MADVISE : EDDY__GUARD_MPROTECT;
    p->guard_budget = GUARD_BUDGET;
    p->fresh = FRESH_MIN;
    return 0;
}

/* Reserves up to want fresh default slots, [*first, *first + return) of
   the chunk stored in *out, mapping a chunk when the current one is used
   up. Caller holds p->lock. 0 when mmap fails. */
static unsigned reserve_locked(struct eddy__stack_pool *p, unsigned want, struct chunk **out,
                               unsigned *first)
{
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
            return 0;
        link_chunk(p, c);
        p->carving = c;
    }
    unsigned n = c->nslots - c->carved;
    if (n > want)
        n = want;
    *out = c;
    *first = c->carved;
    c->carved += n;
    return n;
}

/* Fills an empty cache with up to BATCH stacks from the depot, or else
   with fresh ones; returns how many. */
static unsigned refill(struct eddy__stack_pool *p, struct eddy__stack_cache *c)
{
    unsigned n = 0, fresh = 0, first = 0;
    struct chunk *ch = NULL;
    pthread_mutex_lock(&p->lock);
    while (n < BATCH && p->depot != NULL) {
        struct eddy__stack *s = p->depot;
        p->depot = s->next;
        p->depot_count--;
        s->next = c->free;
        c->free = s;
        n++;
    }
    if (n == 0) {
        /* A batch that may never run costs a page a stack: start small,
           grow while the pool keeps running dry. */
        fresh = reserve_locked(p, p->fresh, &ch, &first);
        if (p->fresh < BATCH)
            p->fresh *= 2;
    }
    pthread_mutex_unlock(&p->lock);
    if (fresh > 0)
        carve(p, ch, first, fresh, &c->free);
    c->count += n + fresh;
    return n + fresh;
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
    struct eddy__stack *first = keep_last->next, *last = NULL;
    keep_last->next = NULL;
    c->count -= BATCH;
    struct iovec iov[BATCH];
    unsigned n = 0;
    for (struct eddy__stack *s = first; s != NULL; s = s->next) {
        struct iovec r = releasable(s);
        if (r.iov_len > 0)
            iov[n++] = r;
        last = s;
    }
    /* One call for the batch: one TLB flush at most, not one per stack. */
    bool batched = advise_ranges(iov, n, MADV_DONTNEED);
    for (struct eddy__stack *s = first; s != NULL; s = s->next) {
        if (batched)
            s->released = releasable(s).iov_len > 0;
        else
            release_pages(s);
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
    c->carved = 1;
    pthread_mutex_lock(&p->lock);
    link_chunk(p, c);
    p->live++;
    pthread_mutex_unlock(&p->lock);
    struct eddy__stack *s = NULL;
    carve(p, c, 0, 1, &s);
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
        struct chunk *ch = NULL;
        unsigned first = 0, fresh = 0;
        pthread_mutex_lock(&p->lock);
        s = p->depot;
        if (s != NULL) {
            p->depot = s->next;
            p->depot_count--;
        } else {
            fresh = reserve_locked(p, 1, &ch, &first);
        }
        if (s != NULL || fresh > 0)
            p->live++;
        pthread_mutex_unlock(&p->lock);
        if (fresh > 0)
            carve(p, ch, first, 1, &s);
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
    eddy__dealloc_line(p->caches, sizeof *p->caches * p->ncaches);
    memset(p, 0, sizeof *p);
}
