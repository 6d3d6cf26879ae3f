/*
 * rt/dump_signal.c: eddy_rt_dump on a signal, off unless asked for
 * (eddy_rt_config.dump_signal, or the environment's EDDY_DUMP_SIGNAL).
 *
 * The handler only writes the signal's number, one byte, to a pipe (all it
 * may do: write(2) is async-signal-safe, eddy_rt_dump is not). A dump
 * thread, started with the first runtime that asks for a signal and
 * stopped with the last, reads the pipe and dumps to stderr every live
 * runtime that asked for that signal. Unlike Go the process carries on
 * afterwards, as the JVM does after its SIGQUIT thread dump.
 *
 * Locks: life_lock (registering and unregistering, the thread's start and
 * stop) is taken before reg_lock (the registrations, which the thread holds
 * while it dumps: a runtime cannot be freed under a dump of it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <eddy/rt.h>

#include "rt/rt_int.h"
#include "sched/alloc.h"

#define NSIGS 65 /* Linux's _NSIG: signals 1..64 */

struct reg {
    eddy_rt *rt;
    int sig;
};

static pthread_mutex_t life_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;                 /* guarded by: life_lock */
static bool thread_on;                   /* guarded by: life_lock */
static int pipe_r = -1;                  /* guarded by: life_lock; the thread reads it */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg *regs;                 /* guarded by: reg_lock */
static size_t nregs, regcap;             /* guarded by: reg_lock */
static unsigned sig_refs[NSIGS];         /* guarded by: reg_lock */
static struct sigaction sig_prev[NSIGS]; /* guarded by: reg_lock */
static bool stopping;                    /* guarded by: reg_lock */

/* The handler's side: the pipe to write to (-1: none), and how many
   handlers are between reading it and being done with it, so the pipe is
   closed only once none can still write to it. */
static _Atomic int pipe_w = -1;
static _Atomic unsigned in_handler;

static void on_signal(int sig)
{
    int saved = errno;
    atomic_fetch_add(&in_handler, 1);
    int fd = atomic_load(&pipe_w);
    if (fd >= 0) {
        unsigned char c = (unsigned char)sig;
        ssize_t r = write(fd, &c, 1); /* a full pipe: dumps are pending anyway */
        (void)r;
    }
    atomic_fetch_sub(&in_handler, 1);
    errno = saved;
}

/* ------------------------------------------------------- the signal name */

/* Signals a dump may take: not the uncatchable ones, not the faults (a
   handler that returns from one re-runs the faulting instruction), not
   the ones glibc keeps for itself below SIGRTMIN. */
static bool usable(int sig)
{
    if (sig <= 0 || sig >= NSIGS || sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV ||
        sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP || sig == SIGABRT ||
        sig == SIGSYS || sig == SIGPIPE)
        return false;
    return sig < 32 || sig >= SIGRTMIN;
}

