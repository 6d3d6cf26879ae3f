/*
 * tests/bench/test_server_threads.c: the `threads` and `thread-pool`
 * models' blocking server (benches/models/server_threads.c): its answers
 * are byte for byte eddy's server's (the Date line aside) for the same
 * handler, keep-alive and pipelining work, bad input gets 400 and a close,
 * a connection thread ends with its connection, and a pool of one serves
 * a second connection only once the first is gone (what the model shows).
 */
/* ctest-labels: http concurrency */
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "../benches/models/server_threads.h"

static size_t hello(const char *method, const char *path, const char *query, char *body,
                    size_t cap, int *status, void *ud)
{
    (void)method;
    (void)ud;
    *status = 200;
    int n = snprintf(body, cap, "Hello %s %s", path, query != NULL ? query : "-");
    return (size_t)n;
}

static int eddy_handler(eddy_http_req *req, eddy_http_resp *resp, void *ud)
{
    char body[256];
    int status;
    size_t n = hello(eddy_http_req_method(req), eddy_http_req_path(req),
                     eddy_http_req_query(req), body, sizeof body, &status, ud);
    return eddy_http_resp_body(resp, body, n);
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Sends req, reads until `until` is in the answer, the peer closes
   (*closed) or ms pass with nothing. */
static size_t exchange(int fd, const char *req, char *buf, size_t cap, const char *until, int ms,
                       bool *closed)
{
    if (req != NULL)
        assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    size_t len = 0;
    *closed = false;
    buf[0] = '\0';
    while (len + 1 < cap && (until == NULL || strstr(buf, until) == NULL)) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, ms) <= 0)
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

/* The answer without its Date line. */
static void strip_date(char *s)
{
    char *d = strstr(s, "Date: ");
    if (d != NULL) {
        char *e = strstr(d, "\r\n");
        memmove(d, e + 2, strlen(e + 2) + 1);
    }
}

static eddy_http_server *esrv;

static void *eddy_start(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)eddy_http_serve(&esrv, NULL, eddy_handler, NULL);
}

static void *eddy_stop(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)eddy_http_server_stop(esrv, 1000);
}

static void answers_are_eddys_byte_for_byte(void **state)
{
    (void)state;
    struct st_server *s;
    assert_ok(st_start(&s, 0, 0, hello, NULL));
    eddy_rt *rt = eddy_test_new_rt(1);
    void *rc = NULL;
    assert_ok(eddy_rt_block_on(rt, eddy_start, NULL, &rc));
    assert_null(rc);
    const char *reqs[] = { "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                           "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n" };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        char a[1024], b[1024];
        bool ca, cb;
        int fa = dial(st_port(s)), fb = dial(eddy_http_server_port(esrv));
        exchange(fa, reqs[i], a, sizeof a, NULL, 300, &ca);
        exchange(fb, reqs[i], b, sizeof b, NULL, 300, &cb);
        strip_date(a);
        strip_date(b);
        assert_string_equal(a, b);
        assert_int_equal(ca, cb);
        close(fa);
        close(fb);
    }
    assert_ok(eddy_rt_block_on(rt, eddy_stop, NULL, NULL));
    eddy_rt_free(rt);
    st_stop(s);
}

static void keepalive_pipelining_and_bad_input(void **state)
{
    (void)state;
    for (unsigned pool = 0; pool <= 2; pool += 2) {
        struct st_server *s;
        assert_ok(st_start(&s, 0, pool, hello, NULL));
        int fd = dial(st_port(s));
        char buf[8192];
        bool closed;
        exchange(fd, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n", buf,
                 sizeof buf, "Hello /2 -", 2000, &closed);
        assert_non_null(strstr(buf, "Hello /1 -"));
        assert_true(strstr(buf, "Hello /1 -") < strstr(buf, "Hello /2 -"));
        exchange(fd, "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, "Hello /3 -", 2000,
                 &closed);
        assert_non_null(strstr(buf, "Hello /3 -"));
        assert_false(closed);
        exchange(fd, "GET / HTTP/1.1\r\nHost : x\r\n\r\n", buf, sizeof buf, NULL, 2000, &closed);
        assert_non_null(strstr(buf, "HTTP/1.1 400 "));
        assert_true(closed);
        close(fd);
        assert_int_equal(st_accepted(s), 1);
        if (pool == 0) { /* the connection's thread ended with it */
            for (int i = 0; i < 200 && st_threads(s) > 0; i++)
                usleep(5000);
            assert_int_equal(st_threads(s), 0);
        }
        st_stop(s);
    }
}

static void a_pool_of_one_serves_one_connection_at_a_time(void **state)
{
    (void)state;
    struct st_server *s;
    assert_ok(st_start(&s, 0, 1, hello, NULL));
    char buf[1024];
    bool closed;
    int first = dial(st_port(s));
    exchange(first, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, "Hello /first", 2000,
             &closed);
    assert_non_null(strstr(buf, "Hello /first"));
    int second = dial(st_port(s)); /* in the backlog: nobody takes it */
    exchange(second, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, "Hello /second",
             300, &closed);
    assert_null(strstr(buf, "Hello /second"));
    close(first); /* its thread is free: the second is served */
    exchange(second, NULL, buf, sizeof buf, "Hello /second", 3000, &closed);
    assert_non_null(strstr(buf, "Hello /second"));
    close(second);
    st_stop(s); /* with nothing open, and with a connection open */
    assert_ok(st_start(&s, 0, 0, hello, NULL));
    int open = dial(st_port(s));
    exchange(open, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf, "Hello", 2000, &closed);
    st_stop(s);
    exchange(open, NULL, buf, sizeof buf, NULL, 2000, &closed);
    assert_true(closed);
    close(open);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(answers_are_eddys_byte_for_byte),
    cmocka_unit_test(keepalive_pipelining_and_bad_input),
    cmocka_unit_test(a_pool_of_one_serves_one_connection_at_a_time),
};

EDDY_TEST_MAIN(tests, 120)
