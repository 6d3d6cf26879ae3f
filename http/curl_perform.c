/*
 * http/curl_perform.c: running one CURL easy handle from a task on the
 * worker's curl multi (http/curl_multi.c), and eddy_curl_perform, the
 * drop-in for curl_easy_perform inside a task. A task waits for its
 * transfer's final state; when it is aborted or its deadline passes, it
 * asks the multi to take the transfer out and waits, whatever its
 * cancellation, until the multi did: only then is curl done with the
 * handle and the memory it writes to, and the call may return.
 */
#include <errno.h>
#include <stdatomic.h>

#include <eddy/http.h>

#include "http/http_int.h"

int eddy__xfer_run(CURL *easy, int worker, long min_maxconnects, CURLcode *result)
{
    struct eddy__task *self = eddy__task_current();
    if (self == NULL) {
        if (eddy__on_worker_outside_task())
            return -EPERM; /* blocking here would stall the worker */
        *result = curl_easy_perform(easy); /* a plain thread blocks anyway */
        return 0;
    }
    int rc = eddy__wait_check();
    if (rc < 0)
        return rc;
    struct eddy__sched *s = eddy__sched_current();
    unsigned w = worker >= 0 ? (unsigned)worker : (unsigned)eddy__worker_index_current();
    int err = 0;
    struct eddy__curlm *m = eddy__curlm_get(s, w, &err);
    if (m == NULL)
        return err;
    struct eddy__xfer x = {
        .easy = easy,
        .waiter = self,
        .min_maxconnects = min_maxconnects,
        .state = EDDY__XFER_QUEUED,
    };
    eddy__curlm_submit(m, &x);
    int st;
    for (;;) {
        /* acquire: pairs with finish()'s release, so result is there */
        st = atomic_load_explicit(&x.state, memory_order_acquire);
        if (st == EDDY__XFER_DONE || st == EDDY__XFER_REMOVED) {
            *result = x.result;
            return 0;
        }
        rc = eddy__wait_on(EDDY__WAIT_HTTP, &x, 0, UINT64_MAX);
        if (rc < 0)
            break;
    }
    /* aborted or past the deadline: out of curl before x and the caller's
       buffers go */
    eddy__curlm_cancel(m, &x);
    while ((st = atomic_load_explicit(&x.state, memory_order_acquire)) != EDDY__XFER_DONE &&
           st != EDDY__XFER_REMOVED)
        eddy__wait_uncancellable();
    if (st == EDDY__XFER_DONE)
        *result = x.result; /* it had finished meanwhile */
    else
        *result = rc == -ETIMEDOUT ? CURLE_OPERATION_TIMEDOUT : CURLE_ABORTED_BY_CALLBACK;
    return rc;
}

int eddy_curl_perform(CURL *easy, CURLcode *code)
{
    if (easy == NULL)
        return -EINVAL;
    int rc = eddy__http_global_init();
    if (rc < 0)
        return rc;
    /* threads: no signals for DNS timeouts (libcurl-thread(3)) */
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    CURLcode res = CURLE_OK;
    rc = eddy__xfer_run(easy, -1, 0, &res);
    if (code != NULL && (rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT))
        *code = res;
    if (rc < 0)
        return rc;
    return res == CURLE_OK ? 0 : -EIO;
}
