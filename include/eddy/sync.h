/** @file
 * eddy/sync.h: channels, mutex, semaphore, notify and waitgroup for tasks.
 *
 * Every primitive works between tasks on different workers and between a
 * task and a plain thread (a plain thread blocks where a task suspends).
 * Calls not marked "Suspends." never wait. Errors are negative errno values.
 *
 * Besides its own errors, a call marked "Suspends." returns -ECANCELED once
 * the calling task was aborted and -ETIMEDOUT once an enclosing deadline
 * passed (both checked on entry too, even when it need not wait), -EPERM
 * when it would wait on a worker thread outside a task (a signal handler),
 * and -ENOMEM when a plain thread's waiter, made at its first wait, cannot
 * be allocated. Suspending calls never lose a wakeup.
 *
 * Handles may be used from any thread; _free must come after every other use.
 * A NULL handle gives -EINVAL (a void function does nothing).
 */
#ifndef EDDY_SYNC_H
#define EDDY_SYNC_H

#include <eddy/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- channel */

/** A bounded channel of fixed-size elements. Opaque. */
typedef struct eddy_chan eddy_chan;

/**
 * Creates a channel of capacity elements of elem_size bytes each (elements
 * are copied in and out). capacity 0 makes a rendezvous channel: a send
 * completes only when a receiver takes the element.
 * Errors: -EINVAL (out NULL, elem_size 0 or above 64 KiB, capacity *
 * elem_size overflows), -ENOMEM.
 */
EDDY_API int eddy_chan_new(eddy_chan **out, size_t capacity, size_t elem_size);

/**
 * Sends a copy of *elem, suspending while the channel is full (or, for a
 * rendezvous channel, until a receiver takes it). Suspends.
 *
 * Errors: -EINVAL (elem NULL), -EPIPE once the channel is closed (the
 * element was not sent).
 */
EDDY_API int eddy_chan_send(eddy_chan *c, const void *elem);

/**
 * Receives into *elem, suspending while the channel is empty. After
 * eddy_chan_close, the buffered elements are still delivered. Suspends.
 *
 * Errors: -EINVAL (elem NULL), -EPIPE once the channel is closed and empty.
 */
EDDY_API int eddy_chan_recv(eddy_chan *c, void *elem);

/**
 * As eddy_chan_send but never suspends (nor checks for an abort or a
 * deadline): -EAGAIN when the channel is full (rendezvous: when no receiver
 * waits). -EINVAL, -EPIPE as eddy_chan_send.
 */
EDDY_API int eddy_chan_try_send(eddy_chan *c, const void *elem);
/**
 * As eddy_chan_recv but never suspends (nor checks for an abort or a
 * deadline): -EAGAIN when nothing is there to take. -EINVAL, -EPIPE as
 * eddy_chan_recv.
 */
EDDY_API int eddy_chan_try_recv(eddy_chan *c, void *elem);
/**
 * eddy_chan_send bounded by timeout_ms (negative: none): -ETIMEDOUT when it
 * could not send in time (the element was not sent). Suspends.
 */
EDDY_API int eddy_chan_send_timeout(eddy_chan *c, const void *elem, int64_t timeout_ms);
/**
 * eddy_chan_recv bounded by timeout_ms (negative: none): -ETIMEDOUT when
 * nothing came in time. Suspends.
 */
EDDY_API int eddy_chan_recv_timeout(eddy_chan *c, void *elem, int64_t timeout_ms);

/**
 * Closes the channel: pending and later sends fail with -EPIPE, receivers
 * drain what is buffered and then get -EPIPE. Wakes every waiter. Idempotent.
 */
EDDY_API void eddy_chan_close(eddy_chan *c);

/** Frees the channel (buffered elements are dropped). NULL: no-op. */
EDDY_API void eddy_chan_free(eddy_chan *c);

/* ------------------------------------------------------------------ mutex */

/** A mutex for tasks (a waiter suspends) and plain threads. Opaque. */
typedef struct eddy_mutex eddy_mutex;

