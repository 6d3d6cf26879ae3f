/*
 * tests/http/test_client.c: eddy_http_client against a real local origin
 * (tests/http/origin.py, started here): bodies, statuses, redirects,
 * compression, chunked bodies, methods, headers and bodies sent, every
 * transport error the header lists, timeouts and deadlines, keep-alive
 * reuse, many tasks on one client, aborts at random points with nothing
 * leaked, the per-host limit measured at the origin, a stuck worker, and
 * the same from a plain thread. Runs on both I/O backends.
 */
/* ctest-labels: concurrency http */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "http/origin.h"

unsigned long eddy__curlm_bad_codes(void);

static struct eddy_test_origin origin = { .stdin_fd = -1 };
static eddy_rt *rt;
static eddy_http_client *client;

#define CHECK EDDY_TASK_CHECK

/* The origin's URL of path, in storage of the enclosing block (tasks move
   between threads: no static or thread-local buffer would do). */
#define url(path) eddy_test_origin_url(&origin, (path), (char[256]){ 0 }, 256)

static void run(eddy_fn fn, void *arg)
{
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, fn, arg, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
}

/* ------------------------------------------------------------ basics */

static void *basics(void *arg)
{
    (void)arg;
    eddy_http_response *r = NULL;
    CHECK(eddy_http_get(client, url("/hello"), &r) == 0);
    CHECK(r->status == 200 && r->body_len == 5 && strcmp(r->body, "hello") == 0);
    CHECK(strcmp(r->content_type, "text/plain") == 0);
    CHECK(strcmp(r->effective_url, url("/hello")) == 0);
    CHECK(r->curl_code == 0 && strcmp(r->error, "") == 0);
    CHECK(r->http_version == 11 && r->total_s > 0 && r->ttfb_s <= r->total_s);
    const char *srv = eddy_http_response_header(r, "SERVER");
    CHECK(srv != NULL && strncmp(srv, "eddy-test-origin", 16) == 0);
    CHECK(eddy_http_response_header(r, "X-Absent") == NULL);
    eddy_http_response_free(r);

    /* an HTTP error status is a success */
    CHECK(eddy_http_get(client, url("/status/404"), &r) == 0);
    CHECK(r->status == 404 && strcmp(r->body, "status 404") == 0);
    eddy_http_response_free(r);
    CHECK(eddy_http_get(client, url("/status/503"), &r) == 0 && r->status == 503);
    eddy_http_response_free(r);

    /* redirects: followed, counted, the last URL kept */
    CHECK(eddy_http_get(client, url("/redirect/3"), &r) == 0);
    CHECK(r->status == 200 && r->redirects == 3 && strcmp(r->body, "hello") == 0);
    CHECK(strcmp(r->effective_url, url("/hello")) == 0);
    eddy_http_response_free(r);

    /* compression: decoded, fewer bytes on the wire */
    CHECK(eddy_http_get(client, url("/gzip"), &r) == 0);
    CHECK(r->status == 200 && r->body_len == 15 * 200 && r->wire_bytes < r->body_len);
    CHECK(strncmp(r->body, "eddy gzip body ", 15) == 0);
    eddy_http_response_free(r);

    /* chunked, and a body with every byte value */
    CHECK(eddy_http_get(client, url("/chunked?n=7"), &r) == 0);
    CHECK(r->body_len == 42 && strncmp(r->body, "chunk\nchunk\n", 12) == 0);
    eddy_http_response_free(r);
    CHECK(eddy_http_get(client, url("/bytes?n=100000"), &r) == 0 && r->body_len == 100000);
    for (size_t i = 0; i < r->body_len; i++)
        CHECK((unsigned char)r->body[i] == ((i * 7 + 3) & 0xff));
    CHECK(r->body[r->body_len] == '\0');
    eddy_http_response_free(r);
    return NULL;
}

static void get_returns_status_body_headers_and_follows_redirects(void **state)
{
    (void)state;
    run(basics, NULL);
}

