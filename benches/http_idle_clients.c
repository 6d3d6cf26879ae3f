/*
 * benches/http_idle_clients.c: N idle keep-alive HTTP/1.1 connections to one
 * server, to measure what the server keeps per idle connection
 * (benches/run_server.sh idle). Plain C and epoll; no eddy.
 *
 *   http_idle_clients [-a ADDRS] [-w WINDOW] [-t SECONDS] [-s SECONDS] HOST PORT N
 *
 * Opens N connections to HOST:PORT (IPv4), at most WINDOW (256) of them being
 * set up at a time (a burst of N SYNs would overflow the server's listen
 * backlog and wait out SYN retransmits). With HOST in 127.0.0.0/8 the source
 * addresses are spread over 127.0.0.1 .. 127.0.0.ADDRS (default: enough that
 * none uses more than 20,000 ephemeral ports), each socket bound before its
 * connect with IP_BIND_ADDRESS_NO_PORT (the port is picked per 4-tuple at
 * connect). On each it sends "GET / HTTP/1.1\r\nHost: x\r\n\r\n" and reads the
 * whole answer (status 200, Content-Length 13, "Hello, World!"), then leaves
 * it open and idle.
 *
 * Prints "ready N" once all N are answered, then holds them until SIGTERM,
 * SIGINT or end of input on stdin (when stdin can be polled: a pipe or a
 * terminal, not /dev/null), prints "done N closed_by_server=K" (K: idle
 * connections the server closed meanwhile) and exits 0.
 *
 * Any failure before "ready" (a connect error, a connection the server
 * refused or closed, an answer that is not the one above, the -t deadline
 * for the whole setup: 300 s, or -s seconds without any connection moving
 * on: 30 s, as when the server stops accepting for want of descriptors) is
 * reported on stderr with how far it got, and exits 1. It raises its own RLIMIT_NOFILE to fit N (the hard limit too when
 * it may, as root); if it cannot, it says so and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define PER_ADDR_MAX 20000 /* ephemeral ports one source address may use */
#define ANSWER_MAX 2048    /* an answer's head and body must fit */
#define TAG_SIGNAL UINT32_MAX
#define TAG_STDIN (UINT32_MAX - 1)

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static const char BODY[] = "Hello, World!";

enum { CONNECTING, SENDING, READING, IDLE, CLOSED };

struct conn {
    int fd;
    unsigned char state;
    unsigned short done; /* bytes of the request sent, then of the answer read */
    char *buf;           /* the answer while it is read */
};

static struct conn *conns;
static long n_conns, answered, in_setup, opened;
static double last_progress; /* when a connection last moved on */
static int ep;
static unsigned n_addrs;
static struct sockaddr_in dst;

static void progress(void)
{
    fprintf(stderr, "http_idle_clients: %ld of %ld answered (%ld opened, %ld being set up)\n",
            answered, n_conns, opened, in_setup);
}

static void fail(long i, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "http_idle_clients: ");
    if (i >= 0) {
        char src[INET_ADDRSTRLEN] = "?";
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        if (conns[i].fd >= 0 && getsockname(conns[i].fd, (struct sockaddr *)&sa, &len) == 0)
            snprintf(src, sizeof src, "%s:%u", inet_ntoa(sa.sin_addr), ntohs(sa.sin_port));
        fprintf(stderr, "connection %ld (from %s): ", i, src);
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    progress();
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void watch(long i, int mod, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)i };
    if (epoll_ctl(ep, mod, conns[i].fd, &ev) < 0)
        fail(i, "epoll_ctl: %s", strerror(errno));
}

static void open_conn(long i)
{
    struct conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        fail(i, "socket: %s", strerror(errno));
    if (n_addrs > 0) {
        struct sockaddr_in src = { .sin_family = AF_INET };
        src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % n_addrs));
        int one = 1;
        (void)setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0)
            fail(i, "bind to %s: %s", inet_ntoa(src.sin_addr), strerror(errno));
    }
    opened++;
    in_setup++;
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
        fail(i, "connect: %s%s", strerror(errno),
             errno == EADDRNOTAVAIL ? " (out of ephemeral ports: more source addresses, -a)" : "");
    c->state = CONNECTING;
    watch(i, EPOLL_CTL_ADD, EPOLLOUT);
}

