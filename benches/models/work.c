/*
 * benches/models/work.c: the suite's request handler (work.h).
 */
#include "work.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF_KIB 64

static unsigned char buf[BUF_KIB * 1024];
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void buf_fill(void)
{
    uint64_t x = 0x9e3779b97f4a7c15u; /* fixed: the same bytes in every process */
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
}

uint64_t work_hash(unsigned kib)
{
    pthread_once(&buf_once, buf_fill);
    uint64_t h = 0xcbf29ce484222325u;
    /* FNV-1a, a byte at a time: each step depends on the last, so the
       compiler can neither vectorise nor skip it */
    for (unsigned k = 0; k < kib; k++) {
        const unsigned char *p = buf + (size_t)(k % BUF_KIB) * 1024;
        for (size_t i = 0; i < 1024; i++) {
            h ^= p[i];
            h *= 0x100000001b3u;
        }
    }
    return h;
}

int work_query_uint(const char *q, const char *key, unsigned max, unsigned *out)
{
    size_t kl = strlen(key);
    while (q != NULL && *q != '\0') {
        if (strncmp(q, key, kl) == 0 && q[kl] == '=') {
            const char *v = q + kl + 1;
            if (*v < '0' || *v > '9')
                return -EINVAL;
            char *end;
            errno = 0;
            unsigned long n = strtoul(v, &end, 10);
            if (errno != 0 || (*end != '\0' && *end != '&') || n > max)
                return -EINVAL;
            *out = (unsigned)n;
            return 0;
        }
        q = strchr(q, '&');
        if (q != NULL)
            q++;
    }
    return -ENOENT;
}

int work_parse(const char *path, const char *query, work_req *w)
{
    memset(w, 0, sizeof *w);
    if (path == NULL)
        return -EINVAL;
    if (strcmp(path, "/") == 0) {
        w->plaintext = 1;
        return 0;
    }
    if (strcmp(path, "/work") != 0)
        return -ENOENT;
    int rc = work_query_uint(query, "kib", WORK_KIB_MAX, &w->kib);
    if (rc == -EINVAL)
        return rc;
    rc = work_query_uint(query, "wait_us", WORK_WAIT_US_MAX, &w->wait_us);
    return rc == -EINVAL ? rc : 0;
}

size_t work_answer(const work_req *w, char *body, size_t cap)
{
    int n = w->plaintext ? snprintf(body, cap, "Hello, World!")
                         : snprintf(body, cap, "%016llx\n", (unsigned long long)work_hash(w->kib));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double work_ns_per_kib(void)
{
    enum { RUNS = 7, KIB = 2048 };
    double ns[RUNS];
    volatile uint64_t sink = 0;
    for (int r = 0; r < RUNS; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        sink ^= work_hash(KIB);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        ns[r] = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / KIB;
    }
    (void)sink;
    qsort(ns, RUNS, sizeof ns[0], cmp_double);
    return ns[RUNS / 2];
}
