/*
 * examples/echo_load.c: an echo load generator: N connections, each sends a
 * message of S bytes, waits for its echo, and again, for T seconds. Prints
 * msgs/s and round-trip latency percentiles. Drives eddy's echo_server and
 * the network peers' (NET_PEERS, see benches/run_net.sh: its run.sh serve
 * echo PEER PORT).
 *
 *   echo_load [HOST=127.0.0.1] [PORT=9000] [CONNS=64] [SIZE=64] [SECONDS=5] [WORKERS=0]
 */
#include <eddy.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAMPLES 200000 /* per connection */

static const char *host = "127.0.0.1";
static unsigned port = 9000, conns = 64, size = 64, seconds = 5;
static atomic_uint_fast64_t errors;

struct conn {
    uint32_t *us; /* round trips in microseconds */
    size_t n;
    uint64_t msgs;
};

static void *client(void *arg)
{
    struct conn *c = arg;
    int fd;
    int rc = eddy_tcp_connect(&fd, host, (uint16_t)port, 5000);
    if (rc < 0) {
        atomic_fetch_add(&errors, 1);
        return NULL;
    }
    char *out = malloc(size), *in = malloc(size);
    memset(out, 'e', size);
    uint64_t end = eddy_now_ns() + (uint64_t)seconds * 1000000000u;
    while (eddy_now_ns() < end) {
        uint64_t t0 = eddy_now_ns();
        if (eddy_write(fd, out, size) < 0) {
            atomic_fetch_add(&errors, 1);
            break;
        }
        size_t got = 0;
        while (got < size) {
            ssize_t n = eddy_read(fd, in + got, size - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got < size) {
            atomic_fetch_add(&errors, 1);
            break;
        }
        c->msgs++;
        if (c->n < MAX_SAMPLES)
            c->us[c->n++] = (uint32_t)((eddy_now_ns() - t0) / 1000);
    }
    free(out);
    free(in);
    eddy_close(fd);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static unsigned arg(int argc, char **argv, int i, unsigned def, const char *what)
{
    if (argc <= i)
        return def;
    char *end;
    unsigned long v = strtoul(argv[i], &end, 10);
    if (*end != '\0' || v == 0 || v > 1000000) {
        fprintf(stderr, "echo_load: %s must be a number from 1 to 1000000, got '%s'\n", what,
                argv[i]);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        host = argv[1];
    port = arg(argc, argv, 2, port, "PORT");
    if (port > 65535) {
        fprintf(stderr, "echo_load: PORT must be from 1 to 65535, got %u\n", port);
        return 2;
    }
    conns = arg(argc, argv, 3, conns, "CONNS");
    size = arg(argc, argv, 4, size, "SIZE");
    seconds = arg(argc, argv, 5, seconds, "SECONDS");
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    cfg.workers = argc > 6 ? arg(argc, argv, 6, 1, "WORKERS") : 0;
    eddy_rt *rt;
    int rc = eddy_rt_new(&rt, &cfg);
    if (rc < 0) {
        fprintf(stderr, "echo_load: %s\n", eddy_strerror(rc));
        return 1;
    }
    struct conn *c = calloc(conns, sizeof *c);
    eddy_task **h = calloc(conns, sizeof *h);
    for (unsigned i = 0; i < conns; i++) {
        c[i].us = malloc(MAX_SAMPLES * sizeof(uint32_t));
        eddy_rt_spawn(rt, &h[i], client, &c[i]);
    }
    size_t total = 0;
    uint64_t msgs = 0;
    for (unsigned i = 0; i < conns; i++) {
        eddy_join(h[i], NULL);
        total += c[i].n;
        msgs += c[i].msgs;
    }
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (unsigned i = 0; i < conns; i++) {
        memcpy(all + k, c[i].us, c[i].n * sizeof *all);
        k += c[i].n;
        free(c[i].us);
    }
    qsort(all, total, sizeof *all, cmp_u32);
#define PCT(p) (total ? all[(size_t)((double)(total - 1) * (p))] / 1000.0 : 0.0)
    printf("conns=%u size=%u seconds=%u msgs=%llu msgs_per_s=%.0f p50_ms=%.3f p99_ms=%.3f "
           "p999_ms=%.3f max_ms=%.3f errors=%llu\n",
           conns, size, seconds, (unsigned long long)msgs, (double)msgs / seconds, PCT(0.5),
           PCT(0.99), PCT(0.999), total ? all[total - 1] / 1000.0 : 0.0,
           (unsigned long long)atomic_load(&errors));
    free(all);
    free(c);
    free(h);
    eddy_rt_free(rt);
    return atomic_load(&errors) != 0;
}
