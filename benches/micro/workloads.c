/*
 * benches/micro/workloads.c: the workloads of the Tokio and Go peer programs
 * (the directory PEERS_RUNTIME names, see benches/run_peers.sh) written
 * against eddy's public API, one repetition per call, with the peers'
 * parameters and shapes:
 *
 *  - completion goes through a latch: an atomic counter the tasks decrement,
 *    and one eddy_notify_one from the task that brings it to zero (Tokio's
 *    Notify; the notify keeps a permit, so no wake-up is lost);
 *  - "a task on a worker" is a root task given to eddy_rt_block_on; it
 *    spawns with eddy_spawn (the worker's local queue) and then waits on the
 *    latch itself, so the benchmark thread is woken once per repetition, by
 *    the root's end (Tokio: block_on's future waits, woken once);
 *  - "from the main thread" is eddy_rt_spawn from the benchmark thread,
 *    which is not a worker, and the wait is eddy_notify_wait on that thread
 *    (as Tokio's block_on future runs on the main thread).
 *
 * It does not time anything (main.cc does). A failed eddy call inside a task
 * is recorded (the first one wins) and the task still counts down, so a
 * failure ends the repetition with an error instead of a hang. A real hang
 * is the watchdog's business: it names the workload and aborts.
 */
#include "benches/micro/workloads.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <eddy/rt.h>
#include <eddy/scope.h>
#include <eddy/sync.h>

/* ------------------------------------------------------------- watchdog */

static _Atomic uint64_t wd_tick;         /* bumped at every enter and leave */
static _Atomic(const char *) wd_what;    /* running workload, NULL between */
static _Atomic unsigned wd_workers;
static _Atomic(eddy_rt *) wd_rt;         /* its runtime, for the report */

static void wd_enter(const char *what, unsigned workers, eddy_rt *rt)
{
    atomic_store_explicit(&wd_rt, rt, memory_order_relaxed);
    atomic_store_explicit(&wd_workers, workers, memory_order_relaxed);
    atomic_store_explicit(&wd_what, what, memory_order_relaxed);
    atomic_fetch_add_explicit(&wd_tick, 1, memory_order_relaxed);
}

static void wd_leave(void)
{
    atomic_store_explicit(&wd_what, NULL, memory_order_relaxed);
    atomic_fetch_add_explicit(&wd_tick, 1, memory_order_relaxed);
}

static void *watchdog(void *arg)
{
    unsigned limit = (unsigned)(uintptr_t)arg;
    uint64_t last = atomic_load(&wd_tick);
    unsigned still = 0;
    for (;;) {
        sleep(1);
        uint64_t now = atomic_load(&wd_tick);
        const char *what = atomic_load(&wd_what);
        if (now != last || what == NULL) {
            last = now;
            still = 0;
            continue;
        }
        if (++still < limit)
            continue;
        unsigned workers = atomic_load(&wd_workers);
        eddy_rt *rt = atomic_load(&wd_rt);
        fprintf(stderr,
                "eddy_micro: HANG: %s, workers=%u: not finished after %u s "
                "(runtime bug?). Per-worker metrics:\n", what, workers, limit);
        for (unsigned i = 0; rt != NULL && i < eddy_rt_workers(rt); i++) {
            eddy_worker_metrics m;
            if (eddy_rt_worker_metrics(rt, i, &m) == 0)
                fprintf(stderr,
                        "  worker %u: polls=%llu spawned=%llu stolen=%llu parks=%llu "
                        "global_pulls=%llu queue_depth=%u\n", i,
                        (unsigned long long)m.polls, (unsigned long long)m.spawned,
                        (unsigned long long)m.stolen, (unsigned long long)m.parks,
                        (unsigned long long)m.global_pulls, m.queue_depth);
        }
        abort();
    }
    return NULL;
}

void eb_watchdog_start(unsigned hang_s)
{
    if (hang_s == 0)
        return;
    pthread_t th;
    if (pthread_create(&th, NULL, watchdog, (void *)(uintptr_t)hang_s) == 0)
        pthread_detach(th);
}

