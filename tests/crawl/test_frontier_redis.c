/*
 * tests/crawl/test_frontier_redis.c: the frontier shared through Redis
 * (tools/crawl/frontier_redis.c) against a real redis-server started on a
 * free loopback port for each test. Two frontier objects on one crawl id
 * stand for two processes; fetcher tasks of both call next/done at once:
 * every URL handed out once, the crawl ending for both; one fetch at a
 * time per host with starts spaced by the delay; a lease never done comes
 * back after lease_ms (and the late done changes nothing); the page budget
 * across both; robots.txt first and once, the host's pages held until its
 * rules are set, and the rules shared; a redirect hop's chain; a process
 * with other options refused. Skipped (exit 77) where
 * redis-server is not installed.
 */
/* ctest-labels: integration concurrency crawl */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#include "frontier.h"
#include "helpers.h"
#include "redis_server.h"
#include "redis_eddy.h"
#include "robots.h"

/* ------------------------------------------------ the server (test_redis.c) */

#define CHECK EDDY_TASK_CHECK

struct run;
/* Handles e from f (must done or retry it); 0, or a failing line. */
typedef int (*handler_fn)(struct run *r, struct frontier *f, struct entry *e);

struct run {
    struct frontier_opts o;
    int64_t lease_ms;
    struct frontier *f[2];    /* two "processes" on one crawl id */
    handler_fn handle;
    _Atomic int bad;          /* the first failing line */
    pthread_mutex_t lock;
    char *urls[512];          /* handed out (not robots.txt), in order */
    int64_t at[512];          /* when (ms) */
    int times[512];           /* how many times */
    int n, handouts;
    _Atomic int active, robots_handed, robots_set, flag;
    int64_t lease_started;
};

#define HCHECK(c)                                            \
    do {                                                     \
        if (!(c)) {                                          \
            int zero_ = 0;                                   \
            atomic_compare_exchange_strong(&r->bad, &zero_, __LINE__); \
        }                                                    \
    } while (0)

/* A frontier on crawl_id of the test's Redis, database 3. */
static struct frontier *open_frontier(const struct frontier_opts *o, const char *crawl_id,
                                      int64_t lease_ms, int *err)
{
    struct frontier_redis_opts ro = {
        .host = "127.0.0.1", .port = srv.port, .db = 3, .crawl_id = crawl_id,
        .lease_ms = lease_ms, .retry_ms = 1000,
    };
    char why[256];
    return frontier_redis_new(o, &ro, why, sizeof why, err);
}

/* Counts url as handed out; returns how many times it was. */
static int record(struct run *r, const char *url)
{
    pthread_mutex_lock(&r->lock);
    int i = 0;
    while (i < r->n && strcmp(r->urls[i], url) != 0)
        i++;
    if (i == r->n && r->n < 512) {
        r->urls[r->n] = strdup(url);
        r->at[r->n] = eddy_test_now_ms();
        r->n++;
    }
    int t = i < 512 ? ++r->times[i] : 0;
    r->handouts++;
    pthread_mutex_unlock(&r->lock);
    return t;
}

struct fetcher {
    struct run *r;
    int which;
};

static void *fetcher_task(void *p)
{
    struct fetcher *ft = p;
    struct run *r = ft->r;
    struct frontier *f = r->f[ft->which];
    struct entry *e;
    while ((e = f->ops->next(f)) != NULL) {
        int line = r->handle(r, f, e);
        if (line != 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&r->bad, &zero, line);
        }
    }
    return NULL;
}

/* Runs per fetchers on each frontier until both say the crawl is over
   (within 30 s); 0 or a failing line. */
static int run_fetchers(struct run *r, int per)
{
    enum { MAX = 16 };
    eddy_task *h[2 * MAX];
    struct fetcher ft[2 * MAX];
    int n = 0;
    for (int i = 0; i < 2 * per && i < 2 * MAX; i++) {
        ft[i] = (struct fetcher){ r, i % 2 };
        if (eddy_spawn(&h[i], fetcher_task, &ft[i]) < 0)
            return __LINE__;
        n++;
    }
    int64_t until = eddy_test_now_ms() + 30000;
    int line = 0;
    for (int i = 0; i < n; i++) {
        int64_t left = until - eddy_test_now_ms();
        if (eddy_join_timeout(h[i], NULL, left > 0 ? left : 0) < 0) {
            r->f[0]->ops->drain(r->f[0]); /* stop the others, then wait for them */
            r->f[1]->ops->drain(r->f[1]);
            (void)eddy_join_timeout(h[i], NULL, 5000);
            line = line ? line : __LINE__;
        }
    }
    return line ? line : atomic_load(&r->bad);
}