static void *methods(void *arg)
{
    (void)arg;
    eddy_http_header h[] = { { "X-Test", "yes" }, { "User-Agent", "mine/1" }, { "X-Empty", "" } };
    eddy_http_request req = { .method = "PUT", .url = url("/echo"), .headers = h,
                              .n_headers = 3, .body = "payload", .body_len = 7 };
    eddy_http_response *r = NULL;
    CHECK(eddy_http_request_send(client, &req, &r) == 0 && r->status == 200);
    CHECK(strstr(r->body, "\"method\": \"PUT\"") != NULL);
    CHECK(strstr(r->body, "\"x-test\": \"yes\"") != NULL);
    CHECK(strstr(r->body, "\"user-agent\": \"mine/1\"") != NULL);
    CHECK(strstr(r->body, "\"x-empty\": \"\"") != NULL);
    CHECK(strstr(r->body, "\"body\": \"payload\"") != NULL);
    eddy_http_response_free(r);

    req = (eddy_http_request){ .url = url("/echo"), .body = "a=1", .body_len = 3 };
    CHECK(eddy_http_request_send(client, &req, &r) == 0);
    CHECK(strstr(r->body, "\"method\": \"POST\"") != NULL && strstr(r->body, "a=1") != NULL);
    eddy_http_response_free(r);

    req = (eddy_http_request){ .method = "HEAD", .url = url("/hello") };
    CHECK(eddy_http_request_send(client, &req, &r) == 0);
    CHECK(r->status == 200 && r->body_len == 0 && r->body[0] == '\0');
    eddy_http_response_free(r);

    req = (eddy_http_request){ .method = "DELETE", .url = url("/echo") };
    CHECK(eddy_http_request_send(client, &req, &r) == 0);
    CHECK(strstr(r->body, "\"method\": \"DELETE\"") != NULL);
    eddy_http_response_free(r);
    return NULL;
}

static void requests_send_their_method_headers_and_body(void **state)
{
    (void)state;
    run(methods, NULL);
}

/* -------------------------------------------------------------- errors */

struct expect {
    const char *url;
    int rc;
    int curl_code;
};

static void *errors(void *arg)
{
    (void)arg;
    char refused[64];
    snprintf(refused, sizeof refused, "http://127.0.0.1:%d/", eddy_test_closed_port());
    eddy_http_client_opts o;
    eddy_http_client_opts_init(&o);
    o.total_timeout_ms = 300;
    o.max_redirects = 5;
    o.max_body_bytes = 1000;
    eddy_http_client *c = NULL;
    CHECK(eddy_http_client_new(&c, &o) == 0);
    const struct expect cases[] = {
        { refused, -ECONNREFUSED, CURLE_COULDNT_CONNECT },
        { url("/reset"), -ECONNRESET, CURLE_RECV_ERROR },
        { url("/nothing"), -ECONNRESET, CURLE_GOT_NOTHING },
        { url("/short"), -ECONNRESET, CURLE_PARTIAL_FILE },
        { url("/delay?ms=2000"), -ETIMEDOUT, CURLE_OPERATION_TIMEDOUT },
        { url("/slowbody?ms=2000"), -ETIMEDOUT, CURLE_OPERATION_TIMEDOUT },
        { url("/loop"), -ELOOP, CURLE_TOO_MANY_REDIRECTS },
        { url("/bytes?n=1001"), -EFBIG, CURLE_WRITE_ERROR },
        { "http://nonexistent.invalid/", -EIO, CURLE_COULDNT_RESOLVE_HOST },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eddy_http_response *r = NULL;
        int rc = eddy_http_get(c, cases[i].url, &r);
        if (rc != cases[i].rc || r == NULL || r->curl_code != cases[i].curl_code ||
            r->status != 0 || r->error[0] == '\0') {
            fprintf(stderr, "case %zu (%s): rc %d curl %d status %ld\n", i, cases[i].url, rc,
                    r ? r->curl_code : -1, r ? r->status : -1);
            eddy_http_response_free(r);
            return (void *)(intptr_t)(__LINE__ * 100 + (int)i);
        }
        eddy_http_response_free(r);
    }
    /* the limit is on the body: 1000 bytes pass */
    eddy_http_response *r = NULL;
    CHECK(eddy_http_get(c, url("/bytes?n=1000"), &r) == 0 && r->body_len == 1000);
    eddy_http_response_free(r);
    eddy_http_client_free(c);
    return NULL;
}

static void every_transport_error_has_its_errno_and_curl_code(void **state)
{
    (void)state;
    run(errors, NULL);
}