/* ------------------------------------------------------------ the context */

struct chain_link {
    struct eb_ctx *c;
    unsigned n; /* tasks still to spawn after this one */
};

struct eb_ctx {
    eddy_rt *rt;
    unsigned workers;
    _Atomic size_t rem;   /* the latch's counter */
    eddy_notify *done;    /* the latch's one signal per repetition */
    _Atomic int err;      /* first failure inside a task, 0 if none */
    struct chain_link chain[EB_CHAIN_DEPTH + 1];
    eddy_task *handles[EB_NUM_SPAWN]; /* spawn_join */
};

static void latch_reset(struct eb_ctx *c, size_t n)
{
    atomic_store_explicit(&c->rem, n, memory_order_relaxed);
}

static void latch_arrive(struct eb_ctx *c)
{
    /* acq_rel: the last arriver sees every other task's writes, as Tokio's
       Latch::arrive does. */
    if (atomic_fetch_sub_explicit(&c->rem, 1, memory_order_acq_rel) == 1)
        eddy_notify_one(c->done);
}

static int latch_wait(struct eb_ctx *c)
{
    return eddy_notify_wait(c->done, -1);
}

static void fail(struct eb_ctx *c, int rc)
{
    int zero = 0;
    atomic_compare_exchange_strong(&c->err, &zero, rc);
}

