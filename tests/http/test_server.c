/*
 * tests/http/test_server.c: eddy_http_serve driven by clients no one here
 * wrote: curl (keep-alive over --next, chunked upload, 100-continue, a
 * file by sendfile, streaming), Python's http.client and wrk; and by raw
 * sockets where the bytes matter (pipelining, HEAD, HTTP/1.0, timeouts,
 * slowloris, graceful and forced stop, a handler spinning on the CPU).
 * The malformed-request corpus is tests/http/server_conformance.py.
 * Runs on both I/O backends (the _uring ctest).
 */
/* ctest-labels: concurrency http */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "rt/rt_int.h"
#include "sched/sched.h"

extern char **environ;

static eddy_rt *rt;
static eddy_http_server *srv;
static int port;
static atomic_int handled, cancelled_in_handler;

/* ------------------------------------------------------------- handler */

static long query_long(const eddy_http_req *req, const char *key, long dflt)
{
    const char *q = eddy_http_req_query(req);
    size_t kl = strlen(key);
    while (q != NULL && *q != '\0') {
        if (strncmp(q, key, kl) == 0 && q[kl] == '=')
            return strtol(q + kl + 1, NULL, 10);
        q = strchr(q, '&');
        if (q != NULL)
            q++;
    }
    return dflt;
}

static const char *file_path; /* /file serves it by sendfile */

static int handle(eddy_http_req *req, eddy_http_resp *resp, void *ud)
{
    (void)ud;
    atomic_fetch_add(&handled, 1);
    const char *path = eddy_http_req_path(req);
    if (strcmp(path, "/") == 0)
        return eddy_http_resp_body(resp, "Hello, World!", 13);
    if (strcmp(path, "/echo") == 0) {
        size_t n;
        const void *b = eddy_http_req_body(req, &n);
        return eddy_http_resp_body(resp, b, n);
    }
    if (strcmp(path, "/path") == 0) { /* which request this is, for order checks */
        const char *q = eddy_http_req_query(req);
        return eddy_http_resp_body(resp, q != NULL ? q : "", q != NULL ? strlen(q) : 0);
    }
    if (strcmp(path, "/stream") == 0) {
        long n = query_long(req, "n", 3);
        for (long i = 0; i < n; i++) {
            char line[32];
            int len = snprintf(line, sizeof line, "chunk %ld\n", i);
            int rc = eddy_http_resp_write(resp, line, (size_t)len);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    if (strcmp(path, "/sleep") == 0) {
        int rc = eddy_sleep_ms(query_long(req, "ms", 100));
        if (rc == -ECANCELED)
            atomic_fetch_add(&cancelled_in_handler, 1);
        if (rc < 0)
            return rc;
        return eddy_http_resp_body(resp, "slept", 5);
    }
    if (strcmp(path, "/spin") == 0) {
        uint64_t end = eddy_now_ns() + (uint64_t)query_long(req, "ms", 100) * 1000000u;
        while (eddy_now_ns() < end)
            ;
        return eddy_http_resp_body(resp, "spun", 4);
    }
    if (strcmp(path, "/file") == 0) {
        int fd = open(file_path, O_RDONLY);
        if (fd < 0)
            return -errno;
        off_t size = lseek(fd, 0, SEEK_END);
        eddy_http_resp_header(resp, "Content-Type", "application/octet-stream");
        int rc = eddy_http_resp_file(resp, fd, 0, (size_t)size);
        close(fd);
        return rc;
    }
    if (strcmp(path, "/fail") == 0)
        return -EIO;
    if (strcmp(path, "/stopme") == 0) { /* a handler may not stop its own server */
        int rc = eddy_http_server_stop(srv, 0);
        char b[16];
        int n = snprintf(b, sizeof b, "%d", rc);
        return eddy_http_resp_body(resp, b, (size_t)n);
    }
    if (strcmp(path, "/headers") == 0) {
        eddy_http_resp_status(resp, 201);
        eddy_http_resp_header(resp, "X-Test", "yes");
        eddy_http_resp_header(resp, "Server", "custom");
        const char *h = eddy_http_req_header(req, "x-in");
        return eddy_http_resp_body(resp, h != NULL ? h : "-", h != NULL ? strlen(h) : 1);
    }
    eddy_http_resp_status(resp, 404);
    return 0;
}

/* --------------------------------------------------------- server life */

static eddy_http_server_opts opts;

static void *start_task(void *arg)
{
    (void)arg;
    int rc = eddy_http_serve(&srv, &opts, handle, NULL);
    return (void *)(intptr_t)rc;
}

static void start(void)
{
    void *rc = NULL;
    assert_ok(eddy_rt_block_on(rt, start_task, NULL, &rc));
    assert_ok((int)(intptr_t)rc);
    port = eddy_http_server_port(srv);
    assert_true(port > 0);
}

static void *stop_task(void *arg)
{
    return (void *)(intptr_t)eddy_http_server_stop(srv, (int64_t)(intptr_t)arg);
}

static void stop(int64_t grace_ms)
{
    void *rc = NULL;
    assert_ok(eddy_rt_block_on(rt, stop_task, (void *)(intptr_t)grace_ms, &rc));
    assert_ok((int)(intptr_t)rc);
    srv = NULL;
}

static int setup(void **state)
{
    (void)state;
    rt = eddy_test_new_rt(2);
    eddy_http_server_opts_init(&opts);
    atomic_store(&handled, 0);
    atomic_store(&cancelled_in_handler, 0);
    return rt == NULL;
}

static int teardown(void **state)
{
    (void)state;
    if (srv != NULL)
        stop(0);
    eddy_rt_free(rt);
    rt = NULL;
    return 0;
}

/* ------------------------------------------------- raw sockets, programs */

static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        fail_msg("connect to port %d: %s", port, strerror(errno));
    return fd;
}

static void raw_send(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads into buf until the peer closes (*closed), nothing comes for
   idle_ms, or buf holds `until` (NULL: no such stop). NUL-terminates. */
static size_t raw_read(int fd, char *buf, size_t cap, int idle_ms, const char *until, bool *closed)
{
    size_t len = 0;
    *closed = false;
    buf[0] = '\0';
    while (len + 1 < cap && (until == NULL || strstr(buf, until) == NULL)) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, idle_ms) <= 0)
            break;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
    }
    return len;
}

