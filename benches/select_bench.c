/*
 * benches/select_bench.c: eddy_select_bench, what eddy_select costs over a
 * plain receive. On a 1-worker runtime a producer task sends msgs numbered
 * elements, element i to channel i % k, then closes the channels; a
 * consumer task receives them all:
 *
 *   recv      k = 1, eddy_chan_recv
 *   select2   k = 2, eddy_select over 2 RECV cases
 *   select8   k = 8, eddy_select over 8 RECV cases
 *
 * (a closed channel's case is dropped from the set). Timed as eddy_rtbench
 * times its workloads: warmup untimed repetitions, then iters timed ones,
 * one line per case with the median (and least and most) ns per received
 * element:
 *
 *   eddy_select_bench [iters=20] [warmup=3] [cap=1024] [msgs=1000000] [case]
 *   case=select2 workers=1 cap=1024 ns_per_op=31.2 iters=20 min_ns_per_op=...
 *     max_ns_per_op=... runtime=eddy
 *
 * benches/go_select/ is the same program in Go (GOMAXPROCS=1). cap 0 makes
 * every element a rendezvous hand-over (a task switch each); case runs that
 * case alone (for profiles: valgrind --tool=callgrind). Exit 0, 1 when
 * a repetition failed or lost elements, 2 on bad arguments.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eddy.h>

#define MAX_K 8

struct run {
    unsigned k;
    bool use_select;
    size_t cap;
    uint64_t msgs;
    eddy_chan *ch[MAX_K];
    uint64_t n, sum; /* the consumer's, read after its join */
    int err;
};

static void *producer(void *arg)
{
    struct run *r = arg;
    for (uint64_t i = 0; i < r->msgs; i++) {
        int rc = eddy_chan_send(r->ch[i % r->k], &i);
        if (rc < 0) {
            r->err = rc;
            break;
        }
    }
    for (unsigned i = 0; i < r->k; i++)
        eddy_chan_close(r->ch[i]);
    return NULL;
}

static void *consumer(void *arg)
{
    struct run *r = arg;
    uint64_t n = 0, sum = 0, v = 0;
    if (!r->use_select) {
        int rc;
        while ((rc = eddy_chan_recv(r->ch[0], &v)) == 0) {
            n++;
            sum += v;
        }
        if (rc != -EPIPE)
            r->err = rc;
    } else {
        eddy_select_case cs[MAX_K];
        unsigned open = r->k;
        for (unsigned i = 0; i < r->k; i++)
            cs[i] = (eddy_select_case){ .kind = EDDY_SEL_RECV, .obj = r->ch[i], .elem = &v };
        while (open > 0) {
            int i = eddy_select(cs, open, -1);
            if (i < 0) {
                r->err = i;
                break;
            }
            if (cs[i].result == -EPIPE) {
                cs[i] = cs[--open]; /* closed and drained */
                continue;
            }
            n++;
            sum += v;
        }
    }
    r->n = n;
    r->sum = sum;
    return NULL;
}

static void *root(void *arg)
{
    struct run *r = arg;
    eddy_task *p, *c;
    int rc = eddy_spawn(&c, consumer, r);
    if (rc < 0)
        return (void *)(intptr_t)rc;
    if ((rc = eddy_spawn(&p, producer, r)) < 0) {
        for (unsigned i = 0; i < r->k; i++)
            eddy_chan_close(r->ch[i]);
        (void)eddy_join(c, NULL);
        return (void *)(intptr_t)rc;
    }
    (void)eddy_join(p, NULL);
    (void)eddy_join(c, NULL);
    return NULL;
}

/* One repetition: ns per received element, or a negative error. */
static double once(eddy_rt *rt, unsigned k, bool use_select, size_t cap, uint64_t msgs)
{
    struct run r = { .k = k, .use_select = use_select, .cap = cap, .msgs = msgs };
    for (unsigned i = 0; i < k; i++) {
        int rc = eddy_chan_new(&r.ch[i], cap, sizeof(uint64_t));
        if (rc < 0)
            return rc;
    }
    uint64_t t0 = eddy_now_ns();
    void *res = NULL;
    int rc = eddy_rt_block_on(rt, root, &r, &res);
    uint64_t t1 = eddy_now_ns();
    for (unsigned i = 0; i < k; i++)
        eddy_chan_free(r.ch[i]);
    if (rc < 0)
        return rc;
    if (res != NULL)
        return (double)(intptr_t)res;
    if (r.err < 0)
        return r.err;
    if (r.n != msgs || r.sum != msgs * (msgs - 1) / 2) {
        fprintf(stderr, "eddy_select_bench: lost elements: n=%llu sum=%llu\n",
                (unsigned long long)r.n, (unsigned long long)r.sum);
        return -EPROTO;
    }
    return (double)(t1 - t0) / (double)msgs;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static unsigned long arg_num(const char *s, const char *what, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max) {
        fprintf(stderr, "eddy_select_bench: %s must be an integer from 0 to %lu, got '%s'\n",
                what, max, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc > 6) {
        fprintf(stderr, "usage: eddy_select_bench [iters=20] [warmup=3] [cap=1024] "
                        "[msgs=1000000] [recv|select2|select8]\n");
        return 2;
    }
    unsigned iters = argc > 1 ? (unsigned)arg_num(argv[1], "iters", 10000) : 20;
    unsigned warmup = argc > 2 ? (unsigned)arg_num(argv[2], "warmup", 10000) : 3;
    size_t cap = argc > 3 ? arg_num(argv[3], "cap", 1u << 20) : 1024;
    uint64_t msgs = argc > 4 ? arg_num(argv[4], "msgs", 1ul << 32) : 1000000;
    const char *only = argc > 5 ? argv[5] : NULL;
    if (iters == 0 || msgs == 0) {
        fprintf(stderr, "eddy_select_bench: iters and msgs must be at least 1\n");
        return 2;
    }
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1;
    eddy_rt *rt;
    int rc = eddy_rt_new(&rt, &cfg);
    if (rc < 0) {
        fprintf(stderr, "eddy_select_bench: eddy_rt_new: %s\n", eddy_strerror(rc));
        return 1;
    }
    static const struct {
        const char *name;
        unsigned k;
        bool use_select;
    } cases[] = { { "recv", 1, false }, { "select2", 2, true }, { "select8", 8, true } };
    double *s = malloc(sizeof *s * iters);
    if (s == NULL)
        return 1;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (only != NULL && strcmp(only, cases[c].name) != 0)
            continue;
        for (unsigned i = 0; i < warmup + iters; i++) {
            double ns = once(rt, cases[c].k, cases[c].use_select, cap, msgs);
            if (ns < 0) {
                fprintf(stderr, "eddy_select_bench: %s: %s\n", cases[c].name,
                        eddy_strerror((int)ns));
                return 1;
            }
            if (i >= warmup)
                s[i - warmup] = ns;
        }
        qsort(s, iters, sizeof *s, cmp_double);
        double med = iters % 2 ? s[iters / 2] : (s[iters / 2 - 1] + s[iters / 2]) / 2;
        printf("case=%s workers=1 cap=%zu ns_per_op=%.1f iters=%u min_ns_per_op=%.1f "
               "max_ns_per_op=%.1f runtime=eddy\n",
               cases[c].name, cap, med, iters, s[0], s[iters - 1]);
        fflush(stdout);
    }
    free(s);
    eddy_rt_free(rt);
    return 0;
}
