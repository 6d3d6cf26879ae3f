/*
 * tests/http/server_common.h: what the HTTP server tests share: a runtime
 * with 2 workers and a server on it (setup/teardown, start/stop with the
 * options in `opts`), a handler with routes for every case (/, /echo,
 * /path?X, /stream?n=, /sleep?ms=, /gate, /spin?ms=, /file, /fail, /headers,
 * /stopme), raw loopback sockets, and running an outside program (curl,
 * python3, wrk) with a bounded wait.
 */
#ifndef EDDY_TESTS_HTTP_SERVER_COMMON_H
#define EDDY_TESTS_HTTP_SERVER_COMMON_H

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
static atomic_bool gate_open; /* /gate's handlers answer once it is set */

/* ------------------------------------------------------------- handler */

static inline long query_long(const eddy_http_req *req, const char *key, long dflt)
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

static inline int handle(eddy_http_req *req, eddy_http_resp *resp, void *ud)
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
    if (strcmp(path, "/gate") == 0) { /* in flight until the test opens the gate */
        int64_t waited = 0;
        while (!atomic_load(&gate_open) && waited < 20000) {
            int rc = eddy_sleep_ms(2);
            if (rc < 0) {
                if (rc == -ECANCELED)
                    atomic_fetch_add(&cancelled_in_handler, 1);
                return rc;
            }
            waited += 2;
        }
        return eddy_http_resp_body(resp, "slept", 5);
    }
    if (strcmp(path, "/spin") == 0) {
        uint64_t end = eddy_now_ns() + (uint64_t)query_long(req, "ms", 100) * 1000000u;
        while (eddy_now_ns() < end)
            ;
        return eddy_http_resp_body(resp, "spun", 4);
    }
    if (strcmp(path, "/file") == 0) {
        if (file_path == NULL)
            return -ENOENT; /* set by the test that serves a file */
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

static inline void *start_task(void *arg)
{
    (void)arg;
    int rc = eddy_http_serve(&srv, &opts, handle, NULL);
    return (void *)(intptr_t)rc;
}

static inline void start(void)
{
    void *rc = NULL;
    assert_ok(eddy_rt_block_on(rt, start_task, NULL, &rc));
    assert_ok((int)(intptr_t)rc);
    port = eddy_http_server_port(srv);
    assert_true(port > 0);
}

static inline void *stop_task(void *arg)
{
    return (void *)(intptr_t)eddy_http_server_stop(srv, (int64_t)(intptr_t)arg);
}

static inline void stop(int64_t grace_ms)
{
    void *rc = NULL;
    assert_ok(eddy_rt_block_on(rt, stop_task, (void *)(intptr_t)grace_ms, &rc));
    assert_ok((int)(intptr_t)rc);
    srv = NULL;
}

static inline int setup(void **state)
{
    (void)state;
    rt = eddy_test_new_rt(2);
    eddy_http_server_opts_init(&opts);
    atomic_store(&handled, 0);
    atomic_store(&cancelled_in_handler, 0);
    atomic_store(&gate_open, false);
    return rt == NULL;
}

static inline int teardown(void **state)
{
    (void)state;
    if (srv != NULL)
        stop(0);
    eddy_rt_free(rt);
    rt = NULL;
    return 0;
}

/* ------------------------------------------------- raw sockets, programs */

static inline int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        fail_msg("connect to port %d: %s", port, strerror(errno));
    return fd;
}

static inline void raw_send(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads into buf until the peer closes (*closed), nothing comes for
   idle_ms, or buf holds `until` (NULL: no such stop). NUL-terminates. */
static inline size_t raw_read(int fd, char *buf, size_t cap, int idle_ms, const char *until, bool *closed)
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

static inline int count_substr(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p != NULL; p = strstr(p + 1, sub))
        n++;
    return n;
}

/* Runs argv (found on PATH), its stdout into out; false when it cannot
   start (then the test skips). Fails the test when it does not finish
   within timeout_s or exits non-zero. */
static inline bool run_prog(char *const argv[], char *out, size_t cap, int timeout_s)
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

static inline char *url(const char *path)
{
    static char buf[8][128];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 128, "http://127.0.0.1:%d%s", port, path);
    return b;
}

#endif
