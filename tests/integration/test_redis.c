/*
 * tests/integration/test_redis.c: the hiredis adapter (tools/redis/redis_eddy.c)
 * against a real redis-server, which each test starts on a free loopback
 * port and kills afterwards: many tasks on two workers sharing a
 * connection, exact INCR counts over two connections, a server killed or
 * stopped under pending commands, a refused connect, close with commands
 * pending, no descriptor or connection left behind, and no SIGPIPE when
 * the peer closes under writes. Skipped (exit 77)
 * where redis-server is not installed.
 */
/* ctest-labels: integration concurrency */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#include "helpers.h"
#include "redis_server.h"
#include "tools/redis/redis_eddy.h"

/* ---------------------------------------------------------------- helpers */

#define CHECK EDDY_TASK_CHECK

struct bounded {
    eddy_fn fn;
    void *arg;
};

/* Runs a test's task under a deadline: a command that never gets its reply
   fails (-ETIMEDOUT) at its CHECK, naming the line, instead of hanging. */
static void *bounded_task(void *p)
{
    struct bounded *b = p;
    CHECK(eddy_deadline_push(eddy_test_sanitized() ? 240000 : 60000) == 0);
    return b->fn(b->arg);
}

static void run_task(eddy_rt *rt, eddy_fn fn, void *arg)
{
    void *line = NULL;
    struct bounded b = { fn, arg };
    assert_ok(eddy_rt_block_on(rt, bounded_task, &b, &line));
    if (line != NULL)
        fail_msg("check failed in a task at line %d", (int)(intptr_t)line);
}

/* Runs one command; 1 when its reply is a string/status equal to want. */
static int command_is(redis_eddy *c, const char *want, const char *fmt, const char *arg)
{
    redisReply *r;
    if (redis_eddy_command(c, &r, fmt, arg) < 0)
        return 0;
    int ok = (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
             strcmp(r->str, want) == 0;
    freeReplyObject(r);
    return ok;
}

/* Set when join_all gave up on a task: it may still use its connection,
   which must then not be closed (a command after close is a use after
   free); the runtime's shutdown ends it. */
static bool join_gave_up;

/* Joins n handles, all within timeout_ms; the first failing line, or 0. */
static intptr_t join_all(eddy_task **h, int n, int64_t timeout_ms)
{
    intptr_t first = 0;
    int64_t until = eddy_test_now_ms() + timeout_ms;
    for (int i = 0; i < n; i++) {
        void *res = NULL;
        int64_t left = until - eddy_test_now_ms();
        int rc = eddy_join_timeout(h[i], &res, left > 0 ? left : 0);
        if (rc < 0) {
            eddy_abort(h[i]);
            eddy_detach(h[i]);
            join_gave_up = true;
            res = (void *)(intptr_t)__LINE__;
        }
        if (first == 0 && res != NULL)
            first = (intptr_t)res;
    }
    return first;
}

static redis_eddy *conns[2];

/* ------------------------------------------------ 1,000 tasks, 2 workers */

enum { SETGET_TASKS = 1000 };

static void *set_get_task(void *arg)
{
    int i = (int)(intptr_t)arg;
    char key[32], val[32];
    snprintf(key, sizeof key, "key_%d", i);
    snprintf(val, sizeof val, "val_%d", i);
    redisReply *r;
    CHECK(redis_eddy_command(conns[0], &r, "SET %s %s", key, val) == 0);
    int ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
    freeReplyObject(r);
    CHECK(ok);
    eddy_yield(); /* let the others interleave */
    CHECK(redis_eddy_command(conns[0], &r, "GET %s", key) == 0);
    ok = r->type == REDIS_REPLY_STRING && r->len == strlen(val) && strcmp(r->str, val) == 0;
    freeReplyObject(r);
    CHECK(ok);
    return NULL;
}

static void *set_get_root(void *arg)
{
    (void)arg;
    CHECK(redis_eddy_connect(&conns[0], "127.0.0.1", srv.port, 5000) == 0);
    eddy_task **h = calloc(SETGET_TASKS, sizeof *h);
    CHECK(h != NULL);
    eddy_spawn_opts o;
    eddy_spawn_opts_init(&o);
    int n = 0;
    for (; n < SETGET_TASKS; n++) {
        o.worker = n % 2; /* start half on each worker */
        if (eddy_spawn_ex(&h[n], set_get_task, (void *)(intptr_t)n, &o) < 0)
            break;
    }
    intptr_t bad = join_all(h, n, 60000);
    free(h);
    if (!join_gave_up)
        redis_eddy_close(conns[0]);
    CHECK(n == SETGET_TASKS);
    return (void *)bad;
}

static void a_thousand_tasks_set_and_get_through_one_connection(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    run_task(rt, set_get_root, NULL);
    eddy_rt_free(rt);
}

/* ------------------------------------------------------ INCR counts exact */

enum { INCR_TASKS = 400, INCR_EACH = 5, INCR_TOTAL = INCR_TASKS * INCR_EACH };
static atomic_int incr_seen[INCR_TOTAL + 1];

static void *incr_task(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int k = 0; k < INCR_EACH; k++) {
        redisReply *r;
        CHECK(redis_eddy_command(conns[(i + k) % 2], &r, "INCR counter") == 0);
        long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        freeReplyObject(r);
        CHECK(v >= 1 && v <= INCR_TOTAL);
        CHECK(atomic_fetch_add(&incr_seen[v], 1) == 0); /* each value once */
    }
    return NULL;
}

