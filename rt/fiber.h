/*
 * rt/fiber.h: stackful execution contexts and the switch between them.
 *
 * The switch saves only the callee-saved registers and the stack pointer
 * (x86-64 SysV: rbx rbp r12-r15; aarch64: x19-x29, lr, d8-d15) in a few
 * lines of assembly (fiber_x86_64.S, fiber_aarch64.S); other targets use a
 * portable fallback. The floating-point control words are not saved: all
 * fibers share the thread's (libaco's SHARE_FPU_MXCSR_ENV).
 *
 * Switches are annotated for AddressSanitizer (start/finish_switch_fiber)
 * and ThreadSanitizer (__tsan_switch_to_fiber) so sanitizer builds see
 * the truth. A fiber may resume on another thread than the one it left:
 * nothing thread-local may be cached across a switch.
 */
#ifndef EDDY_RT_FIBER_H
#define EDDY_RT_FIBER_H

#include <stdbool.h>
#include <stddef.h>

/* EDDY__FIBER_ASAN: this translation unit is built with AddressSanitizer
   (the build's EDDY_ASAN, gcc's __SANITIZE_ADDRESS__ or clang's feature
   test). It changes the layout below, so everything that includes this
   header must be built with the same sanitizer, as sanitizers demand anyway. */
#if defined(EDDY_ASAN) || defined(__SANITIZE_ADDRESS__)
#define EDDY__FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EDDY__FIBER_ASAN 1
#endif
#endif

/* EDDY__FIBER_RAW: a switch is eddy__ctx_switch and nothing else (no
   sanitizer bookkeeping around it, not the portable ucontext build), so a
   caller that needs the switch in its own frame may call that directly. */
#if !defined(EDDY__FIBER_ASAN) && !defined(EDDY_TSAN) && !defined(__SANITIZE_THREAD__) && \
    !defined(EDDY_FIBER_PORTABLE) && (defined(__x86_64__) || defined(__aarch64__))
#define EDDY__FIBER_RAW 1
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#undef EDDY__FIBER_RAW
#endif
#endif
#endif

struct eddy__fiber {
    void *sp;            /* saved stack pointer while switched out */
    void *stack_lo;      /* lowest usable byte; NULL for a thread's own stack */
    size_t stack_size;   /* usable bytes above stack_lo */
    void *tsan_fiber;    /* TSan's handle (TSan builds) */
    void *asan_fake;     /* ASan's fake-stack save slot (ASan builds) */
#ifdef EDDY__FIBER_ASAN
    /* A thread's own stack has no stack_lo, but ASan must be told its
       bounds when a fiber switches back to it. They are recorded at every
       switch out of it, from what __sanitizer_finish_switch_fiber reports on
       the other side, never cached per process: a fiber moves between
       threads, and each thread context is resumed only on its own thread. */
    struct eddy__fiber *asan_prev; /* the context that last switched to this one */
    const void *asan_bottom;       /* thread contexts: stack bottom seen by ASan */
    size_t asan_size;              /* thread contexts: its size */
#endif
};

/**
 * Makes f stand for the calling thread's own stack (a worker's scheduler
 * context), so fibers can switch back to it.
 */
void eddy__fiber_init_thread(struct eddy__fiber *f);

/**
 * Prepares f to run entry(arg) on [stack_lo, stack_lo + size) at its first
 * switch-in. entry must never return: it ends with eddy__fiber_exit_to().
 */
void eddy__fiber_init(struct eddy__fiber *f, void *stack_lo, size_t size,
                      void (*entry)(void *), void *arg);

/** Saves the current context into from and resumes to. */
void eddy__fiber_switch(struct eddy__fiber *from, struct eddy__fiber *to);

/**
 * Final switch of a fiber that is done: like eddy__fiber_switch, but from
 * will never be resumed (sanitizers are told so, its TSan state is freed
 * by the next eddy__fiber_destroy). Does not return.
 */
_Noreturn void eddy__fiber_exit_to(struct eddy__fiber *from, struct eddy__fiber *to);

/** Releases sanitizer state of a fiber that will not run again. */
void eddy__fiber_destroy(struct eddy__fiber *f);

/* The raw switch, in assembly: saves callee-saved registers on the current
   stack, stores sp in *from_sp, loads to_sp, restores, returns there. */
void eddy__ctx_switch(void **from_sp, void *to_sp);

#endif
