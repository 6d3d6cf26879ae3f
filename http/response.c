/*
 * http/response.c: eddy_http_response, filled from curl's write and
 * header callbacks (which run on the worker driving the transfer, outside
 * any task: they only copy) and from curl_easy_getinfo at the end. The
 * headers kept are those of the last response (a redirect or a 100
 * Continue starts over), as "name\0value\0" pairs in one buffer.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "http/response.h"
#include "sched/alloc.h"

struct eddy__resp {
    eddy_http_response pub;          /* first: the public view */
    char *body;                      /* cap + 1 bytes: room for the NUL */
    size_t len, cap;
    size_t max_body;
    bool too_big;
    char *hdr;                       /* "name\0value\0" pairs */
    size_t hdr_len, hdr_cap, nhdr;
    char *content_type, *effective_url, *error;
    char errbuf[CURL_ERROR_SIZE];
};

static char empty[1];

struct eddy__resp *eddy__resp_new(void)
{
    struct eddy__resp *r = eddy__calloc(sizeof *r);
    if (r == NULL)
        return NULL;
    r->body = eddy__alloc(1);
    if (r->body == NULL) {
        eddy__dealloc(r, sizeof *r);
        return NULL;
    }
    r->body[0] = '\0';
    r->pub.body = r->body;
    r->pub.content_type = r->pub.effective_url = r->pub.error = empty;
    return r;
}

static bool grow(char **buf, size_t *cap, size_t need, size_t extra)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *nb = eddy__realloc(*buf, *cap + extra, n + extra);
    if (nb == NULL)
        return false;
    *buf = nb;
    *cap = n;
    return true;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct eddy__resp *r = userp;
    size_t len = size * n;
    if (r->max_body != 0 && r->len + len > r->max_body) {
        r->too_big = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (!grow(&r->body, &r->cap, r->len + len, 1))
        return 0;
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    struct eddy__resp *r = userp;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        r->hdr_len = r->nhdr = 0; /* a new response: a redirect, 100 Continue */
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (colon == NULL || colon == data || data[0] == ' ' || data[0] == '\t')
        return len; /* the blank line, or a line that is no field */
    const char *end = data + len, *name_end = colon, *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t nl = (size_t)(name_end - data), vl = (size_t)(end - v);
    if (!grow(&r->hdr, &r->hdr_cap, r->hdr_len + nl + vl + 2, 0))
        return 0;
    memcpy(r->hdr + r->hdr_len, data, nl);
    r->hdr[r->hdr_len + nl] = '\0';
    memcpy(r->hdr + r->hdr_len + nl + 1, v, vl);
    r->hdr[r->hdr_len + nl + 1 + vl] = '\0';
    r->hdr_len += nl + vl + 2;
    r->nhdr++;
    return len;
}

void eddy__resp_attach(struct eddy__resp *r, CURL *easy, size_t max_body)
{
    r->max_body = max_body;
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->errbuf);
}

bool eddy__resp_too_big(const struct eddy__resp *r)
{
    return r->too_big;
}

static double seconds(CURL *easy, CURLINFO what)
{
    curl_off_t us = 0;
    if (curl_easy_getinfo(easy, what, &us) != CURLE_OK)
        return 0;
    return (double)us / 1e6;
}

static const char *keep(char **slot, const char *s)
{
    if (s == NULL || *s == '\0')
        return empty;
    *slot = eddy__strdup(s);
    return *slot != NULL ? *slot : empty;
}

void eddy__resp_finish(struct eddy__resp *r, CURL *easy, CURLcode res, int rc)
{
    eddy_http_response *p = &r->pub;
    long status = 0, redirects = 0, version = 0;
    char *url = NULL, *ctype = NULL;
    curl_off_t wire = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ctype);
    curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &wire);
    p->status = rc < 0 ? 0 : status;
    p->body = r->body;
    p->body_len = r->len;
    p->effective_url = keep(&r->effective_url, url);
    p->content_type = keep(&r->content_type, ctype);
    p->total_s = seconds(easy, CURLINFO_TOTAL_TIME_T);
    p->dns_s = seconds(easy, CURLINFO_NAMELOOKUP_TIME_T);
    p->connect_s = seconds(easy, CURLINFO_CONNECT_TIME_T);
    p->tls_s = seconds(easy, CURLINFO_APPCONNECT_TIME_T);
    p->ttfb_s = seconds(easy, CURLINFO_STARTTRANSFER_TIME_T);
    p->redirects = redirects;
    p->wire_bytes = wire > 0 ? (uint64_t)wire : 0;
    p->http_version = version == CURL_HTTP_VERSION_1_0   ? 10
                      : version == CURL_HTTP_VERSION_1_1 ? 11
                      : version == CURL_HTTP_VERSION_2_0 ? 20
                      : version == CURL_HTTP_VERSION_3   ? 30
                                                         : 0;
    p->curl_code = (int)res;
    const char *msg = "";
    if (rc == -ECANCELED)
        msg = "aborted: the task was cancelled";
    else if (res != CURLE_OK)
        msg = r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(res);
    if (r->too_big)
        msg = "body over max_body_bytes";
    p->error = keep(&r->error, msg);
    /* the handle goes now: nothing may point into it */
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
}

eddy_http_response *eddy__resp_public(struct eddy__resp *r)
{
    return &r->pub;
}

void eddy__resp_free(struct eddy__resp *r)
{
    if (r == NULL)
        return;
    eddy__dealloc(r->body, r->cap + 1);
    eddy__dealloc(r->hdr, r->hdr_cap);
    eddy__strfree(r->content_type);
    eddy__strfree(r->effective_url);
    eddy__strfree(r->error);
    eddy__dealloc(r, sizeof *r);
}

void eddy_http_response_free(eddy_http_response *p)
{
    if (p == NULL)
        return;
    eddy__resp_free((struct eddy__resp *)((char *)p - offsetof(struct eddy__resp, pub)));
}

const char *eddy_http_response_header(const eddy_http_response *p, const char *name)
{
    if (p == NULL || name == NULL)
        return NULL;
    const struct eddy__resp *r =
        (const struct eddy__resp *)((const char *)p - offsetof(struct eddy__resp, pub));
    const char *h = r->hdr;
    for (size_t i = 0; i < r->nhdr; i++) {
        const char *v = h + strlen(h) + 1;
        if (strcasecmp(h, name) == 0)
            return v;
        h = v + strlen(v) + 1;
    }
    return NULL;
}
