/*
 * rt/dump.c: eddy_rt_dump, a live dump of every task with its stack (Go's
 * SIGQUIT goroutine dump; the stacks tokio-console cannot show).
 *
 * The tasks come from the scheduler's owned lists (sched/inspect.c), each
 * held by a reference while the dump looks at it. A suspended task is
 * pinned (its RUNNING bit set by us: no worker runs it meanwhile) just long
 * enough to copy its wait note and walk its stack by frame pointers from
 * the context it switched out with; a running or queued one is shown
 * without a stack. Each task's text is built in a buffer after the pin is
 * released and written with write(2): no lock or pin is held during I/O.
 *
 * Why frame pointers and not an unwinder: docs/design.md, "Task dumps".
 * The trigger by signal is in rt/dump_signal.c.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <eddy/io.h>
#include <eddy/rt.h>

#include "rt/rt_int.h"
#include "sched/alloc.h"

#define MAX_FRAMES 64
#define BUF_SIZE (24 * 1024) /* a header and 64 frames of long names */
#define SYM_MAX 160          /* longer symbol and module names are cut */
#define MOD_MAX 64
#define CACHE_SLOTS 256      /* symbolized return addresses kept per dump */

/* Where a suspended context keeps its frame pointer and return address,
   from its saved stack pointer (fiber_x86_64.S, fiber_aarch64.S). */
#if !defined(EDDY_FIBER_PORTABLE) && defined(__x86_64__)
#define WALK_SAVED_FP 40
#define WALK_SAVED_PC 48
#elif !defined(EDDY_FIBER_PORTABLE) && defined(__aarch64__)
#define WALK_SAVED_FP 80
#define WALK_SAVED_PC 88
#endif

/* One dump at a time in the process (their texts do not interleave), and
   eddy_rt_free waits here for a dump in progress before it frees the
   scheduler the dump walks (eddy__dump_barrier). */
static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;

void eddy__dump_barrier(void)
{
    pthread_mutex_lock(&dump_lock);
    pthread_mutex_unlock(&dump_lock);
}

/* ---------------------------------------------------------------- output */

