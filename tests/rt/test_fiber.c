/* ctest-labels: concurrency */
/*
 * tests/rt/test_fiber.c: the fiber switch (rt/fiber.c and its assembly):
 * entry and argument, callee-saved registers and locals (integer and
 * floating point) across many switches, fibers resumed on other threads,
 * deep recursion, where the stack pointer is and how it is aligned, and
 * exit_to + destroy freeing everything (ASan's fake stacks included).
 * Stacks come from the stack pool (rt/stack.c).
 */
#include "tests/helpers.h"

#include "rt/fiber.h"
#include "rt/stack.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024u

#ifdef EDDY__FIBER_ASAN
/* Fake stacks on, so that a fiber leaving without freeing its own shows up
   (fiber_exit_to_and_destroy_release_everything). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_stack_use_after_return=1";
}
#endif

/* ASan builds: whether the bounds recorded for thread context t are those
   of the stack this runs on (fiber.c learns them at every switch). */
static int thread_bounds_ok(const struct eddy__fiber *t)
{
#ifdef EDDY__FIBER_ASAN
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t lo = (uintptr_t)t->asan_bottom;
    return t->stack_lo == NULL && lo != 0 && lo <= here && here < lo + t->asan_size;
#else
    return t->stack_lo == NULL;
#endif
}

/* Overwrites every callee-saved register the compiler may be holding a
   value in (not the frame pointer, which it may reserve). Only the fiber
   side does it, right before switching back: the compiler saves what it
   needs first because of the clobbers, so the test side, which keeps its
   locals in callee-saved registers across the switch, sees garbage only if
   the switch failed to restore them. */
#if defined(__x86_64__)
#define SCRAMBLE_CALLEE_SAVED()                                                   \
    __asm__ volatile("movq $0x0bad0001, %%rbx\n\t"                                \
                     "movq $0x0bad0002, %%r12\n\t"                                \
                     "movq $0x0bad0003, %%r13\n\t"                                \
                     "movq $0x0bad0004, %%r14\n\t"                                \
                     "movq $0x0bad0005, %%r15\n\t"                                \
                     ::: "rbx", "r12", "r13", "r14", "r15", "memory")
#elif defined(__aarch64__)
#define SCRAMBLE_CALLEE_SAVED()                                                   \
    __asm__ volatile("mov x19, #0xbad1\n\tmov x20, #0xbad2\n\tmov x21, #0xbad3\n\t" \
                     "mov x22, #0xbad4\n\tmov x23, #0xbad5\n\tmov x24, #0xbad6\n\t" \
                     "mov x25, #0xbad7\n\tmov x26, #0xbad8\n\tmov x27, #0xbad9\n\t" \
                     "mov x28, #0xbada\n\tfmov d8, x19\n\tfmov d9, x20\n\t"       \
                     "fmov d10, x21\n\tfmov d11, x22\n\tfmov d12, x23\n\t"        \
                     "fmov d13, x24\n\tfmov d14, x25\n\tfmov d15, x26\n\t"        \
                     ::: "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26",  \
                         "x27", "x28", "d8", "d9", "d10", "d11", "d12", "d13",    \
                         "d14", "d15", "memory")
#else
#define SCRAMBLE_CALLEE_SAVED() __asm__ volatile("" ::: "memory")
#endif

/*
 * regs_roundtrip(from, to, out, seed, sw): sets every callee-saved register
 * (but the frame pointer on AArch64) to seed + 1, seed + 2, ..., calls
 * sw(from, to) (eddy__fiber_switch, passed in so that the assembly names
 * no symbol LTO could rename), and when resumed stores what the registers
 * hold into out[]. Written in assembly because only there can the test be
 * sure which registers hold what across the call. Both sides of a switch
 * use it with different seeds.
 */