static void *incr_root(void *arg)
{
    (void)arg;
    CHECK(redis_eddy_connect(&conns[0], "127.0.0.1", srv.port, 5000) == 0);
    CHECK(redis_eddy_connect(&conns[1], "127.0.0.1", srv.port, 5000) == 0);
    eddy_task *h[INCR_TASKS];
    int n = 0;
    while (n < INCR_TASKS && eddy_spawn(&h[n], incr_task, (void *)(intptr_t)n) == 0)
        n++;
    intptr_t bad = join_all(h, n, 60000);
    CHECK(n == INCR_TASKS && !join_gave_up);
    char want[16];
    snprintf(want, sizeof want, "%d", INCR_TOTAL);
    CHECK(command_is(conns[1], want, "GET %s", "counter"));
    redis_eddy_close(conns[0]);
    redis_eddy_close(conns[1]);
    return (void *)bad;
}

static void incr_from_many_tasks_counts_exactly(void **state)
{
    (void)state;
    for (int i = 0; i <= INCR_TOTAL; i++)
        atomic_store(&incr_seen[i], 0);
    eddy_rt *rt = eddy_test_new_rt(2);
    run_task(rt, incr_root, NULL);
    eddy_rt_free(rt);
    for (int i = 1; i <= INCR_TOTAL; i++)
        assert_int_equal(atomic_load(&incr_seen[i]), 1);
}

/* ------------------------------------------------------- server killed */

/* A command the server holds (BLPOP on a list nobody fills); returns the
   command's result code as the task's result (0 is not expected). */
static void *blpop_task(void *arg)
{
    redis_eddy *c = arg;
    redisReply *r;
    int rc = redis_eddy_command(c, &r, "BLPOP %s 0", "never_filled");
    if (rc == 0) {
        freeReplyObject(r);
        return (void *)(intptr_t)1; /* a reply: wrong */
    }
    return (void *)(intptr_t)rc;
}

static void *pending_ping_task(void *arg)
{
    redisReply *r;
    int rc = redis_eddy_command(arg, &r, "PING");
    if (rc == 0) {
        freeReplyObject(r);
        return (void *)(intptr_t)1;
    }
    return (void *)(intptr_t)rc;
}

