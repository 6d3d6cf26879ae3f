/*
 * tools/crawl/links.c: URL normalisation on curl_url, and link extraction
 * with libxml2's HTML parser (recovering from bad markup, no network,
 * XML_PARSE_HUGE so that deep nesting does not cut the document short).
 * The tree is walked without recursion.
 */
#include "links.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

void links_init(void)
{
    xmlInitParser();
}

/* Upper-cases the hex digits of every %XX in s, in place. */
static void upper_escapes(char *s)
{
    for (; *s; s++) {
        if (s[0] == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            s[1] = (char)toupper((unsigned char)s[1]);
            s[2] = (char)toupper((unsigned char)s[2]);
            s += 2;
        }
    }
}

/* A copy of s without leading and trailing white space. */
static char *trimmed(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    char *t = malloc(n + 1);
    if (t != NULL) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    return t;
}

char *url_normalize(const char *base, const char *ref)
{
    if (ref == NULL)
        return NULL;
    char *r = trimmed(ref);
    CURLU *u = curl_url();
    char *out = NULL, *scheme = NULL, *host = NULL;
    if (r == NULL || u == NULL)
        goto done;
    if (base != NULL && curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
        goto done;
    /* "" and "#frag" are the base itself (RFC 3986 5.2.2); curl 7.88 takes
       them as "." (the base's directory) */
    if (base != NULL && (r[0] == '\0' || r[0] == '#')) {
        free(r);
        r = strdup(base);
        if (r == NULL)
            goto done;
    }
    /* relative to the URL already set; spaces and the like get escaped */
    if (curl_url_set(u, CURLUPART_URL, r, CURLU_URLENCODE) != CURLUE_OK)
        goto done;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        goto done;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        goto done;
    for (char *h = host; *h; h++)
        *h = (char)tolower((unsigned char)*h);
    if (curl_url_set(u, CURLUPART_HOST, host, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK)
        goto done;
    char *full = NULL;
    if (curl_url_get(u, CURLUPART_URL, &full, CURLU_NO_DEFAULT_PORT) != CURLUE_OK)
        goto done;
    out = strdup(full);
    curl_free(full);
    if (out != NULL)
        upper_escapes(out);
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    free(r);
    return out;
}

static char *part(const char *url, CURLUPart what, unsigned flags)
{
    CURLU *u = curl_url();
    char *v = NULL, *out = NULL;
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, what, &v, flags) == CURLUE_OK)
        out = strdup(v);
    curl_free(v);
    curl_url_cleanup(u);
    return out;
}

