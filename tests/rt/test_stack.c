/*
 * tests/rt/test_stack.c: the fiber stack pool (rt/stack.c): reuse through
 * the caches and the depot, the layout of a stack, a hundred thousand
 * stacks without running out of mappings, the canary, the guard page,
 * fresh stacks carved in growing batches (each guarded, each costing its
 * top page only), odd sizes, page release above the high-water mark, and
 * unmapping.
 */
#include "tests/helpers.h"

#include "rt/stack.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define KIB 1024u

static size_t page(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* Lines of /proc/self/maps that overlap [lo, hi). */
static int count_mappings_in(uintptr_t lo, uintptr_t hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    int n = 0;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo)
            n++;
    }
    fclose(f);
    return n;
}

static int count_mappings(void)
{
    return count_mappings_in(0, UINTPTR_MAX);
}

/* The span of a set of stacks, guard pages and descriptors included. */
static void span_of(struct eddy__stack **s, size_t n, uintptr_t *lo, uintptr_t *hi)
{
    *lo = UINTPTR_MAX;
    *hi = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = (uintptr_t)s[i]->lo - 2 * page();
        uintptr_t b = (uintptr_t)s[i] + sizeof *s[i];
        *lo = a < *lo ? a : *lo;
        *hi = b > *hi ? b : *hi;
    }
}

/* Pages of [lo, lo + len) resident in memory; -1 when unmapped. */
static long resident_pages(const void *lo, size_t len)
{
    size_t pg = page();
    uintptr_t a = (uintptr_t)lo & ~(uintptr_t)(pg - 1);
    size_t n = ((uintptr_t)lo + len - a + pg - 1) / pg;
    unsigned char *vec = calloc(n, 1);
    if (vec == NULL)
        return -1;
    long r = -1;
    if (mincore((void *)a, n * pg, vec) == 0) {
        r = 0;
        for (size_t i = 0; i < n; i++)
            r += vec[i] & 1;
    }
    free(vec);
    return r;
}

static void stack_get_then_put_reuses_the_same_stack(void **state)
{
    (void)state;
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 2));

    struct eddy__stack *a = eddy__stack_get(&p, 0, 0);
    assert_non_null(a);
    eddy__stack_put(&p, 0, a);
    assert_ptr_equal(eddy__stack_get(&p, 0, 0), a);

    /* Without a cache: through the depot, last in first out. */
    struct eddy__stack *b = eddy__stack_get(&p, -1, 0);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    eddy__stack_put(&p, -1, b);
    assert_ptr_equal(eddy__stack_get(&p, -1, 16 * KIB), b);
    eddy__stack_put(&p, -1, b);
    eddy__stack_put(&p, 0, a);

    /* A stack put back on another worker's cache comes out there. */
    a = eddy__stack_get(&p, 0, 0);
    eddy__stack_put(&p, 1, a);
    assert_ptr_equal(eddy__stack_get(&p, 1, 0), a);
    eddy__stack_put(&p, 1, a);

    eddy__stack_pool_destroy(&p);
}

static void stack_descriptor_sits_on_top_of_at_least_the_requested_size(void **state)
{
    (void)state;
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 1));
    assert_true(p.default_size >= 64 * KIB);

    struct eddy__stack *s = eddy__stack_get(&p, 0, 0);
    assert_non_null(s);
    assert_int_equal((uintptr_t)s->lo % page(), 0);
    assert_true(s->size >= 64 * KIB);
    assert_int_equal(s->size, p.default_size);
    /* The descriptor is right above the usable bytes, in the top page. */
    assert_true((char *)s->lo + s->size <= (char *)s);
    assert_true((char *)s < (char *)s->lo + s->size + 64);
    assert_int_equal(((uintptr_t)s->lo + s->size) % 16, 0);
    /* Every usable byte can be written, and the descriptor survives. */
    struct eddy__stack copy = *s;
    memset(s->lo, 0xa5, s->size);
    assert_memory_equal(&copy, s, sizeof copy);
    eddy__stack_put(&p, 0, s);
    eddy__stack_pool_destroy(&p);
}

static int cmp_lo(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)(*(struct eddy__stack *const *)a)->lo;
    uintptr_t y = (uintptr_t)(*(struct eddy__stack *const *)b)->lo;
    return x < y ? -1 : x > y;
}