/* The answer is whole: a head, then Content-Length bytes. 0: not yet. */
static int answer_complete(long i)
{
    struct conn *c = &conns[i];
    char *end = memmem(c->buf, c->done, "\r\n\r\n", 4);
    if (end == NULL) {
        if (c->done >= ANSWER_MAX)
            fail(i, "answer head longer than %d bytes", ANSWER_MAX);
        return 0;
    }
    size_t head = (size_t)(end - c->buf) + 4;
    if (c->done < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0 || memcmp(c->buf + 8, " 200", 4) != 0)
        fail(i, "answer is not a 200: %.*s", (int)strcspn(c->buf, "\r\n"), c->buf);
    long clen = -1;
    for (char *line = strstr(c->buf, "\r\n"); line != NULL && line < end; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, "content-length:", 15) == 0)
            clen = strtol(h + 15, NULL, 10);
        else if (strncasecmp(h, "connection:", 11) == 0 && strncasecmp(h + 11 + strspn(h + 11, " "), "close", 5) == 0)
            fail(i, "the server answers with Connection: close (no keep-alive)");
    }
    if (clen < 0)
        fail(i, "answer without Content-Length (chunked answers are not read here)");
    if (clen != (long)sizeof BODY - 1)
        fail(i, "answer body of %ld bytes, expected %zu (\"%s\")", clen, sizeof BODY - 1, BODY);
    if (c->done < head + (size_t)clen)
        return 0;
    if (memcmp(c->buf + head, BODY, sizeof BODY - 1) != 0)
        fail(i, "answer body is not \"%s\"", BODY);
    if (c->done > head + (size_t)clen)
        fail(i, "%zu bytes after the answer", c->done - head - (size_t)clen);
    return 1;
}

static void on_event(long i, uint32_t events)
{
    struct conn *c = &conns[i];
    ssize_t r;
    switch (c->state) {
    case CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0)
            fail(i, "connect: %s", strerror(err));
        if (!(events & EPOLLOUT))
            return;
        c->state = SENDING;
        c->done = 0;
        last_progress = now_s();
        __attribute__((fallthrough)); /* send at once */
    }
    case SENDING:
        r = send(c->fd, REQUEST + c->done, sizeof REQUEST - 1 - c->done, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            fail(i, "send: %s", strerror(errno));
        }
        c->done = (unsigned short)(c->done + r);
        if (c->done < sizeof REQUEST - 1)
            return;
        c->state = READING;
        c->done = 0;
        c->buf = malloc(ANSWER_MAX + 1);
        if (c->buf == NULL)
            fail(i, "out of memory");
        watch(i, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
        return;
    case READING:
        r = recv(c->fd, c->buf + c->done, ANSWER_MAX - c->done, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            fail(i, "recv: %s", strerror(errno));
        }
        if (r == 0)
            fail(i, "the server closed the connection before answering (%u bytes read)", c->done);
        c->done = (unsigned short)(c->done + r);
        c->buf[c->done] = '\0';
        if (!answer_complete(i))
            return;
        free(c->buf);
        c->buf = NULL;
        last_progress = now_s();
        c->state = IDLE;
        in_setup--;
        answered++;
        return;
    case IDLE: {
        char junk[256];
        r = recv(c->fd, junk, sizeof junk, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r > 0)
            fail(i, "%zd unexpected bytes on an idle connection", r);
        /* closed (or reset) by the server */
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        c->state = CLOSED;
        return;
    }
    }
}

static long count_closed(void)
{
    long k = 0;
    for (long i = 0; i < n_conns; i++)
        k += conns[i].state == CLOSED;
    return k;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: http_idle_clients [-a ADDRS] [-w WINDOW] [-t SECONDS] [-s SECONDS] HOST PORT N\n");
    exit(2);
}

static long num(const char *what, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "http_idle_clients: %s must be a number from %ld to %ld, got '%s'\n", what,
                lo, hi, s);
        exit(2);
    }
    return v;
}

/* Room for n sockets and a few more: the soft limit, and the hard one if
   it is too low and this process may raise it. */
static void raise_nofile(long n)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)n + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        perror("http_idle_clients: getrlimit");
        exit(1);
    }
    if (rl.rlim_cur >= need)
        return;
    if (rl.rlim_max < need) {
        struct rlimit want = { need, need };
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            return;
        fprintf(stderr,
                "http_idle_clients: %ld connections need %lu open files, but the hard limit is %lu "
                "and cannot be raised here (%s): raise it first (ulimit -Hn; as root up to "
                "/proc/sys/fs/nr_open)\n",
                n, (unsigned long)need, (unsigned long)rl.rlim_max, strerror(errno));
        exit(1);
    }
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        perror("http_idle_clients: setrlimit");
        exit(1);
    }
}

/* Source addresses so that none needs more than PER_ADDR_MAX ports, nor
   more than 3/4 of the ephemeral range. */
