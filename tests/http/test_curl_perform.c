/*
 * tests/http/test_curl_perform.c: eddy_curl_perform is curl_easy_perform
 * inside a task. Differential: each case configures a CURL handle the
 * same way twice, runs it once with curl_easy_perform on a plain thread
 * and once with eddy_curl_perform in a task, and the CURLcode (and the
 * body, when one came) must agree, over 20 ways a transfer succeeds or
 * fails against the local origin. Then: a handle reused, an abort that
 * leaves the handle usable, a callback that spawns a task which makes a
 * request of its own, and many handles at once. Both backends.
 */
/* ctest-labels: concurrency http */
#include <errno.h>
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
static int refused_port;

#define CHECK EDDY_TASK_CHECK
#define url(path) eddy_test_origin_url(&origin, (path), (char[256]){ 0 }, 256)

struct body {
    char data[4096];
    size_t len;
};

static size_t keep_body(char *p, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    size_t len = size * n;
    size_t room = sizeof b->data - 1 - b->len;
    memcpy(b->data + b->len, p, len < room ? len : room);
    b->len += len < room ? len : room;
    b->data[b->len] = '\0';
    return len;
}

static size_t refuse_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)size;
    (void)n;
    (void)ud;
    return 0;
}

static int stop_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)ud;
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return 1;
}

/* One case: how to set up the handle. */
struct kase {
    const char *name;
    void (*setup)(CURL *e, const char *base);
    CURLcode want; /* what curl_easy_perform must say, checked too */
};

#define U(path) do { char u_[256]; snprintf(u_, sizeof u_, "%s%s", base, path); \
                     curl_easy_setopt(e, CURLOPT_URL, u_); } while (0)

static void c_hello(CURL *e, const char *base) { U("/hello"); }
static void c_404(CURL *e, const char *base) { U("/status/404"); }
static void c_failonerror(CURL *e, const char *base)
{
    U("/status/404");
    curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
}
static void c_refused(CURL *e, const char *base)
{
    (void)base;
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", refused_port);
    curl_easy_setopt(e, CURLOPT_URL, u);
}
static void c_reset(CURL *e, const char *base) { U("/reset"); }
static void c_nothing(CURL *e, const char *base) { U("/nothing"); }
static void c_short(CURL *e, const char *base) { U("/short"); }
static void c_timeout(CURL *e, const char *base)
{
    U("/delay?ms=3000");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 200L);
}
static void c_loop(CURL *e, const char *base)
{
    U("/loop");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L);
}
static void c_malformed(CURL *e, const char *base)
{
    (void)base;
    curl_easy_setopt(e, CURLOPT_URL, "http://[::1");
}
static void c_protocol(CURL *e, const char *base)
{
    (void)base;
    curl_easy_setopt(e, CURLOPT_URL, "nosuch://127.0.0.1/");
}
static void c_write_error(CURL *e, const char *base)
{
    U("/hello");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, refuse_body);
}
static void c_header_error(CURL *e, const char *base)
{
    U("/hello");
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, refuse_body);
}
static void c_progress_abort(CURL *e, const char *base)
{
    U("/delay?ms=100");
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, stop_progress);
}
static void c_filesize(CURL *e, const char *base)
{
    U("/bytes?n=100");
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE, 10L);
}
static void c_unresolved(CURL *e, const char *base)
{
    (void)base;
    curl_easy_setopt(e, CURLOPT_URL, "http://nonexistent.invalid/");
}
static void c_gzip(CURL *e, const char *base)
{
    U("/gzip");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
}
static void c_post(CURL *e, const char *base)
{
    U("/echo");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "x=1&y=2");
}
static void c_redirect_kept(CURL *e, const char *base) { U("/redirect/2"); }
static void c_chunked(CURL *e, const char *base) { U("/chunked?n=9"); }
static void c_low_speed(CURL *e, const char *base)
{
    U("/slowbody?ms=3000");
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 1L);
}

