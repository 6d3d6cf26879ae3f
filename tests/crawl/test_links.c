/*
 * tests/crawl/test_links.c: eddy-crawl's URLs: normalising and resolving
 * through curl_url, and links from HTML through libxml2 (<base>, meta
 * robots nofollow, duplicates, schemes it must not follow, a page nested
 * 1,000 deep).
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "helpers.h"
#include "links.h"

struct norm {
    const char *base, *ref, *want; /* want NULL: refused */
};

static const struct norm cases[] = {
    { NULL, "HTTP://Example.COM", "http://example.com/" },
    { NULL, "http://example.com:80/a", "http://example.com/a" },
    { NULL, "https://example.com:443/a", "https://example.com/a" },
    { NULL, "http://example.com:8080/a", "http://example.com:8080/a" },
    { NULL, "http://example.com/a#frag", "http://example.com/a" },
    { NULL, "http://example.com/a/./b/../c", "http://example.com/a/c" },
    { NULL, "http://example.com/%7ejoe", "http://example.com/%7Ejoe" },
    { NULL, "  http://example.com/x  ", "http://example.com/x" },
    { NULL, "http://example.com/a b", "http://example.com/a%20b" },
    { "http://example.com/a/b/c", "../d", "http://example.com/a/d" },
    { "http://example.com/a/b/c", "/d?x=1", "http://example.com/d?x=1" },
    { "http://example.com/a/b/c", "?y=2", "http://example.com/a/b/c?y=2" },
    { "http://example.com/a/b/c", "//other.org/p", "http://other.org/p" },
    { "http://example.com/a/b/c", "#top", "http://example.com/a/b/c" },
    { "http://example.com/a/b/c?q", "", "http://example.com/a/b/c?q" },
    { "https://example.com/a", "http://x.org", "http://x.org/" },
    { NULL, "ftp://example.com/", NULL },
    { NULL, "mailto:a@b.c", NULL },
    { "http://example.com/", "javascript:void(0)", NULL },
    { NULL, "relative/only", NULL },
    { NULL, "http://", NULL },
};

static void urls_are_normalised_and_resolved_by_curl_url(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = url_normalize(cases[i].base, cases[i].ref);
        bool ok = cases[i].want == NULL ? got == NULL : got != NULL && strcmp(got, cases[i].want) == 0;
        if (!ok) {
            fprintf(stderr, "case %zu: '%s' against '%s' gave '%s', want '%s'\n", i, cases[i].ref,
                    cases[i].base ? cases[i].base : "-", got ? got : "NULL",
                    cases[i].want ? cases[i].want : "NULL");
            bad++;
        }
        free(got);
    }
    assert_int_equal(bad, 0);
    char *h = url_host("http://Sub.Example.com:81/x"), *o = url_origin("http://a.org/x?y");
    char *p = url_path_query("http://a.org/x/y?q=1");
    assert_string_equal(h, "sub.example.com");
    assert_string_equal(o, "http://a.org:80");
    assert_string_equal(p, "/x/y?q=1");
    free(h);
    free(o);
    free(p);
    assert_true(host_in_domain("a.example.com", "example.com"));
    assert_true(host_in_domain("example.com", "example.com"));
    assert_false(host_in_domain("badexample.com", "example.com"));
    assert_false(host_in_domain("example.com.evil.org", "example.com"));
}

static int extract(const char *html, const char *url, char ***links, bool *nofollow)
{
    return links_extract(html, strlen(html), url, links, nofollow);
}