static void *open_both(struct run *r)
{
    for (int i = 0; i < 2; i++) {
        int err = 0;
        r->f[i] = open_frontier(&r->o, "test", r->lease_ms, &err);
        CHECK(r->f[i] != NULL);
    }
    return NULL;
}

static void close_both(struct run *r)
{
    for (int i = 0; i < 2; i++)
        if (r->f[i] != NULL)
            r->f[i]->ops->free(r->f[i]);
    for (int i = 0; i < r->n; i++)
        free(r->urls[i]);
}

static void *bounded_root(void *p);

static void run_crawl(eddy_fn fn, struct run *r)
{
    eddy_rt *rt = eddy_test_new_rt(2);
    pthread_mutex_init(&r->lock, NULL);
    void *res = NULL;
    struct { eddy_fn fn; struct run *r; } b = { fn, r };
    assert_ok(eddy_rt_block_on(rt, bounded_root, &b, &res));
    eddy_rt_free(rt);
    pthread_mutex_destroy(&r->lock);
    if (res != NULL)
        fail_msg("check failed in a task at line %d", (int)(intptr_t)res);
}

static void *bounded_root(void *p)
{
    struct { eddy_fn fn; struct run *r; } *b = p;
    CHECK(eddy_deadline_push(eddy_test_sanitized() ? 240000 : 60000) == 0);
    void *res = open_both(b->r);
    if (res == NULL)
        res = b->fn(b->r);
    close_both(b->r);
    return res;
}

static struct frontier_opts opts(int per_host, int64_t delay_ms, long max_pages, bool robots)
{
    return (struct frontier_opts){ .per_host = per_host, .delay_ms = delay_ms,
                                   .max_pages = max_pages, .robots = robots,
                                   .max_crawl_delay_ms = 10000, .log_fd = -1 };
}

/* --------------------------------------------- (a) every URL exactly once */

/* Every distinct URL offered to add or add_links (not the seeds). */
static struct {
    pthread_mutex_t lock;
    char *urls[512];
    int n;
} offered = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void offer(const char *u)
{
    pthread_mutex_lock(&offered.lock);
    bool dup = false;
    for (int i = 0; i < offered.n && !dup; i++)
        dup = strcmp(offered.urls[i], u) == 0;
    if (!dup && offered.n < 512)
        offered.urls[offered.n++] = strdup(u);
    pthread_mutex_unlock(&offered.lock);
}

/* A page links to 8 pages over 3 hosts, many found by several pages; half
   the pages queue them one by one (add), half at once (add_links: through
   the outbox and its flusher). */
static int crawl_links(struct run *r, struct frontier *f, struct entry *e)
{
    HCHECK(record(r, e->url) == 1);
    if (e->depth < 3) {
        unsigned h = 0;
        for (const char *s = e->url; *s; s++)
            h = h * 31 + (unsigned char)*s;
        char u[8][128], *links[8];
        for (int j = 0; j < 8; j++) {
            snprintf(u[j], sizeof u[j], "http://h%d.test/p%u", j % 3, (h + (unsigned)j * 7) % 40);
            links[j] = u[j];
            offer(u[j]);
        }
        if (h % 2 == 0) {
            for (int j = 0; j < 8; j++) {
                int rc = f->ops->add(f, u[j], e->depth + 1, e->url);
                HCHECK(rc == 0 || rc == 1);
            }
        } else {
            HCHECK(f->ops->add_links(f, links, 8, e->depth + 1, e->url) >= 0);
        }
    }
    eddy_yield();
    f->ops->done(f, e);
    return 0;
}

