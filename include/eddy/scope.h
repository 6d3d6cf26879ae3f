/** @file
 * eddy/scope.h: structured concurrency. A scope owns child tasks that cannot
 * outlive it (Trio's nursery, Tokio's JoinSet, Go's errgroup): closing it
 * waits for every child; the first failure, an abort of the closing task or
 * its deadline cancels the rest.
 *
 * A typical use, fanning work out and stopping everything at the first
 * error:
 *
 *     eddy_scope *s;
 *     if (eddy_scope_new(&s) < 0) ...
 *     for (int i = 0; i < n; i++)
 *         eddy_scope_spawn(s, NULL, fetch_one, &jobs[i]);   // children
 *     void *r;
 *     while (eddy_scope_next(s, &r, -1) != -ENOENT)         // as they end
 *         if (r == NULL)
 *             eddy_scope_fail(s, -EIO);                     // cancels the rest
 *     int rc = eddy_scope_close(s);   // 0, -EIO, -ECANCELED or -ETIMEDOUT
 *
 * Cancelling a child is eddy_abort: its suspending calls return -ECANCELED
 * (a child not yet started never runs). Children are cooperative: one that
 * ignores -ECANCELED is waited for, however long it takes (eddy_rt_dump
 * shows it). Thread safety: every function may be called from any thread
 * (a plain thread blocks where a task suspends), except that eddy_scope_new
 * needs a runtime and nothing may use a scope once eddy_scope_close
 * returned.
 */
#ifndef EDDY_SCOPE_H
#define EDDY_SCOPE_H

#include <eddy/common.h>
#include <eddy/rt.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A scope and its children. Opaque. */
typedef struct eddy_scope eddy_scope;

/**
 * Creates a scope on the runtime of the calling worker. The scope starts
 * with the calling task's deadline (its eddy_deadline_push scopes and its
 * own scope's deadline, if any), so deadlines reach into nested scopes.
 *
 * Errors: -EINVAL (out NULL), -EPERM off a runtime's worker (children need
 * a runtime; spawning into an existing scope works from any thread),
 * -ENOMEM. Does not suspend.
 */
EDDY_API int eddy_scope_new(eddy_scope **out);

/**
 * Spawns fn(arg) as a child of s, on s's runtime, from any thread. With
 * out NULL the scope keeps the join handle and eddy_scope_next hands the
 * child back when it ends; otherwise *out is the join handle (join or
 * detach it as any task's: the scope still waits for the child at close,
 * and eddy_scope_next does not return it).
 *
 * Errors: -EINVAL (s or fn NULL), -ECANCELED (s was cancelled or failed:
 * it takes no new children), -ENOMEM, -ESHUTDOWN. Does not suspend.
 */
EDDY_API int eddy_scope_spawn(eddy_scope *s, eddy_task **out, eddy_fn fn, void *arg);

/**
 * eddy_scope_spawn with eddy_spawn_ex's options (o may be NULL): a name
 * (shown by eddy_rt_dump and overflow reports), a stack size, a worker to
 * start on. Errors as eddy_scope_spawn, plus -EINVAL for bad options.
 */
EDDY_API int eddy_scope_spawn_ex(eddy_scope *s, eddy_task **out, eddy_fn fn, void *arg,
                                 const eddy_spawn_opts *o);

/**
 * Gives s a deadline timeout_ms from now (negative: none; a deadline only
 * ever moves earlier): once it passes, every suspending call of its
 * children returns -ETIMEDOUT, as under eddy_deadline_push (children
 * spawned later inherit it). This is not an abort: a child that then
 * returns joins with 0 and its own result. eddy_scope_close returns
 * -ETIMEDOUT when the deadline passed before its last child ended.
 * Returns 0 or -EINVAL (s NULL). Does not suspend.
 */
EDDY_API int eddy_scope_deadline(eddy_scope *s, int64_t timeout_ms);

/**
 * Suspends until a child spawned with out NULL ends (or takes one that
 * already ended, oldest first), consumes its handle and returns its join
 * code (0, or -ECANCELED if it was aborted) with its result in *result
 * (result may be NULL). Returns -ENOENT when no such child is left (the
 * equivalent of JoinSet::join_next returning None), -EINVAL (s NULL),
 * -ETIMEDOUT after timeout_ms (negative: none) or the caller's deadline,
 * -ECANCELED when the caller is aborted. Suspends.
 */
EDDY_API int eddy_scope_next(eddy_scope *s, void **result, int64_t timeout_ms);

/**
 * Records err (< 0) as s's failure unless an earlier one was recorded (the
 * first one wins: eddy_scope_close returns it) and aborts every child.
 * Returns 0, or -EINVAL (s NULL, err >= 0). Does not suspend.
 */
EDDY_API int eddy_scope_fail(eddy_scope *s, int err);

/**
 * Aborts every child of s (their suspensions return -ECANCELED); s takes no
 * new children, and eddy_scope_close returns -ECANCELED unless a failure
 * was recorded first. NULL is a no-op. Does not suspend.
 */
EDDY_API void eddy_scope_cancel(eddy_scope *s);

/**
 * Suspends until every child of s has ended, then frees s. If the caller
 * is aborted or its deadline passes while it waits, every child is aborted
 * first and the wait goes on (a child that ignores -ECANCELED is still
 * waited for: children cannot outlive their scope). Handles the scope kept
 * for children nobody took with eddy_scope_next are consumed (their
 * results are dropped).
 *
 * Returns 0, or the first of: the err given to eddy_scope_fail,
 * -ECANCELED (eddy_scope_cancel, or the caller was aborted), -ETIMEDOUT
 * (the caller's deadline, or s's deadline passed before its last child
 * ended). -EINVAL for s NULL (nothing done). Suspends; s is freed in every
 * case but -EINVAL.
 */
EDDY_API int eddy_scope_close(eddy_scope *s);

#ifdef __cplusplus
}
#endif
#endif /* EDDY_SCOPE_H */