char *url_host(const char *url)
{
    char *h = part(url, CURLUPART_HOST, 0);
    if (h != NULL)
        for (char *p = h; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return h;
}

char *url_origin(const char *url)
{
    char *scheme = part(url, CURLUPART_SCHEME, 0), *host = url_host(url);
    char *port = part(url, CURLUPART_PORT, CURLU_DEFAULT_PORT), *out = NULL;
    if (scheme != NULL && host != NULL && port != NULL) {
        size_t n = strlen(scheme) + strlen(host) + strlen(port) + 5;
        out = malloc(n);
        if (out != NULL)
            snprintf(out, n, "%s://%s:%s", scheme, host, port);
    }
    free(scheme);
    free(host);
    free(port);
    return out;
}

char *url_path_query(const char *url)
{
    char *path = part(url, CURLUPART_PATH, 0), *query = part(url, CURLUPART_QUERY, 0);
    char *out = NULL;
    if (path != NULL) {
        size_t n = strlen(path) + (query ? strlen(query) + 1 : 0) + 2;
        out = malloc(n);
        if (out != NULL)
            snprintf(out, n, "%s%s%s", path[0] ? path : "/", query ? "?" : "", query ? query : "");
    }
    free(path);
    free(query);
    return out;
}

/* Where the authority (host[:port]) of a normalised URL starts. */
static const char *authority(const char *url)
{
    const char *p = strstr(url, "://");
    return p != NULL ? p + 3 : url;
}

size_t url_origin_prefix(const char *url)
{
    const char *p = authority(url);
    while (*p && *p != '/' && *p != '?')
        p++;
    return (size_t)(p - url);
}

const char *url_host_in(const char *url, char *buf, size_t len)
{
    const char *p = authority(url);
    size_t n = 0;
    if (*p == '[') { /* an IPv6 literal, brackets kept */
        while (p[n] && p[n] != ']')
            n++;
        if (p[n] == ']')
            n++;
    } else {
        while (p[n] && p[n] != ':' && p[n] != '/' && p[n] != '?')
            n++;
    }
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

bool host_in_domain(const char *host, const char *domain)
{
    size_t h = strlen(host), d = strlen(domain);
    if (h == d)
        return strcasecmp(host, domain) == 0;
    return h > d && host[h - d - 1] == '.' && strcasecmp(host + h - d, domain) == 0;
}

/* ----------------------------------------------------------------- links */

struct raw {
    char **v;
    int n, cap;
};

static bool raw_add(struct raw *r, const char *s)
{
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 32;
        char **nv = realloc(r->v, (size_t)cap * sizeof *nv);
        if (nv == NULL)
            return false;
        r->v = nv;
        r->cap = cap;
    }
    r->v[r->n] = strdup(s);
    if (r->v[r->n] == NULL)
        return false;
    r->n++;
    return true;
}

static bool is_name(const xmlNode *n, const char *name)
{
    return n->name != NULL && strcasecmp((const char *)n->name, name) == 0;
}

/* Collects hrefs, the first <base href> and meta robots nofollow. */
static bool walk(xmlNode *root, struct raw *hrefs, char **base, bool *nofollow)
{
    xmlNode *n = root;
    while (n != NULL) {
        if (n->type == XML_ELEMENT_NODE) {
            if (is_name(n, "a") || is_name(n, "area") || (is_name(n, "base") && *base == NULL)) {
                xmlChar *href = xmlGetProp(n, (const xmlChar *)"href");
                if (href != NULL) {
                    bool ok = is_name(n, "base") ? (*base = strdup((char *)href)) != NULL
                                                 : raw_add(hrefs, (const char *)href);
                    xmlFree(href);
                    if (!ok)
                        return false;
                }
            } else if (is_name(n, "meta")) {
                xmlChar *name = xmlGetProp(n, (const xmlChar *)"name");
                xmlChar *content = xmlGetProp(n, (const xmlChar *)"content");
                if (name != NULL && content != NULL && strcasecmp((char *)name, "robots") == 0) {
                    for (char *p = (char *)content; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                    if (strstr((char *)content, "nofollow") || strstr((char *)content, "none"))
                        *nofollow = true;
                }
                xmlFree(name);
                xmlFree(content);
            }
        }
        /* depth first without recursion: down, else across, else up */
        if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
            n = n->children;
            continue;
        }
        while (n != root && n->next == NULL)
            n = n->parent;
        if (n == root)
            break;
        n = n->next;
    }
    return true;
}

struct ordered {
    char *s;
    int i;
};

static int by_string_then_index(const void *a, const void *b)
{
    const struct ordered *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

static int by_index(const void *a, const void *b)
{
    const struct ordered *x = a, *y = b;
    return (x->i > y->i) - (x->i < y->i);
}

int links_extract(const char *html, size_t len, const char *page_url, char ***out,
                  bool *nofollow)
{
    *out = NULL;
    *nofollow = false;
    int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
               HTML_PARSE_NONET | HTML_PARSE_COMPACT | XML_PARSE_HUGE;
    if (len > (size_t)INT32_MAX)
        len = INT32_MAX;
    htmlDocPtr doc = htmlReadMemory(html, (int)len, page_url, NULL, opts);
    if (doc == NULL)
        return 0; /* nothing a parser could read: no links */
    struct raw hrefs = { 0 };
    char *base = NULL;
    xmlNode *root = xmlDocGetRootElement(doc);
    bool ok = root == NULL || walk(root, &hrefs, &base, nofollow);
    xmlFreeDoc(doc);
    int n = -1;
    struct ordered *o = NULL;
    if (!ok)
        goto done;
    n = 0;
    if (*nofollow || hrefs.n == 0)
        goto done;
    char *resolved_base = base != NULL ? url_normalize(page_url, base) : NULL;
    const char *against = resolved_base != NULL ? resolved_base : page_url;
    o = malloc((size_t)hrefs.n * sizeof *o);
    if (o == NULL) {
        free(resolved_base);
        n = -1;
        goto done;
    }
    int k = 0;
    for (int i = 0; i < hrefs.n; i++) {
        char *u = url_normalize(against, hrefs.v[i]);
        if (u != NULL)
            o[k++] = (struct ordered){ u, i };
    }
    free(resolved_base);
    /* each link once, in the order the page has them */
    qsort(o, (size_t)k, sizeof *o, by_string_then_index);
    int m = 0;
    for (int i = 0; i < k; i++) {
        if (m > 0 && strcmp(o[m - 1].s, o[i].s) == 0)
            free(o[i].s);
        else
            o[m++] = o[i];
    }
    qsort(o, (size_t)m, sizeof *o, by_index);
    char **links = malloc((size_t)(m ? m : 1) * sizeof *links);
    if (links == NULL) {
        for (int i = 0; i < m; i++)
            free(o[i].s);
        n = -1;
        goto done;
    }
    for (int i = 0; i < m; i++)
        links[i] = o[i].s;
    *out = links;
    n = m;
done:
    free(o);
    for (int i = 0; i < hrefs.n; i++)
        free(hrefs.v[i]);
    free(hrefs.v);
    free(base);
    return n;
}

void links_free(char **links, int n)
{
    for (int i = 0; i < n; i++)
        free(links[i]);
    free(links);
}