static void stack_pool_holds_100k_stacks_far_below_max_map_count(void **state)
{
    (void)state;
    size_t n = eddy_test_sanitized() ? 20000 : 100000;
    struct eddy__stack **all = calloc(n, sizeof *all);
    assert_non_null(all);
    int before = count_mappings();
    assert_true(before > 0);

    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 2));
    for (size_t i = 0; i < n; i++) {
        all[i] = eddy__stack_get(&p, (int)(i % 2), 0);
        assert_non_null(all[i]);
        /* What a fiber's first frames would touch. */
        memset((char *)all[i]->lo + all[i]->size - 256, 0x5a, 256);
    }
    /* Mappings are counted where the stacks are: TSan adds its own shadow
       mappings elsewhere. */
    uintptr_t lo, hi;
    span_of(all, n, &lo, &hi);
    int here = count_mappings_in(lo, hi), during = count_mappings();
    print_message("%zu stacks held: %d mappings where they are, %d in all (%d before); "
                  "guards: %s, %u by mprotect\n", n, here, during, before,
                  eddy__stack_have_madv_guard() ? "madvise" : "mprotect", p.guards_mprotect);
    if (eddy__stack_have_madv_guard())
        assert_true(here < 100);
    assert_true(during < 60000);

    /* No two stacks overlap, descriptors included. */
    qsort(all, n, sizeof *all, cmp_lo);
    for (size_t i = 0; i + 1 < n; i++)
        assert_true((char *)all[i] + sizeof(struct eddy__stack) <= (char *)all[i + 1]->lo);

    for (size_t i = 0; i < n; i++) {
        assert_true(eddy__stack_canary_ok(all[i]));
        eddy__stack_put(&p, (int)(i % 2), all[i]);
    }
    assert_int_equal(p.live + p.caches[0].out + p.caches[1].out, 0);
    void **los = calloc(n, sizeof *los);
    assert_non_null(los);
    for (size_t i = 0; i < n; i++)
        los[i] = all[i]->lo;
    eddy__stack_pool_destroy(&p);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(resident_pages(los[i], 1), -1);
    assert_int_equal(count_mappings_in(lo, hi), 0);
    if (!eddy_test_sanitized())
        assert_true(count_mappings() <= before + 2);
    free(los);
    free(all);
}

static void stack_canary_is_intact_after_use_and_caught_when_overwritten(void **state)
{
    (void)state;
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 1));
    p.guard_kind = EDDY__GUARD_NONE; /* only unguarded stacks carry a canary */
    struct eddy__stack *s = eddy__stack_get(&p, 0, 0);
    assert_int_equal(s->guard, EDDY__GUARD_NONE);
    assert_true(eddy__stack_canary_ok(s));
    /* Normal use: everything above the canary word. */
    memset((char *)s->lo + 8, 0x77, s->size - 8);
    assert_true(eddy__stack_canary_ok(s));
    /* An overflow reaching the bottom. */
    memset(s->lo, 0x77, 8);
    assert_false(eddy__stack_canary_ok(s));
    /* A runtime aborts on that; the test just keeps it out of the pool
       (destroy unmaps it all the same). */

    /* Stacks whose pages were released get a fresh canary when handed out. */
    struct eddy__stack *many[40];
    for (int i = 0; i < 40; i++)
        many[i] = eddy__stack_get(&p, 0, 0);
    for (int i = 0; i < 40; i++)
        eddy__stack_put(&p, 0, many[i]);
    for (int i = 0; i < 40; i++) {
        many[i] = eddy__stack_get(&p, 0, 0);
        assert_true(eddy__stack_canary_ok(many[i]));
    }
    for (int i = 0; i < 40; i++)
        eddy__stack_put(&p, 0, many[i]);
    eddy__stack_pool_destroy(&p);
}

static void a_guarded_stack_costs_only_its_top_page(void **state)
{
    (void)state;
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 1));
    struct eddy__stack *s = eddy__stack_get(&p, 0, 0);
    if (s->guard == EDDY__GUARD_NONE) {
        eddy__stack_put(&p, 0, s);
        eddy__stack_pool_destroy(&p);
        skip(); /* no guard available: the canary page is the price */
    }
    /* nothing but the descriptor's page is resident in a fresh stack */
    uintptr_t top_page = (uintptr_t)s & ~(uintptr_t)(page() - 1);
    assert_int_equal(resident_pages(s->lo, top_page - (uintptr_t)s->lo), 0);
    eddy__stack_put(&p, 0, s);
    eddy__stack_pool_destroy(&p);
}

