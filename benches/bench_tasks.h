/*
 * benches/bench_tasks.h: what the HTTP client benchmarks share: the root
 * task spawning n copies of one task body and joining them all, and the
 * process's CPU time.
 */
#ifndef EDDY_BENCH_TASKS_H
#define EDDY_BENCH_TASKS_H

#include <eddy.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

struct bench_tasks {
    int n;       /* how many tasks */
    eddy_fn fn;  /* each one's body (argument NULL) */
    int failed;  /* spawns that failed, set by bench_tasks_run */
};

/* An eddy_fn for eddy_rt_block_on, arg a struct bench_tasks. */
static inline void *bench_tasks_run(void *arg)
{
    struct bench_tasks *b = arg;
    eddy_task **t = calloc((size_t)b->n, sizeof *t);
    if (t == NULL) {
        b->failed = b->n;
        return NULL;
    }
    for (int k = 0; k < b->n; k++) {
        int rc = eddy_spawn(&t[k], b->fn, NULL);
        if (rc < 0) {
            fprintf(stderr, "spawn: %s\n", eddy_strerror(rc));
            t[k] = NULL;
            b->failed++;
        }
    }
    for (int k = 0; k < b->n; k++)
        if (t[k] != NULL)
            eddy_join(t[k], NULL);
    free(t);
    return NULL;
}

/* User plus system CPU seconds of this process so far. */
static inline double bench_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

#endif
