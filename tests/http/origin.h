/*
 * tests/http/origin.h: starts tests/http/origin.py (the local HTTP origin
 * of the client and crawler tests) and reads its counters.
 */
#ifndef EDDY_TESTS_HTTP_ORIGIN_H
#define EDDY_TESTS_HTTP_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct eddy_test_origin {
    pid_t pid;
    int stdin_fd;     /* closing it ends the origin */
    int port;         /* the origin */
    int control_port; /* /stats, /reset-stats */
};

/** Starts the origin: 0, or -1 when python3 is not there (the caller
    skips: exit 77) or it did not start (the caller fails). */
int eddy_test_origin_start(struct eddy_test_origin *o);
void eddy_test_origin_stop(struct eddy_test_origin *o);
/** A counter of /stats ("requests", "conns_max", "inflight_max", or
    "path:/hello" for one path's requests); -1 on error. */
long eddy_test_origin_stat(const struct eddy_test_origin *o, const char *key);
/** Zeroes the counters (the maxima restart from what is open now). */
void eddy_test_origin_reset_stats(const struct eddy_test_origin *o);
/** Waits up to ms for the origin to have no connection open and no
    request under way; true when it got there. */
bool eddy_test_origin_wait_idle(const struct eddy_test_origin *o, int ms);
/** A loopback TCP port nothing listens on (bound, read, released). */
int eddy_test_closed_port(void);
/** "http://127.0.0.1:<port><path>" into buf. */
const char *eddy_test_origin_url(const struct eddy_test_origin *o, const char *path, char *buf,
                                 size_t len);

#endif