/* Forks a child that writes one byte below s->lo: it must die of SIGSEGV. */
static void expect_guard_fault(struct eddy__stack *s)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        skip(); /* no fork here (sandbox, sanitizer): nothing to learn */
    if (pid == 0) {
        /* cmocka and the sanitizers catch SIGSEGV to report it: the test
           wants the plain death. */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        volatile char *below = (volatile char *)s->lo - 1;
        *below = 1;
        _exit(0); /* no guard */
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st))
        fail_msg("child wrote below lo and exited with status %d instead of faulting",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    assert_int_equal(WTERMSIG(st), SIGSEGV);
}

static void stack_write_below_lo_faults_on_the_guard_page(void **state)
{
    (void)state;
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 1));
    struct eddy__stack *s = eddy__stack_get(&p, 0, 0);
    assert_int_not_equal(s->guard, EDDY__GUARD_NONE);
    assert_int_equal(s->guard, eddy__stack_have_madv_guard() ? EDDY__GUARD_MADVISE
                                                                : EDDY__GUARD_MPROTECT);
    expect_guard_fault(s);
    eddy__stack_put(&p, 0, s);
    eddy__stack_pool_destroy(&p);

    /* The mprotect fallback, forced (the kernel here may have the madvise). */
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 1));
    p.guard_kind = EDDY__GUARD_MPROTECT;
    s = eddy__stack_get(&p, 0, 0);
    assert_int_equal(s->guard, EDDY__GUARD_MPROTECT);
    expect_guard_fault(s);
    eddy__stack_put(&p, 0, s);
    eddy__stack_pool_destroy(&p);
}

static void a_pool_that_runs_dry_carves_8_then_16_then_32_guarded_stacks(void **state)
{
    (void)state;
    enum { N = 8 + 16 + 32 + 32 };
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 1));
    struct eddy__stack *s[N];
    unsigned batch_end[] = { 8, 24, 56, 88 };
    unsigned b = 0;
    for (unsigned i = 0; i < N; i++) {
        s[i] = eddy__stack_get(&p, 0, 0);
        assert_non_null(s[i]);
        if (i + 1 == batch_end[b]) {
            assert_int_equal(p.caches[0].count, 0); /* the batch is used up */
            b++;
        } else {
            assert_int_equal(p.caches[0].count, batch_end[b] - i - 1);
        }
    }
    /* Fresh stacks come lowest address first, each with its own guard, and
       cost only their top page (the guard and population are per batch). */
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(s[i]->guard, eddy__stack_have_madv_guard() ? EDDY__GUARD_MADVISE
                                                                     : EDDY__GUARD_MPROTECT);
        if (i + 1 != N && i + 1 != 8)
            assert_true((char *)s[i]->lo < (char *)s[i + 1]->lo);
        uintptr_t top_page = (uintptr_t)s[i] & ~(uintptr_t)(page() - 1);
        assert_int_equal(resident_pages((void *)top_page, 1), 1);
        assert_int_equal(resident_pages(s[i]->lo, top_page - (uintptr_t)s[i]->lo), 0);
    }
    /* The first and last of a batch of 32 both fault below lo. */
    expect_guard_fault(s[24]);
    expect_guard_fault(s[55]);
    for (unsigned i = 0; i < N; i++)
        eddy__stack_put(&p, 0, s[i]);
    assert_int_equal(p.caches[0].out, 0);
    eddy__stack_pool_destroy(&p);
}

static void stack_mprotect_guards_stop_at_the_budget(void **state)
{
    (void)state;
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 16 * KIB, 1));
    p.guard_kind = EDDY__GUARD_MPROTECT;
    p.guard_budget = 10;
    struct eddy__stack *s[30];
    int guarded = 0;
    for (int i = 0; i < 30; i++) {
        s[i] = eddy__stack_get(&p, 0, 0);
        assert_non_null(s[i]);
        assert_true(eddy__stack_canary_ok(s[i]));
        guarded += s[i]->guard == EDDY__GUARD_MPROTECT;
    }
    assert_int_equal(guarded, 10);
    assert_int_equal(p.guards_mprotect, 10);
    for (int i = 0; i < 30; i++)
        eddy__stack_put(&p, 0, s[i]);
    eddy__stack_pool_destroy(&p);
}

