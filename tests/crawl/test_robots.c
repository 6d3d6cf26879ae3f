/*
 * tests/crawl/test_robots.c: eddy-crawl's robots.txt rules against RFC
 * 9309's cases (and Google's reference examples of the same rules), as
 * vectors: a file, a path, allowed or not.
 */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "robots.h"

struct vec {
    const char *txt, *path;
    bool allowed;
};

static const struct vec vectors[] = {
    { "", "/anything", true },
    { "User-agent: *\nDisallow: /\n", "/x", false },
    { "User-agent: *\nDisallow: /\n", "/robots.txt", true },          /* always */
    { "User-agent: *\nDisallow:\n", "/x", true },                     /* empty: no rule */
    { "User-agent: *\nAllow: /p\nDisallow: /\n", "/page", true },      /* longest wins */
    { "User-agent: *\nAllow: /p\nDisallow: /\n", "/x", false },
    { "User-agent: *\nAllow: /folder\nDisallow: /folder\n", "/folder/a", true }, /* tie: allow */
    { "User-agent: *\nDisallow: /*.gif$\n", "/a/b.gif", false },
    { "User-agent: *\nDisallow: /*.gif$\n", "/a/b.gif?x=1", true },
    { "User-agent: *\nDisallow: /*.gif$\n", "/a.gifx", true },
    { "User-agent: *\nDisallow: /fish*\n", "/fishheads", false },
    { "User-agent: *\nDisallow: /fish*\n", "/Fish.asp", true },        /* paths are case-sensitive */
    { "User-agent: *\nDisallow: /fish/\n", "/fish", true },
    { "User-agent: *\nDisallow: /fish/\n", "/fish/salmon", false },
    { "User-agent: *\nDisallow: /$\n", "/", false },
    { "User-agent: *\nDisallow: /$\n", "/a", true },
    /* our group beats *, and does not inherit it */
    { "User-agent: *\nDisallow: /\n\nUser-agent: eddy-crawl\nAllow: /\n", "/x", true },
    { "User-agent: *\nDisallow: /private\n\nUser-agent: eddy-crawl\nDisallow: /other\n",
      "/private", true },
    { "User-agent: *\nDisallow: /private\n\nUser-agent: eddy-crawl\nDisallow: /other\n",
      "/other/1", false },
    { "User-agent: EDDY-Crawl\nDisallow: /x\n", "/x", false },          /* case-insensitive */
    { "User-agent: eddy-crawl/1.0\nDisallow: /x\n", "/x", false },      /* product token */
    { "User-agent: eddy-crawler\nDisallow: /x\n", "/x", true },         /* another token */
    { "User-agent: a\nUser-agent: eddy-crawl\nDisallow: /x\n", "/x/1", false }, /* one group */
    { "User-agent: eddy-crawl\nDisallow: /a\n\nUser-agent: eddy-crawl\nDisallow: /b\n", "/b",
      false },                                                            /* combined */
    { "  user-AGENT :  *  \n  Disallow : /x # no\n", "/x", false },       /* spacing, comments */
    { "User-agent: *\r\nDisallow: /x\r\n", "/x", false },                 /* CRLF */
    { "User-agent: *\rDisallow: /x\r", "/x", false },                     /* bare CR */
    { "User-agent: *\nDisallow: /%7Ejoe\n", "/~joe/a", false },           /* unreserved escape */
    { "User-agent: *\nDisallow: /a%2fb\n", "/a/b", true },                /* a reserved one is not */
    { "User-agent: *\nDisallow: /a%2fb\n", "/a%2Fb", false },
    { "User-agent: *\nDisallow: /*?\n", "/a?b", false },
    { "User-agent: *\nDisallow: /*?\n", "/a", true },
    { "User-agent: *\nDisallow: /a*b*c\n", "/axxbyyc", false },
    { "User-agent: *\nDisallow: /a*b*c\n", "/axxb", true },
    { "Disallow: /x\nUser-agent: *\nAllow: /\n", "/x", true },          /* rule before any group */
    { "Sitemap: http://x/s.xml\nUser-agent: *\nFoo: bar\nDisallow: /x\n", "/x", false },
    { "User-agent: other\nDisallow: /\n", "/x", true },                  /* no group for us */
};

static void every_vector_gives_its_answer(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vec *v = &vectors[i];
        struct robots *r = robots_parse(v->txt, strlen(v->txt), "eddy-crawl");
        assert_non_null(r);
        if (robots_allowed(r, v->path) != v->allowed) {
            fprintf(stderr, "vector %zu: %s for %s in:\n%s\n", i,
                    v->allowed ? "disallowed" : "allowed", v->path, v->txt);
            bad++;
        }
        robots_free(r);
    }
    assert_int_equal(bad, 0);
}

static void crawl_delay_comes_from_the_chosen_group(void **state)
{
    (void)state;
    const char *t = "User-agent: *\nCrawl-delay: 9\n\nUser-agent: eddy-crawl\nCrawl-delay: 2.5\n";
    struct robots *r = robots_parse(t, strlen(t), "eddy-crawl");
    assert_int_equal(robots_crawl_delay_ms(r), 2500);
    robots_free(r);
    r = robots_parse(t, strlen(t), "other");
    assert_int_equal(robots_crawl_delay_ms(r), 9000);
    robots_free(r);
    const char *none = "User-agent: *\nDisallow: /x\n";
    r = robots_parse(none, strlen(none), "eddy-crawl");
    assert_int_equal(robots_crawl_delay_ms(r), -1);
    robots_free(r);
}

static void unreachable_means_nothing_unavailable_means_everything(void **state)
{
    (void)state;
    struct robots *deny = robots_disallow_all(), *allow = robots_allow_all();
    assert_false(robots_allowed(deny, "/"));
    assert_true(robots_allowed(deny, "/robots.txt"));
    assert_true(robots_allowed(allow, "/any/thing?x"));
    robots_free(deny);
    robots_free(allow);
}

static void only_the_first_500_kib_is_read(void **state)
{
    (void)state;
    size_t n = ROBOTS_MAX_BYTES + 100;
    char *t = malloc(n + 64);
    memset(t, '#', n);
    memcpy(t, "User-agent: *\nDisallow: /a\n#", 28);
    strcpy(t + n, "\nDisallow: /b\n"); /* past the limit */
    struct robots *r = robots_parse(t, strlen(t), "eddy-crawl");
    assert_false(robots_allowed(r, "/a"));
    assert_true(robots_allowed(r, "/b"));
    robots_free(r);
    free(t);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_vector_gives_its_answer),
    cmocka_unit_test(crawl_delay_comes_from_the_chosen_group),
    cmocka_unit_test(unreachable_means_nothing_unavailable_means_everything),
    cmocka_unit_test(only_the_first_500_kib_is_read),
};

EDDY_TEST_MAIN(tests, 60)
