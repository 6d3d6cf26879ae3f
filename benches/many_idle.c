/*
 * benches/many_idle.c: eddy_many_idle, the many_idle workload of the Tokio
 * and Go peer programs (the directory PEERS_RUNTIME names, see
 * benches/run_peers.sh) on eddy. One task spawns 1,000,000 tasks; each
 * sleeps sleep_ms on the runtime's timers, then decrements a counter; the
 * one that brings it to zero wakes the waiter. One run per process, since
 * peak RSS (VmHWM) is a process high-water mark.
 *
 *   eddy_many_idle [workers=2] [sleep_ms=1000] [stack_kib=64] [tasks=1000000]
 *
 * Prints one line in the peers' key=value format (plus stack_size, bytes):
 * ns_per_op = (wall - sleep) / tasks, wall_ms from the first spawn to the
 * last finish, spawn_ms the spawning loop alone, base_rss_kb VmRSS before,
 * peak_rss_kb VmHWM after, bytes_per_task = (peak - base) * 1024 / tasks,
 * done_at_spawn_end = tasks already finished when the last was spawned (not
 * 0: they were never all parked at once).
 *
 * Two keys the peers do not print: spawning here only queues a task (as in
 * Tokio), and a task takes its stack when it first runs, so the slow part
 * can come after the spawn loop. parked_ms is the time from the first spawn
 * until the last task started its sleep, and done_at_all_parked the tasks
 * already finished then: 0 means all of them were parked at once, so
 * peak_rss_kb is the memory of that many sleeping tasks. wake_late_p50_ms
 * and wake_late_p99_ms: how long after its deadline a task got to run again
 * (a late task keeps its stack, so lateness adds to peak_rss_kb).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eddy/rt.h>
#include <eddy/sync.h>

#define LATE_BUCKETS 1024 /* wake lateness histogram, 1 ms a bucket; 1023: a second or more */

struct idle {
    _Atomic size_t rem;
    eddy_notify *done;
    int64_t sleep_ms;
    size_t tasks;
    _Atomic int err;      /* first failure, 0 if none */
    uint64_t spawn_ns;    /* written by the root */
    size_t done_at_spawn_end;
    uint64_t t0;          /* eddy_now_ns() before the first spawn */
    _Atomic size_t started;        /* tasks that began their sleep */
    _Atomic uint64_t parked_ns;    /* written by the last to start */
    _Atomic size_t done_at_all_parked;
};

static _Atomic size_t late_hist[LATE_BUCKETS];

static void fail(struct idle *s, int rc)
{
    int zero = 0;
    atomic_compare_exchange_strong(&s->err, &zero, rc);
}

static void arrive(struct idle *s)
{
    if (atomic_fetch_sub_explicit(&s->rem, 1, memory_order_acq_rel) == 1)
        eddy_notify_one(s->done);
}

static void *idle_task(void *arg)
{
    struct idle *s = arg;
    if (atomic_fetch_add_explicit(&s->started, 1, memory_order_relaxed) + 1 == s->tasks) {
        atomic_store(&s->parked_ns, eddy_now_ns() - s->t0);
        atomic_store(&s->done_at_all_parked, s->tasks - atomic_load(&s->rem));
    }
    uint64_t due = eddy_now_ns() + (uint64_t)s->sleep_ms * 1000000u;
    int rc = eddy_sleep_ms(s->sleep_ms);
    if (rc < 0)
        fail(s, rc);
    uint64_t now = eddy_now_ns(), late = now > due ? (now - due) / 1000000u : 0;
    atomic_fetch_add_explicit(&late_hist[late < LATE_BUCKETS ? late : LATE_BUCKETS - 1], 1,
                              memory_order_relaxed);
    arrive(s);
    return NULL;
}

static void *root(void *arg)
{
    struct idle *s = arg;
    uint64_t t = eddy_now_ns();
    for (size_t i = 0; i < s->tasks; i++) {
        int rc = eddy_spawn(NULL, idle_task, s);
        if (rc < 0) {
            fail(s, rc);
            arrive(s);
        }
    }
    s->spawn_ns = eddy_now_ns() - t;
    s->done_at_spawn_end = s->tasks - atomic_load_explicit(&s->rem, memory_order_relaxed);
    return (void *)(intptr_t)eddy_notify_wait(s->done, -1);
}

