/*
 * rt/task.c: the fiber task kind (a task whose run switches onto its own
 * stack, taken from the worker's pool at first run and given back at the
 * end), the blocking task kind, and the public task API: spawn, join,
 * detach, abort, yield, sleep, deadline scopes.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <eddy/rt.h>

#include "rt/rt_int.h"
#include "sched/alloc.h"

#define INLINE_DEADLINES 2

static const struct eddy__task_vtable fiber_vt, scoped_fiber_vt;

struct fiber_task {
    struct eddy__task base;
    eddy_fn fn;
    void *arg;
    eddy_rt *rt;                /* immutable after spawn */
    struct eddy__stack *stack;  /* owner: the running worker; NULL until first run */
    struct eddy__fiber *ret;    /* the worker context to switch back to */
    char *name;                 /* immutable after spawn; may be NULL */
    uint64_t *dl;               /* saved outer deadlines (scopes) */
    uint32_t dl_n, dl_cap;      /* owner: the task */
    uint32_t stack_size;        /* requested; 0: the runtime's default */
    uint32_t born_ms;           /* immutable after spawn: eddy__clock_ms then */
    bool done;                  /* owner: the task; set before its last switch */
    _Atomic int16_t worker;     /* the worker of its last run, -1 before the
                                   first (a dump reads it from any thread) */
    _Atomic uint64_t id;        /* 0 until task_id gives one (any thread) */
    uint64_t dl_inline[INLINE_DEADLINES];
    struct eddy__scope_link scope; /* scope children only (scoped_fiber_vt) */
};
_Static_assert(sizeof(struct fiber_task) <= EDDY__TASK_BLOCK, "fiber task fits a task block");

/* Plain and scoped fiber tasks differ only in their end (the scope hears
   of it); everything else treats them alike. */
static inline bool is_fiber(const struct eddy__task *t)
{
    return t->vt == &fiber_vt || t->vt == &scoped_fiber_vt;
}

/* Task ids, unique in the process and never 0, given when first asked for
   (a report, a dump): a spawn pays nothing for them. */
static _Atomic uint64_t id_next = 1;

static uint64_t task_id(struct fiber_task *ft)
{
    uint64_t id = atomic_load_explicit(&ft->id, memory_order_relaxed);
    if (id != 0)
        return id;
    uint64_t fresh = atomic_fetch_add_explicit(&id_next, 1, memory_order_relaxed);
    /* two askers at once: the first id stored is the task's */
    return atomic_compare_exchange_strong_explicit(&ft->id, &id, fresh, memory_order_relaxed,
                                                   memory_order_relaxed)
               ? fresh
               : id;
}

/* The body of a stack's fiber: runs one task after another. A task ends by
   switching back to its worker with done set; the next task to take this
   stack resumes the fiber here. */
static void stack_loop(void *arg)
{
    struct eddy__stack *st = arg;
    for (;;) {
        struct fiber_task *ft = st->user;
        ft->base.result = ft->fn(ft->arg);
        ft->done = true;
        eddy__fiber_switch(&st->fiber, ft->ret);
    }
}

/* The run of a fiber task, in the vtable's three parts (see enter in
   sched/task.h): the worker switches onto the task's stack between them. */
static void *fiber_enter(struct eddy__task *t, int idx, void ***save)
{
    struct fiber_task *ft = (struct fiber_task *)t;
    eddy_rt *rt = ft->rt;
    if (!t->started) {
        if (eddy__task_cancelled(t)) { /* aborted before it ever ran */
            t->result = NULL;
            return NULL;
        }
        struct eddy__stack *st = eddy__stack_get(&rt->stacks, idx, ft->stack_size);
        if (st == NULL) {
            fprintf(stderr, "eddy: no memory for a fiber stack; task dropped as cancelled\n");
            atomic_fetch_or(&t->state, EDDY__T_CANCELLED);
            t->result = NULL;
            return NULL;
        }
        if (!st->fiber_live) {
            eddy__fiber_init(&st->fiber, st->lo, st->size, stack_loop, st);
            st->fiber_live = 1;
        }
        st->user = ft;
        ft->stack = st;
        t->started = 1;
    }
    ft->ret = &rt->thread_ctx[idx].fiber;
    atomic_store_explicit(&ft->worker, (int16_t)idx, memory_order_relaxed);
    *save = &ft->ret->sp;
    return ft->stack->fiber.sp;
}

