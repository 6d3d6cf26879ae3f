/*
 * http/http_int.h: what the files of http/ share. The core is a transfer
 * (struct eddy__xfer): one CURL easy handle handed to the curl multi
 * handle of one worker (http/curl_multi.c), which a task waits on until
 * curl reports it done, and which an abort or deadline removes from that
 * multi on its worker before the call returns (http/curl_perform.c).
 * eddy_curl_perform and the client (http/client.c) are both built on it.
 */
#ifndef EDDY_HTTP_HTTP_INT_H
#define EDDY_HTTP_HTTP_INT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "rt/rt_int.h"

struct eddy__curlm;

/* Where a transfer is. QUEUED: handed over, not yet added to curl;
   ADDED: curl drives it; DONE: curl finished it (result set); REMOVED:
   taken out before it finished (cancelled). DONE and REMOVED are final:
   the multi no longer touches the transfer once it stored one of them. */
enum { EDDY__XFER_QUEUED = 0, EDDY__XFER_ADDED, EDDY__XFER_DONE, EDDY__XFER_REMOVED };

struct eddy__xfer {
    CURL *easy;                    /* immutable while handed over */
    struct eddy__task *waiter;     /* immutable while handed over: woken at the end */
    long min_maxconnects;          /* raise the multi's CURLMOPT_MAXCONNECTS to it (0: no) */
    _Atomic int state;             /* EDDY__XFER_*; final ones stored with release */
    CURLcode result;               /* written before DONE */
    /* guarded by: the multi's lock */
    bool in_cancel;                /* linked in the multi's cancel list */
    struct eddy__xfer *next_add, *next_cancel;
    /* owner: the multi's hook runs */
    bool cancelled;
};

/* The multi of worker `worker` of the current runtime, made on first use
   (NULL: -ENOMEM or curl refused, in *err). Any thread of the runtime. */
struct eddy__curlm *eddy__curlm_get(struct eddy__sched *s, unsigned worker, int *err);

/* Hands x (QUEUED, waiter set) to m: it is added on m's worker. */
void eddy__curlm_submit(struct eddy__curlm *m, struct eddy__xfer *x);

/* Asks m to take x out unless it already ended; returns at once (the
   caller waits for a final state). */
void eddy__curlm_cancel(struct eddy__curlm *m, struct eddy__xfer *x);

/* Runs easy on the current runtime's curl (the worker the calling task is
   on, or `worker` when >= 0), suspending the task until curl is done with
   it: 0 with *result, or -ECANCELED / -ETIMEDOUT (abort or deadline; the
   transfer was removed from curl before the return, *result is
   CURLE_ABORTED_BY_CALLBACK / CURLE_OPERATION_TIMEDOUT) or -ENOMEM. Off
   the workers (a plain thread): curl_easy_perform on the calling thread.
   On a worker outside a task: -EPERM. */
int eddy__xfer_run(CURL *easy, int worker, long min_maxconnects, CURLcode *result);

/* CURLOPT_OPENSOCKETFUNCTION and CURLOPT_CLOSESOCKETFUNCTION for eddy's
   own easy handles (the client's): a socket opened here is closed through
   eddy_close, so its watch may stay in place between transfers on a
   kept-alive connection (no epoll_ctl per request). A user's handle
   (eddy_curl_perform) keeps its own callbacks: its sockets' watches go
   with each REMOVE. */
curl_socket_t eddy__curl_open_socket(void *clientp, curlsocktype purpose,
                                     struct curl_sockaddr *addr);
int eddy__curl_close_socket(void *clientp, curl_socket_t fd);

/* curl_global_init once, and SIGPIPE ignored when it was left at its
   default (libcurl's sockets and TLS writes may raise it with NOSIGNAL
   set). 0 or -ENOMEM. Any thread. */
int eddy__http_global_init(void);

#endif
