/*
 * tests/bench/test_fanout.c: the fanout workload (benches/models/fanout.c).
 * The origin runs in child processes (this executable run as origin_main,
 * with pipes for stdin and stdout, as the driver runs it): it answers
 * after the delay asked, 400 to a bad one, and exits 0 at the end of its
 * stdin or on SIGTERM. Every model does all n requests, never
 * faster than the ideal n * d / c and not far from it; the thread pool
 * caps the concurrency; the eddy models count per worker (thread-per-core
 * spreads its tasks); a refused connection is an error per request; the
 * command line is strict and prints one result line.
 */
/* ctest-labels: http concurrency */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "../benches/models/fanout.h"

struct child {
    pid_t pid;
    int in; /* the write end of its stdin */
    int port;
};

static struct child origin = { -1, -1, 0 };

#define AS_ORIGIN "--as-origin" /* argv[1] of this test run as the origin */

/* Starts this test's executable as `eddy-bench origin` (main passes it to
   origin_main), as the driver runs it: pipes for its stdin and stdout, and
   reads its "ready PORT" line. An exec, not a bare fork: jemalloc's fork
   handlers and TSan do not mix, and a fresh image has no threads to lose. */
static int spawn_origin(struct child *ch)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char a0[] = "test_fanout", a1[] = AS_ORIGIN, a2[] = "--workers", a3[] = "1";
    char *args[] = { a0, a1, a2, a3, NULL };
    pid_t pid = -1;
    if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    char buf[64];
    size_t len = 0;
    int64_t end = eddy_test_now_ms() + 20000;
    while (pid > 0 && len + 1 < sizeof buf && memchr(buf, '\n', len) == NULL &&
           eddy_test_now_ms() < end) {
        struct pollfd p = { .fd = out[0], .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(out[0], buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(out[0]);
    ch->pid = pid;
    ch->in = in[1];
    return pid > 0 && sscanf(buf, "ready %d\n", &ch->port) == 1 && ch->port > 0 ? 0 : -1;
}

/* Sends sig, or with sig 0 closes its stdin, and waits up to 20 s for
   its end: its exit status, -1 when it died of a signal or was killed. */
static int reap(struct child *ch, int sig)
{
    if (ch->pid <= 0)
        return -1;
    if (sig != 0)
        kill(ch->pid, sig);
    else if (ch->in >= 0) {
        close(ch->in);
        ch->in = -1;
    }
    int status = -1;
    int64_t end = eddy_test_now_ms() + 20000;
    pid_t w;
    while ((w = waitpid(ch->pid, &status, WNOHANG)) == 0 && eddy_test_now_ms() < end)
        usleep(10000);
    if (w == 0) {
        kill(ch->pid, SIGKILL);
        waitpid(ch->pid, &status, 0);
        status = -1;
    }
    if (ch->in >= 0)
        close(ch->in);
    ch->in = -1;
    ch->pid = -1;
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void url_of(char *url, size_t cap, int port, const char *query)
{
    snprintf(url, cap, "http://127.0.0.1:%d/%s", port, query);
}

static fanout_result *run_model(enum model m, const char *url, unsigned n, unsigned c,
                                unsigned workers, unsigned pool)
{
    fanout_opts o = { .model = m, .url = url, .n = n, .c = c, .workers = workers, .pool = pool };
    fanout_result *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_ok(fanout_run(&o, r));
    return r;
}

struct body {
    char buf[64];
    size_t len;
};

static size_t keep(char *p, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t n = size * nmemb;
    size_t room = sizeof b->buf - 1 - b->len;
    memcpy(b->buf + b->len, p, n < room ? n : room);
    b->len += n < room ? n : room;
    b->buf[b->len] = '\0';
    return n;
}

/* One GET with curl easy: the status, the body in *b, the time in ms. */
static long get(const char *query, struct body *b, int64_t *ms)
{
    char url[128];
    url_of(url, sizeof url, origin.port, query);
    CURL *e = curl_easy_init();
    assert_non_null(e);
    b->len = 0;
    b->buf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    int64_t t0 = eddy_test_now_ms();
    long status = 0;
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    *ms = eddy_test_now_ms() - t0;
    curl_easy_cleanup(e);
    return status;
}

static void origin_answers_after_the_delay_and_400_to_a_bad_one(void **state)
{
    (void)state;
    assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    struct body b;
    int64_t ms;
    assert_int_equal(get("", &b, &ms), 200);
    assert_string_equal(b.buf, "ok\n");
    assert_int_equal(get("?delay=0", &b, &ms), 200);
    assert_int_equal(get("x?a=1&delay=40&b=2", &b, &ms), 200);
    assert_string_equal(b.buf, "ok\n");
    assert_true(ms >= 40);
    static const char *const bad[] = { "?delay=abc", "?delay=", "?delay=-1", "?delay=60001",
                                       "?delay=5x", "?delay=99999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(get(bad[i], &b, &ms), 400);
        assert_string_equal(b.buf, "bad delay\n");
    }
    curl_global_cleanup();
}

static void every_model_does_all_requests_no_faster_than_ideal(void **state)
{
    (void)state;
    const unsigned n = 200, c = 20, d = 5;
    const double ideal = n * (d / 1000.0) / c;
    /* sanitizers slow each request's CPU part many times over */
    const double slack = eddy_test_sanitized() ? 40 : 10;
    char url[128];
    url_of(url, sizeof url, origin.port, "?delay=5");
    for (int m = 0; m < MODEL_COUNT; m++) {
        unsigned workers = m == MODEL_SINGLE_LOOP ? 0 : 2;
        fanout_result *r = run_model((enum model)m, url, n, c, workers, 0);
        print_message("%-16s wall %.3f s (ideal %.3f) p50 %.1f ms threads %u\n", model_name(m),
                      r->wall_s, ideal, hist_percentile(&r->lat, 50) / 1e6, r->threads_peak);
        assert_int_equal(r->requests, n);
        assert_int_equal(r->errors, 0);
        assert_int_equal(r->lat.count, n);
        assert_true(r->wall_s >= ideal);
        assert_true(r->wall_s < slack * ideal);
        assert_true(hist_percentile(&r->lat, 50) >= d * 1000000ull);
        assert_true(r->lat.min >= d * 1000000ull);
        if (!model_is_eddy((enum model)m)) {
            assert_int_equal(r->nworkers, 0);
            assert_true(r->threads_peak >= c + 1); /* c threads, all alive at once */
        } else {
            unsigned w = m == MODEL_SINGLE_LOOP ? 1 : 2;
            assert_int_equal(r->nworkers, w);
            assert_true(r->threads_peak >= w + 1);
            assert_true(r->threads_peak < c); /* no thread per request */
            uint64_t sum = 0;
            for (unsigned k = 0; k < r->nworkers; k++) {
                sum += r->per_worker[k];
                if (m == MODEL_THREAD_PER_CORE)
                    assert_true(r->per_worker[k] > 0); /* the tasks were spread */
            }
            assert_int_equal(sum, r->requests);
        }
        free(r);
    }
}

static void thread_pool_caps_the_concurrency(void **state)
{
    (void)state;
    char url[128];
    url_of(url, sizeof url, origin.port, "?delay=20");
    fanout_result *r = run_model(MODEL_THREAD_POOL, url, 40, 20, 0, 4);
    assert_int_equal(r->requests, 40);
    assert_int_equal(r->errors, 0);
    assert_true(r->wall_s >= 40 * 0.020 / 4); /* 4 at a time, not 20 */
    assert_true(r->threads_peak < 20);
    free(r);
}

static void a_refused_connection_is_an_error_per_request(void **state)
{
    (void)state;
    /* a port bound but not listening: connects are refused, and nothing
       else can take the port meanwhile */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    char url[128];
    url_of(url, sizeof url, ntohs(a.sin_port), "?delay=5");
    for (int m = 0; m < MODEL_COUNT; m++) {
        fanout_result *r = run_model((enum model)m, url, 10, 3, 2, 0);
        assert_int_equal(r->requests, 0);
        assert_int_equal(r->errors, 10);
        assert_int_equal(r->lat.count, 0);
        free(r);
    }
    close(fd);
}

static void fanout_run_refuses_bad_options(void **state)
{
    (void)state;
    fanout_result *r = malloc(sizeof *r);
    assert_non_null(r);
    const char *url = "http://127.0.0.1:1/";
    fanout_opts ok = { .model = MODEL_THREADS, .url = url, .n = 1, .c = 1 };
    fanout_opts o = ok;
    o.n = 0;
    assert_err(fanout_run(&o, r), -EINVAL);
    o = ok;
    o.c = 0;
    assert_err(fanout_run(&o, r), -EINVAL);
    o = ok;
    o.url = NULL;
    assert_err(fanout_run(&o, r), -EINVAL);
    o = ok;
    o.model = MODEL_COUNT;
    assert_err(fanout_run(&o, r), -EINVAL);
    o = ok;
    o.model = MODEL_MULTI_REACTOR;
    o.workers = 65; /* more than per_worker holds */
    assert_err(fanout_run(&o, r), -EINVAL);
    assert_err(fanout_run(NULL, r), -EINVAL);
    assert_err(fanout_run(&ok, NULL), -EINVAL);
    free(r);
}

/* fanout_main's exit status, its stdout in out. */
static int fanout_cmd(char *out, size_t cap, int argc, const char *const *argv)
{
    char *args[16];
    char store[16][128];
    for (int i = 0; i < argc; i++) {
        snprintf(store[i], sizeof store[i], "%s", argv[i]);
        args[i] = store[i];
    }
    args[argc] = NULL;
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stdout);
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    int rc = fanout_main(argc, args);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    size_t len = fread(out, 1, cap - 1, tmp);
    out[len] = '\0';
    fclose(tmp);
    return rc;
}

static void fanout_main_is_strict_and_prints_one_result_line(void **state)
{
    (void)state;
    char url[128], out[512];
    url_of(url, sizeof url, origin.port, "?delay=2");
#define CMD(...)                                                                        \
    fanout_cmd(out, sizeof out,                                                         \
               (int)(sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)), \
               (const char *const[]){ __VA_ARGS__ })
    assert_int_equal(CMD("fanout", "--model", "fibers", "--url", url, "--n", "1", "--c", "1"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "0", "--c", "1"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "1", "--c", "abc"),
                     2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--n", "1", "--c", "1"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "1", "--c", "1",
                         "--bogus", "1"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "1", "--c",
                         "100001"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "10000001", "--c",
                         "1"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "-1", "--c", "1"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", "ftp://x/", "--n", "1", "--c",
                         "1"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "1", "--c", "1",
                         "extra"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "1", "--c"), 2);
    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "1", "--c", "1",
                         "--workers", "65"), 2);
    assert_string_equal(out, "");

    unsigned long long req, err;
    double wall, p50, p90, p99, p999;
    unsigned thr;
    char share[128];
    assert_int_equal(CMD("fanout", "--model", "thread-per-core", "--url", url, "--n", "20", "--c",
                         "4", "--workers", "2"), 0);
    assert_int_equal(sscanf(out, "result requests=%llu errors=%llu wall_s=%lf p50_ms=%lf "
                                 "p90_ms=%lf p99_ms=%lf p999_ms=%lf threads=%u share=%127s",
                            &req, &err, &wall, &p50, &p90, &p99, &p999, &thr, share), 9);
    assert_int_equal(req, 20);
    assert_int_equal(err, 0);
    assert_true(p50 >= 2 && p90 >= p50 && p99 >= p90 && p999 >= p99);
    double s0, s1;
    assert_int_equal(sscanf(share, "%lf,%lf", &s0, &s1), 2);
    assert_true(s0 > 0 && s1 > 0 && s0 + s1 > 0.998 && s0 + s1 < 1.002);
    assert_non_null(strchr(out, '\n'));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* exactly one line */

    assert_int_equal(CMD("fanout", "--model", "threads", "--url", url, "--n", "5", "--c", "2"), 0);
    assert_non_null(strstr(out, "requests=5 errors=0 "));
    assert_non_null(strstr(out, " share=- rss_kb="));
    long kb = 0;
    assert_int_equal(sscanf(strstr(out, " rss_kb="), " rss_kb=%ld", &kb), 1);
    assert_true(kb > 1000); /* its peak RSS: more than a megabyte, surely */