static enum eddy__poll fiber_leave(struct eddy__task *t, int idx)
{
    struct fiber_task *ft = (struct fiber_task *)t;
    struct eddy__stack *st = ft->stack;
    if (st->guard == EDDY__GUARD_NONE && !eddy__stack_canary_ok(st)) {
        fprintf(stderr,
                "eddy: fiber stack overflow in task %s (id %llu, stack %zu bytes, worker %d)\n",
                ft->name ? ft->name : "(unnamed)", (unsigned long long)task_id(ft), st->size, idx);
        abort();
    }
    if (!ft->done)
        return EDDY__POLL_PENDING;
    st->user = NULL;
    eddy__stack_put(&ft->rt->stacks, idx, st); /* its fiber waits at the loop's top */
    ft->stack = NULL;
    return EDDY__POLL_DONE;
}

/* The same run in one call, with the sanitizers' bookkeeping around the
   switch (builds without EDDY__FIBER_RAW use only this). */
static enum eddy__poll fiber_run(struct eddy__task *t, int idx)
{
    struct fiber_task *ft = (struct fiber_task *)t;
    void **save;
    if (fiber_enter(t, idx, &save) == NULL)
        return EDDY__POLL_DONE;
    eddy__fiber_switch(ft->ret, &ft->stack->fiber);
    return fiber_leave(t, idx);
}

static void fiber_suspend(struct eddy__task *t)
{
    struct fiber_task *ft = (struct fiber_task *)t;
    eddy__fiber_switch(&ft->stack->fiber, ft->ret);
}

static void fiber_drop(struct eddy__task *t)
{
    struct fiber_task *ft = (struct fiber_task *)t;
    struct eddy__stack *st = ft->stack;
    if (st != NULL) {
        /* suspended mid-task: its fiber can never be resumed; the stack
           gets a fresh one when next used */
        eddy_rt *rt = ft->rt;
        eddy__fiber_destroy(&st->fiber);
        st->fiber_live = 0;
        st->user = NULL;
        eddy__stack_put(&rt->stacks, -1, st);
        ft->stack = NULL;
    }
}

static void fiber_release(struct eddy__task *t)
{
    struct fiber_task *ft = (struct fiber_task *)t;
    eddy__strfree(ft->name);
    if (ft->dl != ft->dl_inline && ft->dl != NULL)
        eddy__dealloc(ft->dl, sizeof(uint64_t) * ft->dl_cap);
}

bool eddy__fiber_task_guard_hit(struct eddy__task *t, const void *addr, const char **name,
                                size_t *size, uint64_t *id)
{
    if (!is_fiber(t))
        return false;
    struct fiber_task *ft = (struct fiber_task *)t;
    struct eddy__stack *st = ft->stack;
    if (st == NULL || !eddy__stack_guard_holds(st, addr))
        return false;
    *name = ft->name;
    *size = st->size;
    *id = task_id(ft);
    return true;
}

bool eddy__fiber_task_info(struct eddy__task *t, struct eddy__fiber_info *out, bool stack)
{
    if (!is_fiber(t))
        return false;
    struct fiber_task *ft = (struct fiber_task *)t;
    out->name = ft->name;
    out->id = task_id(ft);
    out->born_ms = ft->born_ms;
    out->worker = atomic_load_explicit(&ft->worker, memory_order_relaxed);
    /* the stack changes hands at the first run and at the end: only a
       task that cannot run (pinned) may have it read */
    struct eddy__stack *st = stack ? ft->stack : NULL;
    out->stack_lo = st != NULL ? st->lo : NULL;
    out->stack_size = st != NULL ? st->size : 0;
    out->saved_sp = st != NULL ? st->fiber.sp : NULL;
    return true;
}

