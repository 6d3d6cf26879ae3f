/*
 * examples/embed.c: eddy inside a program that owns its threads.
 *
 *   embed [THREADS=4] [JOBS=200]
 *
 * The program's own threads (here plain pthreads standing for a server's or
 * a GUI's) hand jobs to one shared runtime with eddy_rt_spawn and wait for
 * each result with eddy_join, which blocks only the calling thread. The jobs
 * are tasks: they sleep (standing for I/O) and report progress over a
 * channel to a task that counts, which a plain thread can also talk to.
 * At the end the program shuts the runtime down with a grace period and
 * frees it; every job and the counter have ended by then.
 */
#include <eddy.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static eddy_rt *rt;
static eddy_chan *progress; /* jobs -> counter task: one long per job done */
static long jobs_per_thread = 200;

/* A job: a little "I/O" (a sleep suspends the task, not a thread), then a
   result for the thread that waits on it, and a progress report. */
static void *job(void *arg)
{
    long n = (long)(intptr_t)arg;
    eddy_sleep_ms(n % 5);
    long one = 1;
    if (eddy_chan_send(progress, &one) < 0)
        return (void *)(intptr_t)-1;
    return (void *)(intptr_t)(n * 2);
}

/* Counts reports until the channel is closed and drained. */
static void *counter(void *arg)
{
    (void)arg;
    long total = 0, v;
    while (eddy_chan_recv(progress, &v) == 0)
        total += v;
    return (void *)(intptr_t)total;
}

/* One of the program's own threads: submits jobs, waits for each. */
static void *app_thread(void *arg)
{
    long id = (long)(intptr_t)arg, sum = 0;
    for (long i = 0; i < jobs_per_thread; i++) {
        long n = id * jobs_per_thread + i;
        eddy_task *h;
        int rc = eddy_rt_spawn(rt, &h, job, (void *)(intptr_t)n);
        void *res = NULL;
        if (rc == 0)
            rc = eddy_join(h, &res); /* blocks this thread, not a worker */
        if (rc < 0) {
            fprintf(stderr, "embed: job %ld: %s\n", n, eddy_strerror(rc));
            return (void *)(intptr_t)-1;
        }
        sum += (long)(intptr_t)res;
    }
    return (void *)(intptr_t)sum;
}

int main(int argc, char **argv)
{
    long nthreads = argc > 1 ? strtol(argv[1], NULL, 10) : 4;
    if (argc > 2)
        jobs_per_thread = strtol(argv[2], NULL, 10);
    if (nthreads < 1 || nthreads > 256 || jobs_per_thread < 1 || jobs_per_thread > 100000) {
        fprintf(stderr, "usage: embed [THREADS 1..256] [JOBS 1..100000]\n");
        return 2;
    }
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 2;
    int rc = eddy_rt_new(&rt, &cfg);
    if (rc == 0)
        rc = eddy_chan_new(&progress, 64, sizeof(long));
    if (rc < 0) {
        fprintf(stderr, "embed: %s\n", eddy_strerror(rc));
        return 1;
    }
    eddy_task *count;
    rc = eddy_rt_spawn(rt, &count, counter, NULL);
    if (rc < 0) {
        fprintf(stderr, "embed: spawn: %s\n", eddy_strerror(rc));
        return 1;
    }

    pthread_t th[256];
    long started = 0;
    int failed = 0;
    for (; started < nthreads; started++) {
        int err = pthread_create(&th[started], NULL, app_thread, (void *)(intptr_t)started);
        if (err != 0) {
            fprintf(stderr, "embed: pthread_create: %s\n", strerror(err));
            failed = 1;
            break;
        }
    }
    long sum = 0;
    for (long i = 0; i < started; i++) {
        void *r;
        pthread_join(th[i], &r);
        if ((intptr_t)r < 0)
            failed = 1;
        else
            sum += (long)(intptr_t)r;
    }

    /* every job reported; closing lets the counter drain and return */
    eddy_chan_close(progress);
    void *total = NULL;
    rc = eddy_join(count, &total);
    long n = nthreads * jobs_per_thread;
    long want = n * (n - 1); /* sum of 2k for k < n */

    /* nothing is left running, so this returns 0 at once */
    int sd = eddy_rt_shutdown(rt, 1000);
    eddy_rt_free(rt);
    eddy_chan_free(progress);

    /* one verdict, printed and returned */
    int ok = !failed && rc == 0 && sd == 0 && sum == want && (long)(intptr_t)total == n;
    printf("embed: %ld threads x %ld jobs: sum %ld (want %ld), %ld reports (want %ld),"
           " shutdown %d: %s\n",
           nthreads, jobs_per_thread, sum, want, (long)(intptr_t)total, n, sd,
           ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
