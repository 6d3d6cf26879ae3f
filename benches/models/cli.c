/*
 * benches/models/cli.c: `eddy-bench models` options (cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void models_usage(FILE *f)
{
    fprintf(f,
        "usage: eddy-bench models [--quick|--full] [--workload fanout|server|mixed]...\n"
        "                         [--out DIR] [options]\n"
        "Runs every workload under every model on loopback and writes DIR/results.json,\n"
        "DIR/results.csv, DIR/meta.json, the plots and DIR/report.md (DIR: models-out).\n"
        "  --quick              few points, one round each (the default; about a minute)\n"
        "  --full               sweeps 10..10,000, 5 rounds per point (about 40 minutes)\n"
        "  --workload W         fanout, server or mixed; repeat or list with commas\n"
        "                       (default: all three)\n"
        "  --models LIST        a subset of threads,thread-pool,single-loop,\n"
        "                       multi-reactor,thread-per-core (default: all)\n"
        "  --out DIR            where the results go\n"
        "  --rounds N           runs per point (median and range reported)\n"
        "  --duration-ms N      measured time of a server/mixed run\n"
        "  --warmup-ms N        unmeasured time before it\n"
        "  --workers N          workers of multi-reactor and thread-per-core (0: one per CPU)\n"
        "  --lg-workers N       workers of the load generator (default 1)\n"
        "  --pool N             thread-pool's threads, server workloads (default 256)\n"
        "  --fanout-pool N      thread-pool's threads, fanout (default 64)\n"
        "  --pin                pin the eddy models' workers to CPUs\n"
        "server:  --conns LIST  closed loop connections   --conns-p16 LIST  16 pipelined\n"
        "         --conns-open LIST  open loop connections  --rate N  open loop requests/s\n"
        "mixed:   --mixed-conns LIST  --cpu-us N  --wait-us N  --skew F  --heavy-every N\n"
        "         --mixed-load P  skewed-open's offered load, %% of the CPUs' capacity\n"
        "fanout:  --c LIST  --delay-ms N  --per-c N (n = N * c, at least --min-n)  --min-n N\n");
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int parse_u(const char *s, unsigned min, unsigned max, unsigned *out)
{
    unsigned long v;
    if (parse_ulong(s, min, max, &v) < 0)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

int point_list_parse(const char *s, unsigned max, point_list *out)
{
    point_list l = { 0 };
    const char *p = s;
    while (p != NULL && *p != '\0') {
        char item[16];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item || l.n == CLI_MAX_POINTS)
            return -EINVAL;
        memcpy(item, p, len);
        item[len] = '\0';
        if (parse_u(item, 1, max, &l.v[l.n]) < 0)
            return -EINVAL;
        l.n++;
        p += len;
        if (*p == ',' && *++p == '\0')
            return -EINVAL; /* a trailing comma */
    }
    if (l.n == 0)
        return -EINVAL;
    *out = l;
    return 0;
}

static void set_list(point_list *l, unsigned n, const unsigned *v)
{
    l->n = n;
    memcpy(l->v, v, n * sizeof *v);
}

static void defaults(models_opts *o, bool full)
{
    o->full = full;
    o->rounds = full ? 5 : 1;
    o->duration_ms = full ? 2000 : 1000;
    o->warmup_ms = full ? 500 : 300;
    o->fanout_min_n = full ? 2000 : 500;
    if (full) {
        set_list(&o->conns, 4, (unsigned[]){ 10, 100, 1000, 10000 });
        set_list(&o->conns_p16, 3, (unsigned[]){ 10, 100, 1000 });
        set_list(&o->conns_open, 4, (unsigned[]){ 10, 100, 1000, 10000 });
        set_list(&o->mixed_conns, 4, (unsigned[]){ 8, 32, 128, 512 });
        set_list(&o->fanout_c, 4, (unsigned[]){ 10, 100, 1000, 10000 });
    } else {
        set_list(&o->conns, 2, (unsigned[]){ 10, 1000 });
        set_list(&o->conns_p16, 1, (unsigned[]){ 100 });
        set_list(&o->conns_open, 1, (unsigned[]){ 100 });
        set_list(&o->mixed_conns, 1, (unsigned[]){ 64 });
        set_list(&o->fanout_c, 2, (unsigned[]){ 100, 1000 });
    }
}