/* The fields plain and scoped fiber tasks share. */
#ifdef EDDY__FIBER_RAW
#define FIBER_VT_RUN .run = fiber_run, .enter = fiber_enter, .switch_to = eddy__ctx_switch, \
                     .leave = fiber_leave
#else
#define FIBER_VT_RUN .run = fiber_run
#endif
#define FIBER_VT_COMMON FIBER_VT_RUN, .suspend = fiber_suspend, .drop = fiber_drop, \
                        .release = fiber_release, .kind = "fiber"

static const struct eddy__task_vtable fiber_vt = { FIBER_VT_COMMON };

/* A scope's child: its end is reported to its scope (rt/scope.c). */
static const struct eddy__task_vtable scoped_fiber_vt = {
    FIBER_VT_COMMON,
    .ended = eddy__scope_child_ended,
};


/* A blocking task runs its whole body inside run, on a pool thread. */
static enum eddy__poll blocking_run(struct eddy__task *t, int worker)
{
    (void)worker;
    struct fiber_task *ft = (struct fiber_task *)t;
    t->result = ft->fn(ft->arg);
    return EDDY__POLL_DONE;
}

static const struct eddy__task_vtable blocking_vt = {
    .run = blocking_run,
    .release = fiber_release,
    .kind = "blocking",
};

/* Sets a fresh block's fiber fields (the header is the caller's). */
static void fiber_fields_init(struct fiber_task *ft, eddy_rt *rt, eddy_fn fn, void *arg)
{
    ft->fn = fn;
    ft->arg = arg;
    ft->rt = rt;
    ft->stack = NULL;
    ft->ret = NULL;
    atomic_init(&ft->worker, -1);
    ft->name = NULL;
    ft->dl = ft->dl_inline;
    ft->dl_n = 0;
    ft->dl_cap = INLINE_DEADLINES;
    ft->stack_size = 0;
    ft->born_ms = eddy__clock_ms();
    ft->done = false;
    atomic_init(&ft->id, 0);
}

static struct fiber_task *task_new(eddy_rt *rt, const struct eddy__task_vtable *vt,
                                   eddy_task **out, eddy_fn fn, void *arg)
{
    struct eddy__task *t = eddy__task_alloc();
    if (t == NULL)
        return NULL;
    /* one reference for the queue, one for the join handle */
    eddy__task_init(t, vt, rt->sched, out != NULL ? 2 : 1, out != NULL);
    struct fiber_task *ft = (struct fiber_task *)t;
    fiber_fields_init(ft, rt, fn, arg);
    return ft;
}

int eddy__spawn_opts_check(eddy_rt *rt, const eddy_spawn_opts *o, int *worker)
{
    *worker = -1;
    if (o == NULL)
        return 0;
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i] != NULL)
            return -EINVAL; /* not initialised with eddy_spawn_opts_init */
    if (o->worker >= 0 && (unsigned)o->worker >= rt->nworkers)
        return -EINVAL;
    if (o->stack_size != 0 && (o->stack_size < EDDY__MIN_STACK || o->stack_size > EDDY__MAX_STACK))
        return -EINVAL;
    *worker = o->worker < 0 ? -1 : o->worker;
    return 0;
}

void eddy__fiber_task_apply_opts(struct eddy__task *t, const eddy_spawn_opts *o)
{
    struct fiber_task *ft = (struct fiber_task *)t;
    if (o == NULL)
        return;
    ft->stack_size = (uint32_t)o->stack_size;
    if (o->name != NULL) {
        char buf[32];
        snprintf(buf, sizeof buf, "%s", o->name);
        ft->name = eddy__strdup(buf);
    }
}