static int count_substr(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p != NULL; p = strstr(p + 1, sub))
        n++;
    return n;
}

/* Runs argv (found on PATH), its stdout into out; false when it cannot
   start (then the test skips). Fails the test when it does not finish
   within timeout_s or exits non-zero. */
static bool run_prog(char *const argv[], char *out, size_t cap, int timeout_s)
{
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        return false;
    }
    size_t len = 0;
    int64_t until = eddy_test_now_ms() + timeout_s * 1000;
    for (;;) {
        int64_t left = until - eddy_test_now_ms();
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            close(pfd[0]);
            fail_msg("%s did not finish within %d s", argv[0], timeout_s);
        }
        ssize_t n = read(pfd[0], out + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len + 1 >= cap)
            break;
    }
    out[len] = '\0';
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 127)
        return false; /* not installed (posix_spawnp may start a shell-less 127) */
    if (WEXITSTATUS(st) != 0)
        fail_msg("%s exited %d; output: %s", argv[0], WEXITSTATUS(st), out);
    return true;
}

static char *url(const char *path)
{
    static char buf[8][128];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 128, "http://127.0.0.1:%d%s", port, path);
    return b;
}

/* --------------------------------------------------------------- curl */

static void curl_keeps_the_connection_alive_across_next(void **state)
{
    (void)state;
    start();
    char out[4096];
    char *argv[] = { "curl", "-s", "--http1.1", "-w", "|%{http_code} %{num_connects}\\n",
                     url("/path?1"), "--next", "-w", "|%{http_code} %{num_connects}\\n",
                     url("/path?2"), "--next", "-w", "|%{http_code} %{num_connects}\\n",
                     url("/headers"), NULL };
    if (!run_prog(argv, out, sizeof out, 30))
        skip();
    /* one connection, three answers in order */
    assert_string_equal(out, "1|200 1\n2|200 0\n-|201 0\n");
    eddy_http_server_stats st;
    assert_ok(eddy_http_server_stats_get(srv, &st));
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.requests, 3);
    stop(1000);
}

static void write_file(const char *path, size_t n, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)((i * 131 + seed) % 251), f);
    fclose(f);
}

static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa != NULL && fb != NULL;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            same = false;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa != NULL)
        fclose(fa);
    if (fb != NULL)
        fclose(fb);
    return same;
}