int models_parse(int argc, char **argv, models_opts *o, FILE *out, char *err, size_t errlen)
{
    enum { O_QUICK = 256, O_FULL, O_WORKLOAD, O_MODELS, O_OUT, O_ROUNDS, O_DURATION, O_WARMUP,
           O_WORKERS, O_LGW, O_POOL, O_FPOOL, O_PIN, O_CONNS, O_P16, O_OPEN, O_RATE, O_MCONNS,
           O_CPU, O_WAIT, O_SKEW, O_HEAVY, O_MLOAD, O_C, O_DELAY, O_PERC, O_MINN, O_HELP };
    static const struct option lo[] = {
        { "quick", no_argument, NULL, O_QUICK }, { "full", no_argument, NULL, O_FULL },
        { "smoke", no_argument, NULL, O_QUICK }, /* the name HTTP notes used */
        { "workload", required_argument, NULL, O_WORKLOAD },
        { "models", required_argument, NULL, O_MODELS }, { "out", required_argument, NULL, O_OUT },
        { "rounds", required_argument, NULL, O_ROUNDS },
        { "duration-ms", required_argument, NULL, O_DURATION },
        { "warmup-ms", required_argument, NULL, O_WARMUP },
        { "workers", required_argument, NULL, O_WORKERS },
        { "lg-workers", required_argument, NULL, O_LGW },
        { "pool", required_argument, NULL, O_POOL },
        { "fanout-pool", required_argument, NULL, O_FPOOL }, { "pin", no_argument, NULL, O_PIN },
        { "conns", required_argument, NULL, O_CONNS },
        { "conns-p16", required_argument, NULL, O_P16 },
        { "conns-open", required_argument, NULL, O_OPEN },
        { "rate", required_argument, NULL, O_RATE },
        { "mixed-conns", required_argument, NULL, O_MCONNS },
        { "cpu-us", required_argument, NULL, O_CPU }, { "wait-us", required_argument, NULL, O_WAIT },
        { "skew", required_argument, NULL, O_SKEW },
        { "heavy-every", required_argument, NULL, O_HEAVY },
        { "mixed-load", required_argument, NULL, O_MLOAD },
        { "c", required_argument, NULL, O_C }, { "delay-ms", required_argument, NULL, O_DELAY },
        { "per-c", required_argument, NULL, O_PERC }, { "min-n", required_argument, NULL, O_MINN },
        { "help", no_argument, NULL, O_HELP }, { NULL, 0, NULL, 0 },
    };
    /* two passes: the mode first (its defaults), then the rest over them */
    bool full = false;
    int mode_seen = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") == 0) {
            full = true;
            mode_seen |= 2;
        } else if (strcmp(argv[i], "--quick") == 0 || strcmp(argv[i], "--smoke") == 0) {
            mode_seen |= 1;
        }
    }
    if (mode_seen == 3)
        return fail(err, errlen, "--quick and --full exclude each other");
    memset(o, 0, sizeof *o);
    defaults(o, full);
    o->models = (1u << MODEL_COUNT) - 1;
    o->out = "models-out";
    o->lg_workers = 1;
    o->pool = 256;
    o->fanout_pool = 64;
    o->rate = 10000;
    o->cpu_us = 100;
    o->wait_us = 1000;
    o->skew = 10;
    o->heavy_every = 10;
    o->mixed_load = 75;
    o->delay_ms = 20;
    o->fanout_per_c = 20;

    opterr = 0;
    optind = 1;
    int ch, idx = 0;
    while ((ch = getopt_long(argc, argv, ":", lo, &idx)) != -1) {
        const char *a = optarg;
        unsigned *u = NULL, min = 0, max = 0;
        point_list *pl = NULL;
        unsigned pmax = 100000;
        switch (ch) {
        case O_QUICK:
        case O_FULL:
            break;
        case O_WORKLOAD: {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", a);
            for (char *sv, *t = strtok_r(buf, ",", &sv); t != NULL; t = strtok_r(NULL, ",", &sv)) {
                if (strcmp(t, "fanout") == 0)
                    o->workloads |= WL_FANOUT;
                else if (strcmp(t, "server") == 0)
                    o->workloads |= WL_SERVER;
                else if (strcmp(t, "mixed") == 0)
                    o->workloads |= WL_MIXED;
                else
                    return fail(err, errlen,
                                "--workload: unknown workload '%s' (fanout, server or mixed)", t);
            }
            if (strlen(a) >= sizeof buf || a[0] == '\0' || a[strlen(a) - 1] == ',')
                return fail(err, errlen, "--workload: bad list '%s'", a);
            break;
        }
        case O_MODELS: {
            char buf[128];
            if (strlen(a) >= sizeof buf || a[0] == '\0' || a[strlen(a) - 1] == ',')
                return fail(err, errlen, "--models: bad list '%s'", a);
            snprintf(buf, sizeof buf, "%s", a);
            o->models = 0;
            for (char *sv, *t = strtok_r(buf, ",", &sv); t != NULL; t = strtok_r(NULL, ",", &sv)) {
                int m = model_parse(t);
                if (m < 0)
                    return fail(err, errlen,
                                "--models: unknown model '%s' (threads, thread-pool, "
                                "single-loop, multi-reactor, thread-per-core)", t);
                o->models |= 1u << m;
            }
            break;
        }
        case O_OUT:
            if (a[0] == '\0')
                return fail(err, errlen, "--out: empty directory name");
            o->out = a;
            break;
        case O_PIN:
            o->pin = true;
            break;
        case O_ROUNDS: u = &o->rounds; min = 1; max = 16; break;
        case O_DURATION: u = &o->duration_ms; min = 50; max = 600000; break;
        case O_WARMUP: u = &o->warmup_ms; min = 0; max = 600000; break;
        case O_WORKERS: u = &o->workers; min = 0; max = 64; break;
        case O_LGW: u = &o->lg_workers; min = 1; max = 64; break;
        case O_POOL: u = &o->pool; min = 1; max = 100000; break;
        case O_FPOOL: u = &o->fanout_pool; min = 1; max = 100000; break;
        case O_RATE: u = &o->rate; min = 1; max = 10000000; break;
        case O_CPU: u = &o->cpu_us; min = 0; max = 1000000; break;
        case O_WAIT: u = &o->wait_us; min = 0; max = 10000000; break;
        case O_SKEW: u = &o->skew; min = 1; max = 10000; break;
        case O_HEAVY: u = &o->heavy_every; min = 1; max = 100000; break;
        case O_MLOAD: u = &o->mixed_load; min = 1; max = 1000; break;
        case O_DELAY: u = &o->delay_ms; min = 0; max = 60000; break;
        case O_PERC: u = &o->fanout_per_c; min = 1; max = 10000; break;
        case O_MINN: u = &o->fanout_min_n; min = 1; max = 10000000; break;
        case O_CONNS: pl = &o->conns; break;
        case O_P16: pl = &o->conns_p16; break;
        case O_OPEN: pl = &o->conns_open; break;
        case O_MCONNS: pl = &o->mixed_conns; break;
        case O_C: pl = &o->fanout_c; break;
        case O_HELP:
            models_usage(out);
            return 1;
        case ':':
            return fail(err, errlen, "%s needs a value", argv[optind - 1]);
        default:
            return fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
        }
        if (u != NULL && parse_u(a, min, max, u) < 0)
            return fail(err, errlen, "--%s must be a whole number from %u to %u, got '%s'",
                        lo[idx].name, min, max, a);
        if (pl != NULL && point_list_parse(a, pmax, pl) < 0)
            return fail(err, errlen,
                        "--%s must be a list of up to %d numbers from 1 to %u, like 10,100,1000; "
                        "got '%s'", lo[idx].name, CLI_MAX_POINTS, pmax, a);
    }
    if (optind < argc)
        return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
    if (o->workloads == 0)
        o->workloads = WL_ALL;
    if (o->models == 0)
        return fail(err, errlen, "--models: no model left to run");
    return 0;
}
