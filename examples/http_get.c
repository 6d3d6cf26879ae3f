/*
 * examples/http_get.c: fetches every URL on the command line at once, a
 * task each, with one eddy_http_client, and prints a line per URL:
 * status, body bytes, seconds, final URL (or the error). Exits 0 when
 * every URL got an HTTP response (any status), 1 when one failed, 2 on
 * bad usage.
 *
 *   http_get URL...
 */
#include <eddy.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static eddy_http_client *client;

static void *fetch(void *arg)
{
    const char *url = arg;
    eddy_http_response *r = NULL;
    int rc = eddy_http_get(client, url, &r);
    if (rc == 0)
        printf("%ld %zu %.3f %s\n", r->status, r->body_len, r->total_s, r->effective_url);
    else
        printf("error %s: %s%s%s\n", url, eddy_strerror(rc), r != NULL ? ": " : "",
               r != NULL ? r->error : "");
    eddy_http_response_free(r);
    return (void *)(intptr_t)(rc == 0 ? 0 : 1);
}

static void *fetch_all(void *arg)
{
    char **urls = arg;
    int n = 0, failed = 0;
    while (urls[n] != NULL)
        n++;
    eddy_task **t = calloc((size_t)n, sizeof *t);
    if (t == NULL)
        return (void *)(intptr_t)n;
    for (int i = 0; i < n; i++)
        if (eddy_spawn(&t[i], fetch, urls[i]) < 0)
            t[i] = NULL;
    for (int i = 0; i < n; i++) {
        void *res = (void *)1;
        if (t[i] == NULL || eddy_join(t[i], &res) < 0 || res != NULL)
            failed++;
    }
    free(t);
    return (void *)(intptr_t)failed;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: http_get URL...\n");
        return 2;
    }
    eddy_http_client_opts o;
    eddy_http_client_opts_init(&o);
    o.total_timeout_ms = 30000;
    int rc = eddy_http_client_new(&client, &o);
    eddy_rt *rt = NULL;
    if (rc == 0)
        rc = eddy_rt_new(&rt, NULL);
    if (rc < 0) {
        fprintf(stderr, "http_get: %s\n", eddy_strerror(rc));
        return 1;
    }
    void *failed = NULL;
    rc = eddy_rt_block_on(rt, fetch_all, argv + 1, &failed);
    eddy_rt_free(rt);
    eddy_http_client_free(client);
    return rc == 0 && failed == NULL ? 0 : 1;
}