static void bad_input_is_refused_with_einval(void **state)
{
    (void)state;
    eddy_http_response *r = (eddy_http_response *)1;
    assert_err(eddy_http_get(client, "not a url", &r), -EINVAL);
    assert_null(r);
    assert_err(eddy_http_get(client, "ftp://127.0.0.1/x", &r), -EINVAL);
    assert_err(eddy_http_get(client, NULL, &r), -EINVAL);
    assert_err(eddy_http_get(NULL, url("/hello"), &r), -EINVAL);
    assert_err(eddy_http_get(client, url("/hello"), NULL), -EINVAL);
    eddy_http_header bad[] = { { "Bad Name", "x" } };
    eddy_http_request req = { .url = url("/hello"), .headers = bad, .n_headers = 1 };
    assert_err(eddy_http_request_send(client, &req, &r), -EINVAL);
    eddy_http_header crlf[] = { { "X", "a\r\nInjected: 1" } };
    req.headers = crlf;
    assert_err(eddy_http_request_send(client, &req, &r), -EINVAL);
    req = (eddy_http_request){ .url = url("/hello"), .method = "G T" };
    assert_err(eddy_http_request_send(client, &req, &r), -EINVAL);
    req = (eddy_http_request){ .url = url("/hello"), .body_len = 3 };
    assert_err(eddy_http_request_send(client, &req, &r), -EINVAL);
    eddy_http_client_opts o;
    eddy_http_client_opts_init(&o);
    o.max_redirects = -2;
    eddy_http_client *c = NULL;
    assert_err(eddy_http_client_new(&c, &o), -EINVAL);
    eddy_http_client_opts_init(&o);
    o.reserved[0] = &o;
    assert_err(eddy_http_client_new(&c, &o), -EINVAL);
    assert_err(eddy_http_client_new(NULL, NULL), -EINVAL);
    eddy_http_client_free(NULL);
    eddy_http_response_free(NULL);
    assert_null(eddy_http_response_header(NULL, "x"));
}

/* ---------------------------------------------------- from a plain thread */

static void a_plain_thread_gets_the_same_answers(void **state)
{
    (void)state;
    eddy_http_response *r = NULL;
    assert_ok(eddy_http_get(client, url("/redirect/2"), &r));
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello");
    assert_int_equal(r->redirects, 2);
    eddy_http_response_free(r);
}

/* -------------------------------------------------- timeouts, deadlines */

static void *get_hello(void *arg)
{
    (void)arg;
    eddy_http_response *r = NULL;
    int rc = eddy_http_get(client, url("/hello"), &r);
    eddy_http_response_free(r);
    return (void *)(intptr_t)rc;
}

/* Makes every worker's curl multi handle (each holds a socketpair of its
   own for the life of the runtime), so fd counts compare transfers only. */
static int warm_every_worker(void)
{
    for (unsigned w = 0; w < eddy_rt_workers(eddy_rt_current()); w++) {
        eddy_spawn_opts so;
        eddy_spawn_opts_init(&so);
        so.worker = (int)w;
        eddy_task *t;
        void *res = NULL;
        if (eddy_spawn_ex(&t, get_hello, NULL, &so) != 0 || eddy_join(t, &res) != 0 || res != NULL)
            return -1;
    }
    return 0;
}

static void *deadline_cuts_a_request(void *arg)
{
    (void)arg;
    CHECK(warm_every_worker() == 0);
    int fds = eddy_test_count_fds();
    uint64_t t0 = eddy_now_ns();
    CHECK(eddy_deadline_push(100) == 0);
    eddy_http_response *r = NULL;
    int rc = eddy_http_get(client, url("/delay?ms=3000"), &r);
    eddy_deadline_pop();
    CHECK(rc == -ETIMEDOUT && r != NULL && r->status == 0);
    CHECK(r->curl_code == CURLE_OPERATION_TIMEDOUT);
    eddy_http_response_free(r);
    CHECK(eddy_now_ns() - t0 < 1500000000u);
    /* the connection was dropped with the transfer: the fd count goes back */
    for (int i = 0; i < 200 && eddy_test_count_fds() > fds; i++)
        eddy_sleep_ms(5);
    CHECK(eddy_test_count_fds() <= fds);
    return NULL;
}

