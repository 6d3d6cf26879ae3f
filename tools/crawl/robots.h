/*
 * tools/crawl/robots.h: robots.txt as RFC 9309 has it: groups chosen by
 * the crawler's product token (case-insensitive; no group for it: the "*"
 * groups; none of those: everything allowed), Allow and Disallow rules
 * with "*" and a final "$", the longest match winning and Allow winning
 * a tie, "/robots.txt" always allowed, at most 500 KiB read. Crawl-delay,
 * not in the RFC but widely used, is kept from the chosen group.
 */
#ifndef EDDY_CRAWL_ROBOTS_H
#define EDDY_CRAWL_ROBOTS_H

#include <stdbool.h>
#include <stddef.h>

#define ROBOTS_MAX_BYTES (500 * 1024)

struct robots;

/* Parses text (len bytes, need not be NUL-terminated) for the crawler
   whose product token is token ("eddy-crawl"). NULL only on OOM. */
struct robots *robots_parse(const char *text, size_t len, const char *token);
/* Rules that allow everything (a 4xx robots.txt) or nothing (5xx or a
   network error: RFC 9309 2.3.1.4). */
struct robots *robots_allow_all(void);
struct robots *robots_disallow_all(void);
void robots_free(struct robots *r);

/* Whether path (the URL's path and query, "/" at least) may be fetched. */
bool robots_allowed(const struct robots *r, const char *path);

/* The chosen group's Crawl-delay in milliseconds, -1 when none. */
long robots_crawl_delay_ms(const struct robots *r);

/* r as robots.txt text (one "*" group; "Disallow: /" for disallow-all)
   that robots_parse reads back to the same rules for any token: how a
   frontier shared by processes stores them. NULL on OOM; *len its length
   (NUL-terminated too). */
char *robots_to_text(const struct robots *r, size_t *len);

#endif
