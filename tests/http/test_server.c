/*
 * tests/http/test_server.c: eddy_http_serve driven by clients no one here
 * wrote: curl (keep-alive over --next, chunked upload, 100-continue, a
 * file by sendfile, streaming), Python's http.client and wrk; and by raw
 * sockets where the bytes matter (pipelining, HEAD, HTTP/1.0, timeouts,
 * slowloris, idle connections without tasks, a handler spinning on the
 * CPU). Stopping and bad input: test_server_stop.c. The malformed-request
 * corpus is tests/http/server_conformance.py. Runs on both I/O backends
 * (the _uring ctest).
 */
/* ctest-labels: concurrency http */
#include "server_common.h"

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

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(curl_keeps_the_connection_alive_across_next, setup, teardown),
        cmocka_unit_test_setup_teardown(curl_uploads_chunked_and_gets_100_continue_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(curl_downloads_a_file_sent_by_sendfile_and_a_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(python_http_client_gets_posts_and_heads_on_one_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(wrk_gets_only_good_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(pipelined_requests_are_answered_in_order_in_one_write, setup, teardown),
        cmocka_unit_test_setup_teardown(head_http10_and_connection_close_frame_as_promised, setup, teardown),
        cmocka_unit_test_setup_teardown(header_body_and_keepalive_timeouts_close_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(slowloris_connections_are_cut_while_others_are_served, setup, teardown),
        cmocka_unit_test_setup_teardown(idle_keepalive_connections_hold_no_task, setup, teardown),
        cmocka_unit_test_setup_teardown(a_handler_spinning_on_the_cpu_strands_no_other_connection, setup, teardown),
    };
    return eddy_test_run(__FILE__, tests, sizeof tests / sizeof tests[0], argc, argv, 600);
}
