/*
 * benches/http_fanout.c: the fan-out client on eddy (the seed's case): n GETs
 * of PREFIX0 .. PREFIX(n-1) at a concurrency c, c tasks each taking the
 * next index, one eddy_http_client. Prints one line in the format of the
 * fan-out clients of the network peers (NET_PEERS, see benches/run_http.sh),
 * so benches/run_http.sh sets them side by side.
 *
 *   eddy_http_fanout PREFIX N C [WORKERS]
 */
#include <eddy.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_tasks.h"

static const char *prefix;
static long n_total;
static atomic_long next_i, ok, failed;
static eddy_http_client *client;

static void *fetcher(void *arg)
{
    (void)arg;
    char url[512];
    long i;
    while ((i = atomic_fetch_add(&next_i, 1)) < n_total) {
        snprintf(url, sizeof url, "%s%ld", prefix, i);
        eddy_http_response *r = NULL;
        if (eddy_http_get(client, url, &r) == 0 && r->status == 200)
            atomic_fetch_add(&ok, 1);
        else
            atomic_fetch_add(&failed, 1);
        eddy_http_response_free(r);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: eddy_http_fanout PREFIX N C [WORKERS]\n");
        return 2;
    }
    prefix = argv[1];
    n_total = atol(argv[2]);
    int c = atoi(argv[3]);
    unsigned workers = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
    eddy_http_client_opts o;
    eddy_http_client_opts_init(&o);
    o.total_timeout_ms = 60000;
    o.compression = false;          /* as the peers: plain bodies */
    o.max_idle_connections = c;     /* keep every connection for reuse */
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = workers;
    eddy_rt *rt;
    if (eddy_http_client_new(&client, &o) < 0 || eddy_rt_new(&rt, &cfg) < 0)
        return 1;
    uint64_t t0 = eddy_now_ns();
    struct bench_tasks tasks = {.n = c, .fn = fetcher};
    eddy_rt_block_on(rt, bench_tasks_run, &tasks, NULL);
    double el = (double)(eddy_now_ns() - t0) / 1e9;
    printf("client=eddy-%uw n=%ld concurrency=%d ok=%ld failed=%ld wall_s=%.3f req_per_s=%.0f\n",
           eddy_rt_workers(rt), n_total, c, atomic_load(&ok), atomic_load(&failed), el,
           (double)atomic_load(&ok) / el);
    eddy_rt_free(rt);
    eddy_http_client_free(client);
    return atomic_load(&failed) == 0 && tasks.failed == 0 ? 0 : 1;
}
