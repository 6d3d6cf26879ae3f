/*
 * http/server_resp.c: the handler's side of a request: the accessors of
 * eddy_http_req and the response API (status, headers, a body from
 * memory, a chunked stream, a file by sendfile), and how an answer is
 * framed. Answers go to the connection's out buffer, which its task
 * writes with one write per batch (pipelined answers coalesce); a stream
 * or a file writes at once.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <time.h>

#include <eddy/io.h>

#include "http/server_int.h"
#include "sched/alloc.h"

#define CHUNK_COPY_MAX 4096 /* stream chunks up to this size are copied, not gathered */

/* ------------------------------------------------------------ out buffer */

int eddy__http_out_append(struct eddy__http_active *a, const void *data, size_t n)
{
    if (a->olen + n > a->ocap) {
        size_t nc = a->ocap ? a->ocap : 4096;
        while (nc < a->olen + n)
            nc *= 2;
        char *no = eddy__realloc(a->out, a->ocap, nc);
        if (no == NULL)
            return -ENOMEM;
        a->out = no;
        a->ocap = nc;
    }
    memcpy(a->out + a->olen, data, n);
    a->olen += n;
    return 0;
}

static int out_str(struct eddy__http_active *a, const char *s)
{
    return eddy__http_out_append(a, s, strlen(s));
}

/* Writes the out buffer, then extra (may be NULL), in one writev. */
static int flush_with(struct eddy__http_active *a, const struct iovec *extra, int nextra)
{
    if (a->broken)
        return -EPIPE;
    struct iovec v[4];
    int n = 0;
    if (a->olen > 0)
        v[n++] = (struct iovec){ .iov_base = a->out, .iov_len = a->olen };
    for (int i = 0; i < nextra && n < 4; i++)
        v[n++] = extra[i];
    if (n == 0)
        return 0;
    ssize_t r = eddy_writev(a->c->fd, v, n);
    a->olen = 0;
    if (r < 0) {
        a->broken = true;
        return (int)r;
    }
    return 0;
}

int eddy__http_out_flush(struct eddy__http_active *a)
{
    return flush_with(a, NULL, 0);
}

/* ------------------------------------------------------------- the Date */

struct date_cache {
    time_t sec;
    char line[48]; /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */
    size_t len;
};

