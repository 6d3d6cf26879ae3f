/** @file
 * eddy/http.h: an HTTP client on libcurl for tasks, and any CURL easy
 * handle run inside a task.
 *
 * Each worker drives one curl multi handle from its own reactor and timer
 * wheel (no thread per request, no polling loop): a request suspends its
 * task until curl is done, and the worker runs other tasks meanwhile. A
 * task that is aborted, or whose deadline (eddy_deadline_push) passes, has
 * its transfer taken out of curl before the call returns. Called from a
 * plain thread (outside any task) the calls block the thread and run curl
 * there. Connections and TLS sessions are kept per worker; the DNS cache
 * is shared by the workers (Debian 12's libcurl 7.88 is not thread-safe
 * sharing connections or TLS sessions). Name lookups use libcurl's own
 * resolver: on Debian a thread per uncached lookup.
 *
 * libcurl's callbacks (a CURL handle's write function, say) run on the
 * worker, outside the task that waits for the transfer: they must not
 * call eddy functions that suspend (those return -EPERM there). The first
 * call of this header's functions runs curl_global_init and, when SIGPIPE
 * is still at its default, ignores SIGPIPE process-wide (with signals off,
 * as threads need, libcurl does not guard its TLS writes).
 *
 * Errors are negative errno values. A transport failure of a request gives
 * -ETIMEDOUT (a timeout), -ECONNREFUSED (or another connect errno:
 * -ENETUNREACH, -EHOSTUNREACH...), -ECONNRESET (a reset, or a connection
 * closed with nothing or too little received), -ECANCELED (the task was
 * aborted), -ELOOP (too many redirects), -EFBIG (a body over
 * max_body_bytes), -EIO otherwise (an unknown host among them: curl_code
 * CURLE_COULDNT_RESOLVE_HOST tells it), each with a response whose status
 * is 0 and whose curl_code and error say what curl saw. An HTTP error
 * status (4xx, 5xx) is a success.
 *
 * Thread safety: every function may be called from any task or thread; a
 * client may be used by many tasks on any workers at once.
 */
#ifndef EDDY_HTTP_H
#define EDDY_HTTP_H

#include <eddy/common.h>

#include <curl/curl.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An HTTP client: options, a per-host connection limit and a shared DNS
    cache. Opaque. */
typedef struct eddy_http_client eddy_http_client;

/**
 * Client options. Initialise with eddy_http_client_opts_init() and then
 * set the fields you care about.
 */
typedef struct eddy_http_client_opts {
    int64_t connect_timeout_ms;  /**< 0: libcurl's default (300 s) */
    int64_t total_timeout_ms;    /**< per request, from when curl takes it; 0: none */
    long max_redirects;          /**< -1: unlimited, 0: none (a 3xx is the response) */
    /** Requests in flight to one host (scheme, host and port) at most; 0:
        unlimited. Enforced by eddy before curl sees the request: more wait
        in eddy's queue, holding no connection, and their timeout starts
        when they leave it. With a limit, one host's requests go through
        one worker's curl, so its connections live in one pool and the
        host never sees more than this many at once. */
    long max_host_connections;
    const char *user_agent;      /**< copied; NULL: "eddy/<version> libcurl/<version>" */
    bool compression;            /**< Accept-Encoding for every coding libcurl has, decoded */
    bool http2;                  /**< HTTP/2 over TLS by ALPN (else HTTP/1.1) */
    bool http2_prior_knowledge;  /**< cleartext HTTP/2 (h2c) without upgrade;
                                      Debian 12's libcurl 7.88 fails requests
                                      that wait to share such a connection
                                      ("Error in the HTTP2 framing layer"):
                                      prefer HTTP/2 over TLS */
    bool pipewait;               /**< HTTP/2: wait for a connection that may
                                      multiplex rather than open a new one */
    size_t max_body_bytes;       /**< a longer body fails with -EFBIG; 0: no limit */
    long max_idle_connections;   /**< raise each worker's connection pool to
                                      this many (CURLMOPT_MAXCONNECTS); 0:
                                      libcurl's (4 per transfer in flight) */
    long dns_cache_ttl_s;        /**< 0: libcurl's 60 s; -1: forever */
    const char *ca_file;         /**< copied; PEM file of CAs to trust for
                                      TLS instead of the system's; NULL: the
                                      system's */
    void *reserved[4];           /**< must stay zero (opts_init sets it;
                                      eddy_http_client_new refuses other values) */
} eddy_http_client_opts;

/** Defaults: no timeouts of eddy's own, max_redirects 10,
    max_host_connections 0 (unlimited), user_agent NULL, compression on,
    HTTP/1.1, no body limit, libcurl's pool and DNS TTL. Any thread. */
EDDY_API void eddy_http_client_opts_init(eddy_http_client_opts *o);

