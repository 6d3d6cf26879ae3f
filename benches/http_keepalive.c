/*
 * benches/http_keepalive.c: client overhead. C tasks on one eddy worker each
 * GET URL over and over for SECONDS on kept-alive connections (nginx with
 * one worker in benches/run_http.sh). Prints requests per second and the
 * client's CPU per request, in the format of benches/curl_raw.c, the same
 * load on a bare curl multi_socket + epoll loop: the ratio of the two is
 * what eddy adds.
 *
 *   eddy_http_keepalive URL C SECONDS
 */
#include <eddy.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_tasks.h"

static const char *url;
static atomic_long ok, failed;
static uint64_t end_ns;
static eddy_http_client *client;

static void *loop(void *arg)
{
    (void)arg;
    while (eddy_now_ns() < end_ns) {
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
        fprintf(stderr, "usage: eddy_http_keepalive URL C SECONDS\n");
        return 2;
    }
    url = argv[1];
    int c = atoi(argv[2]);
    double secs = atof(argv[3]);
    eddy_http_client_opts o;
    eddy_http_client_opts_init(&o);
    o.compression = false;
    o.max_idle_connections = c;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = 1;
    eddy_rt *rt;
    if (eddy_http_client_new(&client, &o) < 0 || eddy_rt_new(&rt, &cfg) < 0)
        return 1;
    double c0 = bench_cpu_s();
    uint64_t t0 = eddy_now_ns();
    end_ns = t0 + (uint64_t)(secs * 1e9);
    struct bench_tasks tasks = {.n = c, .fn = loop};
    eddy_rt_block_on(rt, bench_tasks_run, &tasks, NULL);
    double el = (double)(eddy_now_ns() - t0) / 1e9, cpu = bench_cpu_s() - c0;
    long n = atomic_load(&ok);
    printf("client=eddy conc=%d ok=%ld failed=%ld wall_s=%.3f req_per_s=%.0f cpu_us_per_req=%.2f\n",
           c, n, atomic_load(&failed), el, (double)n / el, n ? cpu * 1e6 / (double)n : 0.0);
    eddy_rt_free(rt);
    eddy_http_client_free(client);
    return tasks.failed == 0 ? 0 : 1;
}
