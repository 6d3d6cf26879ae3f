/** @file
 * eddy/select.h: waiting for the first of several things (Go's select):
 * channel receives and sends, fds, notifies and task ends, from a task
 * (it suspends) or a plain thread (it blocks).
 *
 * Exactly one case completes per call: a receive takes one element, a send
 * gives one, a notify consumes one permit or wake-up, a join consumes the
 * handle, and only for the case whose index is returned. The others are
 * left as they were: nothing is lost or taken twice, also when several
 * become ready at the same moment on different threads. Among the cases
 * ready when the call looks, the pick is uniformly random, so that one
 * busy case cannot starve the others.
 *
 * Thread safety: any thread, any task; the same objects may be used by
 * other selects and by the single calls (eddy_chan_recv...) concurrently.
 */
#ifndef EDDY_SELECT_H
#define EDDY_SELECT_H

#include <eddy/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a case of eddy_select waits for (eddy_select_case.kind). Values
    are fixed. */
enum {
    EDDY_SEL_RECV = 1, /**< receive from the eddy_chan obj into elem */
    EDDY_SEL_SEND,     /**< send *elem to the eddy_chan obj */
    EDDY_SEL_FD,       /**< fd ready for events (EDDY_READABLE|EDDY_WRITABLE) */
    EDDY_SEL_NOTIFY,   /**< a notification of the eddy_notify obj */
    EDDY_SEL_JOIN      /**< the end of the task whose join handle is obj */
};

/**
 * One case of eddy_select. Set kind and the fields it names; the others
 * are ignored. result is written for the case that completes only.
 */
typedef struct eddy_select_case {
    int kind;   /**< EDDY_SEL_* */
    void *obj;  /**< RECV, SEND: eddy_chan *; NOTIFY: eddy_notify *; JOIN:
                     eddy_task * (a join handle); FD: unused */
    int fd;     /**< FD: the descriptor */
    int events; /**< FD: EDDY_READABLE and/or EDDY_WRITABLE (eddy/io.h) */
    void *elem; /**< RECV: where the element goes; SEND: the element (read,
                     not written); JOIN: NULL, or a void * that receives
                     the task's result */
    int result; /**< out: what the single call would have returned:
                     RECV, SEND, NOTIFY: 0 or -EPIPE (channel closed);
                     FD: the ready events (> 0) or an error; JOIN: 0 or
                     -ECANCELED (the task was aborted) */
    void *reserved[4]; /**< not read nor written; room to grow without
                            breaking ABI (zero them) */
} eddy_select_case;

/**
 * Waits until one of the n cases can complete, completes that one only,
 * and returns its index (cases[index].result says how it went). Among the
 * cases ready at once the pick is uniformly random.
 *
 * A case is ready and completes as its single call would:
 * - EDDY_SEL_RECV: an element is there (buffered, or a sender waits):
 *   eddy_chan_recv into elem; a closed and drained channel: result -EPIPE.
 * - EDDY_SEL_SEND: room in the buffer or a receiver waits: eddy_chan_send
 *   of *elem; a closed channel: result -EPIPE (nothing sent).
 * - EDDY_SEL_NOTIFY: a stored permit or an eddy_notify_one/all while
 *   waiting, consumed as eddy_notify_wait does; result 0.
 * - EDDY_SEL_FD: fd ready for any of events, as eddy_wait_fd (it switches
 *   fd to O_NONBLOCK, counts data already buffered); result the ready
 *   events. Not consumed: the caller reads or writes the fd.
 * - EDDY_SEL_JOIN: the task ended: eddy_join (the handle is consumed);
 *   result 0 or -ECANCELED, and *(void **)elem its result.
 * A case whose single call would fail at once is ready too, with that
 * error as its result and nothing consumed: an fd that is not open or was
 * closed meanwhile (-EBADF), an fd direction another task waits on
 * (-EBUSY), a join of the calling task itself (-EPERM) or of a handle
 * another eddy_join waits on (-EBUSY). Several cases may name the same
 * object (a receive and a send on one channel).
 *
 * timeout_ms: negative waits without limit, 0 only looks once. Suspends
 * (a plain thread blocks, in poll(2) when a case is an fd).
 *
 * Errors (nothing completed): -EINVAL before anything happens for cases
 * NULL, n 0 or above INT_MAX, an unknown kind, a NULL obj (not FD), a NULL
 * elem (RECV, SEND), an FD case with a negative fd or no event, a spent
 * join handle; -ETIMEDOUT when timeout_ms passed with nothing ready (or an
 * enclosing deadline passed), -ECANCELED when the calling task was
 * aborted (both also on entry, before looking at any case), -EPERM when it
 * would wait on a worker thread outside a task (a signal handler), -ENOMEM
 * (a plain thread's first wait, or more than 8 cases and no memory for
 * their bookkeeping).
 *
 * Thread safety: any thread. A join handle may be in one select or join
 * at a time (one joiner per handle).
 */
EDDY_API int eddy_select(eddy_select_case *cases, size_t n, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* EDDY_SELECT_H */
