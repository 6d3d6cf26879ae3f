/*
 * benches/models/proc.c: child processes and /proc readings (proc.h).
 */
#include "proc.h"

#include <eddy.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int child_start(child *c, char *const args[])
{
    memset(c, 0, sizeof *c);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(out, O_CLOEXEC) < 0) {
        int e = errno;
        close(in[0]);
        close(in[1]);
        return -e;
    }
    char *argv[32];
    size_t n = 0;
    argv[n++] = "eddy-bench";
    for (size_t i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return -e;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->pid = pid;
    c->in = in[1];
    c->out = out[0];
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int child_line(child *c, char *line, size_t cap, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl != NULL) {
            size_t l = (size_t)(nl - c->buf);
            size_t k = l < cap - 1 ? l : cap - 1;
            memcpy(line, c->buf, k);
            line[k] = '\0';
            memmove(c->buf, nl + 1, c->len - l - 1);
            c->len -= l + 1;
            return 1;
        }
        if (c->len == sizeof c->buf)
            c->len = 0; /* a line longer than we keep: drop it */
        int left = (int)(end - now_ms());
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = { .fd = c->out, .events = POLLIN };
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        ssize_t got = read(c->out, c->buf + c->len, sizeof c->buf - c->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        if (got == 0) {
            if (c->len == 0)
                return 0;
            size_t k = c->len < cap - 1 ? c->len : cap - 1; /* a last line without \n */
            memcpy(line, c->buf, k);
            line[k] = '\0';
            c->len = 0;
            return 1;
        }
        c->len += (size_t)got;
    }
}

int child_finish(child *c, char *rest, size_t cap, int timeout_ms, struct rusage *ru)
{
    if (c->in >= 0)
        close(c->in);
    c->in = -1;
    int64_t end = now_ms() + timeout_ms;
    size_t used = 0;
    if (rest != NULL && cap > 0)
        rest[0] = '\0';
    char line[512];
    int r;
    while ((r = child_line(c, line, sizeof line, (int)(end - now_ms() > 0 ? end - now_ms() : 0))) == 1) {
        if (rest != NULL && used + strlen(line) + 2 < cap) {
            used += (size_t)snprintf(rest + used, cap - used, "%s\n", line);
        }
    }
    if (r != 0)
        kill(c->pid, SIGKILL); /* it did not end its output in time */
    close(c->out);
    c->out = -1;
    int status = 0;
    for (;;) {
        pid_t p = wait4(c->pid, &status, WNOHANG, ru);
        if (p == c->pid)
            break;
        if (p < 0 && errno != EINTR)
            return -errno;
        if (now_ms() > end) {
            kill(c->pid, SIGKILL);
            end = now_ms() + 5000;
        }
        usleep(2000);
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the ")" that ends the command name: state is 3rd, utime
       14th, stime 15th */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    unsigned long long ut, st;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Name: N" line of /proc/PID/status, or -1. */
static long status_field(pid_t pid, const char *name)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t nl = strlen(name);
    long v = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, name, nl) == 0 && line[nl] == ':' && sscanf(line + nl + 1, "%ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

long proc_threads(pid_t pid)
{
    return status_field(pid, "Threads");
}

long proc_hwm_kb(pid_t pid)
{
    return status_field(pid, "VmHWM");
}

void sampler_hwm_now(sampler *s)
{
    long kb = proc_hwm_kb(s->pid);
    if (kb > s->hwm_kb)
        s->hwm_kb = kb;
}

static void *sampler_main(void *arg)
{
    sampler *s = arg;
    bool from_done = false, to_done = false;
    while (!atomic_load(&s->stop)) {
        uint64_t now = eddy_now_ns();
        if (!from_done && now >= s->from_ns) {
            s->cpu_from = proc_cpu_s(s->pid);
            from_done = true;
        }
        if (!to_done && now >= s->to_ns) {
            s->cpu_to = proc_cpu_s(s->pid);
            to_done = true;
        }
        long t = proc_threads(s->pid);
        if (t > s->threads_peak)
            s->threads_peak = t;
        sampler_hwm_now(s);
        usleep(20000);
    }
    if (!from_done)
        s->cpu_from = 0;
    if (!to_done)
        s->cpu_to = proc_cpu_s(s->pid);
    return NULL;
}

int sampler_start(sampler *s, pid_t pid, uint64_t from_ns, uint64_t to_ns)
{
    s->pid = pid;
    s->from_ns = from_ns;
    s->to_ns = to_ns;
    s->cpu_from = s->cpu_to = 0;
    s->threads_peak = proc_threads(pid);
    s->hwm_kb = proc_hwm_kb(pid);
    atomic_init(&s->stop, false);
    return -pthread_create(&s->th, NULL, sampler_main, s);
}

void sampler_stop(sampler *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
}

unsigned long raise_nofile(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return 0;
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &r);
    }
    return (unsigned long)r.rlim_cur;
}
