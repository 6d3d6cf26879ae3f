/*
 * http/server_parse.c: request parsing for the server. llhttp (Node's
 * parser; built from the C sources Debian's node-llhttp package installs)
 * tokenizes and frames: request line, fields, Content-Length and chunked
 * bodies, and it rejects bare CR and LF, CTLs and NUL in values, CL with
 * TE, duplicate CL and a non-final chunked. What it lets through (8.1.0),
 * eddy rejects on top, as RFC 9112 asks: whitespace before a colon, obs-fold,
 * a missing or repeated Host on HTTP/1.1, transfer codings other than
 * chunked (501), versions other than 1.0 and 1.1 (505), and the limits
 * (414, 431, 413). No I/O here: the fuzzer drives this file alone.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/server_int.h"
#include "sched/alloc.h"

/* Grows *buf (cap *cap) to hold need bytes: false on OOM or past limit. */
static bool grow(char **buf, size_t *cap, size_t need, size_t limit)
{
    if (need <= *cap)
        return true;
    if (need > limit)
        return false;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    if (n > limit)
        n = limit;
    char *nb = eddy__realloc(*buf, *cap, n);
    if (nb == NULL)
        return false;
    *buf = nb;
    *cap = n;
    return true;
}

static struct eddy__http_parse *of(llhttp_t *ll)
{
    return (struct eddy__http_parse *)ll->data;
}

/* Fails the request with status (the first failure wins). */
static int fail(struct eddy__http_parse *p, int status)
{
    if (p->err == 0)
        p->err = status;
    return -1;
}

/* Appends n bytes of head (target, name or value) to the arena, counting
   them against the header block's limit. */
static int arena_add(struct eddy__http_parse *p, const char *at, size_t n)
{
    p->head_bytes += n;
    if (p->head_bytes > p->lim->max_head)
        return fail(p, 431);
    /* + 1: room for the NUL that ends the piece */
    if (!grow(&p->arena, &p->acap, p->alen + n + 1, (size_t)UINT32_MAX))
        return fail(p, 503);
    memcpy(p->arena + p->alen, at, n);
    p->alen += n;
    return 0;
}

static int arena_end_piece(struct eddy__http_parse *p)
{
    if (!grow(&p->arena, &p->acap, p->alen + 1, (size_t)UINT32_MAX))
        return fail(p, 503);
    p->arena[p->alen++] = '\0';
    return 0;
}

static int on_message_begin(llhttp_t *ll)
{
    struct eddy__http_parse *p = of(ll);
    p->alen = 0;
    p->nfields = 0;
    p->blen = 0;
    if (p->bcap == 0)
        p->body = NULL; /* it pointed at the shared empty body */
    p->target_len = 0;
    p->head_bytes = 0;
    p->path = p->query = NULL;
    p->last = 0;
    p->hosts = 0;
    p->te_fields = 0;
    p->in_message = true;
    p->head_done = false;
    p->expect_continue = false;
    p->keep_alive = false;
    p->upgrade = false;
    p->bad_te = false;
    p->no_version = false;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t n)
{
    struct eddy__http_parse *p = of(ll);
    /* HTTP/0.9's "GET /" ends the line here: llhttp calls it version 0.9,
       which the version check would answer 505 like an "HTTP/0.9" */
    if (at + n < p->exec_end)
        p->no_version = at[n] == '\r' || at[n] == '\n';
    p->target_len += n;
    if (p->target_len > p->lim->max_target)
        return fail(p, 414);
    p->last = 1;
    return arena_add(p, at, n);
}

static int on_url_complete(llhttp_t *ll)
{
    return arena_end_piece(of(ll));
}

/* Trailer fields (after a chunked body) are counted against the header
   limit and dropped: RFC 9110 6.5.1 says not to merge them into the
   header section (and the arena must not move under path and query). */
static int trailer_bytes(struct eddy__http_parse *p, size_t n)
{
    p->head_bytes += n;
    return p->head_bytes > p->lim->max_head ? fail(p, 431) : 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t n)
{
    struct eddy__http_parse *p = of(ll);
    if (p->head_done)
        return trailer_bytes(p, n);
    if (p->last != 2) { /* a new field begins */
        if (p->nfields >= p->lim->max_headers)
            return fail(p, 431);
        if (p->nfields == p->fcap) {
            unsigned nc = p->fcap ? p->fcap * 2 : 16;
            struct eddy__http_field *nf = eddy__realloc(p->fields, p->fcap * sizeof *nf,
                                                        nc * sizeof *nf);
            if (nf == NULL)
                return fail(p, 503);
            p->fields = nf;
            p->fcap = nc;
        }
        p->fields[p->nfields].name = (uint32_t)p->alen;
        p->fields[p->nfields].value = (uint32_t)p->alen;
        p->nfields++;
    }
    p->last = 2;
    return arena_add(p, at, n);
}

