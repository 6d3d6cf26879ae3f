/*
 * benches/curl_raw.c: the baseline for eddy's client overhead: a bare
 * libcurl multi_socket driver on one thread (level-triggered epoll for
 * curl's sockets, a timerfd for its timeout: libcurl's ephiperfifo.c
 * shape), C transfers of URL kept in flight for SECONDS on kept-alive
 * connections, each finished easy handle re-added at once. No eddy.
 * Prints what benches/http_keepalive.c prints.
 *
 *   curl_raw URL C SECONDS
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int epfd, tfd;
static CURLM *multi;
static long ok, failed;

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *up, void *sp)
{
    (void)e;
    (void)up;
    struct epoll_event ev = { .data.fd = s };
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (sp == NULL) {
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev) < 0 && errno == EEXIST)
            epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev);
        curl_multi_assign(multi, s, (void *)1);
    } else if (epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT) {
        epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev);
    }
    return 0;
}

static int on_timer(CURLM *m, long ms, void *up)
{
    (void)m;
    (void)up;
    struct itimerspec its = { 0 };
    if (ms == 0)
        its.it_value.tv_nsec = 1; /* now, not inside this callback */
    else if (ms > 0) {
        its.it_value.tv_sec = ms / 1000;
        its.it_value.tv_nsec = (ms % 1000) * 1000000;
    }
    timerfd_settime(tfd, 0, &its, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: curl_raw URL C SECONDS\n");
        return 2;
    }
    const char *url = argv[1];
    int c = atoi(argv[2]);
    double secs = atof(argv[3]);
    curl_global_init(CURL_GLOBAL_ALL);
    epfd = epoll_create1(0);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = { .events = EPOLLIN, .data.fd = tfd };
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)c);
    for (int k = 0; k < c; k++) {
        CURL *e = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_multi_add_handle(multi, e);
    }
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = now(), end = t0 + secs;
    int running = c;
    struct epoll_event evs[256];
    while (running > 0) {
        int n = epoll_wait(epfd, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == tfd) {
                uint64_t x;
                ssize_t r = read(tfd, &x, sizeof x);
                (void)r;
                curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
            } else {
                int f = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
                curl_multi_socket_action(multi, evs[i].data.fd, f, &running);
            }
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            long code = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result == CURLE_OK && code == 200)
                ok++;
            else
                failed++;
            curl_multi_remove_handle(multi, e);
            if (now() < end) {
                curl_multi_add_handle(multi, e);
                running++;
            } else {
                curl_easy_cleanup(e);
            }
        }
    }
    double el = now() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
                 (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                 (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    printf("client=curl-raw conc=%d ok=%ld failed=%ld wall_s=%.3f req_per_s=%.0f cpu_us_per_req=%.2f\n",
           c, ok, failed, el, (double)ok / el, ok ? cpu * 1e6 / (double)ok : 0.0);
    curl_multi_cleanup(multi);
    return 0;
}