#if defined(__x86_64__)
#define NREGS 6
__asm__(".pushsection .text\n"
        ".p2align 4\n"
        ".type regs_roundtrip, @function\n"
        "regs_roundtrip:\n\t"
        "pushq %rbx\n\tpushq %rbp\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\t"
        "pushq %r15\n\t"
        "pushq %rdx\n\t" /* 7 pushes: rsp is 16-byte aligned for the call */
        "leaq 1(%rcx), %rbx\n\tleaq 2(%rcx), %rbp\n\tleaq 3(%rcx), %r12\n\t"
        "leaq 4(%rcx), %r13\n\tleaq 5(%rcx), %r14\n\tleaq 6(%rcx), %r15\n\t"
        "call *%r8\n\t"
        "popq %rdx\n\t"
        "movq %rbx, 0(%rdx)\n\tmovq %rbp, 8(%rdx)\n\tmovq %r12, 16(%rdx)\n\t"
        "movq %r13, 24(%rdx)\n\tmovq %r14, 32(%rdx)\n\tmovq %r15, 40(%rdx)\n\t"
        "popq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbp\n\tpopq %rbx\n\t"
        "ret\n"
        ".size regs_roundtrip, .-regs_roundtrip\n"
        ".popsection\n");
#elif defined(__aarch64__)
/* Not run yet (no AArch64 machine); assembled only. */
#define NREGS 18
__asm__(".pushsection .text\n"
        ".p2align 4\n"
        ".type regs_roundtrip, %function\n"
        "regs_roundtrip:\n\t"
        "stp x29, x30, [sp, #-176]!\n\t"
        "mov x29, sp\n\t"
        "stp x19, x20, [sp, #16]\n\tstp x21, x22, [sp, #32]\n\t"
        "stp x23, x24, [sp, #48]\n\tstp x25, x26, [sp, #64]\n\t"
        "stp x27, x28, [sp, #80]\n\tstp d8, d9, [sp, #96]\n\t"
        "stp d10, d11, [sp, #112]\n\tstp d12, d13, [sp, #128]\n\t"
        "stp d14, d15, [sp, #144]\n\tstr x2, [sp, #160]\n\t"
        "add x19, x3, #1\n\tadd x20, x3, #2\n\tadd x21, x3, #3\n\tadd x22, x3, #4\n\t"
        "add x23, x3, #5\n\tadd x24, x3, #6\n\tadd x25, x3, #7\n\tadd x26, x3, #8\n\t"
        "add x27, x3, #9\n\tadd x28, x3, #10\n\t"
        "add x9, x3, #11\n\tfmov d8, x9\n\tadd x9, x3, #12\n\tfmov d9, x9\n\t"
        "add x9, x3, #13\n\tfmov d10, x9\n\tadd x9, x3, #14\n\tfmov d11, x9\n\t"
        "add x9, x3, #15\n\tfmov d12, x9\n\tadd x9, x3, #16\n\tfmov d13, x9\n\t"
        "add x9, x3, #17\n\tfmov d14, x9\n\tadd x9, x3, #18\n\tfmov d15, x9\n\t"
        "blr x4\n\t"
        "ldr x2, [sp, #160]\n\t"
        "stp x19, x20, [x2, #0]\n\tstp x21, x22, [x2, #16]\n\tstp x23, x24, [x2, #32]\n\t"
        "stp x25, x26, [x2, #48]\n\tstp x27, x28, [x2, #64]\n\tstp d8, d9, [x2, #80]\n\t"
        "stp d10, d11, [x2, #96]\n\tstp d12, d13, [x2, #112]\n\tstp d14, d15, [x2, #128]\n\t"
        "ldp x19, x20, [sp, #16]\n\tldp x21, x22, [sp, #32]\n\t"
        "ldp x23, x24, [sp, #48]\n\tldp x25, x26, [sp, #64]\n\t"
        "ldp x27, x28, [sp, #80]\n\tldp d8, d9, [sp, #96]\n\t"
        "ldp d10, d11, [sp, #112]\n\tldp d12, d13, [sp, #128]\n\t"
        "ldp d14, d15, [sp, #144]\n\t"
        "ldp x29, x30, [sp], #176\n\t"
        "ret\n"
        ".size regs_roundtrip, .-regs_roundtrip\n"
        ".popsection\n");