static void a_deadline_takes_the_transfer_out_of_curl(void **state)
{
    (void)state;
    run(deadline_cuts_a_request, NULL);
}

/* ------------------------------------------------------------ keep-alive */

static void *sequential(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        eddy_http_response *r = NULL;
        CHECK(eddy_http_get(client, url("/hello"), &r) == 0 && r->status == 200);
        eddy_http_response_free(r);
    }
    return NULL;
}

static void sequential_requests_reuse_one_connection(void **state)
{
    (void)state;
    /* one worker: one curl pool */
    eddy_rt *one = eddy_test_new_rt(1);
    eddy_test_origin_reset_stats(&origin);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(one, sequential, NULL, &line));
    assert_null(line);
    assert_int_equal(eddy_test_origin_stat(&origin, "path:/hello"), 20);
    assert_true(eddy_test_origin_stat(&origin, "conns_total") <= 1);
    eddy_rt_free(one);
}

/* ------------------------------------------------------ many tasks */

static atomic_int ok_count;

static void *fetch_five(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        eddy_http_response *r = NULL;
        const char *u = i % 2 ? url("/hello") : url("/delay?ms=5");
        if (eddy_http_get(client, u, &r) == 0 && r->status == 200)
            atomic_fetch_add(&ok_count, 1);
        eddy_http_response_free(r);
    }
    return NULL;
}

static void *spawn_many(void *arg)
{
    int n = (int)(intptr_t)arg;
    eddy_task **t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++)
        CHECK(eddy_spawn(&t[i], fetch_five, NULL) == 0);
    for (int i = 0; i < n; i++)
        CHECK(eddy_join(t[i], NULL) == 0);
    free(t);
    return NULL;
}

static void many_tasks_share_one_client(void **state)
{
    (void)state;
    atomic_store(&ok_count, 0);
    int n = eddy_test_sanitized() ? 50 : 200;
    run(spawn_many, (void *)(intptr_t)n);
    assert_int_equal(atomic_load(&ok_count), n * 5);
}

/* ---------------------------------------------------- aborts at random */

static void *fetch_slowly(void *arg)
{
    unsigned ms = (unsigned)(uintptr_t)arg % 20;
    char path[64];
    snprintf(path, sizeof path, "/delay?ms=%u", ms);
    eddy_http_response *r = NULL;
    int rc = eddy_http_get(client, url(path), &r);
    /* whatever the moment of the abort: a response, or the abort's own */
    if (rc != 0 && rc != -ECANCELED)
        return (void *)(intptr_t)__LINE__;
    if (r == NULL || (rc == -ECANCELED && r->status != 0))
        return (void *)(intptr_t)__LINE__;
    eddy_http_response_free(r);
    return NULL;
}

static void *abort_at_random(void *arg)
{
    int n = (int)(intptr_t)arg;
    uint32_t rnd = 12345;
    int batch = 50;
    for (int done = 0; done < n; done += batch) {
        eddy_task *t[50];
        for (int i = 0; i < batch; i++) {
            rnd = rnd * 1103515245u + 12345u;
            CHECK(eddy_spawn(&t[i], fetch_slowly, (void *)(uintptr_t)(rnd >> 8)) == 0);
        }
        for (int i = 0; i < batch; i++) {
            rnd = rnd * 1103515245u + 12345u;
            if (rnd % 3 != 0) {
                eddy_sleep_ms((rnd >> 8) % 3);
                eddy_abort(t[i]);
            }
        }
        for (int i = 0; i < batch; i++) {
            void *line = NULL;
            int rc = eddy_join(t[i], &line);
            CHECK(rc == 0 || rc == -ECANCELED);
            CHECK(line == NULL);
        }
    }
    return NULL;
}

static void aborts_at_random_points_leave_nothing_behind(void **state)
{
    (void)state;
    /* a fresh runtime: the earlier tests' connections are in its pools */
    eddy_rt_free(rt);
    rt = eddy_test_new_rt(2);
    int fds = eddy_test_count_fds();
    run(abort_at_random, (void *)(intptr_t)(eddy_test_sanitized() ? 300 : 1000));
    /* aborted transfers' connections are closed by curl; finished ones
       stay in the workers' pools, which go with the runtime */
    eddy_rt_free(rt);
    rt = eddy_test_new_rt(2);
    assert_int_equal(eddy_test_count_fds(), fds);
}