static bool is_token_char(unsigned char ch);

static int on_header_field_complete(llhttp_t *ll)
{
    struct eddy__http_parse *p = of(ll);
    if (p->head_done)
        return 0; /* a trailer's: llhttp's strict build checks its token */
    /* a name is a token (RFC 9110 5.1): not empty, no whitespace (before
       the colon it is a smuggling vector, RFC 9112 5.1: proxies disagree
       on the name), whatever llhttp's build lets through */
    size_t start = p->fields[p->nfields - 1].name;
    if (start == p->alen)
        return fail(p, 400);
    for (size_t i = start; i < p->alen; i++)
        if (!is_token_char((unsigned char)p->arena[i]))
            return fail(p, 400);
    return arena_end_piece(p);
}

static int on_header_value(llhttp_t *ll, const char *at, size_t n)
{
    struct eddy__http_parse *p = of(ll);
    if (p->head_done)
        return trailer_bytes(p, n);
    if (p->last == 3 && at > p->floor && at[-1] == '\n')
        return fail(p, 400); /* obs-fold: a line that goes on a value */
    if (p->last != 3)
        p->fields[p->nfields - 1].value = (uint32_t)p->alen;
    p->last = 3;
    return arena_add(p, at, n);
}

static bool is_token_char(unsigned char ch)
{
    return isalnum(ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* The comma-separated codings of a Transfer-Encoding value: true when the
   last is chunked; *other set when any is not. */
static bool te_last_chunked(const char *v, bool *other)
{
    bool last_chunked = false;
    while (*v != '\0') {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        if (*v == '\0')
            break;
        const char *s = v;
        while (*v != '\0' && *v != ',' && *v != ' ' && *v != '\t' && *v != ';')
            v++;
        size_t n = (size_t)(v - s);
        last_chunked = n == 7 && strncasecmp(s, "chunked", 7) == 0;
        if (!last_chunked)
            *other = true;
        while (*v != '\0' && *v != ',')
            v++; /* parameters of a coding */
    }
    return last_chunked;
}

static int on_header_value_complete(llhttp_t *ll)
{
    struct eddy__http_parse *p = of(ll);
    if (p->head_done)
        return 0;
    if (p->last != 3) /* an empty value: no value callback came */
        p->fields[p->nfields - 1].value = (uint32_t)p->alen;
    p->last = 3;
    /* OWS after the value is not part of it (RFC 9110 5.5) */
    while (p->alen > p->fields[p->nfields - 1].value &&
           (p->arena[p->alen - 1] == ' ' || p->arena[p->alen - 1] == '\t'))
        p->alen--;
    if (arena_end_piece(p) < 0)
        return -1;
    const struct eddy__http_field *f = &p->fields[p->nfields - 1];
    const char *name = p->arena + f->name, *value = p->arena + f->value;
    if (strcasecmp(name, "host") == 0) {
        if (p->hosts < 255)
            p->hosts++;
    } else if (strcasecmp(name, "transfer-encoding") == 0) {
        p->te_fields++;
        bool other = false;
        if (!te_last_chunked(value, &other))
            return fail(p, 400); /* RFC 9112 6.3: chunked must be last */
        if (other)
            p->bad_te = true; /* decided at the head's end: 501 */
    } else if (strcasecmp(name, "expect") == 0 && ll->http_minor > 0) {
        /* HTTP/1.0: ignored (RFC 9110 10.1.1: never a 1xx to a 1.0 client) */
        if (strcasecmp(value, "100-continue") != 0)
            return fail(p, 417);
        p->expect_continue = true;
    }
    return 0;
}

/* Points path and query into the target (NUL-terminated in the arena). */
static void split_target(struct eddy__http_parse *p)
{
    char *t = p->arena; /* the target is the arena's first piece */
    if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
        char *s = strstr(t, "//") + 2; /* absolute form: skip the authority */
        char *slash = strpbrk(s, "/?");
        if (slash == NULL || *slash == '?') {
            /* no path: "/" (kept in the authority's last byte when there
               is no room: the authority is not needed any more) */
            if (slash == NULL) {
                p->path = "/";
                p->query = NULL;
                return;
            }
            *(slash - 1) = '/';
            *slash = '\0';
            p->path = slash - 1;
            p->query = slash + 1;
            return;
        }
        t = slash;
    }
    char *q = strchr(t, '?');
    if (q != NULL) {
        *q = '\0';
        p->query = q + 1;
    }
    p->path = t;
}

static int on_headers_complete(llhttp_t *ll)
{
    struct eddy__http_parse *p = of(ll);
    if (p->no_version)
        return fail(p, 400); /* a request line without a version */
    if (ll->http_major != 1 || ll->http_minor > 1)
        return fail(p, 505);
    if (p->hosts > 1 || (ll->http_minor == 1 && p->hosts == 0))
        return fail(p, 400); /* RFC 9112 3.2 */
    if (p->bad_te)
        return fail(p, 501);
    if (p->te_fields > 0 && ll->http_minor == 0)
        return fail(p, 400); /* RFC 9112 6.1: TE in 1.0 means a faulty framing */
    if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > p->lim->max_body)
        return fail(p, 413); /* before reading it: 100-continue gets this */
    if (p->alen == 0 && arena_end_piece(p) < 0)
        return -1;
    split_target(p);
    p->head_done = true;
    p->keep_alive = llhttp_should_keep_alive(ll) != 0;
    p->upgrade = ll->upgrade != 0;
    if (p->upgrade)
        p->keep_alive = false; /* no protocol switch here: answer, then close */
    bool has_body = (ll->flags & F_CHUNKED) || ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > 0);
    if (!has_body)
        p->expect_continue = false;
    if (p->expect_continue)
        return HPE_PAUSED; /* the caller answers 100 Continue first */
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t n)
{
    struct eddy__http_parse *p = of(ll);
    if (p->blen + n > p->lim->max_body)
        return fail(p, 413);
    if (!grow(&p->body, &p->bcap, p->blen + n + 1, p->lim->max_body + 1))
        return fail(p, 503);
    memcpy(p->body + p->blen, at, n);
    p->blen += n;
    p->body[p->blen] = '\0';
    return 0;
}

