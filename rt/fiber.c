/*
 * rt/fiber.c: fibers on top of the raw switch (fiber_x86_64.S,
 * fiber_aarch64.S): preparing a fresh fiber, switching between contexts
 * with the AddressSanitizer and ThreadSanitizer annotations, the last
 * switch of a finished fiber, and a portable fallback switch for targets
 * without assembly. It owns no stack (stack.c hands them out and checks
 * their canary) and never decides who runs next (the scheduler does).
 *
 * A fiber may be resumed on another thread than the one it left, so
 * nothing here keeps per-thread state: every sanitizer fact travels in the
 * fiber records themselves (fiber.h).
 *
 * Portable fallback (EDDY_FIBER_PORTABLE, automatic on other targets): the
 * fresh stack is entered once at init with makecontext/swapcontext, which
 * leaves a _setjmp buffer there; every later switch is _setjmp/_longjmp,
 * each buffer living on the stack it describes: about 16 ns per switch on
 * this VM (forced on x86-64), not the ~550 ns of swapcontext's signal-mask
 * syscalls. Not for TSan builds.
 */
#if !defined(__x86_64__) && !defined(__aarch64__) && !defined(EDDY_FIBER_PORTABLE)
#define EDDY_FIBER_PORTABLE 1
#endif
#ifdef EDDY_FIBER_PORTABLE
/* _FORTIFY_SOURCE turns _longjmp into __longjmp_chk, which refuses to jump
   to a frame on another stack: exactly what a fiber switch does. */
#undef _FORTIFY_SOURCE
#endif

#include "rt/fiber.h"

#include <assert.h>
#include <stdlib.h>

#if defined(EDDY_TSAN) || defined(__SANITIZE_THREAD__)
#define FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FIBER_TSAN 1
#endif
#endif

#ifdef EDDY__FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#if defined(EDDY_FIBER_PORTABLE) && defined(FIBER_TSAN)
#error "eddy: the portable fiber fallback (_setjmp/_longjmp across stacks) is not \
supported under ThreadSanitizer, whose longjmp interceptor only knows buffers \
of the current stack. Use x86-64 or aarch64 for TSan builds."
#endif

typedef void (*fiber_boot_fn)(struct eddy__fiber *f, void (*entry)(void *), void *arg);

static void fiber_boot(struct eddy__fiber *f, void (*entry)(void *), void *arg);

#ifndef EDDY_FIBER_PORTABLE
/* In the .S file: builds the first frame of a fiber on the stack ending at
   top, so that the first switch to the returned sp calls boot(f, entry, arg)
   on a 16-byte aligned stack. */
void *eddy__ctx_make(void *top, fiber_boot_fn boot, struct eddy__fiber *f,
                     void (*entry)(void *), void *arg);
#endif

/* ------------------------------------------------------------ sanitizers */

/*
 * The two halves of every switch. before_switch must come immediately
 * before eddy__ctx_switch and after_switch immediately after it, on the
 * stack that has just been resumed, hence always_inline.
 *
 * ASan wants the bounds of the stack being entered. A fiber's are its
 * stack_lo/stack_size. A thread context's are whatever ASan reported as the
 * "old" stack when that context last switched out: the fiber entered then
 * learns them from __sanitizer_finish_switch_fiber and writes them back
 * through asan_prev. A thread context only ever resumes on its own thread,
 * so the recorded bounds are always that thread's.
 *
 * TSan: each context carries its TSan fiber (a thread context's is the one
 * TSan created for the thread, from __tsan_get_current_fiber). Flag 0, not
 * __tsan_switch_to_fiber_no_sync: handing the CPU to another fiber is a
 * real happens-before edge, and a fiber that moved threads needs it.
 */
__attribute__((always_inline)) static inline void
before_switch(struct eddy__fiber *from, struct eddy__fiber *to, void **fake_save)
{
#ifdef EDDY__FIBER_ASAN
    to->asan_prev = from;
    if (to->stack_lo != NULL)
        __sanitizer_start_switch_fiber(fake_save, to->stack_lo, to->stack_size);
    else
        __sanitizer_start_switch_fiber(fake_save, to->asan_bottom, to->asan_size);
#else
    (void)from;
    (void)fake_save;
#endif
#ifdef FIBER_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#else
    (void)to;
#endif
}

__attribute__((always_inline)) static inline void
after_switch(struct eddy__fiber *self, void *fake)
{
#ifdef EDDY__FIBER_ASAN
    const void *old_bottom = NULL;
    size_t old_size = 0;
    __sanitizer_finish_switch_fiber(fake, &old_bottom, &old_size);
    struct eddy__fiber *prev = self->asan_prev;
    if (prev != NULL && prev->stack_lo == NULL) {
        prev->asan_bottom = old_bottom;
        prev->asan_size = old_size;
    }
#else
    (void)self;
    (void)fake;
#endif
}

/* --------------------------------------------------------------- fibers */

static void init_common(struct eddy__fiber *f, void *stack_lo, size_t size)
{
    f->sp = NULL;
    f->stack_lo = stack_lo;
    f->stack_size = size;
    f->tsan_fiber = NULL;
    f->asan_fake = NULL;
#ifdef EDDY__FIBER_ASAN
    f->asan_prev = NULL;
    f->asan_bottom = NULL;
    f->asan_size = 0;
#endif
}

