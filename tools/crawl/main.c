/*
 * tools/crawl/main.c: eddy-crawl's command line: options and their
 * defaults, checks of the seeds and the output, and the exit status.
 * docs/crawl.md is its manual.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <eddy.h>
#include <jansson.h>
#include <libxml/xmlversion.h>

#include "crawl.h"
#include "links.h"

/* Exit statuses: each kind of bad input has its own. */
enum {
    EXIT_DONE = 0,        /* the crawl ran to its end (whatever the pages said) */
    EXIT_FAILED = 1,      /* it could not run */
    EXIT_USAGE = 2,       /* unknown option, bad value, no URL */
    EXIT_BAD_URL = 3,     /* a seed URL that is malformed or not http(s) */
    EXIT_BAD_HOST = 4,    /* a seed host that does not resolve */
    EXIT_OUTPUT = 5,      /* the output cannot be written */
    EXIT_STATE = 6,       /* the --state directory is unusable or another crawl's */
    EXIT_FRONTIER = 7,    /* Redis unreachable at the start, or lost mid-crawl */
    EXIT_REDEFINED = 8,   /* the crawl id runs with other options */
    EXIT_INTERRUPTED = 130,
};

#define DEFAULT_UA "eddy-crawl/" EDDY_VERSION_STRING

static void usage(FILE *to)
{
    fprintf(to,
"usage: eddy-crawl [options] URL...\n"
"Crawls from the seed URLs, following links within the allowed domains, and\n"
"writes one JSON line per URL (see docs/crawl.md).\n"
"\n"
"  -o, --output FILE          JSON lines to FILE, appended ('-': stdout) [-]\n"
"  -c, --concurrency N        fetches at once [16]\n"
"      --per-host N           fetches at once to one host [2]\n"
"      --delay-ms N           gap between fetch starts to one host, jittered\n"
"                             0.5-1.5x; a longer robots.txt Crawl-delay wins\n"
"                             (up to 30 s) [1000]\n"
"      --max-pages N          stop after N pages (0: no limit) [0]\n"
"      --max-depth N          follow links N deep from the seeds (-1: no limit) [-1]\n"
"      --allow-domain D       crawl hosts in domain D (repeatable)\n"
"                             [the seed URLs' hosts]\n"
"      --timeout-ms N         a fetch's total time [30000]\n"
"      --connect-timeout-ms N a connection's [10000]\n"
"      --retries N            retries of network errors and 408/429/5xx [2]\n"
"      --retry-base-ms N      first backoff; doubles each time, full jitter [1000]\n"
"      --max-retry-after-ms N longest backoff or Retry-After honoured [60000]\n"
"      --max-body BYTES       longest body read [10485760]\n"
"      --max-redirects N      redirects followed from one URL [10]\n"
"      --no-robots            ignore robots.txt\n"
"      --user-agent S         [" DEFAULT_UA "]\n"
"  -w, --workers N            worker threads (0: one per CPU) [0]\n"
"      --state DIR            resumable: restart with the same DIR and --output\n"
"                             after a crash or kill and nothing is fetched twice\n"
"      --frontier redis://HOST[:PORT][/DB]\n"
"                             share the crawl with other eddy-crawl processes\n"
"                             (any machine) through this Redis\n"
"      --crawl-id NAME        which crawl on it (needed with --frontier); every\n"
"                             process on it gives the same seeds, --allow-domain,\n"
"                             --per-host, --delay-ms, --max-depth, --max-pages,\n"
"                             --max-redirects, --no-robots and --lease-ms\n"
"      --lease-ms N           a URL taken stays this process's this long, then goes\n"
"                             to another (more than --timeout-ms) [60000]\n"
"      --redis-retry-ms N     how long a lost Redis is retried before this process\n"
"                             finishes what it holds and stops [30000]\n"
"  -q, --quiet                no progress line, no summary\n"
"  -h, --help                 this text\n"
"  -V, --version              versions\n"
"\n"
"Exit status: 0 the crawl ran to its end (404s and failed fetches are results,\n"
"in the output), 130 interrupted (Ctrl-C: the first finishes the fetches under\n"
"way, the second aborts them), 1 it could not run, 2 bad usage, 3 bad seed URL,\n"
"4 seed host not found, 5 output not writable, 6 bad --state directory,\n"
"7 Redis unreachable or lost (the output is whole), 8 the crawl id runs with\n"
"other options.\n");
}