int eb_ctx_new(struct eb_ctx **out, unsigned workers)
{
    struct eb_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->workers = workers;
    for (unsigned i = 0; i <= EB_CHAIN_DEPTH; i++)
        c->chain[i] = (struct chain_link){ .c = c, .n = i };
    int rc = eddy_notify_new(&c->done);
    if (rc < 0)
        goto fail;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = workers;
    wd_enter("runtime creation", workers, NULL);
    rc = eddy_rt_new(&c->rt, &cfg);
    wd_leave();
    if (rc < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    eddy_notify_free(c->done);
    free(c);
    return rc;
}

void eb_ctx_free(struct eb_ctx *c)
{
    if (c == NULL)
        return;
    wd_enter("runtime shutdown", c->workers, c->rt);
    eddy_rt_free(c->rt); /* first: the last arriver may still be in notify_one */
    wd_leave();
    eddy_notify_free(c->done);
    free(c);
}

/* End of a repetition: ops, or the first error (rc, then the tasks'). */
static int64_t finish(struct eb_ctx *c, int rc, int64_t ops)
{
    wd_leave();
    if (rc < 0)
        return rc;
    int err = atomic_load(&c->err);
    return err < 0 ? err : ops;
}

/* One repetition whose root runs on a worker through eddy_rt_block_on and
   waits there for n arrivals. Returns ops or -errno. */
static int64_t run_root(struct eb_ctx *c, const char *what, size_t n, eddy_fn root, int64_t ops)
{
    wd_enter(what, c->workers, c->rt);
    atomic_store_explicit(&c->err, 0, memory_order_relaxed);
    latch_reset(c, n);
    void *res = NULL;
    int rc = eddy_rt_block_on(c->rt, root, c, &res);
    if (rc == 0)
        rc = (int)(intptr_t)res;
    return finish(c, rc, ops);
}

/* ----------------------------------------------------------- spawn_many */

static void *arrive_task(void *arg)
{
    latch_arrive(arg);
    return NULL;
}

static void *spawn_many_root(void *arg)
{
    struct eb_ctx *c = arg;
    for (unsigned i = 0; i < EB_NUM_SPAWN; i++) {
        int rc = eddy_spawn(NULL, arrive_task, c);
        if (rc < 0) {
            fail(c, rc);
            latch_arrive(c);
        }
    }
    return (void *)(intptr_t)latch_wait(c);
}

int64_t eb_spawn_many_local(struct eb_ctx *c)
{
    return run_root(c, "spawn_many_local", EB_NUM_SPAWN, spawn_many_root, EB_NUM_SPAWN);
}

int64_t eb_spawn_many_remote(struct eb_ctx *c)
{
    wd_enter("spawn_many_remote", c->workers, c->rt);
    atomic_store_explicit(&c->err, 0, memory_order_relaxed);
    latch_reset(c, EB_NUM_SPAWN);
    for (unsigned i = 0; i < EB_NUM_SPAWN; i++) {
        int rc = eddy_rt_spawn(c->rt, NULL, arrive_task, c);
        if (rc < 0) {
            fail(c, rc);
            latch_arrive(c);
        }
    }
    return finish(c, latch_wait(c), EB_NUM_SPAWN);
}

/* ------------------------------------------- scopes beside spawn + join */
/* Not a peer workload: what a child costs under a scope (eddy/scope.h)
   beside a plain spawn whose handle is joined, with the same children
   (Tokio's JoinSet and Go's errgroup are the analogues). */

static void *noop_task(void *arg)
{
    return arg;
}

/* EB_NUM_SPAWN children spawned with handles, then joined in order. */
static void *spawn_join_root(void *arg)
{
    struct eb_ctx *c = arg;
    for (unsigned i = 0; i < EB_NUM_SPAWN; i++) {
        int rc = eddy_spawn(&c->handles[i], noop_task, NULL);
        if (rc < 0) {
            while (i-- > 0)
                eddy_join(c->handles[i], NULL);
            return (void *)(intptr_t)rc;
        }
    }
    for (unsigned i = 0; i < EB_NUM_SPAWN; i++) {
        int rc = eddy_join(c->handles[i], NULL);
        if (rc < 0)
            fail(c, rc);
    }
    return NULL;
}

/* The same children in one scope, then one close. */
static void *scope_spawn_close_root(void *arg)
{
    struct eb_ctx *c = arg;
    eddy_scope *s;
    int rc = eddy_scope_new(&s);
    if (rc < 0)
        return (void *)(intptr_t)rc;
    for (unsigned i = 0; i < EB_NUM_SPAWN; i++) {
        rc = eddy_scope_spawn(s, NULL, noop_task, NULL);
        if (rc < 0) {
            fail(c, rc);
            break;
        }
    }
    rc = eddy_scope_close(s);
    return (void *)(intptr_t)rc;
}

/* One child at a time: spawn + join, against scope new + spawn + close. */
static void *spawn_join_each_root(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < EB_NUM_SPAWN; i++) {
        eddy_task *h;
        int rc = eddy_spawn(&h, noop_task, NULL);
        if (rc == 0)
            rc = eddy_join(h, NULL);
        if (rc < 0)
            return (void *)(intptr_t)rc;
    }
    return NULL;
}

static void *scope_each_root(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < EB_NUM_SPAWN; i++) {
        eddy_scope *s;
        int rc = eddy_scope_new(&s);
        if (rc < 0)
            return (void *)(intptr_t)rc;
        rc = eddy_scope_spawn(s, NULL, noop_task, NULL);
        int crc = eddy_scope_close(s);
        if (rc < 0 || crc < 0)
            return (void *)(intptr_t)(rc < 0 ? rc : crc);
    }
    return NULL;
}

int64_t eb_spawn_join(struct eb_ctx *c)
{
    return run_root(c, "spawn_join", 0, spawn_join_root, EB_NUM_SPAWN);
}

int64_t eb_scope_spawn_close(struct eb_ctx *c)
{
    return run_root(c, "scope_spawn_close", 0, scope_spawn_close_root, EB_NUM_SPAWN);
}

int64_t eb_spawn_join_each(struct eb_ctx *c)
{
    return run_root(c, "spawn_join_each", 0, spawn_join_each_root, EB_NUM_SPAWN);
}

int64_t eb_scope_each(struct eb_ctx *c)
{
    return run_root(c, "scope_each", 0, scope_each_root, EB_NUM_SPAWN);
}