void eddy__fiber_init_thread(struct eddy__fiber *f)
{
    init_common(f, NULL, 0);
#ifdef FIBER_TSAN
    f->tsan_fiber = __tsan_get_current_fiber();
#endif
    /* sp is written by the first switch out of this context. */
}

/* First C frame of every fiber (called from the .S trampoline, or from
   portable_start). Completes the switch that entered the fiber: there is
   no fake stack to restore yet. */
static void fiber_boot(struct eddy__fiber *f, void (*entry)(void *), void *arg)
{
    after_switch(f, NULL);
    entry(arg);
    /* entry returned instead of ending with eddy__fiber_exit_to: there is
       no frame to return to. */
    abort();
}

#ifdef EDDY_FIBER_PORTABLE
static void portable_prepare(struct eddy__fiber *f, void (*entry)(void *), void *arg);
#endif

void eddy__fiber_init(struct eddy__fiber *f, void *stack_lo, size_t size,
                      void (*entry)(void *), void *arg)
{
    assert(stack_lo != NULL && size >= 512 && entry != NULL);
    init_common(f, stack_lo, size);
#ifdef FIBER_TSAN
    f->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef EDDY_FIBER_PORTABLE
    portable_prepare(f, entry, arg);
#else
    f->sp = eddy__ctx_make((char *)stack_lo + size, fiber_boot, f, entry, arg);
#endif
}

void eddy__fiber_switch(struct eddy__fiber *from, struct eddy__fiber *to)
{
    assert(from != to && to->sp != NULL);
    before_switch(from, to, &from->asan_fake);
    eddy__ctx_switch(&from->sp, to->sp);
    /* Resumed, perhaps on another thread. */
    after_switch(from, from->asan_fake);
}

_Noreturn void eddy__fiber_exit_to(struct eddy__fiber *from, struct eddy__fiber *to)
{
    assert(from != to && to->sp != NULL);
    /* NULL fake-stack slot: ASan frees this fiber's fake stack now. No
       local of this frame may have its address taken past this point. */
    before_switch(from, to, NULL);
    eddy__ctx_switch(&from->sp, to->sp);
    abort(); /* nobody switches back to a finished fiber */
}

void eddy__fiber_destroy(struct eddy__fiber *f)
{
#ifdef FIBER_TSAN
    /* A thread context's TSan fiber belongs to its thread: never destroy it. */
    if (f->stack_lo != NULL && f->tsan_fiber != NULL)
        __tsan_destroy_fiber(f->tsan_fiber);
#endif
    /* A fiber destroyed while suspended (never finished) still owns an ASan
       fake stack, if detect_stack_use_after_return made one: ASan offers no
       way to free it from outside, so the runtime finishes fibers with
       eddy__fiber_exit_to before destroying them. */
    f->tsan_fiber = NULL;
    f->sp = NULL;
}

/* ------------------------------------------------- portable fallback */
#ifdef EDDY_FIBER_PORTABLE
#include <setjmp.h>
#include <ucontext.h>

/*
 * A suspended context's sp is the address of a jmp_buf in the frame of its
 * own eddy__ctx_switch call, which stays put while it is suspended.
 * Not instrumented by ASan: the buffers must sit on the real stack, not on
 * a fake stack that a switch can free.
 */
__attribute__((noinline, no_sanitize_address))
void eddy__ctx_switch(void **from_sp, void *to_sp)
{
    jmp_buf here;
    if (_setjmp(here) == 0) {
        *from_sp = &here;
        _longjmp(*(jmp_buf *)to_sp, 1);
    }
}

struct portable_boot {
    struct eddy__fiber *f;
    void (*entry)(void *);
    void *arg;
    ucontext_t back;
};

/* Hands the boot record to portable_start, which runs on this same thread
   before swapcontext returns (makecontext cannot pass pointers portably). */
static _Thread_local struct portable_boot *boot_pending;

/* Runs once on the fresh stack during eddy__fiber_init: parks a _setjmp
   buffer there as the fiber's sp and goes back. The first real switch-in
   _longjmps here and boots the fiber. */
__attribute__((noinline, no_sanitize_address))
static void portable_start(void)
{
    struct portable_boot *b = boot_pending;
    struct eddy__fiber *f = b->f;
    void (*entry)(void *) = b->entry;
    void *arg = b->arg;
    jmp_buf start;
#ifdef EDDY__FIBER_ASAN
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(NULL, &bottom, &size);
#endif
    if (_setjmp(start) == 0) {
        f->sp = &start;
#ifdef EDDY__FIBER_ASAN
        __sanitizer_start_switch_fiber(NULL, bottom, size);
#endif
        setcontext(&b->back);
        abort();
    }
    fiber_boot(f, entry, arg);
}

static void portable_prepare(struct eddy__fiber *f, void (*entry)(void *), void *arg)
{
    struct portable_boot b = { .f = f, .entry = entry, .arg = arg };
    ucontext_t ctx;
    if (getcontext(&ctx) != 0)
        abort();
    ctx.uc_stack.ss_sp = f->stack_lo;
    ctx.uc_stack.ss_size = f->stack_size;
    ctx.uc_link = NULL;
    makecontext(&ctx, portable_start, 0);
    boot_pending = &b;
#ifdef EDDY__FIBER_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, f->stack_lo, f->stack_size);
#endif
    if (swapcontext(&b.back, &ctx) != 0)
        abort();
#ifdef EDDY__FIBER_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}
#endif /* EDDY_FIBER_PORTABLE */