#endif
#ifdef NREGS
void regs_roundtrip(struct eddy__fiber *from, struct eddy__fiber *to, uint64_t *out,
                    uint64_t seed, void (*sw)(struct eddy__fiber *, struct eddy__fiber *));
#endif

static struct eddy__stack_pool pool;

static int pool_setup(void **state)
{
    (void)state;
    return eddy__stack_pool_init(&pool, 64 * KIB, 1) == 0 ? 0 : -1;
}

static int pool_teardown(void **state)
{
    (void)state;
    eddy__stack_pool_destroy(&pool);
    return 0;
}

/* ---- entry, argument, registers and locals across many switches */

enum { ROUNDS = 10000 };

struct pingpong {
    struct eddy__fiber main, fib;
    int arg_ok;
    long count;       /* bumped by the fiber before each switch back */
    uint64_t result;  /* the fiber's accumulators, checked by the test */
};

/* The same mixing steps the fiber and the main side run, but without any
   switch, for the expected values. */
static uint64_t mix(uint64_t v[6], long i)
{
    v[0] = v[0] * 31 + (uint64_t)i;
    v[1] ^= v[0] >> 3;
    v[2] += v[1] * 7;
    v[3] = (v[3] << 1 | v[3] >> 63) + v[2];
    v[4] -= v[3] ^ (uint64_t)i;
    v[5] += v[4] | 1;
    return v[0] ^ v[1] ^ v[2] ^ v[3] ^ v[4] ^ v[5];
}

static uint64_t expected_mix(uint64_t seed)
{
    uint64_t v[6] = { seed, seed + 1, seed + 2, seed + 3, seed + 4, seed + 5 };
    uint64_t r = 0;
    for (long i = 0; i < ROUNDS; i++)
        r += mix(v, i);
    return r;
}

static void pingpong_entry(void *arg)
{
    struct pingpong *pp = arg;
    pp->arg_ok = 1;
    /* Seven live values across every switch. Here they sit in this
       fiber's stack frame (the scramble forces that); the test side keeps
       its own in callee-saved registers. */
    uint64_t a = 100, b = 101, c = 102, d = 103, e = 104, f = 105, r = 0;
    for (long i = 0; i < ROUNDS; i++) {
        a = a * 31 + (uint64_t)i;
        b ^= a >> 3;
        c += b * 7;
        d = (d << 1 | d >> 63) + c;
        e -= d ^ (uint64_t)i;
        f += e | 1;
        r += a ^ b ^ c ^ d ^ e ^ f;
        pp->count++;
        SCRAMBLE_CALLEE_SAVED();
        eddy__fiber_switch(&pp->fib, &pp->main);
    }
    pp->result = r;
    eddy__fiber_exit_to(&pp->fib, &pp->main);
}

static void fiber_runs_entry_with_its_arg_and_keeps_locals_across_switches(void **state)
{
    (void)state;
    struct pingpong pp;
    memset(&pp, 0, sizeof pp);
    struct eddy__stack *s = eddy__stack_get(&pool, 0, 0);
    assert_non_null(s);
    eddy__fiber_init_thread(&pp.main);
    eddy__fiber_init(&pp.fib, s->lo, s->size, pingpong_entry, &pp);
    assert_int_equal(pp.arg_ok, 0); /* nothing runs before the first switch */

    uint64_t a = 7, b = 8, c = 9, d = 10, e = 11, f = 12, r = 0;
    for (long i = 0; i < ROUNDS; i++) {
        eddy__fiber_switch(&pp.main, &pp.fib);
        if (pp.count != i + 1)
            fail_msg("round %ld: fiber ran %ld times", i, pp.count);
        a = a * 31 + (uint64_t)i;
        b ^= a >> 3;
        c += b * 7;
        d = (d << 1 | d >> 63) + c;
        e -= d ^ (uint64_t)i;
        f += e | 1;
        r += a ^ b ^ c ^ d ^ e ^ f;
    }
    assert_int_equal(pp.arg_ok, 1);
    eddy__fiber_switch(&pp.main, &pp.fib); /* lets it finish */
    assert_int_equal(pp.count, ROUNDS);
    assert_true(r == expected_mix(7));
    assert_true(pp.result == expected_mix(100));
    eddy__fiber_destroy(&pp.fib);
    assert_true(eddy__stack_canary_ok(s));
    eddy__stack_put(&pool, 0, s);
}