static void stack_odd_sizes_come_from_their_own_list(void **state)
{
    (void)state;
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 1));

    /* Smaller than the default: a default stack. */
    struct eddy__stack *small = eddy__stack_get(&p, 0, 4 * KIB);
    assert_int_equal(small->size, p.default_size);

    /* Larger: its own stack, reused for the same size. */
    struct eddy__stack *big = eddy__stack_get(&p, 0, 200 * KIB + 1);
    assert_non_null(big);
    assert_true(big->size >= 200 * KIB + 1);
    assert_int_not_equal(big->guard, EDDY__GUARD_NONE);
    assert_true(eddy__stack_canary_ok(big));
    memset((char *)big->lo + 8, 1, big->size - 8);
    eddy__stack_put(&p, 0, big);
    assert_int_equal(p.odd_count, 1);
    assert_ptr_equal(eddy__stack_get(&p, 0, 200 * KIB), big);
    assert_true(eddy__stack_canary_ok(big));
    eddy__stack_put(&p, 0, big);
    /* But not for a request it would waste more than half of, nor for a
       bigger one. */
    struct eddy__stack *mid = eddy__stack_get(&p, -1, 80 * KIB);
    assert_ptr_not_equal(mid, big);
    assert_true(mid->size >= 80 * KIB);
    struct eddy__stack *huge = eddy__stack_get(&p, 0, 1024 * KIB);
    assert_ptr_not_equal(huge, big);
    assert_true(huge->size >= 1024 * KIB);
    memset((char *)huge->lo + 8, 2, huge->size - 8);

    /* Beyond the free list's bound, odd stacks are unmapped on put. */
    struct eddy__stack *odd[40];
    for (int i = 0; i < 40; i++)
        odd[i] = eddy__stack_get(&p, 0, 100 * KIB + (size_t)i * 4 * KIB);
    void *gone = odd[39]->lo;
    for (int i = 0; i < 40; i++)
        eddy__stack_put(&p, 0, odd[i]);
    assert_true(p.odd_count < 40);
    assert_int_equal(resident_pages(gone, 1), -1);

    eddy__stack_put(&p, 0, mid);
    eddy__stack_put(&p, 0, huge);
    eddy__stack_put(&p, 0, small);
    assert_int_equal(p.live + p.caches[0].out, 0);
    eddy__stack_pool_destroy(&p);
}

static void cold_stacks_of_an_overflowing_cache_give_their_pages_back(void **state)
{
    (void)state;
    enum { N = 100 }; /* more than a cache keeps: the coldest go to the depot */
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 1));
    struct eddy__stack *s[N];
    for (int i = 0; i < N; i++) {
        s[i] = eddy__stack_get(&p, 0, 0);
        memset((char *)s[i]->lo + 8, 0x33, s[i]->size - 8);
    }
    long stack_pages = (long)((p.default_size + 64 + page() - 1) / page());
    for (int i = 0; i < N; i++)
        assert_int_equal(resident_pages(s[i]->lo, s[i]->size), stack_pages);
    for (int i = 0; i < N; i++)
        eddy__stack_put(&p, 0, s[i]);
    int released = 0;
    for (int i = 0; i < N; i++) {
        long r = resident_pages(s[i]->lo, s[i]->size);
        if (r <= 1) /* only the page holding the descriptor */
            released++;
    }
    print_message("%d of %d free stacks gave their pages back\n", released, N);
    /* The cache keeps the hottest; all colder ones (the unused fresh stacks
       it held first among them) went to the depot without their pages. */
    assert_int_equal(released, N - (int)p.caches[0].count);
    assert_true(released > 0);
    for (int i = 0; i < N; i++) {
        s[i] = eddy__stack_get(&p, 0, 0);
        assert_true(eddy__stack_canary_ok(s[i]));
    }
    for (int i = 0; i < N; i++)
        eddy__stack_put(&p, 0, s[i]);
    eddy__stack_pool_destroy(&p);
}