/* ----------------------------------------------------------- yield_many */

static void *yield_task(void *arg)
{
    for (unsigned i = 0; i < EB_NUM_YIELD; i++)
        eddy_yield();
    latch_arrive(arg);
    return NULL;
}

int64_t eb_yield_many(struct eb_ctx *c)
{
    /* Tokio's and Go's: spawned from the main thread, waited for there. */
    wd_enter("yield_many", c->workers, c->rt);
    atomic_store_explicit(&c->err, 0, memory_order_relaxed);
    latch_reset(c, EB_YIELD_TASKS);
    for (unsigned i = 0; i < EB_YIELD_TASKS; i++) {
        int rc = eddy_rt_spawn(c->rt, NULL, yield_task, c);
        if (rc < 0) {
            fail(c, rc);
            latch_arrive(c);
        }
    }
    return finish(c, latch_wait(c), (int64_t)EB_YIELD_TASKS * EB_NUM_YIELD);
}

/* ------------------------------------------------------------ ping_pong */

/* Two one-shot channels (capacity 1, Go's oneshot analogue), freed by
   whichever side lets go last, as Tokio's oneshot is an Arc. */
struct pp_pair {
    eddy_chan *ping, *pong;
    struct eb_ctx *c;
    _Atomic int refs;
};

static void pp_put(struct pp_pair *p)
{
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        eddy_chan_free(p->ping);
        eddy_chan_free(p->pong);
        free(p);
    }
}

static void *pp_partner(void *arg)
{
    struct pp_pair *p = arg;
    char unit = 0;
    int rc = eddy_chan_recv(p->ping, &unit);
    if (rc == 0)
        rc = eddy_chan_send(p->pong, &unit);
    if (rc < 0) {
        fail(p->c, rc);
        eddy_chan_close(p->pong); /* the pinger must not wait forever */
    }
    pp_put(p);
    return NULL;
}

static void *pp_pinger(void *arg)
{
    struct eb_ctx *c = arg;
    struct pp_pair *p = calloc(1, sizeof *p);
    int rc = -ENOMEM;
    if (p == NULL)
        goto out;
    p->c = c;
    atomic_init(&p->refs, 2);
    if ((rc = eddy_chan_new(&p->ping, 1, 1)) < 0 || (rc = eddy_chan_new(&p->pong, 1, 1)) < 0)
        goto free_pair;
    if ((rc = eddy_spawn(NULL, pp_partner, p)) < 0)
        goto free_pair;
    char unit = 1;
    rc = eddy_chan_send(p->ping, &unit);
    if (rc == 0)
        rc = eddy_chan_recv(p->pong, &unit);
    else
        eddy_chan_close(p->ping); /* the partner must not wait forever */
    pp_put(p);
    goto out;
free_pair:
    eddy_chan_free(p->ping);
    eddy_chan_free(p->pong);
    free(p);
out:
    if (rc < 0)
        fail(c, rc);
    latch_arrive(c);
    return NULL;
}

static void *ping_pong_root(void *arg)
{
    struct eb_ctx *c = arg;
    for (unsigned i = 0; i < EB_NUM_PINGS; i++) {
        int rc = eddy_spawn(NULL, pp_pinger, c);
        if (rc < 0) {
            fail(c, rc);
            latch_arrive(c);
        }
    }
    return (void *)(intptr_t)latch_wait(c);
}

int64_t eb_ping_pong(struct eb_ctx *c)
{
    return run_root(c, "ping_pong", EB_NUM_PINGS, ping_pong_root, EB_NUM_PINGS);
}

/* -------------------------------------------------------- chained_spawn */

static void *chain_task(void *arg)
{
    struct chain_link *l = arg;
    struct eb_ctx *c = l->c;
    if (l->n == 0) {
        latch_arrive(c);
        return NULL;
    }
    int rc = eddy_spawn(NULL, chain_task, &c->chain[l->n - 1]);
    if (rc < 0) {
        fail(c, rc);
        latch_arrive(c);
    }
    return NULL;
}

