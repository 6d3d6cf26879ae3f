/*
 * http/client.c: eddy_http_client. A client holds its options, a DNS (and
 * PSL) cache shared by every worker through a CURLSH with one lock per
 * data kind (nothing else is shared: Debian 12's libcurl 7.88 races when
 * connections or TLS sessions are), and, with max_host_connections, a
 * semaphore per host that a request holds while curl has it. A request
 * builds a fresh easy handle, runs it through http/curl_perform.c and
 * turns what curl collected into an eddy_http_response (http/response.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <eddy/http.h>
#include <eddy/sync.h>
#include <eddy/version.h>

#include "http/http_int.h"
#include "http/response.h"
#include "sched/alloc.h"

#define HOST_BUCKETS 256
/* Easy handles kept for reuse (curl_easy_reset): an init and a cleanup
   per request cost more than a reset (the handle's buffers are kept). */
#define EASY_POOL_MAX 1024

struct host_slot {
    char *key;                 /* "scheme://host:port"; immutable */
    eddy_sem *sem;             /* max_host_connections permits */
    unsigned hash;             /* immutable */
    struct host_slot *next;    /* guarded by: the client's hosts_lock */
};

struct eddy_http_client {
    eddy_http_client_opts o;   /* immutable after new; the strings are ours */
    char *user_agent, *ca_file;
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t hosts_lock;
    struct host_slot *hosts[HOST_BUCKETS]; /* guarded by: hosts_lock */
    pthread_mutex_t pool_lock;
    CURL *pool[EASY_POOL_MAX];             /* guarded by: pool_lock */
    size_t npool;                          /* guarded by: pool_lock */
};

void eddy_http_client_opts_init(eddy_http_client_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->max_redirects = 10;
    o->compression = true;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
    struct eddy_http_client *c = userp;
    (void)h;
    (void)access;
    if ((unsigned)data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
    struct eddy_http_client *c = userp;
    (void)h;
    if ((unsigned)data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&c->share_locks[data]);
}

int eddy_http_client_new(eddy_http_client **out, const eddy_http_client_opts *opts)
{
    if (out == NULL)
        return -EINVAL;
    eddy_http_client_opts o;
    if (opts != NULL)
        o = *opts;
    else
        eddy_http_client_opts_init(&o);
    if (o.connect_timeout_ms < 0 || o.total_timeout_ms < 0 || o.max_redirects < -1 ||
        o.max_host_connections < 0 || o.max_idle_connections < 0 || o.dns_cache_ttl_s < -1)
        return -EINVAL;
    for (int i = 0; i < 4; i++)
        if (o.reserved[i] != NULL)
            return -EINVAL;
    int rc = eddy__http_global_init();
    if (rc < 0)
        return rc;
    struct eddy_http_client *c = eddy__calloc(sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->o = o;
    char ua[96];
    if (o.user_agent == NULL) {
        const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
        snprintf(ua, sizeof ua, "eddy/%s libcurl/%s", EDDY_VERSION_STRING, v->version);
    }
    c->user_agent = eddy__strdup(o.user_agent != NULL ? o.user_agent : ua);
    c->o.user_agent = c->user_agent;
    c->ca_file = o.ca_file != NULL ? eddy__strdup(o.ca_file) : NULL;
    c->o.ca_file = c->ca_file;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    pthread_mutex_init(&c->hosts_lock, NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    c->share = curl_share_init();
    if (c->user_agent == NULL || c->share == NULL || (o.ca_file != NULL && c->ca_file == NULL)) {
        eddy_http_client_free(c);
        return -ENOMEM;
    }
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_PSL);
    *out = c;
    return 0;
}

void eddy_http_client_free(eddy_http_client *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]); /* before the share they point at */
    if (c->share != NULL)
        (void)curl_share_cleanup(c->share);
    for (int b = 0; b < HOST_BUCKETS; b++) {
        for (struct host_slot *h = c->hosts[b], *nx; h != NULL; h = nx) {
            nx = h->next;
            eddy_sem_free(h->sem);
            eddy__strfree(h->key);
            eddy__dealloc(h, sizeof *h);
        }
    }
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    pthread_mutex_destroy(&c->hosts_lock);
    pthread_mutex_destroy(&c->pool_lock);
    eddy__strfree(c->user_agent);
    eddy__strfree(c->ca_file);
    eddy__dealloc(c, sizeof *c);
}

/* -------------------------------------------------------- checking input */