/* Chunk extensions are skipped, but counted: an endless one would hold the
   connection and read forever within the body's limit (Node's
   CVE-2024-22019). */
#define MAX_CHUNK_EXT 1024

static int on_chunk_ext(llhttp_t *ll, const char *at, size_t n)
{
    struct eddy__http_parse *p = of(ll);
    (void)at;
    p->ext_bytes += n;
    return p->ext_bytes > MAX_CHUNK_EXT ? fail(p, 413) : 0;
}

static int on_chunk_header(llhttp_t *ll)
{
    of(ll)->ext_bytes = 0;
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    struct eddy__http_parse *p = of(ll);
    p->in_message = false;
    if (p->body == NULL || p->blen == 0) {
        static char empty[1];
        if (p->body == NULL) {
            p->body = empty; /* never NULL for eddy_http_req_body */
            p->bcap = 0;
        } else {
            p->body[0] = '\0';
        }
    }
    return HPE_PAUSED; /* one request at a time: the caller answers it */
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_url_complete = on_url_complete,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_extension_name = on_chunk_ext,
    .on_chunk_extension_value = on_chunk_ext,
    .on_chunk_header = on_chunk_header,
};

void eddy__http_parse_init(struct eddy__http_parse *p, const struct eddy__http_limits *lim)
{
    memset(p, 0, sizeof *p);
    p->lim = lim;
    llhttp_init(&p->ll, HTTP_REQUEST, &settings);
    p->ll.data = p;
}

void eddy__http_parse_free(struct eddy__http_parse *p)
{
    eddy__dealloc(p->arena, p->acap);
    eddy__dealloc(p->fields, p->fcap * sizeof *p->fields);
    if (p->bcap > 0)
        eddy__dealloc(p->body, p->bcap);
    memset(p, 0, sizeof *p);
}