/* ---- every callee-saved register, checked from assembly */

#ifdef NREGS
struct regs {
    struct eddy__fiber main, fib;
    int rounds, bad;
};

static void regs_entry(void *arg)
{
    struct regs *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        uint64_t out[NREGS], seed = 0x2000 + (uint64_t)i * 0x100;
        regs_roundtrip(&r->fib, &r->main, out, seed, eddy__fiber_switch);
        for (int k = 0; k < NREGS; k++)
            r->bad += out[k] != seed + (uint64_t)k + 1;
    }
    eddy__fiber_exit_to(&r->fib, &r->main);
}
#endif

static void fiber_switch_preserves_every_callee_saved_register(void **state)
{
    (void)state;
#ifdef NREGS
    struct regs r = { .rounds = 100 };
    struct eddy__stack *s = eddy__stack_get(&pool, 0, 0);
    eddy__fiber_init_thread(&r.main);
    eddy__fiber_init(&r.fib, s->lo, s->size, regs_entry, &r);
    for (int i = 0; i <= r.rounds; i++) {
        uint64_t out[NREGS], seed = 0x10000 + (uint64_t)i * 0x100;
        regs_roundtrip(&r.main, &r.fib, out, seed, eddy__fiber_switch);
        for (int k = 0; k < NREGS; k++)
            if (out[k] != seed + (uint64_t)k + 1)
                fail_msg("round %d: register %d is %#llx, expected %#llx", i, k,
                         (unsigned long long)out[k], (unsigned long long)(seed + k + 1));
    }
    assert_int_equal(r.bad, 0);
    eddy__fiber_destroy(&r.fib);
    eddy__stack_put(&pool, 0, s);
#else
    skip();
#endif
}

/* ---- floating point */

struct fp {
    struct eddy__fiber main, fib;
    double result;
};

static double fp_step(double x, double y, long i)
{
    return x * 1.0000001 + y / (double)(i + 1);
}

static double expected_fp(double seed)
{
    double x = seed, y = seed * 0.5, z = seed * 0.25, w = 0;
    for (long i = 0; i < 1000; i++) {
        x = fp_step(x, y, i);
        y = fp_step(y, z, i);
        z = fp_step(z, x, i);
        w += x - y + z;
    }
    return w;
}

static void fp_entry(void *arg)
{
    struct fp *p = arg;
    double x = 3.25, y = 3.25 * 0.5, z = 3.25 * 0.25, w = 0;
    for (long i = 0; i < 1000; i++) {
        x = fp_step(x, y, i);
        SCRAMBLE_CALLEE_SAVED();
        eddy__fiber_switch(&p->fib, &p->main);
        y = fp_step(y, z, i);
        z = fp_step(z, x, i);
        w += x - y + z;
    }
    p->result = w;
    eddy__fiber_exit_to(&p->fib, &p->main);
}

static void fiber_keeps_floating_point_locals_across_switches(void **state)
{
    (void)state;
    struct fp p;
    memset(&p, 0, sizeof p);
    struct eddy__stack *s = eddy__stack_get(&pool, 0, 0);
    eddy__fiber_init_thread(&p.main);
    eddy__fiber_init(&p.fib, s->lo, s->size, fp_entry, &p);
    double x = -1.5, y = -1.5 * 0.5, z = -1.5 * 0.25, w = 0;
    for (long i = 0; i < 1000; i++) {
        x = fp_step(x, y, i);
        eddy__fiber_switch(&p.main, &p.fib);
        y = fp_step(y, z, i);
        z = fp_step(z, x, i);
        w += x - y + z;
    }
    eddy__fiber_switch(&p.main, &p.fib);
    /* Same operations in the same order: bit-identical results. */
    assert_true(w == expected_fp(-1.5));
    assert_true(p.result == expected_fp(3.25));
    eddy__fiber_destroy(&p.fib);
    eddy__stack_put(&pool, 0, s);
}

