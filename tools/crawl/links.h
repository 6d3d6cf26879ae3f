/*
 * tools/crawl/links.h: URLs for the crawler. Normalising and resolving
 * goes through libcurl's URL API (curl_url), not a parser of our own; the
 * links of an HTML page come from libxml2's HTML parser.
 */
#ifndef EDDY_CRAWL_LINKS_H
#define EDDY_CRAWL_LINKS_H

#include <stdbool.h>
#include <stddef.h>

/* The normalised absolute form of ref resolved against base (base NULL:
   ref must be absolute): http or https only, scheme and host lower-case,
   default port and fragment dropped, an empty path made "/", dot segments
   resolved, percent-escapes upper-cased. NULL for anything else (another
   scheme, no host, unparsable); free() the result. */
char *url_normalize(const char *base, const char *ref);

/* Parts of a normalised URL, each malloc'd (free()), or NULL on error:
   the host (lower-case, no port), "scheme://host:port" with the port
   always present, and the path with its query ("/" at least). */
char *url_host(const char *url);
char *url_origin(const char *url);
char *url_path_query(const char *url);

/* For a normalised URL (what url_normalize gives), without parsing it
   again: the length of its "scheme://host[:port]" prefix, and its host
   (no port) copied into buf (len bytes, truncated). */
size_t url_origin_prefix(const char *url);
const char *url_host_in(const char *url, char *buf, size_t len);

/* Whether host is domain or one of its subdomains. */
bool host_in_domain(const char *host, const char *domain);

/* The links of an HTML page (a href, area href), resolved against its
   <base href> when there is one, else against page_url, normalised, each
   once. *nofollow is set when a meta robots tag says nofollow (then no
   link is returned). Returns the count, the links in *out (free each and
   the array with links_free), or -1 on OOM. Pages nested deeper than
   libxml2's default limit are read whole (XML_PARSE_HUGE). */
int links_extract(const char *html, size_t len, const char *page_url, char ***out,
                  bool *nofollow);
void links_free(char **links, int n);

/* Call once before any thread parses (libxml2's global set-up). */
void links_init(void);

#endif