/* Reads a "<key>:  <n> kB" line of /proc/self/status, in KiB (0 if absent),
   as the peers do. */
static unsigned long long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    size_t klen = strlen(key);
    unsigned long long v = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtoull(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* The lateness (ms) that pct percent of the tasks did not exceed. */
static unsigned late_pct(size_t tasks, unsigned pct)
{
    size_t acc = 0;
    for (unsigned i = 0; i < LATE_BUCKETS; i++) {
        acc += atomic_load(&late_hist[i]);
        if (acc * 100 >= tasks * pct)
            return i;
    }
    return LATE_BUCKETS - 1;
}

static long arg_or(int argc, char **argv, int i, long def, long min, const char *what)
{
    if (argc <= i)
        return def;
    char *end;
    errno = 0;
    long v = strtol(argv[i], &end, 10);
    if (errno != 0 || *end != '\0' || end == argv[i] || v < min) {
        fprintf(stderr, "eddy_many_idle: %s must be an integer >= %ld, got '%s'\n", what, min,
                argv[i]);
        fprintf(stderr, "usage: eddy_many_idle [workers=2] [sleep_ms=1000] [stack_kib=64] "
                        "[tasks=1000000]\n");
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    unsigned workers = (unsigned)arg_or(argc, argv, 1, 2, 1, "workers");
    struct idle s = { .sleep_ms = arg_or(argc, argv, 2, 1000, 0, "sleep_ms") };
    size_t stack_kib = (size_t)arg_or(argc, argv, 3, 64, 16, "stack_kib");
    s.tasks = (size_t)arg_or(argc, argv, 4, 1000000, 1, "tasks");

    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = workers;
    cfg.stack_size = stack_kib * 1024;
    eddy_rt *rt;
    int rc = eddy_notify_new(&s.done);
    if (rc == 0)
        rc = eddy_rt_new(&rt, &cfg);
    if (rc < 0) {
        fprintf(stderr, "eddy_many_idle: cannot start the runtime: %s\n", eddy_strerror(rc));
        return 1;
    }
    atomic_store(&s.rem, s.tasks);
    unsigned long long base_kb = proc_status_kb("VmRSS");

    uint64_t t0 = eddy_now_ns();
    s.t0 = t0;
    void *res = NULL;
    rc = eddy_rt_block_on(rt, root, &s, &res);
    uint64_t wall_ns = eddy_now_ns() - t0;
    unsigned long long peak_kb = proc_status_kb("VmHWM");
    if (rc == 0)
        rc = (int)(intptr_t)res;
    if (rc == 0)
        rc = atomic_load(&s.err);
    if (rc < 0) {
        fprintf(stderr, "eddy_many_idle: failed: %s\n", eddy_strerror(rc));
        return 1;
    }

    uint64_t sleep_ns = (uint64_t)s.sleep_ms * 1000000u;
    double over_ns = wall_ns > sleep_ns ? (double)(wall_ns - sleep_ns) : 0.0;
    double grown = peak_kb > base_kb ? (double)(peak_kb - base_kb) * 1024.0 : 0.0;
    printf("workload=many_idle workers=%u ns_per_op=%.1f iters=1 sleep_ms=%lld wall_ms=%.1f "
           "spawn_ms=%.1f base_rss_kb=%llu peak_rss_kb=%llu bytes_per_task=%.0f "
           "stack_size=%zu done_at_spawn_end=%zu parked_ms=%.1f done_at_all_parked=%zu "
           "wake_late_p50_ms=%u wake_late_p99_ms=%u tasks=%zu runtime=eddy\n",
           workers, over_ns / (double)s.tasks, (long long)s.sleep_ms, (double)wall_ns / 1e6,
           (double)s.spawn_ns / 1e6, base_kb, peak_kb, grown / (double)s.tasks,
           cfg.stack_size, s.done_at_spawn_end, (double)atomic_load(&s.parked_ns) / 1e6,
           atomic_load(&s.done_at_all_parked), late_pct(s.tasks, 50), late_pct(s.tasks, 99),
           s.tasks);
    fflush(stdout);
    eddy_rt_free(rt);
    eddy_notify_free(s.done);
    return 0;
}