/* The status for an error llhttp found itself. */
static int status_of(const struct eddy__http_parse *p, llhttp_errno_t e, const char *data,
                     size_t len)
{
    switch (e) {
    case HPE_INVALID_METHOD: {
        /* a well-formed token we do not know: 501; anything else: 400 */
        size_t i = 0;
        while (i < len && is_token_char((unsigned char)data[i]))
            i++;
        return i > 0 && i < len && data[i] == ' ' && p->alen == 0 ? 501 : 400;
    }
    case HPE_INVALID_VERSION: {
        /* a well-formed HTTP/d.d other than 1.0 and 1.1: 505; anything
           else where the version should be (llhttp gives both the same
           code): a malformed request line, 400 */
        const char *pos = llhttp_get_error_pos(&p->ll);
        const char *v = NULL;
        for (const char *q = data; pos != NULL && q + 5 <= pos && q + 5 <= data + len; q++)
            if (memcmp(q, "HTTP/", 5) == 0)
                v = q + 5;
        if (v == NULL)
            return 505; /* the line began in an earlier read */
        return v + 4 <= data + len && isdigit((unsigned char)v[0]) && v[1] == '.' &&
                       isdigit((unsigned char)v[2]) && v[3] == '\r'
                   ? 505
                   : 400;
    }
    case HPE_PAUSED_H2_UPGRADE:
        return 505;
    default:
        return 400;
    }
}

/* Checks the line endings of the head in data: a bare LF is refused (RFC
   9112 2.2 allows a server to take it; the smuggling reports say do
   not). Stops at the blank line that ends the head: a body is any bytes. */
static int scan_head(struct eddy__http_parse *p, const char *data, size_t len)
{
    /* every byte of the head counts here, whitespace and empty lines
       before the request line too (the callbacks see neither): a backstop
       above the exact limits the callbacks apply */
    size_t limit = p->lim->max_head + p->lim->max_target + 1024;
    for (size_t i = 0; i < len && !p->scan_done; i++) {
        if (++p->scan_bytes > limit)
            return fail(p, 431);
        uint8_t c = (uint8_t)data[i];
        if (c == '\n') {
            if (p->scan_prev != '\r')
                return fail(p, 400);
            if (p->scan_text && ++p->scan_crlfs == 2)
                p->scan_done = true; /* empty lines before the request line do not count */
        } else if (c != '\r') {
            p->scan_text = true;
            p->scan_crlfs = 0;
        }
        p->scan_prev = c;
    }
    return 0;
}

size_t eddy__http_parse_lead(const struct eddy__http_parse *p, uint8_t *prev)
{
    *prev = p->scan_prev;
    return p->in_message || p->scan_text || p->err != 0 ? 0 : p->scan_bytes;
}

void eddy__http_parse_set_lead(struct eddy__http_parse *p, size_t bytes, uint8_t prev)
{
    p->scan_bytes = bytes;
    p->scan_prev = bytes > 0 ? prev : 0;
}

static void scan_reset(struct eddy__http_parse *p)
{
    p->scan_bytes = 0;
    p->wire_bytes = 0;
    p->scan_prev = p->scan_crlfs = 0;
    p->scan_text = p->scan_done = false;
}

/* The bytes one request may take on the wire, framing included: its head,
   and its body with chunked framing at its most wasteful (1-byte chunks
   cost 6 bytes each) plus room for zeros before chunk sizes. Past it, 413:
   the framing of an endless request is not free. */
static int count_wire(struct eddy__http_parse *p, size_t n)
{
    p->wire_bytes += n;
    size_t limit = p->lim->max_head + p->lim->max_target + 8 * p->lim->max_body + 65536;
    return p->wire_bytes > limit ? fail(p, 413) : 0;
}

int eddy__http_parse(struct eddy__http_parse *p, const char *data, size_t len, size_t *used)
{
    *used = 0;
    if (p->err != 0)
        return p->err;
    if (scan_head(p, data, len) < 0)
        return p->err;
    p->exec_end = data + len;
    llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
    if (e == HPE_OK) {
        *used = len;
        return count_wire(p, len) < 0 ? p->err : EDDY__PARSE_MORE;
    }
    const char *pos = llhttp_get_error_pos(&p->ll);
    *used = pos != NULL && pos >= data && pos <= data + len ? (size_t)(pos - data) : len;
    if (count_wire(p, *used) < 0)
        return p->err;
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        if (e == HPE_PAUSED_UPGRADE)
            llhttp_resume_after_upgrade(&p->ll); /* closed after the answer */
        else
            llhttp_resume(&p->ll);
        if (p->in_message)
            return EDDY__PARSE_HEAD;
        scan_reset(p); /* the next request's head begins */
        return EDDY__PARSE_DONE;
    }
    if (p->err != 0)
        return p->err; /* one of our checks, through a callback */
    p->err = status_of(p, e, data, len);
    return p->err;
}

const char *eddy__http_parse_header(const struct eddy__http_parse *p, const char *name)
{
    for (unsigned i = 0; i < p->nfields; i++)
        if (strcasecmp(p->arena + p->fields[i].name, name) == 0)
            return p->arena + p->fields[i].value;
    return NULL;
}