/** One request header. */
typedef struct eddy_http_header {
    const char *name;  /**< e.g. "Accept" */
    const char *value; /**< "" sends an empty header */
} eddy_http_header;

/** A request. Borrowed by eddy_http_request_send for the call only. */
typedef struct eddy_http_request {
    const char *method;              /**< NULL: GET (POST when body is set) */
    const char *url;                 /**< absolute http or https URL */
    const eddy_http_header *headers; /**< n_headers of them, may be NULL */
    size_t n_headers;                /**< how many headers there are */
    const void *body;                /**< request body (body_len bytes), may be NULL */
    size_t body_len;                 /**< bytes of body */
    int64_t timeout_ms;              /**< 0: the client's total_timeout_ms */
    void *reserved[4];               /**< must be zero (room to grow) */
} eddy_http_request;

/**
 * A response, owned by eddy until eddy_http_response_free. Strings are
 * NUL-terminated and never NULL.
 */
typedef struct eddy_http_response {
    long status;                 /**< HTTP status; 0 after a transport failure */
    const char *body;            /**< decoded body; body[body_len] == 0 */
    size_t body_len;             /**< bytes of body, the NUL not counted */
    const char *content_type;    /**< the Content-Type header, "" if none */
    const char *effective_url;   /**< the last URL, after redirects */
    double total_s;              /**< libcurl's total time of the transfer */
    int curl_code;               /**< the CURLcode; 0 on success */
    const char *error;           /**< curl's message; "" on success */
    /* eddy's additions, filled on every return with a response */
    double dns_s;                /**< name lookup done, since the start */
    double connect_s;            /**< TCP connected */
    double tls_s;                /**< TLS handshake done (0 without TLS) */
    double ttfb_s;               /**< first byte of the response */
    long redirects;              /**< redirects followed */
    uint64_t wire_bytes;         /**< body bytes as received (before decoding) */
    int http_version;            /**< 10, 11, 20, 30; 0 unknown */
} eddy_http_response;

/**
 * The value of the response's header name (case-insensitive; the final
 * response's headers after redirects; the first of repeated ones), NULL
 * when absent or r is NULL. Valid until the response is freed.
 */
EDDY_API const char *eddy_http_response_header(const eddy_http_response *r, const char *name);

/**
 * Makes a client. o may be NULL (defaults). Any thread, inside a task or
 * not (a program typically makes its client in main() before
 * eddy_rt_block_on); usable from any runtime's tasks and from plain
 * threads.
 *
 * Errors: -EINVAL (out NULL, negative timeouts or limits, max_redirects
 * below -1, reserved fields not zero), -ENOMEM.
 */
EDDY_API int eddy_http_client_new(eddy_http_client **out, const eddy_http_client_opts *o);

/**
 * Frees a client (NULL: no-op). No request may be under way on it. Any
 * thread.
 */
EDDY_API void eddy_http_client_free(eddy_http_client *c);

/**
 * GET url. *resp is set on every return but -EINVAL and -ENOMEM (then
 * NULL): a response on success (any HTTP status) and on a transport
 * failure (status 0, curl_code and error set). Suspends.
 *
 * Errors: -EINVAL (c, url or resp NULL, url not an absolute http(s) URL),
 * -ENOMEM, the transport errors of this header's introduction.
 */
EDDY_API int eddy_http_get(eddy_http_client *c, const char *url, eddy_http_response **resp);

/**
 * Sends req. As eddy_http_get, with its method, headers and body. A
 * header given here replaces the client's (User-Agent); one with an empty
 * value is sent empty. Suspends.
 *
 * Errors: as eddy_http_get; -EINVAL also for req NULL, a method with
 * characters outside a token, a header name with characters outside a
 * token or a CR or LF in a value, body NULL with body_len > 0, a negative
 * timeout_ms, reserved fields not zero.
 */
EDDY_API int eddy_http_request_send(eddy_http_client *c, const eddy_http_request *req,
                                    eddy_http_response **resp);

/** Frees a response (NULL: no-op). Any thread. */
EDDY_API void eddy_http_response_free(eddy_http_response *r);

/**
 * Runs easy, configured by the caller as for curl_easy_perform, inside the
 * current task: the drop-in for curl_easy_perform. The handle is used as
 * it is (eddy sets only CURLOPT_NOSIGNAL on it) on the curl multi handle
 * of the worker the task runs on; its callbacks run on that worker outside
 * the task (see the top of this header). *code (when code is not NULL)
 * gets what curl_easy_perform would have returned. On a plain thread it is
 * curl_easy_perform. Suspends.
 *
 * Returns 0 when curl reports CURLE_OK, -EIO for any other curl result;
 * -ECANCELED / -ETIMEDOUT when the task was aborted / its deadline passed
 * (the transfer is out of curl by the return; *code is
 * CURLE_ABORTED_BY_CALLBACK / CURLE_OPERATION_TIMEDOUT, or the transfer's
 * own result if it had finished); -EINVAL (easy NULL); -EPERM (on a
 * worker outside any task); -ENOMEM.
 */
