/*
 * benches/models/proc.h: the processes `eddy-bench models` starts (the
 * server under test, the fan-out client, the origin), and what it reads
 * of them: CPU time and threads from /proc while they run, peak RSS and
 * context switches from wait4 when they end.
 */
#ifndef EDDY_BENCH_PROC_H
#define EDDY_BENCH_PROC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

typedef struct child {
    pid_t pid;
    int in;                 /* its stdin (we write; closing it stops it) */
    int out;                /* its stdout (we read) */
    char buf[4096];         /* stdout read ahead */
    size_t len;
} child;

/* Starts this program again as `eddy-bench ARGS...` (NULL-terminated),
   its stdin and stdout on pipes. 0 or -errno. */
int child_start(child *c, char *const args[]);
/* One line of its stdout (without the newline) within timeout_ms:
   1 a line, 0 end of output, -ETIMEDOUT, -errno. */
int child_line(child *c, char *line, size_t cap, int timeout_ms);
/* Closes its stdin (the signal to stop), reads what it still prints into
   rest (NUL-terminated, may be NULL), and reaps it within timeout_ms, then
   SIGKILL. *ru its resource use; returns its exit status (0..255), 128+sig
   when killed by a signal, or -errno. */
int child_finish(child *c, char *rest, size_t cap, int timeout_ms, struct rusage *ru);

/* user + system CPU seconds of pid so far (all its threads, the ended
   ones too), or -1. */
double proc_cpu_s(pid_t pid);
/* Its thread count now, or -1. */
long proc_threads(pid_t pid);
/* Its peak RSS so far (VmHWM), KiB, or -1. Not wait4's ru_maxrss: for a
   child that was forked and then exec'ed that counts the parent's RSS at
   the fork too (Linux keeps the larger). */
long proc_hwm_kb(pid_t pid);

/* Watches pid from a thread: CPU time at `from_ns` and at `to_ns`
   (eddy_now_ns clock) and the peak thread count between. */
typedef struct sampler {
    pid_t pid;
    uint64_t from_ns, to_ns;
    double cpu_from, cpu_to;
    long threads_peak;
    long hwm_kb;            /* VmHWM at the last reading */
    atomic_bool stop;
    pthread_t th;
} sampler;

int sampler_start(sampler *s, pid_t pid, uint64_t from_ns, uint64_t to_ns);
/* Takes a reading of pid's peak RSS now (while it still lives). */
void sampler_hwm_now(sampler *s);
/* Stops it; cpu_to is taken now if to_ns was not reached. */
void sampler_stop(sampler *s);

/* The soft RLIMIT_NOFILE raised to the hard one; returns the new soft. */
unsigned long raise_nofile(void);

#endif