static void *chained_root(void *arg)
{
    struct eb_ctx *c = arg;
    int rc = eddy_spawn(NULL, chain_task, &c->chain[EB_CHAIN_DEPTH]);
    if (rc < 0)
        return (void *)(intptr_t)rc;
    return (void *)(intptr_t)latch_wait(c);
}

int64_t eb_chained_spawn(struct eb_ctx *c)
{
    return run_root(c, "chained_spawn", 1, chained_root, EB_CHAIN_DEPTH);
}

/* --------------------------------------------------- channel_throughput */

struct ct_state {
    struct eb_ctx *c;
    eddy_chan *ch;
    uint64_t n, sum; /* written by the consumer, read after its join */
};

static void *ct_producer(void *arg)
{
    struct ct_state *s = arg;
    for (uint64_t i = 0; i < EB_CHAN_MSGS; i++) {
        int rc = eddy_chan_send(s->ch, &i);
        if (rc < 0) {
            fail(s->c, rc);
            break;
        }
    }
    eddy_chan_close(s->ch); /* Tokio: tx dropped; Go: close(ch) */
    return NULL;
}

static void *ct_consumer(void *arg)
{
    struct ct_state *s = arg;
    uint64_t n = 0, sum = 0, v;
    int rc;
    while ((rc = eddy_chan_recv(s->ch, &v)) == 0) {
        n++;
        sum += v;
    }
    if (rc != -EPIPE)
        fail(s->c, rc);
    s->n = n;
    s->sum = sum;
    return NULL;
}

static void *channel_root(void *arg)
{
    struct ct_state s = { .c = arg };
    eddy_task *prod = NULL, *cons = NULL;
    int rc = eddy_chan_new(&s.ch, EB_CHAN_CAP, sizeof(uint64_t));
    if (rc < 0)
        return (void *)(intptr_t)rc;
    if ((rc = eddy_spawn(&prod, ct_producer, &s)) < 0)
        goto out;
    if ((rc = eddy_spawn(&cons, ct_consumer, &s)) < 0) {
        eddy_chan_close(s.ch);
        (void)eddy_join(prod, NULL);
        goto out;
    }
    if ((rc = eddy_join(prod, NULL)) < 0 || (rc = eddy_join(cons, NULL)) < 0)
        goto out;
    const uint64_t m = EB_CHAN_MSGS;
    if (s.n != m || s.sum != m * (m - 1) / 2) {
        fprintf(stderr, "eddy_micro: channel_throughput lost messages: n=%llu sum=%llu\n",
                (unsigned long long)s.n, (unsigned long long)s.sum);
        rc = -EPROTO;
    }
out:
    eddy_chan_free(s.ch);
    return (void *)(intptr_t)rc;
}

int64_t eb_channel_throughput(struct eb_ctx *c)
{
    return run_root(c, "channel_throughput", 0, channel_root, EB_CHAN_MSGS);
}

/* ---------------------------------------------------------- task_switch */

/* Two tasks that yield to each other on one worker: every yield is one
   task-to-task switch through the scheduler (fiber -> worker -> fiber). */
static void *switch_task(void *arg)
{
    for (unsigned i = 0; i < EB_SWITCH_YIELDS; i++)
        eddy_yield();
    latch_arrive(arg);
    return NULL;
}

static void *switch_root(void *arg)
{
    struct eb_ctx *c = arg;
    for (int i = 0; i < 2; i++) {
        int rc = eddy_spawn(NULL, switch_task, c);
        if (rc < 0) {
            fail(c, rc);
            latch_arrive(c);
        }
    }
    return (void *)(intptr_t)latch_wait(c);
}

int64_t eb_task_switch(struct eb_ctx *c)
{
    return run_root(c, "task_switch", 2, switch_root, 2 * (int64_t)EB_SWITCH_YIELDS);
}