#undef CMD
}

static void origin_main_refuses_bad_options(void **state)
{
    (void)state;
    char a0[] = "origin", p[] = "--port", bad[] = "70000", w[] = "--workers", x[] = "x",
         u[] = "--what";
    char *a1[] = { a0, p, bad, NULL };
    char *a2[] = { a0, w, x, NULL };
    char *a3[] = { a0, u, NULL };
    char *a4[] = { a0, x, NULL };
    assert_int_equal(origin_main(3, a1), 2);
    assert_int_equal(origin_main(3, a2), 2);
    assert_int_equal(origin_main(2, a3), 2);
    assert_int_equal(origin_main(2, a4), 2);
}

static void origin_exits_0_on_sigterm(void **state)
{
    (void)state;
    struct child term = { -1, -1, 0 };
    int rc = spawn_origin(&term);
    if (rc < 0)
        reap(&term, SIGKILL);
    assert_int_equal(rc, 0);
    assert_int_equal(reap(&term, SIGTERM), 0); /* its stdin still open */
}

static void origin_exits_0_at_the_end_of_its_stdin(void **state)
{
    (void)state;
    assert_true(origin.pid > 0);
    assert_int_equal(reap(&origin, 0), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(origin_answers_after_the_delay_and_400_to_a_bad_one),
    cmocka_unit_test(every_model_does_all_requests_no_faster_than_ideal),
    cmocka_unit_test(thread_pool_caps_the_concurrency),
    cmocka_unit_test(a_refused_connection_is_an_error_per_request),
    cmocka_unit_test(fanout_run_refuses_bad_options),
    cmocka_unit_test(fanout_main_is_strict_and_prints_one_result_line),
    cmocka_unit_test(origin_main_refuses_bad_options),
    cmocka_unit_test(origin_exits_0_on_sigterm),
    cmocka_unit_test(origin_exits_0_at_the_end_of_its_stdin), /* last: the others use it */
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], AS_ORIGIN) == 0) {
        static char name[] = "origin";
        argv[1] = name;
        return origin_main(argc - 1, argv + 1);
    }
    if (spawn_origin(&origin) < 0) {
        fprintf(stderr, "test_fanout: the origin did not start\n");
        reap(&origin, SIGKILL);
        return 1;
    }
    int rc = eddy_test_run(__FILE__, tests, sizeof tests / sizeof tests[0], argc, argv, 60);
    reap(&origin, 0); /* when a filter skipped the test that ends it */
    return rc;
}
