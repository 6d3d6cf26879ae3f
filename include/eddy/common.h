/** @file
 * eddy/common.h: conventions shared by every eddy header: the export macro,
 * the error channel (negative errno), the entry-point type of a task and
 * the I/O backend names (io/ sees them without the runtime's header).
 *
 * Every eddy function that can fail returns an int (or ssize_t): >= 0 on
 * success, a negative errno value on failure. errno is never the error
 * channel: a task may resume on another thread after a suspension, where
 * errno belongs to somebody else.
 */
#ifndef EDDY_COMMON_H
#define EDDY_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @def EDDY_API
 * Marks a function exported by libeddy (default visibility while the library
 * is built; empty for its users).
 */
#if defined(EDDY_BUILDING) && defined(__GNUC__)
#define EDDY_API __attribute__((visibility("default")))
#else
#define EDDY_API
#endif

/**
 * @def EDDY_DEPRECATED(ver, msg)
 * Marks a declaration deprecated since version ver, with msg saying what to
 * use instead: compilers that know the attribute warn at each use.
 */
#if defined(__GNUC__)
#define EDDY_DEPRECATED(ver, msg) __attribute__((deprecated("since " #ver ": " msg)))
#else
#define EDDY_DEPRECATED(ver, msg)
#endif

/**
 * Entry point of a task: receives the arg given to spawn; its return value is
 * the task's result, handed to whoever joins it.
 */
typedef void *(*eddy_fn)(void *arg);

/** Join handle of a spawned task (see eddy/rt.h). */
typedef struct eddy_task eddy_task;

/**
 * Error codes that have no errno equivalent live in a reserved block far
 * below any errno value (as libuv keeps EAI_* at -3000). Values are explicit
 * and never reused.
 */
enum {
    EDDY_ERR_BASE = -3000,
    EDDY_EAI_NONAME = -3001,  /**< host name not known */
    EDDY_EAI_AGAIN = -3002,   /**< temporary DNS failure */
    EDDY_EAI_FAIL = -3003     /**< permanent DNS failure */
};

/**
 * I/O backends (eddy_rt_config.io_backend). Values are fixed. Both keep the
 * same readiness model and behaviour; io_uring needs Linux 5.17+ (multishot
 * poll, skipped completions) and a build with liburing. Where io_uring is
 * asked for and refused (old kernel, kernel.io_uring_disabled, a seccomp
 * profile), the runtime uses epoll and says so once on stderr.
 */
enum {
    EDDY_IO_AUTO = 0,  /**< the environment's EDDY_IO_BACKEND ("epoll" or
                            "uring"), else epoll (the faster here:
                            docs/benchmarks.md); any other value is said
                            once on stderr, and epoll is used */
    EDDY_IO_EPOLL = 1, /**< epoll, edge-triggered */
    EDDY_IO_URING = 2  /**< io_uring (multishot poll), else epoll */
};

/**
 * Names an error returned by any eddy call: a negative errno value or one of
 * the EDDY_E* codes. Never NULL; "Success" for 0 and above. For a value it
 * does not know it returns "Unknown error N" (N the value given) from a
 * buffer of the calling thread, valid until that thread's next call with an
 * unknown value; every other string is static.
 *
 * Thread safety: any thread.
 */
EDDY_API const char *eddy_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* EDDY_COMMON_H */