/* ---- a fiber resumed on another thread */

struct migrate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int phase;                   /* guarded by: lock */
    struct eddy__stack *stack;
    struct eddy__fiber fib;
    struct eddy__fiber *resumer; /* the context to switch back to */
    pid_t tid_before, tid_after;
    int locals_ok, bounds_ok;
};

static void migrate_entry(void *arg)
{
    struct migrate *m = arg;
    char buf[512];
    double x = 2.5;
    long acc = 0;
    for (int i = 0; i < (int)sizeof buf; i++) {
        buf[i] = (char)(i * 7);
        acc += buf[i];
    }
    m->tid_before = gettid();
    eddy__fiber_switch(&m->fib, m->resumer);
    /* Now on thread B. gettid, not pthread_self: glibc declares the latter
       const, so the compiler may reuse the value from before the switch. */
    m->tid_after = gettid();
    long again = 0;
    for (int i = 0; i < (int)sizeof buf; i++)
        again += buf[i];
    m->locals_ok = again == acc && x == 2.5 && buf[100] == (char)700;
    eddy__fiber_exit_to(&m->fib, m->resumer);
}

static void *migrate_thread_a(void *arg)
{
    struct migrate *m = arg;
    struct eddy__fiber sched;
    eddy__fiber_init_thread(&sched);
    m->resumer = &sched;
    eddy__fiber_init(&m->fib, m->stack->lo, m->stack->size, migrate_entry, m);
    eddy__fiber_switch(&sched, &m->fib);
    /* The fiber is suspended: hand it over, and stay alive until B is done
       with it (a worker does not exit under a stolen fiber either). */
    pthread_mutex_lock(&m->lock);
    m->phase = 1;
    pthread_cond_broadcast(&m->cond);
    while (m->phase != 2)
        pthread_cond_wait(&m->cond, &m->lock);
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void *migrate_thread_b(void *arg)
{
    struct migrate *m = arg;
    pthread_mutex_lock(&m->lock);
    while (m->phase != 1)
        pthread_cond_wait(&m->cond, &m->lock);
    pthread_mutex_unlock(&m->lock);
    struct eddy__fiber sched;
    eddy__fiber_init_thread(&sched);
    m->resumer = &sched;
    eddy__fiber_switch(&sched, &m->fib);
    m->bounds_ok = thread_bounds_ok(&sched);
    eddy__fiber_destroy(&m->fib);
    pthread_mutex_lock(&m->lock);
    m->phase = 2;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void fiber_suspended_on_one_thread_completes_on_another(void **state)
{
    (void)state;
    struct migrate m;
    memset(&m, 0, sizeof m);
    pthread_mutex_init(&m.lock, NULL);
    pthread_cond_init(&m.cond, NULL);
    m.stack = eddy__stack_get(&pool, -1, 0);
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, migrate_thread_a, &m), 0);
    assert_int_equal(pthread_create(&b, NULL, migrate_thread_b, &m), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    assert_int_not_equal(m.tid_before, 0);
    assert_int_not_equal(m.tid_after, 0);
    assert_int_not_equal(m.tid_before, m.tid_after);
    assert_true(m.locals_ok);
    assert_true(m.bounds_ok);
    assert_true(eddy__stack_canary_ok(m.stack));
    eddy__stack_put(&pool, -1, m.stack);
    pthread_cond_destroy(&m.cond);
    pthread_mutex_destroy(&m.lock);
}

/* ---- many fibers bouncing between worker threads, as under stealing */

enum { BOUNCE_WORKERS = 2, BOUNCE_FIBERS = 8 };

struct bouncer {
    struct eddy__fiber fib;
    struct eddy__fiber *resumer; /* written by the worker resuming it */
    struct eddy__stack *stack;
    int id, yields, steps, done, ok, moves;
    struct bouncer *next;        /* run queue link; guarded by: bounce.lock */
};

/* Each worker runs the fibers of its own queue and hands every one it
   suspends to the other worker's queue, so every resumption is a move. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct bouncer *head[BOUNCE_WORKERS], *tail[BOUNCE_WORKERS]; /* guarded by: lock */
    int finished;                                                /* guarded by: lock */
    struct eddy__stack_pool pool;
} bounce;

