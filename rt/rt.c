/*
 * rt/rt.c: runtime assembly: eddy_rt_new wires N workers (sched) to their
 * drivers (io) and gives each worker thread a fiber context to switch from;
 * shutdown, free, block_on and the metrics read-out.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <eddy/rt.h>

#include "rt/rt_int.h"
#include "sched/alloc.h"

/* The config's size and the offsets of its fields are ABI: dump_signal
   took room from the reserved slots (LP64). */
_Static_assert(sizeof(void *) != 8 || sizeof(eddy_rt_config) == 64, "eddy_rt_config size");
_Static_assert(sizeof(void *) != 8 || offsetof(eddy_rt_config, reserved) == 40,
               "eddy_rt_config layout");

void eddy_rt_config_init(eddy_rt_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->io_backend = EDDY_IO_AUTO;
    cfg->work_stealing = true;
}

/* Live runtimes, so that a stale pointer (used after eddy_rt_free, or
   freed twice) is refused rather than followed. A lookup scans the used
   slots, a few atomic loads. An address reused by a later runtime cannot
   be told from it. */
#define MAX_LIVE 1024
static eddy_rt *_Atomic live[MAX_LIVE];
static _Atomic unsigned live_used; /* slots [0, live_used) may be taken */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static int live_add(eddy_rt *rt)
{
    int rc = -EAGAIN;
    pthread_mutex_lock(&live_lock);
    for (unsigned i = 0; i < MAX_LIVE; i++) {
        if (atomic_load_explicit(&live[i], memory_order_relaxed) == NULL) {
            atomic_store_explicit(&live[i], rt, memory_order_release);
            if (i >= atomic_load_explicit(&live_used, memory_order_relaxed))
                atomic_store_explicit(&live_used, i + 1, memory_order_release);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&live_lock);
    return rc;
}

/* Claims rt for eddy_rt_free: false when it is not live or another free
   claimed it. It stays in the table through the shutdown (its tasks'
   spawns get -ESHUTDOWN, not -EINVAL) until live_remove, which comes
   before its parts are released. */
static bool live_claim_for_free(eddy_rt *rt)
{
    bool ok = false;
    pthread_mutex_lock(&live_lock);
    unsigned n = atomic_load_explicit(&live_used, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) {
        if (atomic_load_explicit(&live[i], memory_order_relaxed) == rt) {
            ok = !rt->freeing; /* in the table: its memory is still there */
            rt->freeing = true;
            break;
        }
    }
    pthread_mutex_unlock(&live_lock);
    return ok;
}

/* Takes rt out of the table; false when it was not in it. */
static bool live_remove(eddy_rt *rt)
{
    bool found = false;
    pthread_mutex_lock(&live_lock);
    unsigned n = atomic_load_explicit(&live_used, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) {
        if (atomic_load_explicit(&live[i], memory_order_relaxed) == rt) {
            atomic_store_explicit(&live[i], NULL, memory_order_release);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&live_lock);
    return found;
}

bool eddy__rt_live(eddy_rt *rt)
{
    if (rt == NULL)
        return false;
    unsigned n = atomic_load_explicit(&live_used, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (atomic_load_explicit(&live[i], memory_order_acquire) == rt)
            return true;
    return false;
}

eddy_rt *eddy__rt_current(void)
{
    struct eddy__sched *s = eddy__sched_current();
    return s != NULL ? eddy__sched_ud(s) : NULL;
}

eddy_rt *eddy_rt_current(void)
{
    return eddy__rt_current();
}

static void worker_thread_start(unsigned worker, void *ud)
{
    eddy_rt *rt = ud;
    eddy__fiber_init_thread(&rt->thread_ctx[worker].fiber);
    eddy__overflow_thread_start();
}

static void worker_thread_stop(unsigned worker, void *ud)
{
    (void)worker;
    (void)ud;
    eddy__overflow_thread_stop();
}

static void free_parts(eddy_rt *rt)
{
    if (rt->drivers != NULL) {
        for (unsigned i = 0; i < rt->nworkers; i++)
            eddy__io_driver_free(rt->drivers[i]);
        eddy__dealloc(rt->drivers, sizeof(*rt->drivers) * rt->nworkers);
    }
    eddy__dealloc_line(rt->thread_ctx, sizeof(*rt->thread_ctx) * rt->nworkers);
    pthread_mutex_destroy(&rt->shut_lock);
    pthread_cond_destroy(&rt->shut_done);
    eddy__dealloc(rt, sizeof *rt);
}

int eddy_rt_new(eddy_rt **out, const eddy_rt_config *cfg_in)
{
    eddy_rt_config cfg;
    if (out == NULL)
        return -EINVAL;
    if (cfg_in != NULL)
        cfg = *cfg_in;
    else
        eddy_rt_config_init(&cfg);
    if (cfg.workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.workers = n > 0 ? (unsigned)n : 1;
    }
    if (cfg.stack_size == 0)
        cfg.stack_size = EDDY__DEFAULT_STACK;
    if (cfg.blocking_threads == 0)
        cfg.blocking_threads = 64;
    for (size_t i = 0; i < sizeof cfg.reserved / sizeof cfg.reserved[0]; i++)
        if (cfg.reserved[i] != NULL)
            return -EINVAL; /* not initialised with eddy_rt_config_init */
    if (cfg.reserved_int != 0)
        return -EINVAL;
    if (eddy__dump_signal_resolve(cfg.dump_signal, &cfg.dump_signal) < 0)
        return -EINVAL;
    if (cfg.workers > EDDY__MAX_WORKERS || cfg.stack_size < EDDY__MIN_STACK ||
        cfg.stack_size > EDDY__MAX_STACK ||
        (cfg.io_backend != EDDY_IO_AUTO && cfg.io_backend != EDDY_IO_EPOLL &&
         cfg.io_backend != EDDY_IO_URING))
        return -EINVAL;

    eddy_rt *rt = eddy__calloc(sizeof *rt);
    if (rt == NULL)
        return -ENOMEM;
    rt->cfg = cfg;
    rt->nworkers = cfg.workers;
    pthread_mutex_init(&rt->shut_lock, NULL);
    pthread_cond_init(&rt->shut_done, NULL);
    rt->drivers = eddy__calloc(sizeof(*rt->drivers) * cfg.workers);
    rt->thread_ctx = eddy__calloc_line(sizeof(*rt->thread_ctx) * cfg.workers);
    if (rt->drivers == NULL || rt->thread_ctx == NULL) {
        free_parts(rt);
        return -ENOMEM;
    }
    int rc;
    for (unsigned i = 0; i < cfg.workers; i++) {
        rc = eddy__io_driver_new(&rt->drivers[i], cfg.io_backend);
        if (rc < 0) {
            free_parts(rt);
            return rc;
        }
    }
    rc = eddy__stack_pool_init(&rt->stacks, cfg.stack_size, cfg.workers);
    if (rc < 0) {
        free_parts(rt);
        return rc;
    }
    struct eddy__sched_config sc = {
        .workers = cfg.workers,
        .work_stealing = cfg.work_stealing,
        .pin_workers = cfg.pin_workers,
        .blocking_threads = cfg.blocking_threads,
        .drv_ops = &eddy__io_driver_ops,
        .drivers = (void **)rt->drivers,
        .on_thread_start = worker_thread_start,
        .on_thread_stop = worker_thread_stop,
        .ud = rt,
    };
    rc = eddy__sched_new(&rt->sched, &sc);
    if (rc < 0) {
        eddy__stack_pool_destroy(&rt->stacks);
        free_parts(rt);
        return rc;
    }
    rc = live_add(rt);
    if (rc < 0)
        fprintf(stderr, "eddy: eddy_rt_new: %d runtimes live already\n", MAX_LIVE);
    if (rc == 0 && cfg.dump_signal != 0) {
        rc = eddy__dump_signal_add(rt, cfg.dump_signal);
        if (rc < 0) {
            (void)live_remove(rt);
            eddy__dump_barrier();
        }
    }
    if (rc < 0) {
        eddy__sched_shutdown(rt->sched, 0);
        eddy__sched_free(rt->sched);
        eddy__stack_pool_destroy(&rt->stacks);
        free_parts(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

static bool on_own_worker(eddy_rt *rt)
{
    return eddy__rt_current() == rt;
}

/* The first call shuts down; a later or concurrent one waits until that is
   done (eddy_rt_free must not free what a shutdown in progress uses) and
   returns 0. */
static int shutdown_once(eddy_rt *rt, int64_t grace_ms)
{
    pthread_mutex_lock(&rt->shut_lock);
    if (rt->shut_state != 0) {
        while (rt->shut_state == 1)
            pthread_cond_wait(&rt->shut_done, &rt->shut_lock);
        pthread_mutex_unlock(&rt->shut_lock);
        return 0;
    }
    rt->shut_state = 1;
    pthread_mutex_unlock(&rt->shut_lock);
    int rc = eddy__sched_shutdown(rt->sched, grace_ms);
    pthread_mutex_lock(&rt->shut_lock);
    rt->shut_state = 2;
    pthread_cond_broadcast(&rt->shut_done);
    pthread_mutex_unlock(&rt->shut_lock);
    return rc;
}

int eddy_rt_shutdown(eddy_rt *rt, int64_t grace_ms)
{
    if (!eddy__rt_live(rt))
        return -EINVAL;
    if (on_own_worker(rt))
        return -EPERM;
    return shutdown_once(rt, grace_ms);
}

void eddy_rt_free(eddy_rt *rt)
{
    if (rt == NULL)
        return;
    if (on_own_worker(rt)) {
        fprintf(stderr, "eddy: eddy_rt_free from a task of that runtime; ignored\n");
        return;
    }
    if (!live_claim_for_free(rt)) {
        fprintf(stderr, "eddy: eddy_rt_free(%p): not a live runtime (freed twice?); ignored\n",
                (void *)rt);
        return;
    }
    /* dumps asked for by signal until now are printed, later ones not */
    if (rt->cfg.dump_signal != 0)
        eddy__dump_signal_remove(rt);
    (void)shutdown_once(rt, 0); /* or waits for the one under way */
    /* out of the table before its parts go: a late call gets -EINVAL */
    (void)live_remove(rt);
    eddy__dump_barrier(); /* a dump that saw rt live is over */
    eddy__sched_free(rt->sched); /* drops what is left: stacks go back */
    eddy__stack_pool_destroy(&rt->stacks);
    free_parts(rt);
}

int eddy_rt_block_on(eddy_rt *rt, eddy_fn fn, void *arg, void **result)
{
    if (!eddy__rt_live(rt) || fn == NULL)
        return -EINVAL;
    if (eddy__worker_current() != NULL && on_own_worker(rt))
        return -EPERM;
    eddy_task *h;
    int rc = eddy_rt_spawn(rt, &h, fn, arg);
    if (rc < 0)
        return rc;
    struct eddy__task *t = eddy__task_from_handle(h);
    /* our reference keeps t from being reused while we look at it after
       the join */
    eddy__task_ref(t);
    rc = eddy__task_join(t, result, UINT64_MAX);
    if (rc < 0 && (eddy__task_flags(t) & EDDY__T_JOIN_INTEREST)) {
        /* the wait ended first (the caller's own abort or deadline, or no
           memory for its waiter) and nobody else holds the handle: stop
           fn's task and let it go, or it would never be released */
        (void)eddy__task_abort(t);
        eddy__task_detach(t);
    }
    eddy__task_unref(t);
    return rc;
}

unsigned eddy_rt_workers(eddy_rt *rt)
{
    return eddy__rt_live(rt) ? rt->nworkers : 0;
}

int eddy_rt_worker_metrics(eddy_rt *rt, unsigned worker, eddy_worker_metrics *m)
{
    if (!eddy__rt_live(rt) || m == NULL)
        return -EINVAL;
    struct eddy__metrics im;
    int rc = eddy__sched_metrics(rt->sched, worker, &im);
    if (rc < 0)
        return rc;
    memset(m, 0, sizeof *m);
    m->polls = im.polls;
    m->spawned = im.spawned;
    m->stolen = im.stolen;
    m->steal_attempts = im.steal_attempts;
    m->parks = im.parks;
    m->global_pulls = im.global_pulls;
    m->io_events = im.io_events;
    m->timers_fired = im.timers_fired;
    m->busy_ns = im.busy_ns;
    m->queue_depth = im.queue_depth;
    return 0;
}