static int spawn_on(eddy_rt *rt, eddy_task **out, eddy_fn fn, void *arg, const eddy_spawn_opts *o)
{
    if (fn == NULL)
        return -EINVAL;
    int worker;
    int rc = eddy__spawn_opts_check(rt, o, &worker);
    if (rc < 0)
        return rc;
    struct fiber_task *ft = task_new(rt, &fiber_vt, out, fn, arg);
    if (ft == NULL)
        return -ENOMEM;
    eddy__fiber_task_apply_opts(&ft->base, o);
    eddy_task *h = out != NULL ? eddy__task_handle(&ft->base) : NULL;
    rc = eddy__sched_spawn(rt->sched, &ft->base, worker);
    if (rc < 0) {
        fiber_release(&ft->base);
        eddy__task_pool_release(&ft->base);
        return rc;
    }
    if (out != NULL)
        *out = h;
    return 0;
}

struct eddy__task *eddy__scope_task_new(eddy_rt *rt, eddy_fn fn, void *arg, bool user_handle)
{
    struct eddy__task *t = eddy__task_alloc();
    if (t == NULL)
        return NULL;
    /* queue + scope (+ the caller's handle); always joinable: the scope
       joins the children it keeps */
    eddy__task_init(t, &scoped_fiber_vt, rt->sched, user_handle ? 3 : 2, true);
    struct fiber_task *ft = (struct fiber_task *)t;
    fiber_fields_init(ft, rt, fn, arg);
    ft->scope = (struct eddy__scope_link){ .kept = !user_handle };
    return t;
}

void eddy__scope_task_discard(struct eddy__task *t)
{
    fiber_release(t);
    eddy__task_pool_release(t);
}

struct eddy__scope_link *eddy__scope_link_of(struct eddy__task *t)
{
    return &((struct fiber_task *)t)->scope;
}

struct eddy__task *eddy__scope_link_task(struct eddy__scope_link *l)
{
    return &((struct fiber_task *)((char *)l - offsetof(struct fiber_task, scope)))->base;
}

int eddy_rt_spawn(eddy_rt *rt, eddy_task **out, eddy_fn fn, void *arg)
{
    if (!eddy__rt_live(rt))
        return -EINVAL;
    return spawn_on(rt, out, fn, arg, NULL);
}

void eddy_spawn_opts_init(eddy_spawn_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->worker = -1;
}

int eddy_spawn(eddy_task **out, eddy_fn fn, void *arg)
{
    eddy_rt *rt = eddy__rt_current();
    if (rt == NULL)
        return -EPERM;
    return spawn_on(rt, out, fn, arg, NULL);
}

int eddy_spawn_ex(eddy_task **out, eddy_fn fn, void *arg, const eddy_spawn_opts *o)
{
    eddy_rt *rt = eddy__rt_current();
    if (rt == NULL)
        return -EPERM;
    return spawn_on(rt, out, fn, arg, o);
}

int eddy_rt_spawn_blocking(eddy_rt *rt, eddy_task **out, eddy_fn fn, void *arg)
{
    if (!eddy__rt_live(rt) || fn == NULL)
        return -EINVAL;
    struct fiber_task *ft = task_new(rt, &blocking_vt, out, fn, arg);
    if (ft == NULL)
        return -ENOMEM;
    eddy_task *h = out != NULL ? eddy__task_handle(&ft->base) : NULL;
    int rc = eddy__sched_spawn_blocking(rt->sched, &ft->base);
    if (rc < 0) {
        eddy__task_pool_release(&ft->base);
        return rc;
    }
    if (out != NULL)
        *out = h;
    return 0;
}

int eddy_spawn_blocking(eddy_task **out, eddy_fn fn, void *arg)
{
    eddy_rt *rt = eddy__rt_current();
    if (rt == NULL)
        return -EPERM;
    return eddy_rt_spawn_blocking(rt, out, fn, arg);
}

/* ------------------------------------------------------------- handles */

int eddy_join(eddy_task *h, void **result)
{
    int rc = eddy_join_timeout(h, result, -1);
    EDDY__KEEP_FRAME(); /* a dump names eddy_join, see sched.h */
    return rc;
}

int eddy_join_timeout(eddy_task *h, void **result, int64_t timeout_ms)
{
    struct eddy__task *t = eddy__task_from_handle(h);
    if (t == NULL)
        return -EINVAL;
    int rc = eddy__task_join(t, result, eddy__deadline_after_ms(timeout_ms));
    EDDY__KEEP_FRAME();
    return rc;
}