static void bounce_push(int worker, struct bouncer *b)
{
    b->next = NULL;
    if (bounce.head[worker] == NULL)
        bounce.head[worker] = b;
    else
        bounce.tail[worker]->next = b;
    bounce.tail[worker] = b;
}

static void bounce_entry(void *arg)
{
    struct bouncer *b = arg;
    uint64_t v[6] = { (uint64_t)b->id, 1, 2, 3, 4, 5 }, w[6];
    memcpy(w, v, sizeof v);
    char pattern[300];
    memset(pattern, b->id, sizeof pattern);
    pid_t tid = gettid();
    for (int i = 0; i < b->yields; i++) {
        uint64_t got = mix(v, i);
        b->steps++; /* read on whichever thread runs it next */
        eddy__fiber_switch(&b->fib, b->resumer);
        if (got != mix(w, i) || pattern[i % sizeof pattern] != (char)b->id)
            b->ok = 0;
        pid_t now = gettid();
        b->moves += now != tid;
        tid = now;
    }
    b->done = 1;
    eddy__fiber_exit_to(&b->fib, b->resumer);
}

static void *bounce_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct eddy__fiber sched;
    eddy__fiber_init_thread(&sched);
    pthread_mutex_lock(&bounce.lock);
    while (bounce.finished < BOUNCE_FIBERS) {
        struct bouncer *b = bounce.head[id];
        if (b == NULL) {
            pthread_cond_wait(&bounce.cond, &bounce.lock);
            continue;
        }
        bounce.head[id] = b->next;
        pthread_mutex_unlock(&bounce.lock);

        if (b->stack == NULL) { /* first run: the stack comes now */
            b->stack = eddy__stack_get(&bounce.pool, id, 0);
            eddy__fiber_init(&b->fib, b->stack->lo, b->stack->size, bounce_entry, b);
        }
        b->resumer = &sched;
        eddy__fiber_switch(&sched, &b->fib);
        if (!eddy__stack_canary_ok(b->stack))
            b->ok = 0;
        if (b->done) {
            eddy__fiber_destroy(&b->fib);
            /* Often not the cache it came from. */
            eddy__stack_put(&bounce.pool, id, b->stack);
        }

        pthread_mutex_lock(&bounce.lock);
        if (b->done)
            bounce.finished++;
        else
            bounce_push((id + 1) % BOUNCE_WORKERS, b);
        pthread_cond_broadcast(&bounce.cond);
    }
    pthread_mutex_unlock(&bounce.lock);
    return NULL;
}

static void fibers_bounce_between_threads_and_stay_intact(void **state)
{
    (void)state;
    static struct bouncer fibers[BOUNCE_FIBERS];
    int yields = eddy_test_sanitized() ? 200 : 2000;
    memset(&bounce, 0, sizeof bounce);
    memset(fibers, 0, sizeof fibers);
    pthread_mutex_init(&bounce.lock, NULL);
    pthread_cond_init(&bounce.cond, NULL);
    assert_ok(eddy__stack_pool_init(&bounce.pool, 32 * KIB, BOUNCE_WORKERS));
    for (int i = 0; i < BOUNCE_FIBERS; i++) {
        fibers[i] = (struct bouncer){ .id = i + 1, .yields = yields, .ok = 1 };
        bounce_push(i % BOUNCE_WORKERS, &fibers[i]);
    }

    pthread_t t[BOUNCE_WORKERS];
    for (int i = 0; i < BOUNCE_WORKERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, bounce_worker, (void *)(intptr_t)i), 0);
    for (int i = 0; i < BOUNCE_WORKERS; i++)
        pthread_join(t[i], NULL);

    for (int i = 0; i < BOUNCE_FIBERS; i++) {
        assert_true(fibers[i].done);
        assert_true(fibers[i].ok);
        assert_int_equal(fibers[i].steps, yields);
        assert_int_equal(fibers[i].moves, yields); /* every resumption moved */
    }
    eddy__stack_pool_destroy(&bounce.pool);
    pthread_cond_destroy(&bounce.cond);
    pthread_mutex_destroy(&bounce.lock);
}