static void curl_uploads_chunked_and_gets_100_continue_at_once(void **state)
{
    (void)state;
    opts.max_body_bytes = 4 << 20;
    start();
    char in[] = "/tmp/eddy-test-server-in-XXXXXX", got[] = "/tmp/eddy-test-server-out-XXXXXX";
    close(mkstemp(in));
    close(mkstemp(got));
    write_file(in, 300 * 1000, 7);
    char data[64], out[256];
    snprintf(data, sizeof data, "@%s", in);
    /* chunked upload: curl sends Transfer-Encoding: chunked */
    char *chunked[] = { "curl", "-sf", "--http1.1", "-H", "Transfer-Encoding: chunked",
                        "--data-binary", data, "-o", got, url("/echo"), NULL };
    if (!run_prog(chunked, out, sizeof out, 30))
        skip();
    assert_true(same_file(in, got));
    /* 2 MiB with Expect: 100-continue: curl waits 1 s for the 100 unless
       it comes, so a total under 0.9 s shows it came at once */
    write_file(in, 2 << 20, 3);
    char *expect[] = { "curl", "-sf", "--http1.1", "-H", "Expect: 100-continue",
                       "--data-binary", data, "-o", got, "-w", "%{time_total}", url("/echo"),
                       NULL };
    assert_true(run_prog(expect, out, sizeof out, 30));
    assert_true(same_file(in, got));
    if (!eddy_test_sanitized())
        assert_true(strtod(out, NULL) < 0.9);
    /* over the limit: 413 at once, the body never sent */
    opts.max_body_bytes = 1 << 20;
    stop(1000);
    start();
    char *big[] = { "curl", "-s", "--http1.1", "-H", "Expect: 100-continue", "--data-binary",
                    data, "-o", "/dev/null", "-w", "%{http_code} %{size_upload}", url("/echo"),
                    NULL };
    assert_true(run_prog(big, out, sizeof out, 30));
    assert_int_equal(atoi(out), 413);
    assert_true(strtol(strchr(out, ' ') + 1, NULL, 10) < 2 << 20);
    unlink(in);
    unlink(got);
    stop(1000);
}

static void curl_downloads_a_file_sent_by_sendfile_and_a_stream(void **state)
{
    (void)state;
    char path[] = "/tmp/eddy-test-server-file-XXXXXX", got[] = "/tmp/eddy-test-server-got-XXXXXX";
    close(mkstemp(path));
    close(mkstemp(got));
    write_file(path, 3 << 20, 11);
    file_path = path;
    start();
    char out[8192];
    char *file[] = { "curl", "-sf", "--http1.1", "-o", got, "-w", "%{size_download}",
                     url("/file"), NULL };
    if (!run_prog(file, out, sizeof out, 30))
        skip();
    assert_int_equal(atol(out), 3 << 20);
    assert_true(same_file(path, got));
    char *stream[] = { "curl", "-sf", "--http1.1", url("/stream?n=200"), NULL };
    assert_true(run_prog(stream, out, sizeof out, 30));
    assert_int_equal(count_substr(out, "chunk "), 200);
    assert_non_null(strstr(out, "chunk 199\n"));
    unlink(path);
    unlink(got);
    stop(1000);
}

/* ------------------------------------------------ Python's http.client */

static void python_http_client_gets_posts_and_heads_on_one_connection(void **state)
{
    (void)state;
    start();
    char portarg[16], out[1024];
    snprintf(portarg, sizeof portarg, "%d", port);
    const char *script =
        "import http.client, sys\n"
        "c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=10)\n"
        "c.request('GET', '/'); r = c.getresponse(); b = r.read()\n"
        "assert r.status == 200 and b == b'Hello, World!', (r.status, b)\n"
        "assert r.getheader('Server') == 'eddy' and r.getheader('Date')\n"
        "c.request('POST', '/echo', body=b'x' * 70000); r = c.getresponse()\n"
        "assert r.read() == b'x' * 70000\n"
        "c.request('HEAD', '/'); r = c.getresponse()\n"
        "assert r.getheader('Content-Length') == '13' and r.read() == b''\n"
        "c.request('GET', '/stream?n=5'); r = c.getresponse()\n"
        "assert r.getheader('Transfer-Encoding') == 'chunked'\n"
        "assert r.read() == b''.join(b'chunk %d\\n' % i for i in range(5))\n"
        "c.request('GET', '/fail'); r = c.getresponse(); r.read()\n"
        "assert r.status == 500\n"
        "c.request('GET', '/headers', headers={'X-In': 'abc'}); r = c.getresponse()\n"
        "assert r.status == 201 and r.read() == b'abc' and r.getheader('X-Test') == 'yes'\n"
        "assert r.getheader('Server') == 'custom'\n"
        "print('ok', c.sock.getsockname()[1])\n";
    char *argv[] = { "python3", "-c", (char *)script, portarg, NULL };
    if (!run_prog(argv, out, sizeof out, 30))
        skip();
    assert_int_equal(strncmp(out, "ok ", 3), 0);
    eddy_http_server_stats st;
    assert_ok(eddy_http_server_stats_get(srv, &st));
    assert_int_equal(st.accepted, 1); /* all six on one connection */
    assert_int_equal(st.requests, 6);
    stop(1000);
}

/* ------------------------------------------------------------------ wrk */

static void wrk_gets_only_good_answers(void **state)
{
    (void)state;
    start();
    char out[4096];
    char *argv[] = { "wrk", "-t1", "-c32", "-d1", url("/"), NULL };
    if (!run_prog(argv, out, sizeof out, 30))
        skip();
    char *reqs = strstr(out, " requests in ");
    assert_non_null(reqs);
    while (reqs > out && reqs[-1] != '\n' && reqs[-1] != ' ')
        reqs--;
    long n = atol(reqs);
    assert_true(n > 100);
    assert_null(strstr(out, "Non-2xx"));
    assert_null(strstr(out, "Socket errors"));
    stop(2000);
    assert_true(atomic_load(&handled) >= n);
}