/* ------------------------------------------------------ per-host limit */

static atomic_int limited_ok, limited_timeouts;

static void *fetch_limited(void *arg)
{
    eddy_http_client *c = arg;
    eddy_http_response *r = NULL;
    int rc = eddy_http_get(c, url("/delay?ms=50"), &r);
    if (rc == 0 && r->status == 200)
        atomic_fetch_add(&limited_ok, 1);
    else if (rc == -ETIMEDOUT)
        atomic_fetch_add(&limited_timeouts, 1);
    eddy_http_response_free(r);
    return NULL;
}

static void *many_limited(void *arg)
{
    eddy_task *t[40];
    for (int i = 0; i < 40; i++)
        CHECK(eddy_spawn(&t[i], fetch_limited, arg) == 0);
    for (int i = 0; i < 40; i++)
        CHECK(eddy_join(t[i], NULL) == 0);
    return NULL;
}

static void the_host_limit_holds_at_the_origin_and_queued_requests_do_not_time_out(void **state)
{
    (void)state;
    eddy_http_client_opts o;
    eddy_http_client_opts_init(&o);
    o.max_host_connections = 2;
    o.total_timeout_ms = 400; /* 40 requests x 50 ms / 2 = 1 s in all */
    eddy_http_client *c = NULL;
    assert_ok(eddy_http_client_new(&c, &o));
    /* nothing left open at the origin by earlier tests: pools go with
       their runtime, aborted requests finish */
    eddy_rt_free(rt);
    rt = eddy_test_new_rt(2);
    assert_true(eddy_test_origin_wait_idle(&origin, 5000));
    eddy_test_origin_reset_stats(&origin);
    atomic_store(&limited_ok, 0);
    atomic_store(&limited_timeouts, 0);
    run(many_limited, c);
    assert_int_equal(atomic_load(&limited_timeouts), 0);
    assert_int_equal(atomic_load(&limited_ok), 40);
    assert_true(eddy_test_origin_stat(&origin, "inflight_max") <= 2);
    assert_true(eddy_test_origin_stat(&origin, "conns_max") <= 2);
    eddy_http_client_free(c);
}

/* ------------------------------------------- resets in the middle of bodies */

static atomic_int mid_ok, mid_reset, mid_other;
static atomic_int mid_next;

static void *fetch_resetmid(void *arg)
{
    int n = (int)(intptr_t)arg;
    int i;
    while ((i = atomic_fetch_add(&mid_next, 1)) < n) {
        char path[64];
        snprintf(path, sizeof path, "/resetmid?i=%d", i);
        eddy_http_response *r = NULL;
        int rc = eddy_http_get(client, url(path), &r);
        if (rc == 0 && r->status == 200 && r->body_len == 1000)
            atomic_fetch_add(&mid_ok, 1);
        else if (rc == -ECONNRESET && i % 10 == 0)
            atomic_fetch_add(&mid_reset, 1);
        else
            atomic_fetch_add(&mid_other, 1);
        eddy_http_response_free(r);
    }
    return NULL;
}

static void *resetmid_all(void *arg)
{
    eddy_task *t[50];
    for (int k = 0; k < 50; k++)
        CHECK(eddy_spawn(&t[k], fetch_resetmid, arg) == 0);
    for (int k = 0; k < 50; k++)
        CHECK(eddy_join(t[k], NULL) == 0);
    return NULL;
}

/* 10,000 requests (2,000 in sanitizer builds), one in ten reset part way
   through its body: each gets its answer, nothing hangs, no fd is left. */
static void requests_reset_mid_body_end_with_econnreset_and_leave_no_fd(void **state)
{
    (void)state;
    eddy_rt_free(rt);
    rt = eddy_test_new_rt(2);
    int fds = eddy_test_count_fds();
    int n = eddy_test_sanitized() ? 2000 : 10000;
    atomic_store(&mid_ok, 0);
    atomic_store(&mid_reset, 0);
    atomic_store(&mid_other, 0);
    atomic_store(&mid_next, 0);
    run(resetmid_all, (void *)(intptr_t)n);
    assert_int_equal(atomic_load(&mid_other), 0);
    assert_int_equal(atomic_load(&mid_reset), n / 10);
    assert_int_equal(atomic_load(&mid_ok), n - n / 10);
    eddy_rt_free(rt); /* and the pools with it */
    rt = eddy_test_new_rt(2);
    assert_int_equal(eddy_test_count_fds(), fds);
}