static const struct kase cases[] = {
    { "hello", c_hello, CURLE_OK },
    { "404", c_404, CURLE_OK },
    { "fail on error", c_failonerror, CURLE_HTTP_RETURNED_ERROR },
    { "refused", c_refused, CURLE_COULDNT_CONNECT },
    { "reset", c_reset, CURLE_RECV_ERROR },
    { "nothing", c_nothing, CURLE_GOT_NOTHING },
    { "short", c_short, CURLE_PARTIAL_FILE },
    { "timeout", c_timeout, CURLE_OPERATION_TIMEDOUT },
    { "redirect loop", c_loop, CURLE_TOO_MANY_REDIRECTS },
    { "malformed URL", c_malformed, CURLE_URL_MALFORMAT },
    { "unknown protocol", c_protocol, CURLE_UNSUPPORTED_PROTOCOL },
    { "write callback error", c_write_error, CURLE_WRITE_ERROR },
    { "header callback error", c_header_error, CURLE_WRITE_ERROR },
    { "progress callback abort", c_progress_abort, CURLE_ABORTED_BY_CALLBACK },
    { "file size", c_filesize, CURLE_FILESIZE_EXCEEDED },
    { "unknown host", c_unresolved, CURLE_COULDNT_RESOLVE_HOST },
    { "gzip", c_gzip, CURLE_OK },
    { "post", c_post, CURLE_OK },
    { "redirect not followed", c_redirect_kept, CURLE_OK },
    { "chunked", c_chunked, CURLE_OK },
    { "low speed", c_low_speed, CURLE_OPERATION_TIMEDOUT },
};
#define NCASES (sizeof cases / sizeof cases[0])

static CURL *make(const struct kase *k, struct body *b)
{
    CURL *e = curl_easy_init();
    memset(b, 0, sizeof *b);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    k->setup(e, url(""));
    return e;
}

static CURLcode in_task[NCASES];
static struct body in_task_body[NCASES];
static int in_task_rc[NCASES];

static void *run_case(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    CURL *e = make(&cases[i], &in_task_body[i]);
    CURLcode code = (CURLcode)-1;
    in_task_rc[i] = eddy_curl_perform(e, &code);
    in_task[i] = code;
    curl_easy_cleanup(e);
    return NULL;
}

static void *run_all_at_once(void *arg)
{
    (void)arg;
    eddy_task *t[NCASES];
    for (size_t i = 0; i < NCASES; i++)
        CHECK(eddy_spawn(&t[i], run_case, (void *)(uintptr_t)i) == 0);
    for (size_t i = 0; i < NCASES; i++)
        CHECK(eddy_join(t[i], NULL) == 0);
    return NULL;
}