/* Waits (at most 5 s) until the server reports want blocked clients. */
static int wait_blocked(redis_eddy *probe, int want)
{
    char line[32];
    snprintf(line, sizeof line, "blocked_clients:%d", want);
    for (int i = 0; i < 500; i++) {
        redisReply *r;
        if (redis_eddy_command(probe, &r, "INFO clients") < 0)
            return 0;
        int ok = r->type == REDIS_REPLY_STRING && strstr(r->str, line) != NULL;
        freeReplyObject(r);
        if (ok)
            return 1;
        eddy_sleep_ms(10);
    }
    return 0;
}

static void *killed_root(void *arg)
{
    (void)arg;
    redis_eddy *c, *probe;
    CHECK(redis_eddy_connect(&c, "127.0.0.1", srv.port, 5000) == 0);
    CHECK(redis_eddy_connect(&probe, "127.0.0.1", srv.port, 5000) == 0);
    eddy_task *blpop, *ping;
    CHECK(eddy_spawn(&blpop, blpop_task, c) == 0);
    CHECK(wait_blocked(probe, 1));
    CHECK(eddy_spawn(&ping, pending_ping_task, c) == 0); /* queued behind it */
    eddy_sleep_ms(20);

    uint64_t t0 = eddy_now_ns();
    CHECK(kill(srv.pid, SIGKILL) == 0);
    void *r1 = NULL, *r2 = NULL;
    CHECK(eddy_join_timeout(blpop, &r1, 5000) == 0);
    CHECK(eddy_join_timeout(ping, &r2, 5000) == 0);
    CHECK((intptr_t)r1 == -ECONNRESET);
    CHECK((intptr_t)r2 == -ECONNRESET);
    CHECK(eddy_now_ns() - t0 < 5000000000ull);

    /* the connection stays down: later commands fail at once */
    redisReply *r;
    CHECK(redis_eddy_command(c, &r, "PING") == -ECONNRESET);
    CHECK(r == NULL);
    /* the idle connection learns it too, at its next command */
    int rc = redis_eddy_command(probe, &r, "PING");
    CHECK(rc == -ECONNRESET || rc == -EPIPE);
    redis_eddy_close(c);
    redis_eddy_close(probe);
    return NULL;
}

static void a_killed_server_fails_pending_commands(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int before = eddy_test_count_fds();
    run_task(rt, killed_root, NULL);
    assert_int_equal(eddy_test_count_fds(), before);
    eddy_rt_free(rt);
}

/* ------------------------------------------- stopped server, deadlines */

static void *stopped_root(void *arg)
{
    (void)arg;
    redis_eddy *c;
    CHECK(redis_eddy_connect(&c, "127.0.0.1", srv.port, 5000) == 0);
    CHECK(command_is(c, "OK", "SET k %s", "v1"));
    CHECK(kill(srv.pid, SIGSTOP) == 0);

    redisReply *r = NULL;
    CHECK(eddy_deadline_push(200) == 0);
    int rc = redis_eddy_command(c, &r, "GET %s", "k");
    eddy_deadline_pop();
    CHECK(kill(srv.pid, SIGCONT) == 0);
    CHECK(rc == -ETIMEDOUT);
    CHECK(r == NULL);
    /* the late reply ("v1") is dropped; the next ones match their commands */
    CHECK(command_is(c, "OK", "SET k %s", "v2"));
    CHECK(command_is(c, "v2", "GET %s", "k"));
    redis_eddy_close(c);
    return NULL;
}

static void a_deadline_bounds_a_command_to_a_stopped_server(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    run_task(rt, stopped_root, NULL);
    eddy_rt_free(rt);
}

/* ---------------------------------------------------- refused connect */

static void *refused_root(void *arg)
{
    (void)arg;
    int port = eddy_test_free_port();
    CHECK(port > 0);
    redis_eddy *c = (redis_eddy *)&c;
    CHECK(redis_eddy_connect(&c, "127.0.0.1", port, 5000) == -ECONNREFUSED);
    CHECK(c == NULL);
    /* a name, resolved on the blocking pool */
    CHECK(redis_eddy_connect(&c, "localhost", port, 5000) == -ECONNREFUSED);
    CHECK(c == NULL);
    return NULL;
}

