/*
 * examples/http_server.c: eddy-serve, an HTTP/1.1 server on eddy.
 *
 *   eddy-serve [--port N] [--host ADDR] [--workers N] [--root DIR]
 *              [--listen per-worker|shared] [--keepalive-ms N]
 *
 * Routes:
 *   /  and /plaintext   "Hello, World!" (text/plain), the TechEmpower job
 *   /json               {"message":"Hello, World!"}
 *   /echo               the request body back (any method)
 *   /stream?n=K         K chunks of "chunk i\n", streamed (chunked)
 *   /sleep?ms=N         answers after sleeping N ms (the task sleeps, the
 *                       worker serves others)
 *   /spin?ms=N          answers after spinning N ms on the CPU (a handler
 *                       that never yields; other connections still served)
 *   /static/PATH        with --root DIR: the file DIR/PATH, by sendfile
 *                       (no "..", no hidden files)
 *
 * Prints "eddy-serve: listening on HOST:PORT (W workers)" once it serves.
 * SIGINT or SIGTERM: graceful stop (10 s for requests in flight).
 * EDDY_IO_BACKEND=epoll|uring picks the I/O backend.
 */
#include <eddy.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;

static long query_long(const eddy_http_req *req, const char *key, long dflt)
{
    const char *q = eddy_http_req_query(req);
    size_t kl = strlen(key);
    while (q != NULL && *q != '\0') {
        if (strncmp(q, key, kl) == 0 && q[kl] == '=')
            return strtol(q + kl + 1, NULL, 10);
        q = strchr(q, '&');
        if (q != NULL)
            q++;
    }
    return dflt;
}

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    static const char *types[][2] = {
        { ".html", "text/html; charset=utf-8" }, { ".txt", "text/plain; charset=utf-8" },
        { ".css", "text/css" }, { ".js", "text/javascript" }, { ".json", "application/json" },
        { ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".svg", "image/svg+xml" },
    };
    for (size_t i = 0; dot != NULL && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

static int not_found(eddy_http_resp *resp)
{
    eddy_http_resp_status(resp, 404);
    eddy_http_resp_header(resp, "Content-Type", "text/plain");
    return eddy_http_resp_body(resp, "not found\n", 10);
}

static int serve_file(const char *rel, eddy_http_resp *resp)
{
    /* no way out of the root: no "..", no hidden files, no empty names */
    if (root == NULL || rel[0] == '\0' || strstr(rel, "..") != NULL || strstr(rel, "/.") != NULL ||
        rel[0] == '.')
        return not_found(resp);
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", root, rel) >= sizeof path)
        return not_found(resp);
    /* open and fstat are quick local calls: done in the task */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return not_found(resp);
    struct stat st;
    int rc;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = not_found(resp);
    } else {
        eddy_http_resp_header(resp, "Content-Type", content_type(path));
        rc = eddy_http_resp_file(resp, fd, 0, (size_t)st.st_size);
    }
    close(fd);
    return rc;
}

static int handle(eddy_http_req *req, eddy_http_resp *resp, void *ud)
{
    (void)ud;
    const char *path = eddy_http_req_path(req);
    if (strcmp(path, "/") == 0 || strcmp(path, "/plaintext") == 0) {
        eddy_http_resp_header(resp, "Content-Type", "text/plain");
        return eddy_http_resp_body(resp, "Hello, World!", 13);
    }
    if (strcmp(path, "/json") == 0) {
        static const char json[] = "{\"message\":\"Hello, World!\"}";
        eddy_http_resp_header(resp, "Content-Type", "application/json");
        return eddy_http_resp_body(resp, json, sizeof json - 1);
    }
    if (strcmp(path, "/echo") == 0) {
        size_t n;
        const void *body = eddy_http_req_body(req, &n);
        const char *ct = eddy_http_req_header(req, "Content-Type");
        eddy_http_resp_header(resp, "Content-Type", ct != NULL ? ct : "application/octet-stream");
        return eddy_http_resp_body(resp, body, n);
    }
    if (strcmp(path, "/stream") == 0) {
        long n = query_long(req, "n", 3);
        eddy_http_resp_header(resp, "Content-Type", "text/plain");
        for (long i = 0; i < n; i++) {
            char line[32];
            int len = snprintf(line, sizeof line, "chunk %ld\n", i);
            int rc = eddy_http_resp_write(resp, line, (size_t)len);
            if (rc < 0)
                return rc; /* the client went away */
        }
        return 0;
    }
    if (strcmp(path, "/sleep") == 0) {
        int rc = eddy_sleep_ms(query_long(req, "ms", 100));
        if (rc < 0)
            return rc;
        return eddy_http_resp_body(resp, "slept\n", 6);
    }
    if (strcmp(path, "/spin") == 0) {
        uint64_t end = eddy_now_ns() + (uint64_t)query_long(req, "ms", 100) * 1000000u;
        while (eddy_now_ns() < end)
            ; /* never yields */
        return eddy_http_resp_body(resp, "spun\n", 5);
    }
    if (strncmp(path, "/static/", 8) == 0)
        return serve_file(path + 8, resp);
    return not_found(resp);
}