/* ------------------------------------------------------------ raw bytes */

static void pipelined_requests_are_answered_in_order_in_one_write(void **state)
{
    (void)state;
    start();
    int fd = raw_connect();
    char req[16 * 64] = "";
    for (int i = 0; i < 16; i++) {
        char one[64];
        snprintf(one, sizeof one, "GET /path?%02d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        strcat(req, one);
    }
    raw_send(fd, req);
    char buf[16384];
    bool closed;
    raw_read(fd, buf, sizeof buf, 500, "\r\n\r\n15", &closed);
    assert_false(closed);
    assert_int_equal(count_substr(buf, "HTTP/1.1 200 OK"), 16);
    const char *p = buf;
    for (int i = 0; i < 16; i++) { /* bodies in request order */
        char body[8];
        snprintf(body, sizeof body, "\r\n\r\n%02d", i);
        const char *at = strstr(p, body);
        assert_non_null(at);
        p = at + 1;
    }
    close(fd);
    stop(1000);
}

static void head_http10_and_connection_close_frame_as_promised(void **state)
{
    (void)state;
    start();
    char buf[4096];
    bool closed;
    int fd = raw_connect();
    raw_send(fd, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_read(fd, buf, sizeof buf, 300, NULL, &closed);
    assert_non_null(strstr(buf, "Content-Length: 13\r\n"));
    assert_null(strstr(buf, "Hello")); /* no body */
    assert_false(closed);
    close(fd);

    fd = raw_connect(); /* 1.0: answered, then closed */
    raw_send(fd, "GET / HTTP/1.0\r\n\r\n");
    raw_read(fd, buf, sizeof buf, 2000, NULL, &closed);
    assert_true(closed);
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\nHello, World!"));
    close(fd);

    fd = raw_connect(); /* 1.0 keep-alive: stays */
    raw_send(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    raw_read(fd, buf, sizeof buf, 300, "Hello, World!", &closed);
    assert_false(closed);
    assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));
    close(fd);

    fd = raw_connect(); /* 1.1 close: answered with close, then closed */
    raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    raw_read(fd, buf, sizeof buf, 2000, NULL, &closed);
    assert_true(closed);
    assert_non_null(strstr(buf, "Connection: close\r\n"));

    fd = raw_connect(); /* requests pipelined behind a close: not served */
    raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                 "GET /path?2 HTTP/1.1\r\nHost: x\r\n\r\nGET /path?3 HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_read(fd, buf, sizeof buf, 3000, NULL, &closed);
    assert_true(closed);
    assert_int_equal(count_substr(buf, "HTTP/1.1 "), 1);
    assert_non_null(strstr(buf, "\r\n\r\nHello, World!"));
    close(fd);

    fd = raw_connect(); /* 1.0 stream: no chunks, the close ends it */
    raw_send(fd, "GET /stream?n=2 HTTP/1.0\r\n\r\n");
    raw_read(fd, buf, sizeof buf, 2000, NULL, &closed);
    assert_true(closed);
    assert_null(strstr(buf, "Transfer-Encoding"));
    assert_non_null(strstr(buf, "\r\n\r\nchunk 0\nchunk 1\n"));
    close(fd);

    fd = raw_connect(); /* 1.1 stream: chunked, ended by a last chunk */
    raw_send(fd, "GET /stream?n=2 HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_read(fd, buf, sizeof buf, 300, "0\r\n\r\n", &closed);
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\n8\r\nchunk 0\n\r\n8\r\nchunk 1\n\r\n0\r\n\r\n"));
    close(fd);
    stop(1000);
}

/* ------------------------------------------------------------- timeouts */

static void header_body_and_keepalive_timeouts_close_the_connection(void **state)
{
    (void)state;
    opts.header_timeout_ms = 300;
    opts.body_timeout_ms = 300;
    opts.keepalive_timeout_ms = 300;
    start();
    char buf[4096];
    bool closed;
    int64_t t0 = eddy_test_now_ms();
    int fd = raw_connect(); /* half a header, then silence: 408 */
    raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n");
    raw_read(fd, buf, sizeof buf, 5000, NULL, &closed);
    assert_true(closed);
    assert_non_null(strstr(buf, "HTTP/1.1 408 "));
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_true(eddy_test_now_ms() - t0 >= 250);
    close(fd);

    fd = raw_connect(); /* part of a body, then silence: 408 */
    raw_send(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    raw_read(fd, buf, sizeof buf, 5000, NULL, &closed);
    assert_true(closed);
    assert_non_null(strstr(buf, "HTTP/1.1 408 "));
    close(fd);

    t0 = eddy_test_now_ms();
    fd = raw_connect(); /* one answer, then idle: closed without a word */
    raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_read(fd, buf, sizeof buf, 5000, NULL, &closed);
    assert_true(closed);
    assert_int_equal(count_substr(buf, "HTTP/1.1"), 1);
    assert_true(eddy_test_now_ms() - t0 >= 250);
    close(fd);

    fd = raw_connect(); /* accepted, never a byte: closed by the header timeout */
    raw_read(fd, buf, sizeof buf, 5000, NULL, &closed);
    assert_true(closed);
    assert_int_equal(buf[0], '\0');
    close(fd);
    eddy_http_server_stats st;
    for (int i = 0; i < 200; i++) { /* the server's side goes too */
        assert_ok(eddy_http_server_stats_get(srv, &st));
        if (st.connections == 0)
            break;
        usleep(10000);
    }
    assert_int_equal(st.connections, 0);
    stop(1000);
}

static void slowloris_connections_are_cut_while_others_are_served(void **state)
{
    (void)state;
    enum { SLOW = 200 };
    opts.header_timeout_ms = 500;
    start();
    int fds[SLOW];
    for (int i = 0; i < SLOW; i++) {
        fds[i] = raw_connect();
        raw_send(fds[i], "G");
    }
    /* trickle a byte every 100 ms while a normal client is served */
    const char *rest = "ET / HTTP/1.1\r\nHost: x\r\n";
    int64_t t0 = eddy_test_now_ms();
    int served = 0;
    for (int step = 0; step < 10; step++) {
        for (int i = 0; i < SLOW; i++)
            (void)send(fds[i], rest + step, 1, MSG_NOSIGNAL);
        int fd = raw_connect();
        raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        char buf[1024];
        bool closed;
        raw_read(fd, buf, sizeof buf, 2000, "Hello, World!", &closed);
        served += strstr(buf, "Hello, World!") != NULL;
        close(fd);
        usleep(100000);
    }
    assert_int_equal(served, 10);
    /* every slow one was answered 408 and closed once 500 ms had passed */
    for (int i = 0; i < SLOW; i++) {
        char buf[1024];
        bool closed;
        raw_read(fds[i], buf, sizeof buf, 3000, NULL, &closed);
        assert_true(closed);
        assert_non_null(strstr(buf, " 408 "));
        close(fds[i]);
    }
    assert_true(eddy_test_now_ms() - t0 >= 450);
    stop(1000);
}

/* ----------------------------------------------------- idle connections */

static void idle_keepalive_connections_hold_no_task(void **state)
{
    (void)state;
    enum { N = 300 };
    start();
    int fds[N];
    /* what waits with no connection: the acceptors, one per worker */
    size_t base = 0;
    for (int i = 0; i < 100 && base < 2; i++, usleep(10000))
        base = eddy__sched_tasks_suspended(rt->sched);
    assert_int_equal(base, 2);
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect();
        raw_send(fds[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    for (int i = 0; i < N; i++) {
        char buf[512];
        bool closed;
        raw_read(fds[i], buf, sizeof buf, 2000, "Hello, World!", &closed);
        assert_non_null(strstr(buf, "Hello, World!"));
        assert_false(closed);
    }
    /* answered and idle: the connections wait in the reactors, and no task
       waits for them (the acceptors are all that is suspended) */
    size_t susp = 0;
    for (int i = 0; i < 100; i++) {
        susp = eddy__sched_tasks_suspended(rt->sched);
        if (susp <= base)
            break;
        usleep(10000);
    }
    if (susp > base)
        fail_msg("%zu tasks wait with %d idle connections open (%zu without)", susp, N, base);
    eddy_http_server_stats st;
    assert_ok(eddy_http_server_stats_get(srv, &st));
    assert_int_equal(st.connections, N);
    /* and each wakes when its next request comes */
    for (int i = 0; i < N; i++)
        raw_send(fds[i], "GET /path?again HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < N; i++) {
        char buf[512];
        bool closed;
        raw_read(fds[i], buf, sizeof buf, 2000, "again", &closed);
        assert_non_null(strstr(buf, "\r\n\r\nagain"));
        close(fds[i]);
    }
    stop(1000);
}

/* ----------------------------------------------------------------- stop */

static void stop_finishes_requests_in_flight_and_closes_idle_ones(void **state)
{
    (void)state;
    enum { SLOW = 100, IDLE = 20 };
    start();
    int busy[SLOW], idle[IDLE];
    char buf[1024];
    bool closed;
    for (int i = 0; i < IDLE; i++) {
        idle[i] = raw_connect();
        raw_send(idle[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        raw_read(idle[i], buf, sizeof buf, 2000, "Hello", &closed);
        assert_non_null(strstr(buf, "Hello"));
    }
    for (int i = 0; i < SLOW; i++) {
        busy[i] = raw_connect();
        raw_send(busy[i], "GET /sleep?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    while (atomic_load(&handled) < IDLE + SLOW)
        usleep(1000); /* all in their handlers (the watchdog bounds it) */
    int64_t t0 = eddy_test_now_ms();
    stop(5000);
    assert_true(eddy_test_now_ms() - t0 < 3000);
    for (int i = 0; i < SLOW; i++) {
        raw_read(busy[i], buf, sizeof buf, 2000, NULL, &closed);
        assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
        assert_non_null(strstr(buf, "Connection: close\r\n"));
        assert_non_null(strstr(buf, "\r\n\r\nslept"));
        assert_true(closed);
        close(busy[i]);
    }
    for (int i = 0; i < IDLE; i++) {
        raw_read(idle[i], buf, sizeof buf, 2000, NULL, &closed);
        assert_true(closed);
        assert_int_equal(buf[0], '\0');
        close(idle[i]);
    }
    /* nothing listens any more */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), -1);
    close(fd);
}

static void stop_aborts_handlers_past_the_grace_period(void **state)
{
    (void)state;
    start();
    int fd = raw_connect();
    raw_send(fd, "GET /sleep?ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n");
    while (atomic_load(&handled) < 1)
        usleep(1000);
    int64_t t0 = eddy_test_now_ms();
    stop(200);
    int64_t took = eddy_test_now_ms() - t0;
    assert_true(took >= 150 && took < 3000);
    assert_int_equal(atomic_load(&cancelled_in_handler), 1);
    char buf[512];
    bool closed;
    raw_read(fd, buf, sizeof buf, 2000, NULL, &closed);
    assert_true(closed);
    assert_null(strstr(buf, "slept"));
    close(fd);
}

/* ------------------------------------------------------- a stuck worker */

static void a_handler_spinning_on_the_cpu_strands_no_other_connection(void **state)
{
    (void)state;
    enum { CONNS = 16 };
    start();
    int fds[CONNS];
    char buf[512];
    bool closed;
    for (int i = 0; i < CONNS; i++) { /* spread over both workers' listeners */
        fds[i] = raw_connect();
        raw_send(fds[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        raw_read(fds[i], buf, sizeof buf, 2000, "Hello", &closed);
        assert_non_null(strstr(buf, "Hello"));
    }
    int spin = raw_connect();
    raw_send(spin, "GET /spin?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(50000); /* it spins now, its worker held */
    int64_t t0 = eddy_test_now_ms();
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < CONNS; i++) {
            raw_send(fds[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            raw_read(fds[i], buf, sizeof buf, 3000, "Hello", &closed);
            assert_non_null(strstr(buf, "Hello"));
        }
    }
    /* all answered while the spin went on (idle connections registered
       with the stuck worker's reactor were served by the other worker) */
    if (!eddy_test_sanitized())
        assert_true(eddy_test_now_ms() - t0 < 1400);
    raw_read(spin, buf, sizeof buf, 5000, NULL, &closed);
    assert_non_null(strstr(buf, "spun"));
    close(spin);
    for (int i = 0; i < CONNS; i++)
        close(fds[i]);
    stop(1000);
}

/* ------------------------------------------------------------ bad input */

static int api_resp_rc[8];

static int api_handler(eddy_http_req *req, eddy_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    api_resp_rc[0] = eddy_http_resp_header(resp, "Content-Length", "5");
    api_resp_rc[1] = eddy_http_resp_header(resp, "Bad Name", "x");
    api_resp_rc[2] = eddy_http_resp_header(resp, "X", "a\r\nInjected: 1");
    api_resp_rc[3] = eddy_http_resp_status(resp, 99);
    api_resp_rc[4] = eddy_http_resp_body(resp, NULL, 3);
    api_resp_rc[5] = eddy_http_resp_write(resp, "ab", 2);
    api_resp_rc[6] = eddy_http_resp_body(resp, "x", 1); /* after a stream began */
    api_resp_rc[7] = eddy_http_resp_status(resp, 404);
    return 0;
}

static void *serve_bad(void *arg)
{
    (void)arg;
    eddy_http_server *s = NULL;
    eddy_http_server_opts o;
    eddy_http_server_opts_init(&o);
    EDDY_TASK_CHECK(eddy_http_serve(NULL, &o, handle, NULL) == -EINVAL);
    EDDY_TASK_CHECK(eddy_http_serve(&s, &o, NULL, NULL) == -EINVAL);
    o.listen = 7;
    EDDY_TASK_CHECK(eddy_http_serve(&s, &o, handle, NULL) == -EINVAL);
    eddy_http_server_opts_init(&o);
    o.host = "256.1.1.1";
    EDDY_TASK_CHECK(eddy_http_serve(&s, &o, handle, NULL) < 0 && s == NULL);
    eddy_http_server_opts_init(&o);
    EDDY_TASK_CHECK(eddy_http_serve(&srv, &o, api_handler, NULL) == 0);
    return NULL;
}

static void bad_calls_get_negative_errnos(void **state)
{
    (void)state;
    eddy_http_server *s = NULL;
    assert_int_equal(eddy_http_serve(&s, NULL, handle, NULL), -EPERM); /* not in a task */
    assert_int_equal(eddy_http_server_stop(NULL, 0), -EINVAL);
    assert_int_equal(eddy_http_server_port(NULL), -EINVAL);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, serve_bad, NULL, &line));
    if (line != NULL)
        fail_msg("check failed at line %d", (int)(intptr_t)line);
    port = eddy_http_server_port(srv);
    int fd = raw_connect();
    raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[1024];
    bool closed;
    raw_read(fd, buf, sizeof buf, 500, "0\r\n\r\n", &closed);
    close(fd);
    assert_int_equal(api_resp_rc[0], -EINVAL);
    assert_int_equal(api_resp_rc[1], -EINVAL);
    assert_int_equal(api_resp_rc[2], -EINVAL);
    assert_int_equal(api_resp_rc[3], -EINVAL);
    assert_int_equal(api_resp_rc[4], -EINVAL);
    assert_int_equal(api_resp_rc[5], 0);
    assert_int_equal(api_resp_rc[6], -EALREADY);
    assert_int_equal(api_resp_rc[7], -EALREADY);
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(buf, "Injected"));
    stop(1000);
}


/* ------------------------------------------------- stop in hard places */

static atomic_int hammer_stop;

/* A client that opens a connection, sends one request and closes, over
   and over: tasks are spawned (and some not yet run) at any moment. */
static void *hammer(void *arg)
{
    (void)arg;
    while (!atomic_load(&hammer_stop)) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            (void)send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 28, MSG_NOSIGNAL);
        close(fd);
    }
    return NULL;
}

static void stop_under_load_closes_connections_whose_task_never_ran(void **state)
{
    (void)state;
    int rounds = eddy_test_sanitized() ? 5 : 20;
    for (int r = 0; r < rounds; r++) {
        start();
        atomic_store(&hammer_stop, 0);
        pthread_t th[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&th[i], NULL, hammer, NULL);
        usleep(20000);
        stop(0); /* forced at once: tasks spawned but not yet run are aborted */
        atomic_store(&hammer_stop, 1);
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
    }
    assert_true(eddy_test_count_fds() < 64); /* no connection left open */
}

static void *stop_cancelled(void *arg)
{
    (void)arg;
    /* a task already aborted (its every suspending call refuses) stops
       the server: it must still wait for the acceptors and connections */
    return (void *)(intptr_t)eddy_http_server_stop(srv, 200);
}

static void *abort_then_stop(void *arg)
{
    (void)arg;
    eddy_task *t;
    EDDY_TASK_CHECK(eddy_spawn(&t, stop_cancelled, NULL) == 0);
    EDDY_TASK_CHECK(eddy_abort(t) == 0);
    void *res = NULL;
    int rc = eddy_join(t, &res);
    EDDY_TASK_CHECK(rc == 0 || rc == -ECANCELED);
    return NULL;
}

static void stop_from_an_aborted_task_finishes(void **state)
{
    (void)state;
    start();
    int fd = raw_connect(); /* an idle connection and a busy one */
    raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    int busy = raw_connect();
    raw_send(busy, "GET /sleep?ms=2000 HTTP/1.1\r\nHost: x\r\n\r\n");
    while (atomic_load(&handled) < 2)
        usleep(1000);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, abort_then_stop, NULL, &line));
    if (line != NULL)
        fail_msg("check failed at line %d", (int)(intptr_t)line);
    /* joined: the stop has ended; if it never started (aborted before its
       first run) the server still runs: stop it here */
    char buf[512];
    bool closed;
    raw_read(fd, buf, sizeof buf, 3000, NULL, &closed);
    if (!closed) {
        stop(200);
        raw_read(fd, buf, sizeof buf, 3000, NULL, &closed);
    } else {
        srv = NULL;
    }
    assert_true(closed);
    raw_read(busy, buf, sizeof buf, 3000, NULL, &closed);
    assert_true(closed);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    if (!eddy_test_sanitized())
        assert_true(cpu < 1.0); /* waited, did not spin */
    close(fd);
    close(busy);
}

static void a_handler_cannot_stop_its_own_server(void **state)
{
    (void)state;
    start();
    int fd = raw_connect();
    raw_send(fd, "GET /stopme HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[512], want[32];
    bool closed;
    snprintf(want, sizeof want, "\r\n\r\n%d", -EDEADLK);
    raw_read(fd, buf, sizeof buf, 3000, want, &closed);
    assert_non_null(strstr(buf, want));
    close(fd);
    stop(1000);
}

static void *serve_opts(void *arg)
{
    eddy_http_server *s = NULL;
    return (void *)(intptr_t)eddy_http_serve(&s, arg, handle, NULL);
}

static void bad_options_and_huge_timeouts(void **state)
{
    (void)state;
    eddy_http_server_opts o;
    eddy_http_server_opts_init(&o);
    o.stack_size = 8192; /* below eddy_spawn_ex's 16 KiB: refused up front */
    void *rc = NULL;
    assert_ok(eddy_rt_block_on(rt, serve_opts, &o, &rc));
    assert_int_equal((int)(intptr_t)rc, -EINVAL);
    eddy_http_server_opts_init(&o);
    o.max_body_bytes = SIZE_MAX;
    assert_ok(eddy_rt_block_on(rt, serve_opts, &o, &rc));
    assert_int_equal((int)(intptr_t)rc, -EINVAL);
    /* INT64_MAX is "never", not a deadline that wrapped into the past */
    opts.keepalive_timeout_ms = INT64_MAX;
    opts.header_timeout_ms = INT64_MAX;
    start();
    int fd = raw_connect();
    char buf[1024];
    bool closed;
    for (int i = 0; i < 3; i++) {
        usleep(20000);
        raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        raw_read(fd, buf, sizeof buf, 2000, "Hello, World!", &closed);
        assert_non_null(strstr(buf, "Hello, World!"));
        assert_false(closed);
    }
    close(fd);
    stop(INT64_MAX); /* waits as long as needed: nothing is busy */
}

static void floods_of_framing_are_cut(void **state)
{
    (void)state;
    start();
    char buf[2048];
    bool closed = false;
    /* an endless chunk extension: 413 once past 1 KiB */
    int fd = raw_connect();
    raw_send(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;");
    char ext[4096];
    memset(ext, 'a', sizeof ext - 1);
    ext[sizeof ext - 1] = '\0';
    for (int i = 0; i < 4 && !closed; i++)
        (void)send(fd, ext, strlen(ext), MSG_NOSIGNAL);
    raw_read(fd, buf, sizeof buf, 3000, NULL, &closed);
    assert_non_null(strstr(buf, " 413 "));
    assert_true(closed);
    close(fd);
    /* empty lines before a request line, without end: 431 */
    fd = raw_connect();
    char crlf[4096];
    for (size_t i = 0; i + 1 < sizeof crlf; i += 2) {
        crlf[i] = '\r';
        crlf[i + 1] = '\n';
    }
    for (int i = 0; i < 8; i++)
        (void)send(fd, crlf, sizeof crlf, MSG_NOSIGNAL);
    raw_read(fd, buf, sizeof buf, 3000, NULL, &closed);
    assert_non_null(strstr(buf, " 431 "));
    assert_true(closed);
    close(fd);
    /* HTTP/1.0 with Expect: ignored, answered with no 100 */
    fd = raw_connect();
    raw_send(fd, "POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
    raw_read(fd, buf, sizeof buf, 3000, NULL, &closed);
    assert_null(strstr(buf, "100 Continue"));
    assert_non_null(strstr(buf, "\r\n\r\nhi"));
    close(fd);
    stop(1000);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(curl_keeps_the_connection_alive_across_next, setup, teardown),
        cmocka_unit_test_setup_teardown(curl_uploads_chunked_and_gets_100_continue_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(curl_downloads_a_file_sent_by_sendfile_and_a_stream, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(python_http_client_gets_posts_and_heads_on_one_connection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(wrk_gets_only_good_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(pipelined_requests_are_answered_in_order_in_one_write, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(head_http10_and_connection_close_frame_as_promised, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(header_body_and_keepalive_timeouts_close_the_connection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(slowloris_connections_are_cut_while_others_are_served, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(idle_keepalive_connections_hold_no_task, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_finishes_requests_in_flight_and_closes_idle_ones, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stop_aborts_handlers_past_the_grace_period, setup, teardown),
        cmocka_unit_test_setup_teardown(a_handler_spinning_on_the_cpu_strands_no_other_connection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(bad_calls_get_negative_errnos, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_under_load_closes_connections_whose_task_never_ran,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(stop_from_an_aborted_task_finishes, setup, teardown),
        cmocka_unit_test_setup_teardown(a_handler_cannot_stop_its_own_server, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_options_and_huge_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(floods_of_framing_are_cut, setup, teardown),
    };
    return eddy_test_run(__FILE__, tests, sizeof tests / sizeof tests[0], argc, argv, 600);
}