static void connecting_to_a_closed_port_fails(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int before = eddy_test_count_fds();
    run_task(rt, refused_root, NULL);
    assert_int_equal(eddy_test_count_fds(), before);
    eddy_rt_free(rt);
    /* outside a task */
    redis_eddy *c;
    assert_err(redis_eddy_connect(&c, "127.0.0.1", 1, 100), -EPERM);
    assert_err(redis_eddy_connect(&c, "127.0.0.1", 1, -1), -EPERM);
}

/* ------------------------------------- close, leaks, bad use */

/* connected_clients as the server counts them, or -1. */
static long connected_clients(redis_eddy *c)
{
    redisReply *r;
    if (redis_eddy_command(c, &r, "INFO clients") < 0)
        return -1;
    long n = -1;
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, "connected_clients:") : NULL;
    if (p != NULL)
        n = strtol(p + strlen("connected_clients:"), NULL, 10);
    freeReplyObject(r);
    return n;
}

static void *close_root(void *arg)
{
    (void)arg;
    /* connect and close, over and over */
    for (int i = 0; i < 50; i++) {
        redis_eddy *c;
        CHECK(redis_eddy_connect(&c, i % 2 ? "localhost" : "127.0.0.1", srv.port, 5000) == 0);
        CHECK(command_is(c, "PONG", "PING", NULL));
        redis_eddy_close(c);
    }

    /* close with a command pending: it fails, close waits for it */
    redis_eddy *c, *probe;
    CHECK(redis_eddy_connect(&c, "127.0.0.1", srv.port, 5000) == 0);
    CHECK(redis_eddy_connect(&probe, "127.0.0.1", srv.port, 5000) == 0);
    eddy_task *blpop;
    CHECK(eddy_spawn(&blpop, blpop_task, c) == 0);
    CHECK(wait_blocked(probe, 1));
    redis_eddy_close(c);
    void *res = NULL;
    CHECK(eddy_join_timeout(blpop, &res, 5000) == 0);
    CHECK((intptr_t)res == -ECONNABORTED);

    /* the server saw every connection end: only the probe is left */
    long n = -1;
    for (int i = 0; i < 500 && (n = connected_clients(probe)) != 1; i++)
        eddy_sleep_ms(10);
    CHECK(n == 1);

    /* bad use */
    redisReply *r = (redisReply *)&r;
    CHECK(redis_eddy_command(probe, &r, "SUBSCRIBE %s", "ch") == -ENOTSUP);
    CHECK(r == NULL);
    CHECK(redis_eddy_command(probe, &r, "monitor") == -ENOTSUP);
    CHECK(redis_eddy_command(probe, &r, "") == -EINVAL);
    CHECK(redis_eddy_command(probe, NULL, "PING") == -EINVAL);
    CHECK(redis_eddy_command(NULL, &r, "PING") == -EINVAL);
    /* an error reply is a reply */
    CHECK(command_is(probe, "OK", "SET %s x", "str"));
    CHECK(redis_eddy_command(probe, &r, "LPUSH %s x", "str") == 0);
    int wrongtype = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "WRONGTYPE", 9) == 0;
    freeReplyObject(r);
    CHECK(wrongtype);
    /* binary values and nested replies come back whole */
    static const char bin[] = { 'a', 0, 'b', '\r', '\n', 'c' };
    CHECK(redis_eddy_command(probe, &r, "RPUSH list %b %s", bin, sizeof bin, "two") == 0);
    freeReplyObject(r);
    CHECK(redis_eddy_command(probe, &r, "LRANGE list 0 -1") == 0);
    int whole = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                r->element[0]->len == sizeof bin &&
                memcmp(r->element[0]->str, bin, sizeof bin) == 0 &&
                strcmp(r->element[1]->str, "two") == 0;
    freeReplyObject(r);
    CHECK(whole);
    CHECK(redis_eddy_command(probe, &r, "GET %s", "missing") == 0);
    int nil = r->type == REDIS_REPLY_NIL;
    freeReplyObject(r);
    CHECK(nil);
    redis_eddy_close(probe);
    redis_eddy_close(NULL);
    return NULL;
}