struct buf {
    char *p;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b, const char *fmt, ...)
{
    if (b->len + 1 >= b->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

/* A name as the user gave it, with control characters and quotes made
   harmless: one task, one line. */
static void put_name(struct buf *b, const char *s)
{
    char clean[64];
    size_t i = 0;
    for (; s[i] != '\0' && i < sizeof clean - 1; i++)
        clean[i] = (unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == 0x7f ? '?' : s[i];
    clean[i] = '\0';
    put(b, " \"%s\"", clean);
}

/* write(2) all of it: partial writes and EINTR continue, and a
   non-blocking fd (one eddy's I/O calls have used) is waited for. SIGPIPE
   is held back while writing (a reader that went away gives -EPIPE, not a
   dead process) and dropped again if this write raised it. */
static int write_all(int fd, const char *p, size_t n)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    int rc = 0;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pf = { .fd = fd, .events = POLLOUT };
                if (poll(&pf, 1, -1) >= 0 || errno == EINTR)
                    continue;
            }
            rc = -errno;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    if (rc == -EPIPE && !was_pending) {
        struct timespec zero = { 0, 0 };
        (void)sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ------------------------------------------------------------ the stack */

#ifdef WALK_SAVED_PC
/* A word of a pinned task's stack. The sanitizers are not told: the words
   read are saved registers and return addresses, which no instrumented
   store wrote, and ASan may keep shadow for a stack that is not running. */
__attribute__((noinline, no_sanitize("address", "thread"))) static uintptr_t
peek(uintptr_t addr)
{
    return *(const volatile uintptr_t *)addr;
}

static uintptr_t strip_pc(uintptr_t pc)
{
#ifdef __aarch64__
    pc &= ((uintptr_t)1 << 48) - 1; /* pointer authentication bits */
#endif
    return pc;
}

/* Walks the frame chain of a pinned task from the context it switched out
   with. Every frame pointer must lie in the task's stack, be aligned and
   lie above the last one: a chain broken by code built without frame
   pointers ends the walk there, and no read leaves the stack. Returns the
   number of return addresses stored in pcs. */
static unsigned walk(const struct eddy__fiber_info *fi, uintptr_t *pcs, unsigned max)
{
    uintptr_t lo = (uintptr_t)fi->stack_lo;
    uintptr_t hi = lo + fi->stack_size;
    uintptr_t sp = (uintptr_t)fi->saved_sp;
    if (lo == 0 || fi->stack_size < 64 || sp < lo || sp % sizeof(uintptr_t) != 0 ||
        sp > hi - WALK_SAVED_PC - sizeof(uintptr_t))
        return 0;
    unsigned n = 0;
    uintptr_t pc = strip_pc(peek(sp + WALK_SAVED_PC));
    uintptr_t fp = peek(sp + WALK_SAVED_FP);
    uintptr_t floor = sp + WALK_SAVED_PC; /* frames lie above the switch's */
    while (pc != 0 && n < max) {
        pcs[n++] = pc;
        if (fp <= floor || fp % sizeof(uintptr_t) != 0 || fp > hi - 2 * sizeof(uintptr_t))
            break;
        pc = strip_pc(peek(fp + sizeof(uintptr_t)));
        floor = fp;
        fp = peek(fp);
    }
    return n;
}
#endif

static const char *base_name(const char *path)
{
    if (path == NULL || path[0] == '\0')
        return "?";
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

/* Return addresses already named in this dump: dladdr scans a module's
   symbols (and takes the loader's lock), while the tasks of a program
   share a few call sites. Direct-mapped; a collision names again. */
struct sym_cache {
    uintptr_t pc[CACHE_SLOTS];
    char text[CACHE_SLOTS][SYM_MAX + MOD_MAX + 32];
};

/* What a return address is: its function and offset when the module
   exports a symbol that covers it (dladdr sees the dynamic symbols only:
   link programs with -rdynamic), else the module and the offset in it. */
static void name_pc(uintptr_t pc, char *out, size_t cap)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    /* a return address: the call is the instruction before it (it may be
       the last of a function that never returns) */
    uintptr_t at = pc - 1;
    if (dladdr1((void *)at, &info, (void **)&sym, RTLD_DL_SYMENT) == 0) {
        snprintf(out, cap, "??");
        return;
    }
    const char *mod = base_name(info.dli_fname);
    uintptr_t s = (uintptr_t)info.dli_saddr;
    if (info.dli_sname != NULL && s != 0 && at >= s &&
        (sym == NULL || sym->st_size == 0 || at - s < sym->st_size)) {
        snprintf(out, cap, "%.*s+0x%lx (%.*s)", SYM_MAX, info.dli_sname, (unsigned long)(pc - s),
                 MOD_MAX, mod);
        return;
    }
    /* the nearest exported symbol is another function's (ours is static
       or hidden): say only where it is */
    snprintf(out, cap, "?? (%.*s+0x%lx)", MOD_MAX, mod,
             (unsigned long)(pc - (uintptr_t)info.dli_fbase));
}

static void put_frame(struct buf *b, struct sym_cache *c, unsigned i, uintptr_t pc)
{
    size_t slot = (pc >> 2) % CACHE_SLOTS;
    if (c->pc[slot] != pc) {
        name_pc(pc, c->text[slot], sizeof c->text[slot]);
        c->pc[slot] = pc;
    }
    put(b, "    #%-2u 0x%016lx  %s\n", i, (unsigned long)pc, c->text[slot]);
}

/* ------------------------------------------------------------- the tasks */

/* What is copied of a task while it is held, formatted after. */
struct view {
    bool pinned, fiber;
    uint64_t state;
    struct eddy__fiber_info fi;
    unsigned list_worker;
    const char *kind;
    unsigned wait_kind;
    const void *wait_obj;
    int64_t wait_arg;
    uint32_t wait_since;
    uint64_t join_id;   /* the task a join waits for, 0 unknown */
    bool join_fiber;
    unsigned npcs;
    uintptr_t pcs[MAX_FRAMES];
};

static void put_secs(struct buf *b, uint32_t ms)
{
    put(b, "%u.%03u s", ms / 1000, ms % 1000);
}

static void put_wait(struct buf *b, const struct view *v, uint32_t now_ms)
{
    const void *o = v->wait_obj;
    switch (v->wait_kind) {
    case EDDY__WAIT_CHAN_RECV: put(b, "waiting on channel %p (recv)", o); break;
    case EDDY__WAIT_CHAN_SEND: put(b, "waiting on channel %p (send)", o); break;
    case EDDY__WAIT_MUTEX: put(b, "waiting on mutex %p", o); break;
    case EDDY__WAIT_SEM: put(b, "waiting on semaphore %p", o); break;
    case EDDY__WAIT_NOTIFY: put(b, "waiting on notify %p", o); break;
    case EDDY__WAIT_WAITGROUP: put(b, "waiting on waitgroup %p", o); break;
    case EDDY__WAIT_FD: {
        int fd = (int)(uint32_t)v->wait_arg;
        unsigned ev = (unsigned)((uint64_t)v->wait_arg >> 32);
        put(b, "waiting on fd %d %s", fd,
            (ev & EDDY_READABLE) && (ev & EDDY_WRITABLE) ? "readable or writable"
            : (ev & EDDY_WRITABLE)                       ? "writable"
                                                         : "readable");
        break;
    }
    case EDDY__WAIT_SLEEP: {
        uint64_t now = eddy__now_ns(), dl = (uint64_t)v->wait_arg;
        put(b, "waiting on timer (sleep, %llu ms left)",
            (unsigned long long)(dl > now ? (dl - now) / 1000000u : 0));
        break;
    }
    case EDDY__WAIT_JOIN:
        if (v->join_id != 0)
            put(b, "waiting on join of task %llu", (unsigned long long)v->join_id);
        else
            put(b, "waiting on join of %s %p", v->join_fiber ? "task" : "blocking task", o);
        break;
    case EDDY__WAIT_SELECT: put(b, "waiting on select over %lld cases", (long long)v->wait_arg); break;
    case EDDY__WAIT_SCOPE: put(b, "waiting on scope %p", o); break;
    case EDDY__WAIT_HTTP: put(b, "waiting on HTTP transfer %p", o); break;
    case EDDY__WAIT_OTHER: put(b, "waiting (inside eddy)"); break;
    default: put(b, "suspended (yield or an internal wait)"); return;
    }
    /* the note's clock is a worker's cached one, a few ms behind at most:
       a "negative" time is a just-begun wait */
    uint32_t d = now_ms - v->wait_since;
    put(b, " for ");
    put_secs(b, d > UINT32_MAX / 2 ? 0 : d);
}

/* Copies what the dump shows of t, pinned (suspended) when it can be. */
static void look(struct eddy__task *t, unsigned list_worker, struct view *v)
{
    memset(v, 0, sizeof *v);
    v->list_worker = list_worker;
    v->kind = t->vt->kind;
    v->pinned = eddy__task_pin(t, &v->state);
    if (!v->pinned) {
        if (v->state & EDDY__T_COMPLETE)
            return;
        v->fiber = eddy__fiber_task_info(t, &v->fi, false); /* it may run: no stack */
        return;
    }
    v->fiber = eddy__fiber_task_info(t, &v->fi, true);
    v->wait_kind = atomic_load_explicit(&t->wait_kind, memory_order_relaxed);
    v->wait_obj = atomic_load_explicit(&t->wait_obj, memory_order_relaxed);
    v->wait_arg = atomic_load_explicit(&t->wait_arg, memory_order_relaxed);
    v->wait_since = atomic_load_explicit(&t->wait_since_ms, memory_order_relaxed);
    if (v->wait_kind == EDDY__WAIT_JOIN && v->wait_obj != NULL) {
        /* t waits in eddy__task_join, whose handle reference keeps the
           joined task alive while t stays pinned; it may be running */
        struct eddy__fiber_info jfi;
        v->join_fiber = eddy__fiber_task_info((struct eddy__task *)v->wait_obj, &jfi, false);
        v->join_id = v->join_fiber ? jfi.id : 0;
    }
#ifdef WALK_SAVED_PC
    if (v->fiber)
        v->npcs = walk(&v->fi, v->pcs, MAX_FRAMES);
#endif
    eddy__task_unpin(t);
}

static void put_task(struct buf *b, struct sym_cache *c, const struct view *v, uint32_t now_ms)
{
    int worker = v->fiber && v->fi.worker >= 0 ? v->fi.worker : (int)v->list_worker;
    if (v->fiber) {
        put(b, "task %llu", (unsigned long long)v->fi.id);
        if (v->fi.name != NULL)
            put_name(b, v->fi.name);
    } else {
        put(b, "task (%s)", v->kind != NULL ? v->kind : "?");
    }
    put(b, " (worker %d): ", worker);
    if (v->pinned)
        put_wait(b, v, now_ms);
    else if (v->state & EDDY__T_RUNNING)
        put(b, "running");
    else
        put(b, "runnable");
    if (v->state & EDDY__T_CANCELLED)
        put(b, ", aborted");
    if (v->fiber) {
        uint32_t age = now_ms - v->fi.born_ms;
        put(b, ", age ");
        put_secs(b, age > UINT32_MAX / 2 ? 0 : age);
    }
    put(b, "\n");
    if (!v->pinned || !v->fiber)
        return;
#ifdef WALK_SAVED_PC
    if (v->npcs == 0)
        put(b, "    (no frames: the stack could not be walked)\n");
    for (unsigned i = 0; i < v->npcs; i++)
        put_frame(b, c, i, v->pcs[i]);
    if (v->npcs == MAX_FRAMES)
        put(b, "    ... (deeper frames not shown)\n");
#else
    (void)c;
    put(b, "    (stack unavailable in this build)\n");
#endif
}

/* Workers' queues, the global queue, the blocking pool, and the tasks the
   owned lists cannot show (queued before their first run, or in it). */
static void put_tail(struct buf *b, eddy_rt *rt, size_t listed)
{
    struct eddy__sched *s = rt->sched;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        size_t q = eddy__sched_worker_queued(s, i);
        if (q != 0)
            put(b, "worker %u: %zu task%s queued\n", i, q, q == 1 ? "" : "s");
    }
    size_t inj = eddy__sched_inject_queued(s);
    if (inj != 0)
        put(b, "global queue: %zu task%s queued\n", inj, inj == 1 ? "" : "s");
    size_t running, queued;
    eddy__sched_blocking_counts(s, &running, &queued);
    if (running != 0 || queued != 0)
        put(b, "blocking pool: %zu task%s running, %zu queued\n", running,
            running == 1 ? "" : "s", queued);
    uint64_t alive = eddy__sched_tasks_alive(s);
    uint64_t shown = listed + running + queued;
    if (alive > shown)
        put(b, "%llu more task%s not listed: queued before their first run, or in it\n",
            (unsigned long long)(alive - shown), alive - shown == 1 ? "" : "s");
}

static bool shutting_down(eddy_rt *rt)
{
    pthread_mutex_lock(&rt->shut_lock);
    bool r = rt->shut_state != 0;
    pthread_mutex_unlock(&rt->shut_lock);
    return r;
}

static int dump_locked(eddy_rt *rt, int fd)
{
    struct buf b = { eddy__alloc(BUF_SIZE), 0, BUF_SIZE };
    struct view *v = eddy__alloc(sizeof *v);
    struct sym_cache *c = eddy__calloc(sizeof *c);
    struct eddy__task_snap *snap = NULL;
    size_t n = 0, cap = 0;
    int rc = -ENOMEM;
    if (b.p == NULL || v == NULL || c == NULL ||
        eddy__sched_snapshot(rt->sched, &snap, &n, &cap) < 0)
        goto out;
    uint32_t now_ms = eddy__clock_ms();
    put(&b, "eddy runtime dump: %u worker%s, %llu task%s%s (pid %ld)\n", rt->nworkers,
        rt->nworkers == 1 ? "" : "s",
        (unsigned long long)eddy__sched_tasks_alive(rt->sched),
        eddy__sched_tasks_alive(rt->sched) == 1 ? "" : "s",
        shutting_down(rt) ? ", shutting down" : "", (long)getpid());
    rc = write_all(fd, b.p, b.len);
    size_t listed = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        look(snap[i].t, snap[i].worker, v);
        if (!v->pinned && (v->state & EDDY__T_COMPLETE))
            continue; /* ended since the snapshot */
        listed++;
        b.len = 0;
        put_task(&b, c, v, now_ms);
        rc = write_all(fd, b.p, b.len);
    }
    if (rc == 0) {
        b.len = 0;
        put_tail(&b, rt, listed);
        rc = write_all(fd, b.p, b.len);
    }
out:
    eddy__sched_snapshot_free(snap, n, cap);
    eddy__dealloc(c, sizeof *c);
    eddy__dealloc(v, sizeof *v);
    eddy__dealloc(b.p, BUF_SIZE);
    return rc;
}

int eddy_rt_dump(eddy_rt *rt, int fd)
{
    if (fd < 0)
        return -EINVAL;
    pthread_mutex_lock(&dump_lock);
    /* checked under the lock: eddy_rt_free takes rt out of the live table
       before it waits here and frees the scheduler */
    int rc = eddy__rt_live(rt) ? dump_locked(rt, fd) : -EINVAL;
    pthread_mutex_unlock(&dump_lock);
    return rc;
}