struct start {
    eddy_http_server_opts opts;
    eddy_http_server *srv;
};

static void *start(void *arg)
{
    struct start *st = arg;
    int rc = eddy_http_serve(&st->srv, &st->opts, handle, NULL);
    return (void *)(intptr_t)rc;
}

static void *stop(void *arg)
{
    return (void *)(intptr_t)eddy_http_server_stop(arg, 10000);
}

static void usage(void)
{
    fprintf(stderr, "usage: eddy-serve [--port N] [--host ADDR] [--workers N] [--root DIR]\n"
                    "                  [--listen per-worker|shared] [--keepalive-ms N]\n");
}

static int parse_num(const char *name, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
        fprintf(stderr, "eddy-serve: %s must be a number from %ld to %ld, got '%s'\n", name, lo,
                hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct start st;
    eddy_http_server_opts_init(&st.opts);
    st.opts.port = 8080;
    eddy_rt_config cfg;
    eddy_rt_config_init(&cfg);
    static const struct option longopts[] = {
        { "port", required_argument, NULL, 'p' },    { "host", required_argument, NULL, 'H' },
        { "workers", required_argument, NULL, 'w' }, { "root", required_argument, NULL, 'r' },
        { "listen", required_argument, NULL, 'l' },  { "keepalive-ms", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "p:H:w:r:l:k:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (parse_num("--port", optarg, 0, 65535, &v) < 0)
                return 2;
            st.opts.port = (uint16_t)v;
            break;
        case 'H':
            st.opts.host = optarg;
            break;
        case 'w':
            if (parse_num("--workers", optarg, 0, 1024, &v) < 0)
                return 2;
            cfg.workers = (unsigned)v;
            break;
        case 'r': {
            struct stat sb;
            if (stat(optarg, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
                fprintf(stderr, "eddy-serve: --root '%s' is not a directory\n", optarg);
                return 2;
            }
            root = optarg;
            break;
        }
        case 'l':
            if (strcmp(optarg, "per-worker") == 0) {
                st.opts.listen = EDDY_HTTP_LISTEN_PER_WORKER;
            } else if (strcmp(optarg, "shared") == 0) {
                st.opts.listen = EDDY_HTTP_LISTEN_SHARED;
            } else {
                fprintf(stderr, "eddy-serve: --listen must be per-worker or shared, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'k':
            if (parse_num("--keepalive-ms", optarg, -1, 86400000, &v) < 0)
                return 2;
            st.opts.keepalive_timeout_ms = v;
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "eddy-serve: unexpected argument '%s'\n", argv[optind]);
        usage();
        return 2;
    }
    const char *io = getenv("EDDY_IO_BACKEND");
    if (io != NULL && strcmp(io, "uring") == 0)
        cfg.io_backend = EDDY_IO_URING;
    else if (io != NULL && strcmp(io, "epoll") == 0)
        cfg.io_backend = EDDY_IO_EPOLL;
    /* many idle keep-alive connections are cheap here: let the fd limit
       allow them (the soft limit up to the hard one, as nginx's
       worker_rlimit_nofile) */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &nofile);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask */
    eddy_rt *rt;
    int rc = eddy_rt_new(&rt, &cfg);
    if (rc < 0) {
        fprintf(stderr, "eddy-serve: %s\n", eddy_strerror(rc));
        return 1;
    }
    void *res = NULL;
    eddy_rt_block_on(rt, start, &st, &res);
    rc = (int)(intptr_t)res;
    if (rc < 0) {
        fprintf(stderr, "eddy-serve: cannot serve on %s:%u: %s\n",
                st.opts.host != NULL ? st.opts.host : "127.0.0.1", st.opts.port, eddy_strerror(rc));
        eddy_rt_free(rt);
        return 1;
    }
    printf("eddy-serve: listening on %s:%d (%u workers)\n",
           st.opts.host != NULL ? st.opts.host : "127.0.0.1", eddy_http_server_port(st.srv),
           eddy_rt_workers(rt));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    eddy_rt_block_on(rt, stop, st.srv, NULL);
    eddy_rt_free(rt);
    return 0;
}