static void close_fails_pending_commands_and_leaks_nothing(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int before = eddy_test_count_fds();
    run_task(rt, close_root, NULL);
    assert_int_equal(eddy_test_count_fds(), before);
    eddy_rt_free(rt);
}

/* ------------------------------------------ a peer closing under writes */

/* A command that can only fail: the peer below never answers. */
static void *lone_command_task(void *arg)
{
    redisReply *r;
    int rc = redis_eddy_command(arg, &r, "SET %s %s", "k", "v");
    if (rc == 0) {
        freeReplyObject(r);
        return (void *)(intptr_t)1;
    }
    return (void *)(intptr_t)rc;
}

/* hiredis writes with write(2): on a connection the peer has closed, that
   raises SIGPIPE, which would kill this process (it does not ignore
   SIGPIPE). A fake server accepts each connection and closes it while
   tasks queue commands on it, so that hiredis writes after the close. Its
   sockets are plain ones that eddy never waits on, closed with close(2):
   the peer sees the close at once. */
static void *sigpipe_root(void *arg)
{
    (void)arg;
    static char buf[65536]; /* not on the task's stack */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 16) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    for (int round = 0; round < 300; round++) {
        redis_eddy *c;
        CHECK(redis_eddy_connect(&c, "127.0.0.1", ntohs(a.sin_port), 5000) == 0);
        eddy_task *h[8];
        for (int i = 0; i < 8; i++)
            CHECK(eddy_spawn(&h[i], lone_command_task, c) == 0);
        eddy_yield();
        int s = -1;
        for (int i = 0; i < 5000 && s < 0; i++) /* connected: it is queued */
            if ((s = accept(lfd, NULL, NULL)) < 0)
                eddy_sleep_ms(1);
        CHECK(s >= 0);
        (void)recv(s, buf, sizeof buf, MSG_DONTWAIT); /* fewer RSTs: FINs */
        close(s);
        for (int i = 0; i < 8; i++) {
            void *res = NULL;
            CHECK(eddy_join_timeout(h[i], &res, 5000) == 0);
            CHECK((intptr_t)res == -ECONNRESET || (intptr_t)res == -EPIPE);
        }
        redis_eddy_close(c);
    }
    close(lfd);
    return NULL;
}

static void a_peer_closing_under_writes_raises_no_sigpipe(void **state)
{
    (void)state;
    eddy_rt *rt = eddy_test_new_rt(2);
    int before = eddy_test_count_fds();
    run_task(rt, sigpipe_root, NULL);
    assert_int_equal(eddy_test_count_fds(), before);
    eddy_rt_free(rt);
}

static const struct CMUnitTest tests[] = {
    EDDY_TEST_WITH_REDIS(a_thousand_tasks_set_and_get_through_one_connection),
    EDDY_TEST_WITH_REDIS(incr_from_many_tasks_counts_exactly),
    EDDY_TEST_WITH_REDIS(a_killed_server_fails_pending_commands),
    EDDY_TEST_WITH_REDIS(a_deadline_bounds_a_command_to_a_stopped_server),
    cmocka_unit_test(connecting_to_a_closed_port_fails),
    EDDY_TEST_WITH_REDIS(close_fails_pending_commands_and_leaks_nothing),
    cmocka_unit_test(a_peer_closing_under_writes_raises_no_sigpipe),
};

EDDY_TEST_REDIS_MAIN(tests, 120)