static void stack_pool_destroy_unmaps_every_stack(void **state)
{
    (void)state;
    struct eddy__stack_pool p;
    assert_ok(eddy__stack_pool_init(&p, 64 * KIB, 1));
    p.guard_kind = EDDY__GUARD_MPROTECT; /* every guard is a visible mapping */
    struct eddy__stack *s[100];
    for (int i = 0; i < 100; i++)
        s[i] = eddy__stack_get(&p, 0, 0);
    struct eddy__stack *odd = eddy__stack_get(&p, -1, 300 * KIB);
    uintptr_t lo, hi;
    span_of(s, 100, &lo, &hi);
    int during = count_mappings_in(lo, hi);
    if (during < 200)
        fail_msg("%d mappings for 100 stacks with mprotect guards", during);
    for (int i = 0; i < 50; i++)
        eddy__stack_put(&p, 0, s[i]);
    void *lo_held = s[99]->lo, *lo_free = s[0]->lo, *lo_odd = odd->lo;
    eddy__stack_pool_destroy(&p);
    assert_int_equal(resident_pages(lo_held, 1), -1);
    assert_int_equal(resident_pages(lo_free, 1), -1);
    assert_int_equal(resident_pages(lo_odd, 1), -1);
    assert_int_equal(count_mappings_in(lo, hi), 0);
}

/* ---- several workers sharing one pool */

enum { WORKERS = 4, HOLD = 100, ROUNDS = 60 };

struct share {
    struct eddy__stack_pool pool;
    pthread_mutex_t lock;
    struct eddy__stack *swap[WORKERS][HOLD / 2]; /* guarded by: lock */
    int failures;                                 /* guarded by: lock */
};

struct worker_arg {
    struct share *sh;
    int id;
};

static void *stack_worker(void *argp)
{
    struct worker_arg *a = argp;
    struct share *sh = a->sh;
    struct eddy__stack *mine[HOLD];
    int bad = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < HOLD; i++) {
            mine[i] = eddy__stack_get(&sh->pool, a->id, 0);
            if (mine[i] == NULL || !eddy__stack_canary_ok(mine[i])) {
                bad++;
                continue;
            }
            memset((char *)mine[i]->lo + mine[i]->size - 512, a->id, 512);
        }
        /* Trade half with the next worker, so stacks cross caches. */
        pthread_mutex_lock(&sh->lock);
        int next = (a->id + 1) % WORKERS;
        for (int i = 0; i < HOLD / 2; i++) {
            struct eddy__stack *t = sh->swap[next][i];
            sh->swap[next][i] = mine[i];
            mine[i] = t;
        }
        pthread_mutex_unlock(&sh->lock);
        for (int i = 0; i < HOLD; i++)
            if (mine[i] != NULL)
                eddy__stack_put(&sh->pool, a->id, mine[i]);
    }
    pthread_mutex_lock(&sh->lock);
    sh->failures += bad;
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

static void stack_caches_on_several_threads_share_one_depot(void **state)
{
    (void)state;
    static struct share sh;
    memset(&sh, 0, sizeof sh);
    assert_ok(eddy__stack_pool_init(&sh.pool, 32 * KIB, WORKERS));
    pthread_mutex_init(&sh.lock, NULL);
    pthread_t t[WORKERS];
    struct worker_arg args[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        args[i] = (struct worker_arg){ &sh, i };
        assert_int_equal(pthread_create(&t[i], NULL, stack_worker, &args[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sh.failures, 0);
    long out = 0;
    for (int w = 0; w < WORKERS; w++) {
        out += sh.pool.caches[w].out;
        for (int i = 0; i < HOLD / 2; i++)
            if (sh.swap[w][i] != NULL)
                eddy__stack_put(&sh.pool, -1, sh.swap[w][i]);
    }
    assert_int_equal(sh.pool.live + out, 0);
    eddy__stack_pool_destroy(&sh.pool);
    pthread_mutex_destroy(&sh.lock);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(stack_get_then_put_reuses_the_same_stack),
    cmocka_unit_test(stack_descriptor_sits_on_top_of_at_least_the_requested_size),
    cmocka_unit_test(stack_pool_holds_100k_stacks_far_below_max_map_count),
    cmocka_unit_test(stack_canary_is_intact_after_use_and_caught_when_overwritten),
    cmocka_unit_test(a_guarded_stack_costs_only_its_top_page),
    cmocka_unit_test(stack_write_below_lo_faults_on_the_guard_page),
    cmocka_unit_test(a_pool_that_runs_dry_carves_8_then_16_then_32_guarded_stacks),
    cmocka_unit_test(stack_mprotect_guards_stop_at_the_budget),
    cmocka_unit_test(stack_odd_sizes_come_from_their_own_list),
    cmocka_unit_test(cold_stacks_of_an_overflowing_cache_give_their_pages_back),
    cmocka_unit_test(stack_pool_destroy_unmaps_every_stack),
    cmocka_unit_test(stack_caches_on_several_threads_share_one_depot),
};

EDDY_TEST_MAIN(tests, 120)