void eddy__http_date_append(struct eddy__http_active *a)
{
    /* per thread, refreshed once a second: no lock, no strftime per answer */
    static _Thread_local struct date_cache dc;
    time_t now = time(NULL);
    if (now != dc.sec || dc.len == 0) {
        struct tm tm;
        gmtime_r(&now, &tm);
        dc.len = strftime(dc.line, sizeof dc.line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        dc.sec = now;
    }
    (void)eddy__http_out_append(a, dc.line, dc.len);
}

/* ------------------------------------------------------------ framing */

const char *eddy__http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

/* Whether an answer with this status may carry a body (RFC 9110 6.4.1). */
static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

enum { FRAME_LENGTH, FRAME_CHUNKED, FRAME_TO_CLOSE };

/* Appends the status line and header block of r to the out buffer. */
static int head_append(struct eddy__http_active *a, struct eddy_http_resp *r, int frame,
                       uint64_t length)
{
    /* a stop that began while the handler ran: this answer is the last */
    if (atomic_load_explicit(&a->c->srv->stopping, memory_order_relaxed) != 0)
        a->close_after = true;
    /* formatted by hand: snprintf was a visible share of a small answer */
    char line[96];
    const char *why = eddy__http_reason(r->status);
    size_t wl = strlen(why);
    memcpy(line, "HTTP/1.1 ", 9);
    line[9] = (char)('0' + r->status / 100);
    line[10] = (char)('0' + r->status / 10 % 10);
    line[11] = (char)('0' + r->status % 10);
    line[12] = ' ';
    memcpy(line + 13, why, wl);
    memcpy(line + 13 + wl, "\r\n", 2);
    int rc = eddy__http_out_append(a, line, 15 + wl);
    if (rc == 0 && !r->has_server)
        rc = out_str(a, "Server: eddy\r\n");
    if (rc == 0 && !r->has_date)
        eddy__http_date_append(a);
    if (rc == 0 && r->hlen > 0)
        rc = eddy__http_out_append(a, r->hdrs, r->hlen);
    if (rc == 0 && status_has_body(r->status)) {
        if (frame == FRAME_LENGTH) {
            char digits[24];
            size_t nd = 0;
            do
                digits[nd++] = (char)('0' + length % 10);
            while ((length /= 10) > 0);
            memcpy(line, "Content-Length: ", 16);
            for (size_t i = 0; i < nd; i++)
                line[16 + i] = digits[nd - 1 - i];
            memcpy(line + 16 + nd, "\r\n", 2);
            rc = eddy__http_out_append(a, line, 18 + nd);
        } else if (frame == FRAME_CHUNKED) {
            rc = out_str(a, "Transfer-Encoding: chunked\r\n");
        }
    }
    if (rc == 0) {
        if (a->close_after)
            rc = out_str(a, "Connection: close\r\n\r\n");
        else if (eddy_http_req_version(&a->req) == 0)
            rc = out_str(a, "Connection: keep-alive\r\n\r\n");
        else
            rc = out_str(a, "\r\n");
    }
    r->sent_head = true;
    return rc;
}

void eddy__http_resp_begin(struct eddy__http_active *a)
{
    struct eddy_http_resp *r = &a->resp;
    r->a = a;
    r->status = 200;
    r->head_only = a->p.ll.method == HTTP_HEAD;
    r->sent_head = r->streaming = r->done = r->failed = false;
    r->has_date = r->has_server = false;
    r->hlen = 0;
    r->blen = 0;
    a->req.p = &a->p;
    a->req.method = llhttp_method_name((llhttp_method_t)a->p.ll.method);
}

void eddy__http_resp_free(struct eddy_http_resp *r)
{
    eddy__dealloc(r->hdrs, r->hcap);
    eddy__dealloc(r->body, r->bcap);
    r->hdrs = r->body = NULL;
    r->hcap = r->bcap = 0;
}

void eddy__http_error_append(struct eddy__http_active *a, int status)
{
    struct eddy_http_resp *r = &a->resp;
    r->a = a;
    r->status = status;
    r->head_only = false;
    r->has_date = r->has_server = false;
    r->hlen = 0;
    a->close_after = true;
    char body[96];
    int n = snprintf(body, sizeof body, "%d %s\n", status, eddy__http_reason(status));
    if (head_append(a, r, FRAME_LENGTH, (uint64_t)n) == 0)
        (void)eddy__http_out_append(a, body, (size_t)n);
    r->done = true;
}

void eddy__http_resp_end(struct eddy__http_active *a, int rc)
{
    struct eddy_http_resp *r = &a->resp;
    if (r->done)
        return;
    r->done = true;
    if (r->streaming) {
        if (rc < 0 || r->failed) {
            a->broken = true; /* cut: the client sees no false end */
            return;
        }
        if (!r->head_only && eddy_http_req_version(&a->req) == 1 && status_has_body(r->status))
            (void)out_str(a, "0\r\n\r\n");
        return;
    }
    if (r->sent_head) /* a file went out whole */
        return;
    if (rc < 0) {
        r->status = 500;
        r->hlen = 0;
        r->blen = 0;
        r->has_date = r->has_server = false;
    }
    bool body = status_has_body(r->status);
    if (head_append(a, r, FRAME_LENGTH, body ? r->blen : 0) < 0) {
        a->broken = true;
        return;
    }
    if (body && !r->head_only && r->blen > 0 &&
        eddy__http_out_append(a, r->body, r->blen) < 0)
        a->broken = true;
}

/* ------------------------------------------------------------- requests */

const char *eddy_http_req_method(const eddy_http_req *r)
{
    return r != NULL ? r->method : NULL;
}

const char *eddy_http_req_path(const eddy_http_req *r)
{
    return r != NULL ? r->p->path : NULL;
}

const char *eddy_http_req_query(const eddy_http_req *r)
{
    return r != NULL ? r->p->query : NULL;
}

const char *eddy_http_req_header(const eddy_http_req *r, const char *name)
{
    if (r == NULL || name == NULL)
        return NULL;
    return eddy__http_parse_header(r->p, name);
}

const void *eddy_http_req_body(const eddy_http_req *r, size_t *len)
{
    if (r == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    if (len != NULL)
        *len = r->p->blen;
    return r->p->body != NULL ? r->p->body : "";
}

int eddy_http_req_version(const eddy_http_req *r)
{
    return r != NULL ? r->p->ll.http_minor : -EINVAL;
}

/* ------------------------------------------------------------ responses */

int eddy_http_resp_status(eddy_http_resp *r, int status)
{
    if (r == NULL || status < 200 || status > 599)
        return -EINVAL;
    if (r->sent_head || r->done)
        return -EALREADY;
    r->status = status;
    return 0;
}

static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!isalnum(ch) && strchr("!#$%&'*+-.^_`|~", ch) == NULL)
            return false;
    }
    return true;
}