EDDY_API int eddy_curl_perform(CURL *easy, CURLcode *code);

/* ================================================================ server */

/** An HTTP/1.1 server on the current runtime (eddy_http_serve). */
typedef struct eddy_http_server eddy_http_server;
/** A read-only view of one request, valid during its handler's call. */
typedef struct eddy_http_req eddy_http_req;
/** The response to one request, built by its handler. */
typedef struct eddy_http_resp eddy_http_resp;

/**
 * A request handler: runs in a task (it may call every suspending eddy
 * function), once per request. It fills resp (status 200 and an empty
 * body unless it says otherwise) and returns 0; a negative return before
 * anything was sent gives a 500 response, after a streamed start it cuts
 * the connection (the client sees an incomplete body, not a false end).
 */
typedef int (*eddy_http_handler)(eddy_http_req *req, eddy_http_resp *resp, void *ud);

/** How the server listens (eddy_http_server_opts.listen). */
enum {
    EDDY_HTTP_LISTEN_PER_WORKER = 0, /**< one SO_REUSEPORT listener per worker (default) */
    EDDY_HTTP_LISTEN_SHARED = 1      /**< one listener for all workers */
};

/**
 * Server options. Initialise with eddy_http_server_opts_init(), then set
 * what you need. Sizes in bytes, times in milliseconds (negative: none).
 */
typedef struct eddy_http_server_opts {
    const char *host;          /**< address to bind; NULL or "": 127.0.0.1 */
    uint16_t port;             /**< 0: any free port (eddy_http_server_port) */
    size_t max_header_bytes;   /**< request line + header block: 16 KiB (431) */
    size_t max_body_bytes;     /**< decoded request body: 1 MiB (413) */
    int64_t header_timeout_ms; /**< the whole header block, from its first byte
                                    (or from accept): 20 s (408) */
    int64_t body_timeout_ms;   /**< between two reads of a body: 60 s (408) */
    int64_t keepalive_timeout_ms; /**< idle between requests: 75 s (closed) */
    /* eddy's additions */
    size_t max_target_bytes;   /**< request target: 8 KiB (414) */
    unsigned max_headers;      /**< header fields: 100 (431) */
    unsigned max_requests;     /**< per connection, then Connection: close:
                                    1000; 0 unlimited */
    int listen;                /**< EDDY_HTTP_LISTEN_*: PER_WORKER */
    int backlog;               /**< listen(2) backlog: 4096 */
    size_t stack_size;         /**< handler task stack; 0: the runtime's */
    void *reserved[4];         /**< must stay zero */
} eddy_http_server_opts;

/** Sets the defaults listed with each field. Any thread. */
EDDY_API void eddy_http_server_opts_init(eddy_http_server_opts *o);

/**
 * Starts serving on the runtime of the calling task and returns: the
 * server runs, on every worker, until eddy_http_server_stop, whatever the
 * caller does next. o NULL: the defaults. Each request runs h(req, resp,
 * ud) in a task; requests on different connections are served
 * concurrently, pipelined requests on one connection one after another
 * and answered in order. The server owns framing (Content-Length,
 * Transfer-Encoding, Connection), adds Date and Server, and answers bad
 * input itself without calling h: 400 malformed (bad request line, bare
 * CR, whitespace before a colon, obs-fold, a control character in a
 * field, a missing or repeated Host on HTTP/1.1, conflicting or invalid
 * Content-Length, Content-Length with Transfer-Encoding, a bad chunk),
 * 413 body over max_body_bytes (before reading it when its length is
 * announced, so Expect: 100-continue gets 413 at once), 414 target over
 * max_target_bytes, 431 header block over max_header_bytes or
 * max_headers, 417 an unknown expectation, 501 an unsupported transfer
 * coding or method, 505 an HTTP version other than 1.0 and 1.1, 408 when
 * the header or body timeout runs out; each with Connection: close, and
 * the connection is closed after it (after reading what the client still
 * sends for up to 2 s or 64 KiB, so it sees the answer rather than a
 * reset). HTTP/1.0 requests are answered and closed unless they ask for
 * keep-alive; HEAD gets the headers only.
 *
 * An idle keep-alive connection holds no task and no stack, only about a
 * hundred bytes of server memory beside its socket: it waits in the
 * reactor, and a task is spawned when its next request arrives.
 *
 * Errors: -EINVAL (out or h NULL, a bad option), -EPERM (not in a task),
 * -ENOMEM, the errors of eddy_tcp_listen (-EADDRINUSE...). Does not
 * suspend (name lookup of host aside).
 */
