/*
 * benches/rtbench.c: eddy_rtbench, the scheduler workloads of eddy_micro
 * (micro/workloads.c) timed the way the Tokio and Go peer programs time
 * theirs, so that the three are measured by one method:
 *
 *   eddy_rtbench <workload> <workers> [iters] [warmup]
 *
 * runs `warmup` untimed repetitions, then `iters` timed ones, and prints one
 * line with the median (and the least and most) of wall time / operations:
 *
 *   workload=ping_pong workers=1 ns_per_op=312.4 iters=20 min_ns_per_op=...
 *     max_ns_per_op=... runtime=eddy
 *
 * With iters and warmup set by hand it is also the program the instruction
 * counts run (benches/run_callgrind.sh): the difference between two runs
 * that differ only in iters is what the extra repetitions cost.
 * Exit 0, 1 when a repetition failed, 2 on bad arguments.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <eddy/common.h>

#include "benches/micro/workloads.h"

typedef int64_t (*workload_fn)(struct eb_ctx *);

static const struct {
    const char *name;
    workload_fn fn;
} workloads[] = {
    { "spawn_many_local", eb_spawn_many_local },
    { "spawn_many_remote", eb_spawn_many_remote },
    { "yield_many", eb_yield_many },
    { "ping_pong", eb_ping_pong },
    { "chained_spawn", eb_chained_spawn },
    { "channel_throughput", eb_channel_throughput },
    { "task_switch", eb_task_switch },
    { "spawn_join", eb_spawn_join },
    { "scope_spawn_close", eb_scope_spawn_close },
    { "spawn_join_each", eb_spawn_join_each },
    { "scope_each", eb_scope_each },
};

static void usage(void)
{
    fprintf(stderr, "usage: eddy_rtbench <workload> <workers> [iters=20] [warmup=3]\nworkloads:");
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        fprintf(stderr, " %s", workloads[i].name);
    fputc('\n', stderr);
    exit(2);
}

static unsigned parse_count(const char *s, const char *what, unsigned min)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > 1000000) {
        fprintf(stderr, "eddy_rtbench: %s must be an integer from %u to 1000000, got '%s'\n",
                what, min, s);
        exit(2);
    }
    return (unsigned)v;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5)
        usage();
    workload_fn fn = NULL;
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (strcmp(argv[1], workloads[i].name) == 0)
            fn = workloads[i].fn;
    if (fn == NULL) {
        fprintf(stderr, "eddy_rtbench: unknown workload '%s'\n", argv[1]);
        usage();
    }
    unsigned workers = parse_count(argv[2], "workers", 1);
    unsigned iters = argc > 3 ? parse_count(argv[3], "iters", 1) : 20;
    unsigned warmup = argc > 4 ? parse_count(argv[4], "warmup", 0) : 3;
    const char *hang = getenv("EDDY_BENCH_HANG_S");
    eb_watchdog_start(hang != NULL ? (unsigned)atoi(hang) : 60);

    struct eb_ctx *ctx;
    int rc = eb_ctx_new(&ctx, workers);
    if (rc < 0) {
        fprintf(stderr, "eddy_rtbench: eddy_rt_new: %s\n", eddy_strerror(rc));
        return 1;
    }
    double *samples = malloc(sizeof *samples * iters);
    if (samples == NULL) {
        fprintf(stderr, "eddy_rtbench: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < warmup + iters; i++) {
        uint64_t t0 = now_ns();
        int64_t ops = fn(ctx);
        uint64_t t1 = now_ns();
        if (ops <= 0) {
            fprintf(stderr, "eddy_rtbench: %s: %s\n", argv[1],
                    ops < 0 ? eddy_strerror((int)ops) : "no operations");
            return 1;
        }
        if (i >= warmup)
            samples[i - warmup] = (double)(t1 - t0) / (double)ops;
    }
    eb_ctx_free(ctx);
    qsort(samples, iters, sizeof *samples, cmp_double);
    double median = iters % 2 ? samples[iters / 2]
                              : (samples[iters / 2 - 1] + samples[iters / 2]) / 2;
    printf("workload=%s workers=%u ns_per_op=%.1f iters=%u min_ns_per_op=%.1f "
           "max_ns_per_op=%.1f runtime=eddy\n",
           argv[1], workers, median, iters, samples[0], samples[iters - 1]);
    free(samples);
    return 0;
}