static bool is_tchar(unsigned char ch)
{
    /* RFC 9110 token characters */
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool is_token(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

static bool is_field_value(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

/* Whether url starts "http://" or "https://" (any case) and a host. */
static bool looks_absolute_http(const char *url)
{
    size_t n = strncasecmp(url, "http://", 7) == 0 ? 7 : strncasecmp(url, "https://", 8) == 0 ? 8 : 0;
    return n > 0 && url[n] != '\0' && url[n] != '/' && url[n] != '?' && url[n] != '#';
}

/* Checks url and gives its "scheme://host:port" (with the scheme's default
   port). -EINVAL unless an absolute http or https URL. */
static int origin_of(const char *url, char *key, size_t keylen)
{
    CURLU *u = curl_url();
    if (u == NULL)
        return -ENOMEM;
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -EINVAL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        int n = snprintf(key, keylen, "%s://%s:%s", scheme, host, port);
        rc = n > 0 && (size_t)n < keylen ? 0 : -EINVAL;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static int check_request(const eddy_http_request *req)
{
    if (req->url == NULL || (req->body == NULL && req->body_len > 0) || req->timeout_ms < 0 ||
        (req->headers == NULL && req->n_headers > 0))
        return -EINVAL;
    if (req->method != NULL && !is_token(req->method))
        return -EINVAL;
    for (size_t i = 0; i < req->n_headers; i++)
        if (!is_token(req->headers[i].name) || req->headers[i].value == NULL ||
            !is_field_value(req->headers[i].value))
            return -EINVAL;
    for (int i = 0; i < 4; i++)
        if (req->reserved[i] != NULL)
            return -EINVAL;
    return 0;
}

/* ---------------------------------------------------------- host limits */

static unsigned str_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The host's slot (made on first use), NULL on OOM. Slots stay until the
   client is freed. */
static struct host_slot *host_get(struct eddy_http_client *c, const char *key)
{
    unsigned h = str_hash(key);
    pthread_mutex_lock(&c->hosts_lock);
    struct host_slot *s = c->hosts[h % HOST_BUCKETS];
    while (s != NULL && (s->hash != h || strcmp(s->key, key) != 0))
        s = s->next;
    if (s == NULL) {
        s = eddy__calloc(sizeof *s);
        if (s != NULL) {
            s->key = eddy__strdup(key);
            if (s->key == NULL || eddy_sem_new(&s->sem, (unsigned)c->o.max_host_connections) < 0) {
                eddy__strfree(s->key);
                eddy__dealloc(s, sizeof *s);
                s = NULL;
            } else {
                s->hash = h;
                s->next = c->hosts[h % HOST_BUCKETS];
                c->hosts[h % HOST_BUCKETS] = s;
            }
        }
    }
    pthread_mutex_unlock(&c->hosts_lock);
    return s;
}

/* ------------------------------------------------------------- requests */

static CURL *easy_get(struct eddy_http_client *c)
{
    CURL *e = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->npool > 0)
        e = c->pool[--c->npool];
    pthread_mutex_unlock(&c->pool_lock);
    if (e == NULL)
        return curl_easy_init();
    curl_easy_reset(e); /* every option back to its default */
    return e;
}

static void easy_put(struct eddy_http_client *c, CURL *e)
{
    /* a handle run by curl_easy_perform (a plain thread's request) holds
       its own connection cache, which only its cleanup closes */
    if (eddy__task_current() == NULL) {
        curl_easy_cleanup(e);
        return;
    }
    pthread_mutex_lock(&c->pool_lock);
    if (c->npool < EASY_POOL_MAX) {
        c->pool[c->npool++] = e;
        e = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    if (e != NULL)
        curl_easy_cleanup(e);
}

/* Sets up easy for req on c, collecting into r. */
static int prepare(struct eddy_http_client *c, const eddy_http_request *req, CURL *easy,
                   struct eddy__resp *r, struct curl_slist **hdrs)
{
    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_SHARE, c->share);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, eddy__curl_open_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, eddy__curl_close_socket);
    if (c->o.max_redirects != 0) { /* the URL's own scheme was checked */
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(easy, CURLOPT_MAXREDIRS, c->o.max_redirects);
        curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (c->o.compression)
        curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); /* all it has */
    if (c->o.http2_prior_knowledge)
        curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    else if (c->o.http2)
        curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    else
        curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (c->o.pipewait)
        curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    if (c->o.connect_timeout_ms > 0)
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    int64_t total = req->timeout_ms > 0 ? req->timeout_ms : c->o.total_timeout_ms;
    if (total > 0)
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)total);
    if (c->o.ca_file != NULL)
        curl_easy_setopt(easy, CURLOPT_CAINFO, c->o.ca_file);
    if (c->o.dns_cache_ttl_s != 0)
        curl_easy_setopt(easy, CURLOPT_DNS_CACHE_TIMEOUT, c->o.dns_cache_ttl_s);
    eddy__resp_attach(r, easy, c->o.max_body_bytes);
    for (size_t i = 0; i < req->n_headers; i++) {
        /* "Name:" removes curl's own header, "Name;" sends it empty */
        size_t n = strlen(req->headers[i].name), v = strlen(req->headers[i].value);
        char *line = eddy__alloc(n + v + 3);
        if (line == NULL)
            return -ENOMEM;
        if (v == 0)
            snprintf(line, n + v + 3, "%s;", req->headers[i].name);
        else
            snprintf(line, n + v + 3, "%s: %s", req->headers[i].name, req->headers[i].value);
        struct curl_slist *nl = curl_slist_append(*hdrs, line);
        eddy__dealloc(line, n + v + 3);
        if (nl == NULL)
            return -ENOMEM;
        *hdrs = nl;
    }
    if (*hdrs != NULL)
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, *hdrs);
    if (req->body != NULL || req->body_len > 0) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
    }
    if (req->method != NULL) {
        if (strcmp(req->method, "HEAD") == 0)
            curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
        else if (strcmp(req->method, "GET") == 0 && req->body == NULL)
            curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        else if (!(strcmp(req->method, "POST") == 0 && req->body != NULL))
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
    }
    return 0;
}