int eddy_http_resp_header(eddy_http_resp *r, const char *name, const char *value)
{
    if (r == NULL || name == NULL || value == NULL || !is_token(name) ||
        strpbrk(value, "\r\n") != NULL)
        return -EINVAL;
    if (strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0 ||
        strcasecmp(name, "connection") == 0)
        return -EINVAL; /* framing is the server's */
    if (r->sent_head || r->done)
        return -EALREADY;
    size_t nl = strlen(name), vl = strlen(value), need = r->hlen + nl + vl + 4;
    if (need > r->hcap) {
        size_t nc = r->hcap ? r->hcap : 256;
        while (nc < need)
            nc *= 2;
        char *nh = eddy__realloc(r->hdrs, r->hcap, nc);
        if (nh == NULL)
            return -ENOMEM;
        r->hdrs = nh;
        r->hcap = nc;
    }
    char *w = r->hdrs + r->hlen;
    memcpy(w, name, nl);
    memcpy(w + nl, ": ", 2);
    memcpy(w + nl + 2, value, vl);
    memcpy(w + nl + 2 + vl, "\r\n", 2);
    r->hlen = need;
    if (strcasecmp(name, "date") == 0)
        r->has_date = true;
    else if (strcasecmp(name, "server") == 0)
        r->has_server = true;
    return 0;
}

int eddy_http_resp_body(eddy_http_resp *r, const void *body, size_t len)
{
    if (r == NULL || (body == NULL && len > 0))
        return -EINVAL;
    if (r->sent_head || r->done)
        return -EALREADY;
    if (len > r->bcap) {
        char *nb = eddy__realloc(r->body, r->bcap, len);
        if (nb == NULL)
            return -ENOMEM;
        r->body = nb;
        r->bcap = len;
    }
    if (len > 0)
        memcpy(r->body, body, len);
    r->blen = len;
    return 0;
}

int eddy_http_resp_write(eddy_http_resp *r, const void *chunk, size_t len)
{
    if (r == NULL || (chunk == NULL && len > 0))
        return -EINVAL;
    struct eddy__http_active *a = r->a;
    if (r->done || (r->sent_head && !r->streaming) || r->blen > 0)
        return -EALREADY;
    if (r->failed || a->broken)
        return -EPIPE;
    bool chunked = eddy_http_req_version(&a->req) == 1;
    if (!r->sent_head) {
        r->streaming = true;
        if (!chunked)
            a->close_after = true; /* HTTP/1.0: the body ends with the connection */
        int rc = head_append(a, r, chunked ? FRAME_CHUNKED : FRAME_TO_CLOSE, 0);
        if (rc < 0) {
            r->failed = true;
            return rc;
        }
    }
    int rc;
    if (r->head_only || !status_has_body(r->status) || len == 0) {
        rc = eddy__http_out_flush(a);
    } else if (!chunked) {
        struct iovec v = { .iov_base = (void *)chunk, .iov_len = len };
        rc = flush_with(a, &v, 1);
    } else {
        char size[24];
        int n = snprintf(size, sizeof size, "%zx\r\n", len);
        if (len <= CHUNK_COPY_MAX) {
            rc = eddy__http_out_append(a, size, (size_t)n);
            if (rc == 0)
                rc = eddy__http_out_append(a, chunk, len);
            if (rc == 0)
                rc = eddy__http_out_append(a, "\r\n", 2);
            if (rc == 0)
                rc = eddy__http_out_flush(a);
        } else {
            struct iovec v[3] = {
                { .iov_base = size, .iov_len = (size_t)n },
                { .iov_base = (void *)chunk, .iov_len = len },
                { .iov_base = "\r\n", .iov_len = 2 },
            };
            rc = flush_with(a, v, 3);
        }
    }
    if (rc < 0)
        r->failed = true;
    return rc;
}

int eddy_http_resp_file(eddy_http_resp *r, int fd, int64_t offset, size_t len)
{
    if (r == NULL || fd < 0 || offset < 0)
        return -EINVAL;
    struct eddy__http_active *a = r->a;
    if (r->done || r->sent_head || r->blen > 0)
        return -EALREADY;
    if (a->broken)
        return -EPIPE;
    int rc = head_append(a, r, FRAME_LENGTH, status_has_body(r->status) ? len : 0);
    if (rc == 0)
        rc = eddy__http_out_flush(a);
    if (rc < 0)
        a->broken = true; /* a head cut short must not reach the client */
    if (rc < 0 || r->head_only || !status_has_body(r->status)) {
        r->failed = rc < 0;
        return rc;
    }
    off_t off = (off_t)offset;
    size_t left = len;
    while (left > 0) {
        ssize_t n = sendfile(a->c->fd, fd, &off, left);
        if (n > 0) {
            left -= (size_t)n;
            continue;
        }
        if (n == 0) {
            rc = -EIO; /* the file is shorter than promised */
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            rc = -errno;
            break;
        }
        int w = eddy_wait_fd(a->c->fd, EDDY_WRITABLE, -1);
        if (w < 0) {
            rc = w;
            break;
        }
    }
    if (rc < 0) {
        /* Content-Length promised more than came: only a close tells */
        a->broken = true;
        r->failed = true;
    }
    return rc;
}