static void every_case_gives_what_curl_easy_perform_gives(void **state)
{
    (void)state;
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, run_all_at_once, NULL, &line)); /* concurrently */
    assert_null(line);
    int bad = 0;
    for (size_t i = 0; i < NCASES; i++) {
        struct body b;
        CURL *e = make(&cases[i], &b);
        CURLcode easy = curl_easy_perform(e);
        curl_easy_cleanup(e);
        bool same_body = easy != CURLE_OK || (b.len == in_task_body[i].len &&
                                             memcmp(b.data, in_task_body[i].data, b.len) == 0);
        int want_rc = in_task[i] == CURLE_OK ? 0 : -EIO;
        if (easy != in_task[i] || easy != cases[i].want || !same_body || in_task_rc[i] != want_rc) {
            fprintf(stderr, "case '%s': curl_easy_perform %d, eddy_curl_perform %d (rc %d), want %d%s\n",
                    cases[i].name, easy, in_task[i], in_task_rc[i], cases[i].want,
                    same_body ? "" : ", bodies differ");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* ---------------------------------------------------------- reuse, abort */

static void *reuse_and_abort(void *arg)
{
    (void)arg;
    struct body b;
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    for (int i = 0; i < 5; i++) {
        memset(&b, 0, sizeof b);
        curl_easy_setopt(e, CURLOPT_URL, i % 2 ? url("/hello") : url("/chunked?n=2"));
        CURLcode code;
        CHECK(eddy_curl_perform(e, &code) == 0 && code == CURLE_OK);
        CHECK(strcmp(b.data, i % 2 ? "hello" : "chunk\nchunk\n") == 0);
    }
    /* cut short by a deadline: out of curl, and the handle works after */
    curl_easy_setopt(e, CURLOPT_URL, url("/delay?ms=2000"));
    CHECK(eddy_deadline_push(50) == 0);
    CURLcode code = CURLE_OK;
    int rc = eddy_curl_perform(e, &code);
    eddy_deadline_pop();
    CHECK(rc == -ETIMEDOUT && code == CURLE_OPERATION_TIMEDOUT);
    memset(&b, 0, sizeof b);
    curl_easy_setopt(e, CURLOPT_URL, url("/hello"));
    CHECK(eddy_curl_perform(e, &code) == 0 && strcmp(b.data, "hello") == 0);
    /* NULL code is fine; NULL handle is not */
    CHECK(eddy_curl_perform(e, NULL) == 0);
    CHECK(eddy_curl_perform(NULL, &code) == -EINVAL);
    curl_easy_cleanup(e);
    return NULL;
}

static void a_handle_is_reusable_also_after_a_deadline(void **state)
{
    (void)state;
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, reuse_and_abort, NULL, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
}

/* ----------------------------- a callback that starts another request */

static atomic_int nested_status;

static void *nested_request(void *arg)
{
    (void)arg;
    CURL *e = curl_easy_init();
    struct body b;
    memset(&b, 0, sizeof b);
    curl_easy_setopt(e, CURLOPT_URL, url("/hello"));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    CURLcode code;
    if (eddy_curl_perform(e, &code) == 0 && strcmp(b.data, "hello") == 0)
        atomic_store(&nested_status, 1);
    else
        atomic_store(&nested_status, -1);
    curl_easy_cleanup(e);
    return NULL;
}

/* A body chunk handler runs on the worker outside any task: it may not
   suspend, but it may start a task, whose request runs after. */
static size_t spawn_from_callback(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    eddy_task **t = ud;
    if (*t == NULL && eddy_spawn(t, nested_request, NULL) != 0)
        return 0;
    return size * n;
}

static void *outer_request(void *arg)
{
    (void)arg;
    eddy_task *inner = NULL;
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url("/bytes?n=50000"));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, spawn_from_callback);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &inner);
    CURLcode code;
    CHECK(eddy_curl_perform(e, &code) == 0 && code == CURLE_OK);
    curl_easy_cleanup(e);
    CHECK(inner != NULL);
    CHECK(eddy_join(inner, NULL) == 0);
    CHECK(atomic_load(&nested_status) == 1);
    return NULL;
}

static void a_body_callback_may_start_a_task_that_makes_a_request(void **state)
{
    (void)state;
    atomic_store(&nested_status, 0);
    void *line = NULL;
    assert_ok(eddy_rt_block_on(rt, outer_request, NULL, &line));
    if (line != NULL)
        fail_msg("check failed in the task at line %d", (int)(intptr_t)line);
    assert_int_equal(eddy__curlm_bad_codes(), 0); /* no recursive curl call */
}

static void on_a_plain_thread_it_is_curl_easy_perform(void **state)
{
    (void)state;
    struct body b;
    CURL *e = make(&cases[0], &b);
    CURLcode code = (CURLcode)-1;
    assert_ok(eddy_curl_perform(e, &code));
    assert_int_equal(code, CURLE_OK);
    assert_string_equal(b.data, "hello");
    curl_easy_cleanup(e);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_case_gives_what_curl_easy_perform_gives),
        cmocka_unit_test(a_handle_is_reusable_also_after_a_deadline),
        cmocka_unit_test(a_body_callback_may_start_a_task_that_makes_a_request),
        cmocka_unit_test(on_a_plain_thread_it_is_curl_easy_perform),
    };
    int rc = eddy_test_origin_start(&origin);
    if (rc == -1)
        return 77; /* no python3 */
    if (rc != 0)
        return 1;
    refused_port = eddy_test_closed_port();
    curl_global_init(CURL_GLOBAL_ALL);
    rt = eddy_test_new_rt(2);
    rc = eddy_test_run(__FILE__, tests, sizeof tests / sizeof tests[0], argc, argv, 300);
    eddy_rt_free(rt);
    eddy_test_origin_stop(&origin);
    curl_global_cleanup();
    return rc;
}