/* ---- recursion, stack pointer, alignment */

struct probe {
    struct eddy__fiber main, fib;
    struct eddy__stack *stack;
    char *stop;         /* recurse until the frame is below this */
    unsigned depth;
    uintptr_t frame, aligned_local, callee_frame;
};

__attribute__((noinline)) static unsigned recurse(struct probe *p, unsigned depth)
{
    volatile char pad[200];
    pad[0] = (char)depth;
    pad[199] = (char)depth;
    if ((char *)__builtin_frame_address(0) < p->stop || depth > 1000000) {
        p->depth = depth;
        return (unsigned)pad[0];
    }
    /* Use the result: no tail call, every frame stays. */
    return recurse(p, depth + 1) + (unsigned)(unsigned char)pad[199];
}

static void recursion_entry(void *arg)
{
    struct probe *p = arg;
    p->frame = (uintptr_t)__builtin_frame_address(0);
    recurse(p, 0);
    eddy__fiber_exit_to(&p->fib, &p->main);
}

static void fiber_recurses_deep_into_its_stack(void **state)
{
    (void)state;
    struct probe p;
    memset(&p, 0, sizeof p);
    p.stack = eddy__stack_get(&pool, 0, 0);
    /* Use all but the last 4 KiB (ASan's reports and signal frames would
       want some of it; nothing else runs there). */
    p.stop = (char *)p.stack->lo + 4 * KIB;
    eddy__fiber_init_thread(&p.main);
    eddy__fiber_init(&p.fib, p.stack->lo, p.stack->size, recursion_entry, &p);
    eddy__fiber_switch(&p.main, &p.fib);
    eddy__fiber_destroy(&p.fib);
    size_t used = (uintptr_t)p.stack->lo + p.stack->size - (uintptr_t)p.stop;
    print_message("recursed %u frames through %zu KiB\n", p.depth, used / KIB);
    assert_true(p.depth > 50);
    assert_true(eddy__stack_canary_ok(p.stack));
    eddy__stack_put(&pool, 0, p.stack);
}

__attribute__((noinline)) static uintptr_t callee_frame(void)
{
    return (uintptr_t)__builtin_frame_address(0);
}

static void probe_entry(void *arg)
{
    struct probe *p = arg;
    _Alignas(16) volatile char local[16];
    local[0] = 1;
    p->frame = (uintptr_t)__builtin_frame_address(0);
    p->aligned_local = (uintptr_t)local;
    p->callee_frame = callee_frame();
    eddy__fiber_exit_to(&p->fib, &p->main);
}

static void fiber_runs_on_its_own_stack_16_byte_aligned(void **state)
{
    (void)state;
    for (int round = 0; round < 4; round++) {
        struct probe p;
        memset(&p, 0, sizeof p);
        /* Odd sizes too: the top is rounded down to 16 bytes. */
        p.stack = eddy__stack_get(&pool, 0, round < 2 ? 0 : 100 * KIB + 8);
        size_t size = p.stack->size - (size_t)round * 8;
        eddy__fiber_init_thread(&p.main);
        eddy__fiber_init(&p.fib, p.stack->lo, size, probe_entry, &p);
        eddy__fiber_switch(&p.main, &p.fib);
        eddy__fiber_destroy(&p.fib);
        assert_true(thread_bounds_ok(&p.main));

        uintptr_t lo = (uintptr_t)p.stack->lo, hi = lo + size;
        assert_true(p.frame > lo && p.frame < hi);
        assert_true(p.callee_frame > lo && p.callee_frame < p.frame);
        /* The first frames sit near the top, not somewhere else. */
        assert_true(hi - p.frame < 4 * KIB);
        /* x86-64: the frame pointer is pushed at rsp = 8 mod 16, so it is
           0 mod 16 when the call site was aligned; AArch64 keeps sp (and
           the frame record) 16-byte aligned always. */
        assert_int_equal(p.frame % 16, 0);
        assert_int_equal(p.callee_frame % 16, 0);
        assert_int_equal(p.aligned_local % 16, 0);
        eddy__stack_put(&pool, 0, p.stack);
    }
}