/* ---------------------------------------------------------- stuck worker */

static atomic_uint_fast64_t fetched_at;

static void *fetch_once(void *arg)
{
    (void)arg;
    eddy_http_response *r = NULL;
    int rc = eddy_http_get(client, url("/delay?ms=20"), &r);
    if (rc == 0 && r->status == 200)
        atomic_store(&fetched_at, eddy_now_ns());
    eddy_http_response_free(r);
    return NULL;
}

/* The request is handed to worker w's curl, then w spins: the transfer
   is driven by a stand-in meanwhile. */
static void *stuck_owner(void *arg)
{
    (void)arg;
    for (int attempt = 0; attempt < 20; attempt++) {
        int w = eddy_worker_index();
        eddy_spawn_opts so;
        eddy_spawn_opts_init(&so);
        so.worker = w;
        eddy_task *t;
        atomic_store(&fetched_at, 0);
        CHECK(eddy_spawn_ex(&t, fetch_once, NULL, &so) == 0);
        eddy_yield(); /* it runs here and hands its transfer to w's curl */
        if (eddy_worker_index() != w) { /* moved: try again */
            CHECK(eddy_join(t, NULL) == 0);
            continue;
        }
        uint64_t t0 = eddy_now_ns();
        while (eddy_now_ns() - t0 < 600000000u && atomic_load(&fetched_at) == 0)
            ; /* spin on w: its hook cannot run here */
        uint64_t got = atomic_load(&fetched_at);
        CHECK(eddy_join(t, NULL) == 0);
        CHECK(got != 0 && got - t0 < 400000000u);
        return NULL;
    }
    return (void *)(intptr_t)__LINE__;
}

static void a_transfer_of_a_stuck_worker_is_driven_by_a_stand_in(void **state)
{
    (void)state;
    run(stuck_owner, NULL);
}

/* ------------------------------------------------------------- HTTP/2 */

static int h2_port;
static atomic_int h2_ok;

static void *h2_get(void *arg)
{
    eddy_http_client *c = arg;
    char u[128];
    snprintf(u, sizeof u, "https://127.0.0.1:%d/file.txt", h2_port);
    eddy_http_response *r = NULL;
    int rc = eddy_http_get(c, u, &r);
    if (rc == 0 && r->status == 200 && r->http_version == 20 && strcmp(r->body, "h2 body\n") == 0)
        atomic_fetch_add(&h2_ok, 1);
    else
        fprintf(stderr, "h2: rc %d status %ld version %d error %s\n", rc, r ? r->status : -1,
                r ? r->http_version : -1, r ? r->error : "-");
    eddy_http_response_free(r);
    return NULL;
}

static void *h2_many(void *arg)
{
    eddy_task *t[100];
    for (int i = 0; i < 100; i++)
        CHECK(eddy_spawn(&t[i], h2_get, arg) == 0);
    for (int i = 0; i < 100; i++)
        CHECK(eddy_join(t[i], NULL) == 0);
    return NULL;
}

/* Established TCP connections to port (both directions are listed; ours
   are those with port as the remote end). */
static int connections_to(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int n = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        unsigned rport, st;
        if (sscanf(line, "%*d: %*x:%*x %*x:%x %x", &rport, &st) == 2 && (int)rport == port &&
            st == 1)
            n++;
    }
    if (f != NULL)
        fclose(f);
    return n;
}

static bool spawn_wait(char **argv, pid_t *pid)
{
    extern char **environ;
    return posix_spawnp(pid, argv[0], NULL, NULL, argv, environ) == 0;
}

/* Against Debian's nghttpd, HTTP/2 over TLS (a self-signed certificate made
   here with openssl): 100 GETs at once from one worker multiplex over one
   connection. Each worker has its own pool, so a runtime of N workers may
   hold N. (Cleartext h2c with prior knowledge is not used: Debian 12's
   libcurl 7.88 fails requests that wait to share such a connection.) */