void eddy_detach(eddy_task *h)
{
    struct eddy__task *t = eddy__task_from_handle(h);
    if (t != NULL)
        eddy__task_detach(t);
}

int eddy_abort(eddy_task *h)
{
    struct eddy__task *t = eddy__task_from_handle(h);
    if (t == NULL)
        return -EINVAL;
    return eddy__task_abort(t);
}

/* ----------------------------------------------------- yield and sleep */

void eddy_yield(void)
{
    if (eddy__task_current() != NULL)
        eddy__yield_current();
    else
        sched_yield();
}

uint64_t eddy_now_ns(void)
{
    return eddy__now_ns();
}

int eddy_sleep_until_ns(uint64_t deadline_ns)
{
    if (eddy__task_current() == NULL) {
        if (eddy__on_worker_outside_task())
            return -EPERM;
        /* a plain thread with no task to abort sleeps; a blocking-pool
           thread waits below, where an abort of its task wakes it */
        if (eddy__blocking_current() == NULL) {
            struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000u),
                                   .tv_nsec = (long)(deadline_ns % 1000000000u) };
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
            return 0;
        }
    }
    for (;;) {
        int rc = eddy__wait_on(EDDY__WAIT_SLEEP, NULL, (int64_t)deadline_ns, deadline_ns);
        struct eddy__task *t = eddy__task_current();
        if (rc == -ETIMEDOUT) {
            /* our own deadline is success; a task's scope's is not */
            uint64_t tdl = t != NULL ? eddy__task_deadline(t) : UINT64_MAX;
            if (tdl != UINT64_MAX && eddy__now_ns() >= tdl)
                return -ETIMEDOUT;
            return 0;
        }
        if (rc < 0)
            return rc;
        if (eddy__now_ns() >= deadline_ns)
            return 0;
    }
}

int eddy_sleep_ms(int64_t ms)
{
    if (ms <= 0) {
        eddy_yield();
        return eddy__wait_check();
    }
    int rc = eddy_sleep_until_ns(eddy__deadline_after_ms(ms));
    EDDY__KEEP_FRAME();
    return rc;
}

/* ----------------------------------------------------- deadline scopes */

int eddy_deadline_push(int64_t timeout_ms)
{
    struct eddy__task *t = eddy__task_current();
    if (t == NULL || !is_fiber(t))
        return -EPERM;
    struct fiber_task *ft = (struct fiber_task *)t;
    if (ft->dl_n == ft->dl_cap) {
        uint32_t ncap = ft->dl_cap * 2;
        uint64_t *nd = eddy__alloc(sizeof(uint64_t) * ncap);
        if (nd == NULL)
            return -ENOMEM;
        memcpy(nd, ft->dl, sizeof(uint64_t) * ft->dl_n);
        if (ft->dl != ft->dl_inline)
            eddy__dealloc(ft->dl, sizeof(uint64_t) * ft->dl_cap);
        ft->dl = nd;
        ft->dl_cap = ncap;
    }
    ft->dl[ft->dl_n++] = t->deadline_ns;
    uint64_t d = eddy__deadline_after_ms(timeout_ms);
    if (d < t->deadline_ns)
        t->deadline_ns = d;
    return 0;
}

void eddy_deadline_pop(void)
{
    struct eddy__task *t = eddy__task_current();
    if (t == NULL || !is_fiber(t))
        return;
    struct fiber_task *ft = (struct fiber_task *)t;
    if (ft->dl_n == 0)
        return;
    t->deadline_ns = ft->dl[--ft->dl_n];
}

int eddy_with_deadline(int64_t timeout_ms, eddy_fn fn, void *arg, void **result)
{
    if (fn == NULL)
        return -EINVAL;
    int rc = eddy_deadline_push(timeout_ms);
    if (rc < 0)
        return rc;
    void *r = fn(arg);
    eddy_deadline_pop();
    if (result != NULL)
        *result = r;
    return 0;
}

int eddy_worker_index(void)
{
    return eddy__worker_index_current();
}