/* ---- exit_to + destroy, many times */

static long vm_size_pages(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = -1;
    if (f != NULL) {
        if (fscanf(f, "%ld", &size) != 1)
            size = -1;
        fclose(f);
    }
    return size;
}

struct shortlived {
    struct eddy__fiber main, fib;
    long sum;
};

__attribute__((noinline)) static long use_locals(int n)
{
    /* Address-taken locals: with detect_stack_use_after_return they live
       on ASan's fake stack, which exit_to must free. */
    volatile long arr[64];
    long s = 0;
    for (int i = 0; i < 64; i++)
        arr[i] = i * n;
    for (int i = 0; i < 64; i++)
        s += arr[i];
    return s;
}

static void shortlived_entry(void *arg)
{
    struct shortlived *s = arg;
    char *heap = malloc(100);
    assert_non_null(heap);
    memset(heap, 1, 100);
    s->sum += use_locals(1) + heap[99];
    free(heap);
    eddy__fiber_switch(&s->fib, &s->main);
    s->sum += use_locals(2);
    eddy__fiber_exit_to(&s->fib, &s->main);
}

static void fiber_exit_to_and_destroy_release_everything(void **state)
{
    (void)state;
    int n = eddy_test_sanitized() ? 3000 : 20000;
    long before = 0;
    for (int i = 0; i < n; i++) {
        if (i == 100)
            before = vm_size_pages(); /* after pools and caches warmed up */
        struct shortlived s;
        memset(&s, 0, sizeof s);
        struct eddy__stack *st = eddy__stack_get(&pool, 0, 0);
        eddy__fiber_init_thread(&s.main);
        eddy__fiber_init(&s.fib, st->lo, st->size, shortlived_entry, &s);
        eddy__fiber_switch(&s.main, &s.fib);
        eddy__fiber_switch(&s.main, &s.fib);
        eddy__fiber_destroy(&s.fib);
        if (s.sum != 2016 * 3 + 1)
            fail_msg("fiber %d computed %ld", i, s.sum);
        eddy__stack_put(&pool, 0, st);
    }
    long after = vm_size_pages();
    print_message("virtual size %ld -> %ld pages over %d fibers\n", before, after, n);
    /* A leaked fake stack per fiber would be megabytes each. */
    assert_true(after - before < 16384);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(fiber_runs_entry_with_its_arg_and_keeps_locals_across_switches,
                                    pool_setup, pool_teardown),
    cmocka_unit_test_setup_teardown(fiber_switch_preserves_every_callee_saved_register,
                                    pool_setup, pool_teardown),
    cmocka_unit_test_setup_teardown(fiber_keeps_floating_point_locals_across_switches,
                                    pool_setup, pool_teardown),
    cmocka_unit_test_setup_teardown(fiber_suspended_on_one_thread_completes_on_another,
                                    pool_setup, pool_teardown),
    cmocka_unit_test(fibers_bounce_between_threads_and_stay_intact),
    cmocka_unit_test_setup_teardown(fiber_recurses_deep_into_its_stack,
                                    pool_setup, pool_teardown),
    cmocka_unit_test_setup_teardown(fiber_runs_on_its_own_stack_16_byte_aligned,
                                    pool_setup, pool_teardown),
    cmocka_unit_test_setup_teardown(fiber_exit_to_and_destroy_release_everything,
                                    pool_setup, pool_teardown),
};

EDDY_TEST_MAIN(tests, 120)
