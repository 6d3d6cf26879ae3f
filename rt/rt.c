/*
 * rt/rt.c: runtime assembly: eddy_rt_new wires N workers (sched) to their
 * drivers (io) and gives each worker thread a fiber context to switch from;
 * shutdown, free, block_on and the metrics read-out.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <eddy/rt.h>

#include "rt/rt_int.h"
#include "sched/alloc.h"

void eddy_rt_config_init(eddy_rt_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->io_backend = EDDY_IO_AUTO;
    cfg->work_stealing = true;
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
}

static void free_parts(eddy_rt *rt)
{
    if (rt->drivers != NULL) {
        for (unsigned i = 0; i < rt->nworkers; i++)
            eddy__io_driver_free(rt->drivers[i]);
        eddy__dealloc(rt->drivers, sizeof(*rt->drivers) * rt->nworkers);
    }
    eddy__dealloc_line(rt->thread_ctx, sizeof(*rt->thread_ctx) * rt->nworkers);
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
        .ud = rt,
    };
    rc = eddy__sched_new(&rt->sched, &sc);
    if (rc < 0) {
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

int eddy_rt_shutdown(eddy_rt *rt, int64_t grace_ms)
{
    if (rt == NULL)
        return -EINVAL;
    if (on_own_worker(rt))
        return -EPERM;
    int expect = 0;
    if (!atomic_compare_exchange_strong(&rt->shut_down, &expect, 1))
        return 0;
    return eddy__sched_shutdown(rt->sched, grace_ms);
}

void eddy_rt_free(eddy_rt *rt)
{
    if (rt == NULL || on_own_worker(rt))
        return;
    if (atomic_load(&rt->shut_down) == 0)
        (void)eddy_rt_shutdown(rt, 0);
    eddy__sched_free(rt->sched); /* drops what is left: stacks go back */
    eddy__stack_pool_destroy(&rt->stacks);
    free_parts(rt);
}

int eddy_rt_block_on(eddy_rt *rt, eddy_fn fn, void *arg, void **result)
{
    if (rt == NULL || fn == NULL)
        return -EINVAL;
    if (eddy__worker_current() != NULL && on_own_worker(rt))
        return -EPERM;
    eddy_task *h;
    int rc = eddy_rt_spawn(rt, &h, fn, arg);
    if (rc < 0)
        return rc;
    return eddy_join(h, result);
}

unsigned eddy_rt_workers(eddy_rt *rt)
{
    return rt != NULL ? rt->nworkers : 0;
}

int eddy_rt_worker_metrics(eddy_rt *rt, unsigned worker, eddy_worker_metrics *m)
{
    if (rt == NULL || m == NULL)
        return -EINVAL;
    struct eddy__metrics im;
    int rc = eddy__sched_metrics(rt->sched, worker, &im);
    if (rc < 0)
        return rc;
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
