/*
 * rt/overflow.c: the report of a fiber stack overflow. A task that runs
 * off the bottom of its stack touches the guard page below it and gets a
 * SIGSEGV; on that fault this handler, running on the worker's alternate
 * signal stack (the task's own is exhausted), names the task, its stack
 * size and the frames it can, then aborts, as Go's "goroutine stack
 * exceeds" does. Any other fault goes to the handler that was there before
 * (the default one: the process crashes as it would without eddy).
 *
 * Not installed under AddressSanitizer or ThreadSanitizer, which own
 * SIGSEGV and report stack overflows themselves. Stacks without a guard
 * (past the mprotect budget, see docs/design.md "Stacks") are checked by
 * their canary when the task switches out instead (rt/task.c).
 */
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt/rt_int.h"
#include "sched/alloc.h"

#ifdef EDDY__FIBER_RAW
#define OVERFLOW_HANDLER 1 /* no sanitizer owns SIGSEGV (rt/fiber.h) */
#endif

#define ALT_STACK_SIZE (64 * 1024)
#define MAX_FRAMES 24

#ifdef OVERFLOW_HANDLER
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static struct sigaction previous; /* immutable after install */
static bool installed;            /* immutable after install */
static _Thread_local void *alt_stack; /* this worker's, or NULL */

/* Async-signal-safe output: write(2) and a decimal formatter. */
static void say(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void say_num(uint64_t v)
{
    char buf[24];
    size_t i = sizeof buf;
    buf[--i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && i > 0);
    say(buf + i);
}

/* Hands a fault that is not an overflow to whoever handled SIGSEGV
   before: the default action re-runs the faulting instruction and dies. */
static void pass_on(int sig, siginfo_t *info, void *uctx)
{
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, uctx);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL); /* async-signal-safe; returning re-faults */
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    struct eddy__task *t = eddy__task_current();
    const char *name = NULL;
    size_t size = 0;
    uint64_t id = 0;
    if (t == NULL || !eddy__fiber_task_guard_hit(t, info->si_addr, &name, &size, &id)) {
        pass_on(sig, info, uctx);
        return;
    }
    say("eddy: fiber stack overflow in task ");
    say(name != NULL ? name : "(unnamed)");
    say(" (id ");
    say_num(id);
    say(", stack ");
    say_num(size);
    say(" bytes, worker ");
    say_num((uint64_t)eddy__worker_index_current());
    say("); its frames, innermost first:\n");
    void *frames[MAX_FRAMES];
    int n = backtrace(frames, MAX_FRAMES);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    say("eddy: raise the task's stack size (eddy_spawn_opts.stack_size, or "
        "eddy_rt_config.stack_size)\n");
    abort();
}

static void install(void)
{
    /* backtrace loads libgcc on its first call: not in a signal handler */
    void *warm[2];
    (void)backtrace(warm, 2);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    installed = sigaction(SIGSEGV, &sa, &previous) == 0;
}
#endif

void eddy__overflow_thread_start(void)
{
#ifdef OVERFLOW_HANDLER
    pthread_once(&install_once, install);
    if (!installed || alt_stack != NULL)
        return;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return; /* the thread has one already (an embedding program's) */
    void *mem = eddy__alloc(ALT_STACK_SIZE);
    if (mem == NULL)
        return; /* an overflow then crashes without a report */
    stack_t ss = { .ss_sp = mem, .ss_size = ALT_STACK_SIZE, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0) {
        eddy__dealloc(mem, ALT_STACK_SIZE);
        return;
    }
    alt_stack = mem;
#endif
}

void eddy__overflow_thread_stop(void)
{
#ifdef OVERFLOW_HANDLER
    if (alt_stack == NULL)
        return;
    stack_t off = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
    (void)sigaltstack(&off, NULL);
    eddy__dealloc(alt_stack, ALT_STACK_SIZE);
    alt_stack = NULL;
#endif
}