static void *once_root(void *p)
{
    struct run *r = p;
    for (int i = 0; i < 3; i++) {
        char u[64];
        snprintf(u, sizeof u, "http://h%d.test/", i);
        CHECK(r->f[i % 2]->ops->add(r->f[i % 2], u, 0, NULL) == 1);
        CHECK(r->f[(i + 1) % 2]->ops->add(r->f[(i + 1) % 2], u, 0, NULL) == 0); /* seen */
    }
    r->handle = crawl_links;
    int line = run_fetchers(r, 6);
    CHECK(line == 0 || (fprintf(stderr, "line %d\n", line), 0));
    int seeds_offered = 0; /* a seed may be a link too: counted once */
    for (int i = 0; i < offered.n; i++)
        seeds_offered += strncmp(offered.urls[i], "http://h", 8) == 0 &&
                         strchr(offered.urls[i] + 7, '/')[1] == '\0';
    CHECK(r->n == 3 + offered.n - seeds_offered); /* every URL offered, handed out */
    CHECK(r->handouts == r->n); /* none twice */
    CHECK(r->n > 50);
    long q, fl, ha;
    r->f[0]->ops->stats(r->f[0], &q, &fl, &ha);
    CHECK(q == 0 && fl == 0 && ha == 0);
    CHECK(r->f[1]->ops->next(r->f[1]) == NULL); /* over, at once */
    return NULL;
}

static void every_url_is_handed_out_once_across_two_processes(void **state)
{
    (void)state;
    struct run r = { .o = opts(4, 0, 0, false), .lease_ms = 30000 };
    run_crawl(once_root, &r);
}

/* -------------------------------------- (b) one at a time, spaced starts */

static int polite(struct run *r, struct frontier *f, struct entry *e)
{
    HCHECK(atomic_fetch_add(&r->active, 1) == 0);
    record(r, e->url);
    /* a long fetch tests the slot, a short one the delay */
    eddy_sleep_ms(e->url[strlen(e->url) - 1] % 2 ? 5 : 150);
    atomic_fetch_sub(&r->active, 1);
    f->ops->done(f, e);
    return 0;
}

static void *polite_root(void *p)
{
    struct run *r = p;
    for (int i = 0; i < 8; i++) {
        char u[64];
        snprintf(u, sizeof u, "http://one.test/%d", i);
        CHECK(r->f[i % 2]->ops->add(r->f[i % 2], u, 0, NULL) == 1);
    }
    r->handle = polite;
    CHECK(run_fetchers(r, 4) == 0);
    CHECK(r->n == 8 && r->handouts == 8);
    for (int i = 1; i < r->n; i++) /* 0.5 x 100 ms, less the clocks' skew */
        CHECK(r->at[i] - r->at[i - 1] >= 40);
    return NULL;
}

static void one_host_is_fetched_one_at_a_time_with_spaced_starts(void **state)
{
    (void)state;
    struct run r = { .o = opts(1, 100, 0, false), .lease_ms = 30000 };
    run_crawl(polite_root, &r);
}

/* ------------------------------------------- (c) a lease never done */

static void *lease_root(void *p)
{
    struct run *r = p;
    struct frontier *a = r->f[0], *b = r->f[1];
    CHECK(a->ops->add(a, "http://lost.test/x", 0, NULL) == 1);
    struct entry *lost = a->ops->next(a); /* "a" is killed while it fetches */
    CHECK(lost != NULL && strcmp(lost->url, "http://lost.test/x") == 0);
    redis_eddy *c; /* Redis forgets the scripts (a restart): EVAL again */
    redisReply *rep;
    CHECK(redis_eddy_connect(&c, "127.0.0.1", srv.port, 5000) == 0);
    CHECK(redis_eddy_command(c, &rep, "SCRIPT FLUSH") == 0);
    freeReplyObject(rep);
    redis_eddy_close(c);
    int64_t t0 = eddy_test_now_ms();
    struct entry *again = b->ops->next(b);
    int64_t waited = eddy_test_now_ms() - t0;
    CHECK(again != NULL && strcmp(again->url, "http://lost.test/x") == 0);
    CHECK(waited >= 250 && waited < 5000); /* lease_ms 300 */
    long q, fl, ha;
    b->ops->stats(b, &q, &fl, &ha);
    CHECK(q == 0 && fl == 1 && ha == 1);
    a->ops->done(a, lost); /* too late: changes nothing */
    b->ops->stats(b, &q, &fl, &ha);
    CHECK(q == 0 && fl == 1 && ha == 1);
    b->ops->done(b, again);
    b->ops->stats(b, &q, &fl, &ha);
    CHECK(q == 0 && fl == 0 && ha == 0);
    CHECK(a->ops->next(a) == NULL && b->ops->next(b) == NULL); /* over for both */
    struct frontier_opts o = r->o; /* a process with other options is refused */
    o.per_host = 2;
    int err = 0;
    CHECK(open_frontier(&o, "test", r->lease_ms, &err) == NULL);
    CHECK(err == -EINVAL);
    struct frontier *other = open_frontier(&o, "other", 0, &err);
    CHECK(other != NULL); /* another crawl id: another crawl */
    other->ops->free(other);
    return NULL;
}

