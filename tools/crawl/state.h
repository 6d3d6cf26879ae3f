/*
 * tools/crawl/state.h: --state DIR, a crawl that survives kill -9. The
 * output file (a regular file, required) is the record of what is done:
 * one line per URL, written whole. DIR holds crawl.conf (what defines the
 * crawl: a restart must agree) and queue.log (every URL found, appended
 * before the line of the page that found it). A restart trims a torn last
 * line, marks every URL of the output done and queues every URL of
 * queue.log that is not: no finished URL is fetched again, none is lost.
 * With --frontier (Redis) the frontier is the record of what is queued
 * and done; DIR then ties the output to that crawl and repairs its line.
 */
#ifndef EDDY_CRAWL_STATE_H
#define EDDY_CRAWL_STATE_H

#include "crawl.h"
#include "frontier.h"

/* Checks or creates DIR and its crawl.conf, trims torn last lines, opens
   queue.log for appending (*log_fd; log_fd NULL: a crawl on a shared
   frontier, which keeps what is queued: only the output is repaired).
   0, or -errno with *why. */
int state_open(const struct crawl_opts *o, int *log_fd, const char **why);

/* Marks what the output holds done and queues the rest of queue.log. */
int state_replay(const struct crawl_opts *o, struct frontier *f, const char **why);

#endif