EDDY_API int eddy_http_serve(eddy_http_server **out, const eddy_http_server_opts *o,
                             eddy_http_handler h, void *ud);

/** The port the server listens on (useful after port 0). */
EDDY_API int eddy_http_server_port(eddy_http_server *s);

/**
 * Stops s and frees it: stops accepting at once, closes idle keep-alive
 * connections, lets requests in flight finish for up to grace_ms (their
 * responses carry Connection: close), then aborts the handlers still
 * running (their suspending calls return -ECANCELED) and closes their
 * connections; returns when every connection is closed. grace_ms < 0:
 * wait for the handlers however long they take. Suspends (blocks a plain
 * thread), and runs to its end even when the calling task was aborted
 * (it frees the server). Returns 0, -EINVAL (s NULL), or -EDEADLK when
 * called from one of s's own handlers (it would wait for itself; the
 * server goes on). Call it once per server.
 */
EDDY_API int eddy_http_server_stop(eddy_http_server *s, int64_t grace_ms);

/** Counters of a server (eddy_http_server_stats), for benchmarks and logs. */
typedef struct eddy_http_server_stats {
    uint64_t accepted;       /**< connections accepted */
    uint64_t requests;       /**< requests answered (errors included) */
    uint64_t connections;    /**< open now */
    unsigned listeners;      /**< listening sockets */
    uint64_t accepted_by_listener[16]; /**< per listener (the first 16) */
} eddy_http_server_stats;

/** Fills *st (a snapshot; counters are relaxed). 0 or -EINVAL. Any thread. */
EDDY_API int eddy_http_server_stats_get(eddy_http_server *s, eddy_http_server_stats *st);

/** The method as sent ("GET", "POST", ...). */
EDDY_API const char *eddy_http_req_method(const eddy_http_req *r);
/** The target's path ("/a/b"), without the query; for an absolute-form
    target (http://host/p) the path part ("/p"). Not percent-decoded. */
EDDY_API const char *eddy_http_req_path(const eddy_http_req *r);
/** The query after '?', NULL if the target has none. */
EDDY_API const char *eddy_http_req_query(const eddy_http_req *r);
/** The value of the first header field named name (case-insensitive),
    NULL if none. */
EDDY_API const char *eddy_http_req_header(const eddy_http_req *r, const char *name);
/** The whole request body (a chunked one decoded); *len (len may be NULL)
    its length. Never NULL: "" with length 0 when there is none. */
EDDY_API const void *eddy_http_req_body(const eddy_http_req *r, size_t *len);
/** 0 for HTTP/1.0, 1 for HTTP/1.1 (the minor version). */
EDDY_API int eddy_http_req_version(const eddy_http_req *r);

/** Sets the status (100-599 but not 1xx; default 200). -EINVAL for an
    out-of-range status, -EALREADY once the headers went out. */
EDDY_API int eddy_http_resp_status(eddy_http_resp *r, int status);
/**
 * Adds a header field (copied). Content-Length, Transfer-Encoding and
 * Connection are the server's (-EINVAL), as are names outside a token and
 * values with CR, LF or NUL; a Date or Server given here replaces the
 * server's. -EALREADY once the headers went out, -ENOMEM.
 */
EDDY_API int eddy_http_resp_header(eddy_http_resp *r, const char *name, const char *value);
/** Sets the body (copied; replaces an earlier one): sent with
    Content-Length when the handler returns. -EALREADY after a streamed
    start, -EINVAL (body NULL with len > 0), -ENOMEM. */
EDDY_API int eddy_http_resp_body(eddy_http_resp *r, const void *body, size_t len);
/**
 * Streams a piece of the body now: the first call sends the headers
 * (Transfer-Encoding: chunked on HTTP/1.1; on HTTP/1.0 the body runs to
 * the connection's close), then each call one chunk (len 0: nothing);
 * the handler's return ends the body. Suspends until written. 0, or
 * -EPIPE / -ECONNRESET when the client went away (stop writing and
 * return), -EALREADY after eddy_http_resp_body or resp_file, -EINVAL.
 */
EDDY_API int eddy_http_resp_write(eddy_http_resp *r, const void *chunk, size_t len);
/**
 * Sends len bytes of the open file fd from offset as the body, now, with
 * sendfile(2) (Content-Length: len): the response is complete when it
 * returns, and fd stays the caller's. Suspends. 0, -EALREADY (something
 * was sent already), -EINVAL, -EIO when the file ended before len bytes
 * (the connection is then closed), -EPIPE / -ECONNRESET.
 */
EDDY_API int eddy_http_resp_file(eddy_http_resp *r, int fd, int64_t offset, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* EDDY_HTTP_H */