/** Creates an unlocked mutex. Errors: -EINVAL (out NULL), -ENOMEM. */
EDDY_API int eddy_mutex_new(eddy_mutex **out);
/**
 * Locks, suspending while it is held (FIFO hand-off to waiters). Not
 * recursive and without an owner: the holder locking it again waits for
 * itself. On an error the caller does not hold it. Suspends.
 */
EDDY_API int eddy_mutex_lock(eddy_mutex *m);
/** Locks if free, else -EBUSY. Never suspends. */
EDDY_API int eddy_mutex_trylock(eddy_mutex *m);
/**
 * Unlocks, handing the lock to the oldest waiter if any. May be called from
 * another task or thread than the locker; unlocking an unlocked mutex does
 * nothing.
 */
EDDY_API void eddy_mutex_unlock(eddy_mutex *m);
/** Frees an unlocked mutex with no waiters. NULL: no-op. */
EDDY_API void eddy_mutex_free(eddy_mutex *m);

/* -------------------------------------------------------------- semaphore */

/** A counting semaphore. Opaque. */
typedef struct eddy_sem eddy_sem;

/**
 * Creates a counting semaphore holding initial permits. Errors: -EINVAL
 * (out NULL), -ENOMEM.
 */
EDDY_API int eddy_sem_new(eddy_sem **out, unsigned initial);
/**
 * Takes one permit, suspending until one is free (FIFO: a released permit
 * goes to the oldest waiter). Suspends.
 */
EDDY_API int eddy_sem_acquire(eddy_sem *s);
/** Takes one permit if available, else -EAGAIN. Never suspends. */
EDDY_API int eddy_sem_try_acquire(eddy_sem *s);
/** Returns one permit (wakes the oldest waiter). */
EDDY_API void eddy_sem_release(eddy_sem *s);
/** Frees a semaphore with no waiters. NULL: no-op. */
EDDY_API void eddy_sem_free(eddy_sem *s);

/* ----------------------------------------------------------------- notify */

/** A wake-up signal with one stored permit (Tokio's Notify). Opaque. */
typedef struct eddy_notify eddy_notify;

/**
 * Creates a notify (condition-variable-like, with one stored permit).
 * Errors: -EINVAL (out NULL), -ENOMEM.
 */
EDDY_API int eddy_notify_new(eddy_notify **out);
/**
 * Waits for a notification, at most timeout_ms (negative: no timeout). A
 * notify_one with nobody waiting leaves a permit that the next wait consumes
 * at once, so no wakeup is lost. Returns 0, or -ETIMEDOUT when timeout_ms
 * passed. Suspends.
 */
EDDY_API int eddy_notify_wait(eddy_notify *n, int64_t timeout_ms);
/** Wakes the oldest waiter, or stores the permit when nobody waits. */
EDDY_API void eddy_notify_one(eddy_notify *n);
/** Wakes every current waiter (stores no permit). */
EDDY_API void eddy_notify_all(eddy_notify *n);
/** Frees a notify with no waiters. NULL: no-op. */
EDDY_API void eddy_notify_free(eddy_notify *n);

/* -------------------------------------------------------------- waitgroup */

/** A counter to wait on until it drops to zero (Go's WaitGroup). Opaque. */
typedef struct eddy_waitgroup eddy_waitgroup;

/** Creates a waitgroup with counter 0. Errors: -EINVAL (out NULL), -ENOMEM. */
EDDY_API int eddy_waitgroup_new(eddy_waitgroup **out);
/**
 * Adds n (may be negative) to the counter; reaching 0 wakes the waiters. A
 * counter that would drop below 0 is set to 0 instead (with a message on
 * stderr), which wakes them too.
 */
EDDY_API void eddy_waitgroup_add(eddy_waitgroup *w, int n);
/** eddy_waitgroup_add(w, -1). */
EDDY_API void eddy_waitgroup_done(eddy_waitgroup *w);
/** Waits until the counter is 0 (returns at once when it is). Suspends. */
EDDY_API int eddy_waitgroup_wait(eddy_waitgroup *w);
/** Frees a waitgroup with no waiters. NULL: no-op. */
EDDY_API void eddy_waitgroup_free(eddy_waitgroup *w);

#ifdef __cplusplus
}
#endif
#endif /* EDDY_SYNC_H */