/* The errno for a transfer that ended with res. */
static int transport_error(CURLcode res, CURL *easy, bool too_big)
{
    long os_errno = 0;
    switch (res) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
        return os_errno > 0 ? -(int)os_errno : -ECONNREFUSED;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return -ECONNRESET;
    case CURLE_TOO_MANY_REDIRECTS:
        return -ELOOP;
    case CURLE_WRITE_ERROR:
        return too_big ? -EFBIG : -EIO;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_URL_MALFORMAT:
        return -EINVAL;
    default:
        return -EIO;
    }
}

int eddy_http_request_send(eddy_http_client *c, const eddy_http_request *req,
                           eddy_http_response **resp)
{
    if (resp != NULL)
        *resp = NULL;
    if (c == NULL || req == NULL || resp == NULL)
        return -EINVAL;
    int rc = check_request(req);
    if (rc == 0 && !looks_absolute_http(req->url))
        rc = -EINVAL; /* curl finds the rest (URL_MALFORMAT: -EINVAL below) */
    if (rc < 0)
        return rc;
    struct host_slot *host = NULL;
    if (c->o.max_host_connections > 0) {
        /* the host's key needs the URL parsed; only a limit needs it */
        char key[512];
        rc = origin_of(req->url, key, sizeof key);
        if (rc < 0)
            return rc;
        host = host_get(c, key);
        if (host == NULL)
            return -ENOMEM;
    }
    struct eddy__resp *r = eddy__resp_new();
    CURL *easy = easy_get(c);
    struct curl_slist *hdrs = NULL;
    if (r == NULL || easy == NULL || prepare(c, req, easy, r, &hdrs) < 0) {
        curl_slist_free_all(hdrs);
        if (easy != NULL)
            easy_put(c, easy);
        eddy__resp_free(r);
        return -ENOMEM;
    }
    /* with a host limit: a permit first (waiting here holds no connection,
       and curl's timeout starts after), and the host's own worker */
    int worker = -1;
    if (host != NULL) {
        rc = eddy_sem_acquire(host->sem);
        struct eddy__sched *s = eddy__sched_current();
        if (s != NULL)
            worker = (int)(host->hash % eddy__sched_workers(s));
    }
    CURLcode res = CURLE_OK;
    if (rc == 0) {
        rc = eddy__xfer_run(easy, worker, c->o.max_idle_connections, &res);
        if (host != NULL)
            eddy_sem_release(host->sem);
    } else {
        res = rc == -ETIMEDOUT ? CURLE_OPERATION_TIMEDOUT : CURLE_ABORTED_BY_CALLBACK;
    }
    if (rc == 0)
        rc = transport_error(res, easy, eddy__resp_too_big(r));
    eddy__resp_finish(r, easy, res, rc);
    curl_slist_free_all(hdrs);
    easy_put(c, easy);
    if (rc == -ENOMEM || rc == -EINVAL || rc == -EPERM) {
        eddy__resp_free(r);
        return rc;
    }
    *resp = eddy__resp_public(r);
    return rc;
}

int eddy_http_get(eddy_http_client *c, const char *url, eddy_http_response **resp)
{
    eddy_http_request req;
    memset(&req, 0, sizeof req);
    req.url = url;
    if (url == NULL) {
        if (resp != NULL)
            *resp = NULL;
        return -EINVAL;
    }
    return eddy_http_request_send(c, &req, resp);
}