static void a_lease_never_done_comes_back_after_lease_ms(void **state)
{
    (void)state;
    struct run r = { .o = opts(1, 0, 0, false), .lease_ms = 300 };
    run_crawl(lease_root, &r);
}

/* ---------------------------------------------------- (d) the page budget */

static int budget(struct run *r, struct frontier *f, struct entry *e)
{
    record(r, e->url);
    int zero = 0;
    if (e->retries == 0 && atomic_compare_exchange_strong(&r->flag, &zero, 1)) {
        f->ops->retry(f, e, eddy_now_ns() + 50 * 1000000u); /* a retry is no new page */
        return 0;
    }
    eddy_sleep_ms(5);
    f->ops->done(f, e);
    return 0;
}

static void *budget_root(void *p)
{
    struct run *r = p;
    for (int i = 0; i < 30; i++) {
        char u[64];
        snprintf(u, sizeof u, "http://b%d.test/%d", i % 3, i);
        CHECK(r->f[i % 2]->ops->add(r->f[i % 2], u, 0, NULL) == 1);
    }
    r->handle = budget;
    CHECK(run_fetchers(r, 4) == 0);
    CHECK(r->n == 5);         /* pages */
    CHECK(r->handouts == 6);  /* and one retry */
    return NULL;
}

static void the_page_budget_holds_across_two_processes(void **state)
{
    (void)state;
    struct run r = { .o = opts(2, 0, 5, false), .lease_ms = 30000 };
    run_crawl(budget_root, &r);
}

/* ----------------------------------------------------------- (e) robots.txt */

static int robots_first(struct run *r, struct frontier *f, struct entry *e)
{
    if (e->is_robots) {
        HCHECK(strcmp(e->url, "http://r.test/robots.txt") == 0);
        HCHECK(atomic_fetch_add(&r->robots_handed, 1) == 0);
        eddy_sleep_ms(100); /* the others must wait meanwhile */
        const char txt[] = "User-agent: *\nDisallow: /private\nCrawl-delay: 0.01\n";
        atomic_store(&r->robots_set, 1);
        f->ops->set_robots(f, e, robots_parse(txt, sizeof txt - 1, "eddy-crawl"));
        f->ops->done(f, e);
        return 0;
    }
    HCHECK(atomic_load(&r->robots_set) == 1);
    HCHECK(record(r, e->url) == 1);
    HCHECK(e->blocked == (strstr(e->url, "/private") != NULL));
    if (e->blocked)
        atomic_fetch_add(&r->flag, 1);
    f->ops->done(f, e);
    return 0;
}

static void *robots_root(void *p)
{
    struct run *r = p;
    for (int i = 0; i < 10; i++) {
        char u[64];
        snprintf(u, sizeof u, "http://r.test/%s%d", i % 3 == 0 ? "private" : "page", i);
        CHECK(r->f[i % 2]->ops->add(r->f[i % 2], u, 0, NULL) == 1);
    }
    r->handle = robots_first;
    CHECK(run_fetchers(r, 3) == 0);
    CHECK(atomic_load(&r->robots_handed) == 1);
    CHECK(r->n == 10 && r->handouts == 10);
    CHECK(atomic_load(&r->flag) == 4); /* private0, 3, 6, 9 */
    return NULL;
}

static void robots_txt_goes_first_once_and_holds_its_host(void **state)
{
    (void)state;
    struct run r = { .o = opts(2, 0, 0, true), .lease_ms = 30000 };
    run_crawl(robots_root, &r);
}

/* ------------------------------------------------ (f) a redirect hop */