static int fail(int status, const char *fmt, const char *arg)
{
    fprintf(stderr, "eddy-crawl: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return status;
}

/* Whether s is a whole number in [min, max]; *out gets it. */
static bool number(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Splits --frontier redis://HOST[:PORT][/DB] with libcurl's URL parser
   into o (the host malloc'ed, without an IPv6 literal's brackets). */
static bool parse_frontier(const char *url, struct crawl_opts *o)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    long long db = 0, pn = 6379;
    bool ok = u != NULL &&
              curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              strcmp(scheme, "redis") == 0 &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0';
    if (ok && curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
        ok = number(port, 1, 65535, &pn);
    if (ok && curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") != 0 &&
        path[0] != '\0')
        ok = number(path + 1, 0, 100000, &db);
    char *q = NULL;
    if (ok && curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK)
        ok = false; /* nothing else is understood: say so rather than ignore it */
    curl_free(q);
    if (ok) {
        size_t n = strlen(host);
        bool v6 = n > 2 && host[0] == '[';
        o->redis_host = v6 ? strndup(host + 1, n - 2) : strdup(host);
        o->redis_port = (int)pn;
        o->redis_db = (int)db;
        ok = o->redis_host != NULL;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return ok;
}

static bool crawl_id_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 100 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static bool host_resolves(const char *url)
{
    char *host = url_host(url);
    if (host == NULL)
        return false;
    char *h = host;
    size_t n = strlen(h);
    if (n > 1 && h[0] == '[') { /* an IPv6 literal */
        h[n - 1] = '\0';
        h++;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    int rc = getaddrinfo(h, NULL, &hints, &res);
    if (res != NULL)
        freeaddrinfo(res);
    free(host);
    return rc == 0;
}

int main(int argc, char **argv)
{
    enum { O_PER_HOST = 256, O_DELAY, O_MAX_PAGES, O_MAX_DEPTH, O_ALLOW, O_TIMEOUT, O_CTIMEOUT,
           O_RETRIES, O_RETRY_BASE, O_MAX_RA, O_MAX_BODY, O_MAX_REDIRECTS, O_NO_ROBOTS, O_UA,
           O_STATE, O_FRONTIER, O_CRAWL_ID, O_LEASE, O_REDIS_RETRY };
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'o' },
        { "concurrency", required_argument, NULL, 'c' },
        { "per-host", required_argument, NULL, O_PER_HOST },
        { "delay-ms", required_argument, NULL, O_DELAY },
        { "max-pages", required_argument, NULL, O_MAX_PAGES },
        { "max-depth", required_argument, NULL, O_MAX_DEPTH },
        { "allow-domain", required_argument, NULL, O_ALLOW },
        { "timeout-ms", required_argument, NULL, O_TIMEOUT },
        { "connect-timeout-ms", required_argument, NULL, O_CTIMEOUT },
        { "retries", required_argument, NULL, O_RETRIES },
        { "retry-base-ms", required_argument, NULL, O_RETRY_BASE },
        { "max-retry-after-ms", required_argument, NULL, O_MAX_RA },
        { "max-body", required_argument, NULL, O_MAX_BODY },
        { "max-redirects", required_argument, NULL, O_MAX_REDIRECTS },
        { "no-robots", no_argument, NULL, O_NO_ROBOTS },
        { "user-agent", required_argument, NULL, O_UA },
        { "workers", required_argument, NULL, 'w' },
        { "state", required_argument, NULL, O_STATE },
        { "frontier", required_argument, NULL, O_FRONTIER },
        { "crawl-id", required_argument, NULL, O_CRAWL_ID },
        { "lease-ms", required_argument, NULL, O_LEASE },
        { "redis-retry-ms", required_argument, NULL, O_REDIS_RETRY },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct crawl_opts o = {
        .output = "-",
        .concurrency = 16,
        .per_host = 2,
        .delay_ms = 1000,
        .max_depth = -1,
        .timeout_ms = 30000,
        .connect_timeout_ms = 10000,
        .retries = 2,
        .retry_base_ms = 1000,
        .max_retry_after_ms = 60000,
        .max_body = 10u << 20,
        .max_redirects = 10,
        .robots = true,
        .user_agent = DEFAULT_UA,
        .lease_ms = 60000,
        .redis_retry_ms = 30000,
    };
    char **allow = calloc((size_t)argc, sizeof *allow);
    char **seeds = calloc((size_t)argc, sizeof *seeds);
    int status = EXIT_DONE;
    if (allow == NULL || seeds == NULL) {
        status = fail(EXIT_FAILED, "%s", "out of memory");
        goto out;
    }
    opterr = 0;
    int ch;
    long long v;
    while ((ch = getopt_long(argc, argv, ":o:c:w:qhV", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (ch) {
        case 'o': o.output = optarg; break;
        case 'c': if (number(optarg, 1, 100000, &v)) o.concurrency = (int)v; else bad = "--concurrency"; break;
        case O_PER_HOST: if (number(optarg, 1, 100000, &v)) o.per_host = (int)v; else bad = "--per-host"; break;
        case O_DELAY: if (number(optarg, 0, 3600000, &v)) o.delay_ms = v; else bad = "--delay-ms"; break;
        case O_MAX_PAGES: if (number(optarg, 0, (long long)1 << 40, &v)) o.max_pages = (long)v; else bad = "--max-pages"; break;
        case O_MAX_DEPTH: if (number(optarg, -1, 1000000, &v)) o.max_depth = (int)v; else bad = "--max-depth"; break;
        case O_ALLOW: {
            char *d = strdup(optarg);
            for (char *p = d; p && *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            if (d == NULL || d[0] == '\0' || strchr(d, '/') != NULL)
                bad = "--allow-domain (a host name, like example.org)";
            else
                allow[o.n_allow++] = d;
            break;
        }
        case O_TIMEOUT: if (number(optarg, 1, 86400000, &v)) o.timeout_ms = v; else bad = "--timeout-ms"; break;
        case O_CTIMEOUT: if (number(optarg, 1, 86400000, &v)) o.connect_timeout_ms = v; else bad = "--connect-timeout-ms"; break;
        case O_RETRIES: if (number(optarg, 0, 100, &v)) o.retries = (int)v; else bad = "--retries"; break;
        case O_RETRY_BASE: if (number(optarg, 0, 3600000, &v)) o.retry_base_ms = v; else bad = "--retry-base-ms"; break;
        case O_MAX_RA: if (number(optarg, 0, 86400000, &v)) o.max_retry_after_ms = v; else bad = "--max-retry-after-ms"; break;
        case O_MAX_BODY: if (number(optarg, 1, (long long)1 << 40, &v)) o.max_body = (size_t)v; else bad = "--max-body"; break;
        case O_MAX_REDIRECTS: if (number(optarg, 0, 1000, &v)) o.max_redirects = (int)v; else bad = "--max-redirects"; break;
        case O_NO_ROBOTS: o.robots = false; break;
        case O_UA: if (optarg[0] && !strpbrk(optarg, "\r\n")) o.user_agent = optarg; else bad = "--user-agent"; break;
        case 'w': if (number(optarg, 0, 1024, &v)) o.workers = (unsigned)v; else bad = "--workers"; break;
        case O_STATE: o.state_dir = optarg; break;
        case O_FRONTIER:
            free((char *)o.redis_host);
            o.redis_host = NULL;
            if (parse_frontier(optarg, &o))
                o.frontier_url = optarg;
            else
                bad = "--frontier (redis://HOST[:PORT][/DB])";
            break;
        case O_CRAWL_ID: if (crawl_id_ok(optarg)) o.crawl_id = optarg; else bad = "--crawl-id (1-100 of A-Z a-z 0-9 . _ -)"; break;
        case O_LEASE: if (number(optarg, 1, 86400000, &v)) o.lease_ms = v; else bad = "--lease-ms"; break;
        case O_REDIS_RETRY: if (number(optarg, 0, 86400000, &v)) o.redis_retry_ms = v; else bad = "--redis-retry-ms"; break;
        case 'q': o.quiet = true; break;
        case 'h': usage(stdout); goto out;
        case 'V':
            printf("eddy-crawl %s (libcurl %s, libxml2 %s, jansson %s)\n", eddy_version_string(),
                   curl_version_info(CURLVERSION_NOW)->version, LIBXML_DOTTED_VERSION,
                   JANSSON_VERSION);
            goto out;
        case ':':
            fprintf(stderr, "eddy-crawl: option %s needs a value (see --help)\n", argv[optind - 1]);
            status = EXIT_USAGE;
            goto out;
        default:
            fprintf(stderr, "eddy-crawl: unknown option %s (see --help)\n", argv[optind - 1]);
            status = EXIT_USAGE;
            goto out;
        }
        if (bad != NULL) {
            fprintf(stderr, "eddy-crawl: bad value '%s' for %s\n", optarg, bad);
            status = EXIT_USAGE;
            goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "eddy-crawl: no URL to start from (usage: eddy-crawl [options] URL...; "
                        "see --help)\n");
        status = EXIT_USAGE;
        goto out;
    }
#ifndef EDDY_CRAWL_REDIS
    if (o.redis_host != NULL) {
        status = fail(EXIT_USAGE, "%s", "--frontier: this eddy-crawl was built without hiredis "
                                        "(apt-get install libhiredis-dev, then build again)");
        goto out;
    }
#endif
    if (o.redis_host != NULL && o.crawl_id == NULL) {
        status = fail(EXIT_USAGE, "%s", "--frontier needs --crawl-id NAME (the crawl on it)");
        goto out;
    }
    if (o.redis_host == NULL && o.crawl_id != NULL) {
        status = fail(EXIT_USAGE, "%s", "--crawl-id goes with --frontier redis://HOST[:PORT][/DB]");
        goto out;
    }
    if (o.redis_host != NULL && o.lease_ms <= o.timeout_ms) {
        fprintf(stderr, "eddy-crawl: --lease-ms (%lld) must be more than --timeout-ms (%lld): a "
                        "fetch outliving its lease would be handed to another process too\n",
                (long long)o.lease_ms, (long long)o.timeout_ms);
        status = EXIT_USAGE;
        goto out;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    links_init();
    for (int i = optind; i < argc; i++) {
        char *u = url_normalize(NULL, argv[i]);
        if (u == NULL) {
            status = fail(EXIT_BAD_URL, "not an absolute http(s) URL: '%s'", argv[i]);
            goto out;
        }
        seeds[o.n_seeds++] = u;
    }
    if (o.n_allow == 0) { /* the seeds' hosts */
        for (int i = 0; i < o.n_seeds; i++) {
            char *h = url_host(seeds[i]);
            bool dup = false;
            for (int k = 0; h != NULL && k < o.n_allow; k++)
                dup |= strcmp(allow[k], h) == 0;
            if (h != NULL && !dup)
                allow[o.n_allow++] = h;
            else
                free(h);
        }
    }
    o.seeds = seeds;
    o.allow = allow;
    for (int i = 0; i < o.n_seeds; i++) {
        if (!host_resolves(seeds[i])) {
            status = fail(EXIT_BAD_HOST, "cannot resolve the host of seed URL '%s'", seeds[i]);
            goto out;
        }
    }
    if (strcmp(o.output, "-") != 0) {
        int fd = open(o.output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "eddy-crawl: cannot write the output '%s': %s\n", o.output,
                    strerror(errno));
            status = EXIT_OUTPUT;
            goto out;
        }
        close(fd);
    }
    o.progress = !o.quiet && isatty(STDERR_FILENO);
    char why[512];
    int err = 0;
    int rc = crawl_run(&o, why, sizeof why, &err);
    switch (rc) {
    case CRAWL_FINISHED: status = EXIT_DONE; break;
    case CRAWL_INTERRUPTED: status = EXIT_INTERRUPTED; break;
    case CRAWL_REDEFINED: status = fail(EXIT_REDEFINED, "%s", why); break;
    case CRAWL_FRONTIER_LOST: /* err 0: lost mid-crawl, why says how */
        fprintf(stderr, "eddy-crawl: %s%s%s%s\n", why, err ? " (" : "",
                err ? eddy_strerror(err) : "", err ? ")" : "");
        status = EXIT_FRONTIER;
        break;
    default:
        fprintf(stderr, "eddy-crawl: %s (%s)\n", why, eddy_strerror(err));
        status = rc == CRAWL_STATE_FAILED ? EXIT_STATE : EXIT_FAILED;
        break;
    }
out:
    for (int i = 0; seeds != NULL && i < o.n_seeds; i++)
        free(seeds[i]);
    for (int i = 0; allow != NULL && i < o.n_allow; i++)
        free(allow[i]);
    free(seeds);
    free(allow);
    free((char *)o.redis_host);
    curl_global_cleanup();
    return status;
}
