/*
 * benches/micro/workloads.h: the C side of eddy_micro. The harness
 * (main.cc, Google Benchmark) only times and names; everything that touches
 * eddy lives in C behind this header:
 *
 *  - workloads.c: the workloads of the Tokio and Go peer programs (the
 *    directory PEERS_RUNTIME names, see benches/run_peers.sh), with their
 *    exact parameters, on a real runtime, plus a two-task yield ping-pong
 *    and a watchdog that reports a hung repetition;
 *  - internals.c: microbenchmarks of internal pieces (fiber switch, run
 *    queue push/pop and steal, timer wheel insert+cancel, channel try ops).
 *
 * Every run function performs one repetition (or one batch) and returns the
 * number of operations it did, or a negative errno.
 */
#ifndef EDDY_BENCH_WORKLOADS_H
#define EDDY_BENCH_WORKLOADS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The peers' parameters (tokio/src/main.rs, go/main.go). */
#define EB_NUM_SPAWN 10000     /* spawn_many_local, spawn_many_remote */
#define EB_YIELD_TASKS 200     /* yield_many */
#define EB_NUM_YIELD 1000      /* yield_many, per task */
#define EB_NUM_PINGS 1000      /* ping_pong */
#define EB_CHAIN_DEPTH 1000    /* chained_spawn */
#define EB_CHAN_CAP 1024       /* channel_throughput */
#define EB_CHAN_MSGS 1000000   /* channel_throughput */
#define EB_SWITCH_YIELDS 10000 /* task_switch: yields per task (2 tasks) */

/* ------------------------------------------------------ runtime workloads */

struct eb_ctx;

/**
 * Creates a runtime of `workers` workers (defaults otherwise) and the latch
 * the workloads complete through. Returns 0 or -errno.
 */
int eb_ctx_new(struct eb_ctx **out, unsigned workers);
/** Shuts the runtime down and frees everything. NULL: no-op. */
void eb_ctx_free(struct eb_ctx *c);

/* One repetition each; operations as in the peers' README. */
int64_t eb_spawn_many_local(struct eb_ctx *c);  /* tasks */
int64_t eb_spawn_many_remote(struct eb_ctx *c); /* tasks */
int64_t eb_yield_many(struct eb_ctx *c);        /* yields */
int64_t eb_ping_pong(struct eb_ctx *c);         /* round trips */
int64_t eb_chained_spawn(struct eb_ctx *c);     /* spawns */
int64_t eb_channel_throughput(struct eb_ctx *c); /* messages */
int64_t eb_task_switch(struct eb_ctx *c);       /* yields of 2 tasks */
/* Scopes beside spawn + join (eddy only): children. */
int64_t eb_spawn_join(struct eb_ctx *c);         /* spawn all with handles, join all */
int64_t eb_scope_spawn_close(struct eb_ctx *c);  /* the same in one scope, one close */
int64_t eb_spawn_join_each(struct eb_ctx *c);    /* spawn + join, one at a time */
int64_t eb_scope_each(struct eb_ctx *c);         /* scope new + spawn + close, each */

/**
 * Starts a thread that aborts the process with a message naming the
 * workload when one repetition (or a runtime's creation or shutdown) has not
 * finished after hang_s seconds. 0 disables it.
 */
void eb_watchdog_start(unsigned hang_s);

/* --------------------------------------------------------------- internals */

struct eb_fibers;   /* two fibers switching to each other */
int eb_fibers_new(struct eb_fibers **out);
int64_t eb_fibers_run(struct eb_fibers *f, uint32_t switches); /* switches */
void eb_fibers_free(struct eb_fibers *f);

struct eb_deques;   /* two run queues, owner side and thief side */
int eb_deques_new(struct eb_deques **out);
int64_t eb_deque_push_pop(struct eb_deques *d, uint32_t pairs); /* pairs */
int64_t eb_deque_steal(struct eb_deques *d); /* tasks moved by steals */
void eb_deques_free(struct eb_deques *d);

struct eb_wheel;    /* a timer wheel with `armed` timers in it */
int eb_wheel_new(struct eb_wheel **out, uint32_t armed);
int64_t eb_wheel_insert_cancel(struct eb_wheel *w, uint32_t pairs); /* pairs */
void eb_wheel_free(struct eb_wheel *w);

struct eb_chan_try; /* a u64 channel used from one plain thread */
int eb_chan_try_new(struct eb_chan_try **out, uint32_t capacity);
int64_t eb_chan_try_run(struct eb_chan_try *c, uint32_t pairs); /* send+recv pairs */
void eb_chan_try_free(struct eb_chan_try *c);

#ifdef __cplusplus
}
#endif
#endif