static void *hop_root(void *p)
{
    struct run *r = p;
    struct frontier *a = r->f[0], *b = r->f[1];
    CHECK(a->ops->add(a, "http://a.test/1", 2, "http://a.test/") == 1);
    struct entry *e = a->ops->next(a);
    CHECK(e != NULL && e->is_robots && strcmp(e->url, "http://a.test/robots.txt") == 0);
    a->ops->done(a, e); /* no rules: allow all */
    e = a->ops->next(a);
    CHECK(e != NULL && !e->is_robots && strcmp(e->url, "http://a.test/1") == 0);
    CHECK(a->ops->hop(a, e, "http://a.test/1") == -ELOOP);
    CHECK(a->ops->hop(a, e, "http://a.test/1") == -ELOOP);
    CHECK(a->ops->hop(a, e, "http://z.test/t") == 1); /* a new host */
    CHECK(a->ops->hop(a, e, "http://z.test/t") == 0); /* seen */
    a->ops->done(a, e);
    e = b->ops->next(b); /* its robots.txt before the hop queued at the front */
    CHECK(e != NULL && e->is_robots && strcmp(e->url, "http://z.test/robots.txt") == 0);
    b->ops->done(b, e);
    e = b->ops->next(b);
    CHECK(e != NULL && strcmp(e->url, "http://z.test/t") == 0);
    CHECK(e->hops == 1 && e->depth == 2 && e->retries == 0 && !e->blocked);
    CHECK(e->first_url != NULL && strcmp(e->first_url, "http://a.test/1") == 0);
    CHECK(e->chain != NULL && strcmp(e->chain[0], "http://a.test/1") == 0);
    CHECK(e->parent != NULL && strcmp(e->parent->s, "http://a.test/") == 0);
    CHECK(b->ops->hop(b, e, "http://a.test/1") == -ELOOP); /* back to the chain's start */
    CHECK(b->ops->hop(b, e, "http://z.test/u") == 1);
    b->ops->done(b, e);
    e = a->ops->next(a);
    CHECK(e != NULL && strcmp(e->url, "http://z.test/u") == 0 && e->hops == 2);
    CHECK(strcmp(e->chain[0], "http://a.test/1") == 0);
    CHECK(strcmp(e->chain[1], "http://z.test/t") == 0);
    CHECK(strcmp(e->first_url, "http://a.test/1") == 0);
    a->ops->done(a, e);
    CHECK(a->ops->next(a) == NULL && b->ops->next(b) == NULL);
    return NULL;
}

static void a_redirect_hop_keeps_its_chain_and_waits_for_robots_txt(void **state)
{
    (void)state;
    struct run r = { .o = opts(1, 0, 0, true), .lease_ms = 30000 };
    run_crawl(hop_root, &r);
}

/* The text the rules are shared as reads back to the same rules. */
static void robots_rules_survive_their_text_form(void **state)
{
    (void)state;
    static const char *const txt[] = {
        "User-agent: *\nDisallow: /private\nAllow: /private/ok$\nCrawl-delay: 2.5\n",
        "User-agent: eddy-crawl\nDisallow: /*.gif$\n\nUser-agent: *\nDisallow: /\n",
        "User-agent: *\nDisallow: /a%2fb\nDisallow: /%7Euser\n",
    };
    static const char *const paths[] = { "/", "/private", "/private/ok", "/private/ok2",
                                         "/x.gif", "/x.gif?a", "/a%2Fb", "/~user", "/robots.txt" };
    for (size_t i = 0; i < sizeof txt / sizeof txt[0]; i++) {
        struct robots *a = robots_parse(txt[i], strlen(txt[i]), "eddy-crawl");
        size_t len;
        char *t = robots_to_text(a, &len);
        assert_non_null(t);
        struct robots *b = robots_parse(t, len, "other-bot");
        for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
            assert_int_equal(robots_allowed(a, paths[k]), robots_allowed(b, paths[k]));
        assert_int_equal(robots_crawl_delay_ms(a), robots_crawl_delay_ms(b));
        free(t);
        robots_free(a);
        robots_free(b);
    }
    struct robots *d = robots_disallow_all(), *d2;
    size_t len;
    char *t = robots_to_text(d, &len);
    d2 = robots_parse(t, len, "eddy-crawl");
    assert_false(robots_allowed(d2, "/x"));
    assert_true(robots_allowed(d2, "/robots.txt"));
    free(t);
    robots_free(d);
    robots_free(d2);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(robots_rules_survive_their_text_form),
    EDDY_TEST_WITH_REDIS(every_url_is_handed_out_once_across_two_processes),
    EDDY_TEST_WITH_REDIS(one_host_is_fetched_one_at_a_time_with_spaced_starts),
    EDDY_TEST_WITH_REDIS(a_lease_never_done_comes_back_after_lease_ms),
    EDDY_TEST_WITH_REDIS(the_page_budget_holds_across_two_processes),
    EDDY_TEST_WITH_REDIS(robots_txt_goes_first_once_and_holds_its_host),
    EDDY_TEST_WITH_REDIS(a_redirect_hop_keeps_its_chain_and_waits_for_robots_txt),
};

EDDY_TEST_REDIS_MAIN(tests, 120)
