/*
 * tests/http/test_server_stop.c: stopping eddy's HTTP server (graceful,
 * past the grace period, under a storm of new connections, from an
 * aborted task, from its own handler) and what it refuses (bad calls and
 * options, huge timeouts, floods of framing). Runs on both I/O backends.
 */
/* ctest-labels: concurrency http */
#include "server_common.h"

/* ----------------------------------------------------------------- stop */

/* Opens /gate once the server stopped listening: the first thing a stop
   does, so the handlers then in flight are the stop's to finish. */
static void *open_gate_when_stopping(void *arg)
{
    (void)arg;
    int64_t until = eddy_test_now_ms() + 10000;
    while (eddy_test_now_ms() < until) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc < 0 && errno == ECONNREFUSED)
            break;
        usleep(1000);
    }
    atomic_store(&gate_open, true);
    return NULL;
}

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
        raw_send(busy[i], "GET /gate HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    while (atomic_load(&handled) < IDLE + SLOW)
        usleep(1000); /* all in their handlers (the watchdog bounds it) */
    /* the handlers answer only once the stop has begun (a fixed sleep
       ended before it under ThreadSanitizer: answers without
       "Connection: close") */
    pthread_t opener;
    assert_int_equal(pthread_create(&opener, NULL, open_gate_when_stopping, NULL), 0);
    int64_t t0 = eddy_test_now_ms();
    stop(5000);
    assert_true(eddy_test_now_ms() - t0 < 3000);
    pthread_join(opener, NULL);
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

/* Fills buf (an even size) with empty lines. */
static void fill_crlf(char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        buf[i] = '\r';
        buf[i + 1] = '\n';
    }
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
    fill_crlf(crlf, sizeof crlf);
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

/* Empty lines before a request line, sent in pieces the server reads one
   at a time (each leaves it idle): still counted as one head. */
static void empty_lines_count_across_idle_periods(void **state)
{
    (void)state;
    opts.header_timeout_ms = 400;
    start();
    char buf[2048];
    bool closed = false;
    /* a CR, a pause, then its LF and a request: the pair is one empty line */
    int fd = raw_connect();
    raw_send(fd, "\r");
    usleep(30000);
    raw_send(fd, "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_read(fd, buf, sizeof buf, 3000, "Hello, World!", &closed);
    assert_non_null(strstr(buf, "HTTP/1.1 200 "));
    close(fd);
    /* 32 KiB of them in 4 KiB pieces 20 ms apart: 431 */
    fd = raw_connect();
    char crlf[4096];
    fill_crlf(crlf, sizeof crlf);
    for (int i = 0; i < 8; i++) {
        (void)send(fd, crlf, sizeof crlf, MSG_NOSIGNAL);
        usleep(20000);
    }
    raw_read(fd, buf, sizeof buf, 3000, NULL, &closed);
    assert_non_null(strstr(buf, " 431 "));
    assert_true(closed);
    close(fd);
    /* one every 50 ms: the header timeout runs from the first */
    fd = raw_connect();
    int64_t t0 = eddy_test_now_ms();
    closed = false;
    for (int i = 0; i < 60 && !closed; i++) {
        if (send(fd, "\r\n", 2, MSG_NOSIGNAL) != 2)
            break;
        raw_read(fd, buf, sizeof buf, 50, NULL, &closed);
    }
    int64_t took = eddy_test_now_ms() - t0;
    if (!closed)
        raw_read(fd, buf, sizeof buf, 100, NULL, &closed);
    assert_true(closed); /* within the 3 s the loop may take */
    assert_true(took >= 350);
    close(fd);
    stop(1000);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stop_finishes_requests_in_flight_and_closes_idle_ones, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_aborts_handlers_past_the_grace_period, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_under_load_closes_connections_whose_task_never_ran, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_from_an_aborted_task_finishes, setup, teardown),
        cmocka_unit_test_setup_teardown(a_handler_cannot_stop_its_own_server, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_calls_get_negative_errnos, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_options_and_huge_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(floods_of_framing_are_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_lines_count_across_idle_periods, setup, teardown),
    };
    return eddy_test_run(__FILE__, tests, sizeof tests / sizeof tests[0], argc, argv, 600);
}