static unsigned addrs_needed(long n)
{
    long per = PER_ADDR_MAX;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    long lo, hi;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &lo, &hi) == 2 && hi >= lo && (hi - lo + 1) * 3 / 4 < per)
            per = (hi - lo + 1) * 3 / 4;
        fclose(f);
    }
    if (per < 1)
        per = 1;
    return (unsigned)((n + per - 1) / per);
}

int main(int argc, char **argv)
{
    long window = 256, addrs = -1;
    double limit_s = 300, stall_s = 30;
    int ch;
    while ((ch = getopt(argc, argv, "a:w:t:s:h")) != -1) {
        switch (ch) {
        case 'a':
            addrs = num("-a", optarg, 0, 254);
            break;
        case 'w':
            window = num("-w", optarg, 1, 1000000);
            break;
        case 't':
            limit_s = (double)num("-t", optarg, 1, 86400);
            break;
        case 's':
            stall_s = (double)num("-s", optarg, 1, 86400);
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 3)
        usage();
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[optind], &dst.sin_addr) != 1) {
        fprintf(stderr, "http_idle_clients: HOST must be an IPv4 address, got '%s'\n", argv[optind]);
        return 2;
    }
    dst.sin_port = htons((uint16_t)num("PORT", argv[optind + 1], 1, 65535));
    n_conns = num("N", argv[optind + 2], 1, 10000000);

    int loopback = (ntohl(dst.sin_addr.s_addr) >> 24) == 127;
    if (addrs < 0)
        addrs = loopback ? (long)addrs_needed(n_conns) : 0;
    if (addrs > 254) {
        fprintf(stderr, "http_idle_clients: %ld connections need %ld source addresses, more than 254\n",
                n_conns, addrs);
        return 1;
    }
    if (addrs > 0 && !loopback) {
        fprintf(stderr, "http_idle_clients: -a spreads over 127.0.0.x: HOST must be a loopback address\n");
        return 2;
    }
    n_addrs = (unsigned)addrs;
    raise_nofile(n_conns);

    conns = calloc((size_t)n_conns, sizeof *conns);
    if (conns == NULL) {
        fprintf(stderr, "http_idle_clients: out of memory for %ld connections\n", n_conns);
        return 1;
    }
    for (long i = 0; i < n_conns; i++)
        conns[i].fd = -1;
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("http_idle_clients: epoll_create1");
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = TAG_SIGNAL };
    if (sfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0) {
        perror("http_idle_clients: signalfd");
        return 1;
    }
    /* stdin: its end stops the hold; /dev/null or a file cannot be polled
       (EPERM) and is left alone */
    ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = TAG_STDIN };
    int watch_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0;

    struct epoll_event evs[1024];
    double deadline = now_s() + limit_s;
    last_progress = now_s();
    int ready = 0;
    for (;;) {
        if (!ready) {
            while (in_setup < window && opened < n_conns)
                open_conn(opened);
            if (answered == n_conns) {
                long k = count_closed();
                if (k > 0)
                    fail(-1, "the server closed %ld idle connections before all were answered", k);
                ready = 1;
                printf("ready %ld\n", n_conns);
                fflush(stdout);
            }
        }
        int wait_ms = -1;
        if (!ready) {
            double left = deadline - now_s();
            if (left <= 0)
                fail(-1, "not all connections answered within %.0f s (-t)", limit_s);
            if (now_s() - last_progress > stall_s)
                fail(-1, "no connection moved on for %.0f s (-s): the server stopped accepting or "
                         "answering (out of file descriptors? see its log)", stall_s);
            wait_ms = left > 1 ? 1000 : (int)(left * 1000) + 1;
        }
        int n = epoll_wait(ep, evs, (int)(sizeof evs / sizeof evs[0]), wait_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("http_idle_clients: epoll_wait");
            return 1;
        }
        int stop = 0;
        for (int e = 0; e < n; e++) {
            uint32_t tag = evs[e].data.u32;
            if (tag == TAG_SIGNAL) {
                struct signalfd_siginfo si;
                if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                    stop = 1;
            } else if (tag == TAG_STDIN) {
                char junk[256];
                ssize_t r = read(STDIN_FILENO, junk, sizeof junk);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                    stop = 1;
                    epoll_ctl(ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
                    watch_stdin = 0;
                }
            } else {
                on_event((long)tag, evs[e].events);
            }
        }
        if (stop) {
            if (!ready) {
                fprintf(stderr, "http_idle_clients: stopped before all connections were answered\n");
                progress();
                return 1;
            }
            break;
        }
    }
    (void)watch_stdin;
    printf("done %ld closed_by_server=%ld\n", n_conns, count_closed());
    fflush(stdout);
    return 0;
}