static void links_come_resolved_once_each_in_page_order(void **state)
{
    (void)state;
    const char *html =
        "<html><head><title>t</title></head><body>"
        "<a href='b.html'>1</a><a HREF=\"/c\">2</a><A href='b.html#x'>dup</A>"
        "<a href='mailto:x@y.z'>m</a><a href='javascript:1'>j</a><a>no href</a>"
        "<map><area href='../up'></map><a href='http://other.org/'>o</a>"
        "<p>unclosed <div><a href='d'>4</a></body></html>";
    char **l;
    bool nf;
    int n = extract(html, "http://h.org/x/y", &l, &nf);
    assert_false(nf);
    assert_int_equal(n, 5);
    assert_string_equal(l[0], "http://h.org/x/b.html");
    assert_string_equal(l[1], "http://h.org/c");
    assert_string_equal(l[2], "http://h.org/up");
    assert_string_equal(l[3], "http://other.org/");
    assert_string_equal(l[4], "http://h.org/x/d");
    links_free(l, n);
}

static void base_href_and_meta_nofollow_are_honoured(void **state)
{
    (void)state;
    char **l;
    bool nf;
    int n = extract("<html><head><base href='http://cdn.org/s/'></head>"
                    "<body><a href='p'>x</a><a href='/q'>y</a></body></html>",
                    "http://h.org/a/b", &l, &nf);
    assert_int_equal(n, 2);
    assert_string_equal(l[0], "http://cdn.org/s/p");
    assert_string_equal(l[1], "http://cdn.org/q");
    links_free(l, n);
    n = extract("<html><head><base href='../z/'></head><body><a href='p'>x</a></body></html>",
                "http://h.org/a/b/c", &l, &nf);
    assert_int_equal(n, 1);
    assert_string_equal(l[0], "http://h.org/a/z/p"); /* a relative base: against the page */
    links_free(l, n);
    n = extract("<html><head><meta name='ROBOTS' content='noindex, NOFOLLOW'></head>"
                "<body><a href='p'>x</a></body></html>", "http://h.org/", &l, &nf);
    assert_true(nf);
    assert_int_equal(n, 0);
}

static void a_page_nested_1000_deep_gives_all_its_links(void **state)
{
    (void)state;
    size_t depth = 1000;
    char *html = malloc(depth * 20 + 4096), *p = html;
    p += sprintf(p, "<html><body>");
    for (size_t i = 0; i < depth; i++)
        p += sprintf(p, "<div><p>");
    for (int i = 0; i < 50; i++)
        p += sprintf(p, "<a href='/l%d'>x</a>", i);
    for (size_t i = 0; i < depth; i++)
        p += sprintf(p, "</p></div>");
    sprintf(p, "</body></html>");
    char **l;
    bool nf;
    int n = extract(html, "http://h.org/", &l, &nf);
    assert_int_equal(n, 50);
    assert_string_equal(l[49], "http://h.org/l49");
    links_free(l, n);
    /* and unclosed ones: 2,000 open <div><p> never closed */
    p = html + sprintf(html, "<html><body>");
    for (size_t i = 0; i < 2 * depth; i++)
        p += sprintf(p, "<div><p>");
    for (int i = 0; i < 50; i++)
        p += sprintf(p, "<a href='/u%d'>x</a>", i);
    n = extract(html, "http://h.org/", &l, &nf);
    assert_int_equal(n, 50);
    links_free(l, n);
    free(html);
}

static void garbage_gives_no_links_and_no_crash(void **state)
{
    (void)state;
    char **l;
    bool nf;
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)((i * 131 + 7) & 0xff);
    int n = links_extract(junk, sizeof junk, "http://h.org/", &l, &nf);
    assert_true(n >= 0);
    if (n > 0)
        links_free(l, n);
    n = links_extract("", 0, "http://h.org/", &l, &nf);
    assert_int_equal(n, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls_are_normalised_and_resolved_by_curl_url),
        cmocka_unit_test(links_come_resolved_once_each_in_page_order),
        cmocka_unit_test(base_href_and_meta_nofollow_are_honoured),
        cmocka_unit_test(a_page_nested_1000_deep_gives_all_its_links),
        cmocka_unit_test(garbage_gives_no_links_and_no_crash),
    };
    curl_global_init(CURL_GLOBAL_ALL);
    links_init();
    int rc = eddy_test_run(__FILE__, tests, sizeof tests / sizeof tests[0], argc, argv, 60);
    curl_global_cleanup();
    return rc;
}