static void http2_requests_multiplex_over_one_connection(void **state)
{
    (void)state;
    char dir[] = "/tmp/eddy-h2-XXXXXX";
    if (mkdtemp(dir) == NULL)
        fail_msg("mkdtemp");
    char file[128], key[128], cert[128], port[16];
    snprintf(file, sizeof file, "%s/file.txt", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    FILE *fp = fopen(file, "w");
    fputs("h2 body\n", fp);
    fclose(fp);
    pid_t pid;
    int st = -1;
    char *mk[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                   "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                   "subjectAltName=IP:127.0.0.1", NULL };
    int devnull = open("/dev/null", O_WRONLY);
    int saved = dup(2);
    dup2(devnull, 2); /* openssl's progress dots */
    bool made = spawn_wait(mk, &pid) && waitpid(pid, &st, 0) == pid && st == 0;
    dup2(saved, 2);
    close(saved);
    close(devnull);
    if (!made)
        skip(); /* no openssl: apt-get install openssl */
    h2_port = eddy_test_closed_port();
    snprintf(port, sizeof port, "%d", h2_port);
    char *srv[] = { "nghttpd", "-a", "127.0.0.1", "-d", dir, port, key, cert, NULL };
    if (!spawn_wait(srv, &pid))
        skip(); /* no nghttpd: apt-get install nghttp2-server */
    bool up = false;
    for (int i = 0; i < 100 && !up; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)h2_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        up = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (!up)
            usleep(20000);
    }
    if (!up) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        skip(); /* nghttpd did not start (not installed: the spawned child failed) */
    }
    eddy_http_client_opts o;
    eddy_http_client_opts_init(&o);
    o.http2 = true;
    o.pipewait = true;
    o.ca_file = cert;
    eddy_http_client *c = NULL;
    assert_ok(eddy_http_client_new(&c, &o));
    eddy_rt *one = eddy_test_new_rt(1);
    atomic_store(&h2_ok, 0);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(one, h2_many, c, &line));
    assert_null(line);
    int conns = connections_to(h2_port); /* the pool keeps it open */
    eddy_rt_free(one);
    eddy_http_client_free(c);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(file);
    unlink(key);
    unlink(cert);
    rmdir(dir);
    assert_int_equal(atomic_load(&h2_ok), 100);
    assert_int_equal(conns, 1);
}

static void no_curl_call_failed(void **state)
{
    (void)state;
    /* CURLM_RECURSIVE_API_CALL and every other multi error: none */
    assert_int_equal(eddy__curlm_bad_codes(), 0);
}

static int setup(void **state)
{
    (void)state;
    int rc = eddy_test_origin_start(&origin);
    if (rc == -1)
        exit(77); /* no python3 */
    if (rc != 0)
        return -1;
    rt = eddy_test_new_rt(2);
    return eddy_http_client_new(&client, NULL);
}

static int teardown(void **state)
{
    (void)state;
    eddy_http_client_free(client);
    eddy_rt_free(rt);
    eddy_test_origin_stop(&origin);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_returns_status_body_headers_and_follows_redirects),
        cmocka_unit_test(requests_send_their_method_headers_and_body),
        cmocka_unit_test(every_transport_error_has_its_errno_and_curl_code),
        cmocka_unit_test(bad_input_is_refused_with_einval),
        cmocka_unit_test(a_plain_thread_gets_the_same_answers),
        cmocka_unit_test(a_deadline_takes_the_transfer_out_of_curl),
        cmocka_unit_test(sequential_requests_reuse_one_connection),
        cmocka_unit_test(many_tasks_share_one_client),
        cmocka_unit_test(aborts_at_random_points_leave_nothing_behind),
        cmocka_unit_test(the_host_limit_holds_at_the_origin_and_queued_requests_do_not_time_out),
        cmocka_unit_test(requests_reset_mid_body_end_with_econnreset_and_leave_no_fd),
        cmocka_unit_test(a_transfer_of_a_stuck_worker_is_driven_by_a_stand_in),
        cmocka_unit_test(http2_requests_multiplex_over_one_connection),
        cmocka_unit_test(no_curl_call_failed),
    };
    if (setup(NULL) != 0)
        return 1;
    int rc = eddy_test_run(__FILE__, tests, sizeof tests / sizeof tests[0], argc, argv, 300);
    teardown(NULL);
    return rc;
}