static int parse_signal(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {
        { "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 },
        { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "ALRM", SIGALRM }, { "WINCH", SIGWINCH },
        { "URG", SIGURG },   { "PWR", SIGPWR },
    };
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    if (*s >= '0' && *s <= '9') {
        char *end;
        long v = strtol(s, &end, 10);
        return *end == '\0' && v > 0 && v < NSIGS ? (int)v : -1;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].sig;
    return -1;
}

int eddy__dump_signal_resolve(int cfg_sig, int *out)
{
    *out = 0;
    if (cfg_sig != 0) {
        if (!usable(cfg_sig))
            return -EINVAL;
        *out = cfg_sig;
        return 0;
    }
    const char *env = getenv("EDDY_DUMP_SIGNAL");
    if (env == NULL || env[0] == '\0')
        return 0;
    int sig = parse_signal(env);
    if (sig < 0 || !usable(sig)) {
        static atomic_bool said;
        if (!atomic_exchange(&said, true))
            fprintf(stderr,
                    "eddy: EDDY_DUMP_SIGNAL=%s is not a signal eddy can dump on (a name such "
                    "as QUIT or USR1, or a number); ignored\n",
                    env);
        return 0;
    }
    *out = sig;
    return 0;
}

/* ------------------------------------------------------------ the thread */

/* Takes the requests waiting in the pipe and dumps every runtime that asked
   for one of their signals. Caller holds reg_lock. */
static void serve_locked(int rfd)
{
    bool want[NSIGS] = { false };
    bool any = false;
    unsigned char c[64];
    ssize_t n;
    while ((n = read(rfd, c, sizeof c)) > 0 || (n < 0 && errno == EINTR)) {
        for (ssize_t i = 0; i < n; i++) {
            if (c[i] != 0 && c[i] < NSIGS) {
                want[c[i]] = true;
                any = true;
            }
        }
    }
    if (!any)
        return;
    for (size_t i = 0; i < nregs; i++)
        if (want[regs[i].sig])
            (void)eddy_rt_dump(regs[i].rt, STDERR_FILENO);
}

static void *dump_thread(void *arg)
{
    int rfd = (int)(intptr_t)arg;
    for (;;) {
        struct pollfd p = { .fd = rfd, .events = POLLIN };
        (void)poll(&p, 1, -1);
        pthread_mutex_lock(&reg_lock);
        bool stop = stopping;
        if (!stop)
            serve_locked(rfd);
        pthread_mutex_unlock(&reg_lock);
        if (stop)
            return NULL;
    }
}

/* Caller holds life_lock. */
static int thread_start(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return -errno;
    pipe_r = p[0];
    atomic_store(&pipe_w, p[1]);
    stopping = false; /* no thread runs: nobody else reads it */
    /* every signal blocked in the thread: the ones the program handles
       go to its own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&thread, NULL, dump_thread, (void *)(intptr_t)p[0]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_store(&pipe_w, -1);
        close(p[0]);
        close(p[1]);
        pipe_r = -1;
        return -rc;
    }
    thread_on = true;
    return 0;
}

/* Caller holds life_lock, no handler is installed any more. */
static void thread_stop(void)
{
    pthread_mutex_lock(&reg_lock);
    stopping = true;
    pthread_mutex_unlock(&reg_lock);
    int wfd = atomic_exchange(&pipe_w, -1);
    unsigned char zero = 0;
    ssize_t r = write(wfd, &zero, 1); /* wakes the thread's poll */
    (void)r;
    pthread_join(thread, NULL);
    thread_on = false;
    /* a handler that read the old fd before the exchange writes no more */
    while (atomic_load(&in_handler) != 0)
        sched_yield();
    close(wfd);
    close(pipe_r);
    pipe_r = -1;
}

/* ------------------------------------------------------ register, remove */

int eddy__dump_signal_add(eddy_rt *rt, int sig)
{
    if (!usable(sig))
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&life_lock);
    if (!thread_on)
        rc = thread_start();
    if (rc == 0) {
        pthread_mutex_lock(&reg_lock);
        if (nregs == regcap) {
            size_t ncap = regcap ? regcap * 2 : 8;
            struct reg *n = eddy__realloc(regs, sizeof *regs * regcap, sizeof *regs * ncap);
            if (n == NULL) {
                rc = -ENOMEM;
            } else {
                regs = n;
                regcap = ncap;
            }
        }
        if (rc == 0 && sig_refs[sig] == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_signal;
            sa.sa_flags = SA_RESTART;
            sigemptyset(&sa.sa_mask);
            if (sigaction(sig, &sa, &sig_prev[sig]) != 0)
                rc = -errno;
        }
        if (rc == 0) {
            sig_refs[sig]++;
            regs[nregs++] = (struct reg){ rt, sig };
        }
        bool none = nregs == 0;
        pthread_mutex_unlock(&reg_lock);
        if (rc < 0 && none)
            thread_stop();
    }
    pthread_mutex_unlock(&life_lock);
    return rc;
}

void eddy__dump_signal_remove(eddy_rt *rt)
{
    pthread_mutex_lock(&life_lock);
    if (!thread_on) {
        pthread_mutex_unlock(&life_lock);
        return;
    }
    pthread_mutex_lock(&reg_lock);
    /* a dump asked for before this free is printed before it goes on */
    serve_locked(pipe_r);
    for (size_t i = 0; i < nregs; i++) {
        if (regs[i].rt != rt)
            continue;
        int sig = regs[i].sig;
        regs[i] = regs[--nregs];
        if (--sig_refs[sig] == 0)
            (void)sigaction(sig, &sig_prev[sig], NULL);
        break;
    }
    bool last = nregs == 0;
    if (last) {
        eddy__dealloc(regs, sizeof *regs * regcap);
        regs = NULL;
        regcap = 0;
    }
    pthread_mutex_unlock(&reg_lock);
    if (last)
        thread_stop();
    pthread_mutex_unlock(&life_lock);
}
